"""The workforce: posts, the social workers who hold them, and what makes capacity move.

A team has a fixed number of **posts**. A post is held by an employee (permanent
or newly qualified), covered by an agency worker, or empty. People **leave** at a
hazard that stress raises, after a notice period; an empty post is **recruited**
to (slowly, and some campaigns fail) and **covered by agency** meanwhile where
the policy allows. A council may also keep **standing agency** workers above its
establishment (``workforce.standing_agency_fte``): nobody is recruited to their
posts, and one who leaves is replaced by another agency worker. Workers go **off
sick**, and stress follows their caseload.
The pathway asks who is at work with the fewest cases and moves cases to them; when a
worker leaves or is off too long, ``Workforce`` asks the pathway to move their cases.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush
from math import exp
from typing import TYPE_CHECKING

import simpy

from simservice.config import Config, CopingConfig, WorkforceConfig
from simservice.model.clock import Alarm, call_in, call_soon
from simservice.model.pathway import Diary
from simservice.model.streams import Streams

if TYPE_CHECKING:
    from simservice.model.pathway import Case, Pathway

PERMANENT, NEWLY_QUALIFIED, AGENCY = "permanent", "newly_qualified", "agency"


def _leaving_rates(w: WorkforceConfig) -> dict[str, float]:
    """The annual leaving hazard of each contract, before stress."""
    return {
        PERMANENT: w.leaving_per_year_permanent,
        NEWLY_QUALIFIED: w.leaving_per_year_newly_qualified,
        AGENCY: w.leaving_per_year_agency,
    }


class Worker:
    """A social worker sharing casework hours across a caseload: urgent first, then the earliest deadline.

    Stress is kept as a curve, not a daily sum: it heads for what the caseload warrants
    (0 while off sick) at a rising or a recovering pace, and is read off whenever it
    matters -- when the caseload changes, and when a life event may happen.
    """

    def __init__(
        self,
        env: simpy.Environment,
        worker_id: int,
        team: int,
        post: int,
        contract: str,
        fte: float,
        base_hours_per_day: float,
        pathway: Pathway,
        rules: WorkforceConfig,
        burnouts: list[tuple[float, int]],
    ):
        self.env = env
        self.id = worker_id
        self.team = team
        self.post = post
        self.contract = contract
        self.fte = fte
        self.base_hours_per_day = base_hours_per_day
        self.hours_per_day = base_hours_per_day
        self.cap_share = 1.0  # share of the caseload cap this worker may be given
        self.started = env.now
        self._unpaid: CopingConfig | None = None
        self._reported_from = 0.0
        self.set_rules(rules)
        self.stress = 0.0  # at stress_since; heading for stress_target at stress_pace
        self.stress_since = env.now
        self.stress_target = 0.0
        self.stress_pace = rules.stress_rise_days
        self.burnt_out = False
        self._burnouts = burnouts  # the workforce's record: (day, worker)
        self.absent = False
        self.absent_since = math.nan
        self.episode = 0  # sickness episodes so far (so a stale reallocation knows to do nothing)
        self.leaving = False
        self.gone = False
        self.days_lost = 0.0
        self.clocks = [0, 0, 0]  # one per life-event hazard, bumped to cancel a scheduled candidate
        self.caseload: dict[int, Case] = {}  # assessments in hand
        self.held: dict[int, Case] = {}  # assessed children waiting for a long-term team
        self.stamp = 0  # bumped when the load or availability changes (the team's least-loaded order)
        self.unsupported = 0.0  # stress added by supervision missed last month
        self.supervision_missed = 0.0  # the share of last month's supervision the worker did not get
        self.unpaid_share = 0.0  # extra hours worked, as a share of the day's hours (coping: unpaid hours)
        self.unpaid_hours = 0.0  # unpaid hours worked in the reported years
        self._unpaid_since = env.now
        self.surge = False  # an agency worker above the establishment
        self.pathway = pathway
        # A heap of the assessments with hours still to do, in the order they are worked: urgent first, then the
        # earliest deadline, as (priority, deadline, case id, case).
        self._work: list[tuple[int, float, int, Case]] = []
        self._current: Case | None = None
        self._current_since = 0.0
        self._current_rate = base_hours_per_day
        self._timer: Alarm | None = None  # when the case in hand will be done, unless something changes first
        self._idle = False  # nothing to work on: waiting to be nudged
        call_soon(env, self._casework, urgent=True)  # starts on the caseload later this moment

    @property
    def load(self) -> int:
        """Cases on this worker's caseload: assessments in hand and children awaiting hand-over."""
        return len(self.caseload) + len(self.held)

    @property
    def available(self) -> bool:
        """At work and not gone: can be given cases."""
        return not self.absent and not self.gone

    # -- stress --------------------------------------------------------------------------------------
    def stress_now(self) -> float:
        """Stress today, read off its curve; a burnout episode begins where the curve crosses the threshold."""
        now = self.env._now
        since = self.stress_since
        start = self.stress
        if since == now:
            return start
        target = self.stress_target
        stress = target + (start - target) * exp((since - now) / self.stress_pace)
        self.stress, self.stress_since = stress, now
        if stress >= self.threshold or self.burnt_out:
            threshold = self.threshold
            if not self.burnt_out and start < threshold:
                self.burnt_out = True
                crossed = since + self.stress_pace * math.log((start - target) / (threshold - target))
                self._burnouts.append((min(crossed, now), self.id))
            elif self.burnt_out and stress < 0.75 * threshold:
                self.burnt_out = False
        return stress

    def feel(self) -> None:
        """The caseload, absence or support changed: stress heads for a new level, and the pace of work follows it.

        Above a manageable caseload, a worker may work unpaid hours (``coping.unpaid_hours``), at a cost in stress.
        """
        stress = self.stress_now()
        load = len(self.caseload) + len(self.held)
        unpaid = self.unpaid_share
        if self._unpaid is not None:
            unpaid = 0.0
            if not self.absent:
                over = load * self._unpaid_per_case - 1.0
                if over > 0.0:  # in steps of a tenth of the day: people stay an extra 45 minutes, not a minute
                    unpaid = min(self._unpaid_max, round(10.0 * self._unpaid_slope * over) / 10.0)
            if unpaid != self.unpaid_share:
                self._book_unpaid()
                self.unpaid_share = unpaid
        if self.absent:
            target = 0.0
        else:
            target = load * self._stress_per_case - self._stress_offset + self.unsupported
            if unpaid:
                target += self._unpaid_stress * unpaid
            target = 0.0 if target < 0.0 else 1.0 if target > 1.0 else target
        self.stress_target = target
        self.stress_pace = self._rise_days if target > stress else self._recovery_days
        if self._slowing or self._unpaid is not None:
            hours = self.base_hours_per_day * (1.0 - self._slowing * round(stress, 1)) * (1.0 + unpaid)
            if hours != self.hours_per_day:  # (set_hours_per_day, written out: every move of a case comes here)
                self.hours_per_day = hours
                if self._current is not None:
                    self._nudge()

    def _book_unpaid(self) -> None:
        """Unpaid hours worked since the last change, counted once the warm-up is over."""
        now = self.env._now
        start = max(self._unpaid_since, self._reported_from)
        if self.unpaid_share and now > start:
            self.unpaid_hours += self.unpaid_share * self.base_hours_per_day * (now - start)
        self._unpaid_since = now

    def unpaid_hours_reported(self) -> float:
        """Unpaid hours in the reported years, up to now."""
        self._book_unpaid()
        return self.unpaid_hours

    def supervised(self, missed: float, stress: float) -> None:
        """Last month's supervision: the share missed, and the stress it adds to what the worker heads for."""
        self.supervision_missed = missed
        if stress != self.unsupported:
            self.unsupported = stress
            self.feel()

    def set_coping(self, coping: CopingConfig, reported_from: float) -> None:
        """Whether this worker works unpaid hours above a manageable caseload, and how many."""
        self._reported_from = reported_from
        if coping.unpaid_hours:
            self._unpaid = coping
            self._unpaid_per_case = 1.0 / (self.rules.manageable_caseload * self.cap_share)
            self._unpaid_slope, self._unpaid_max = coping.unpaid_share_per_case_over, coping.unpaid_max_share
            self._unpaid_stress = coping.unpaid_stress
        else:
            self._unpaid = None
            self._book_unpaid()
            self.unpaid_share = 0.0
        self.feel()

    def set_rules(self, rules: WorkforceConfig) -> None:
        """The stress settings, worked out once: target = cases x per case - offset, clipped to [0, 1]."""
        self.rules = rules
        span = rules.stress_full_share - rules.stress_from_share
        self._stress_per_case = 1.0 / (rules.manageable_caseload * self.cap_share * span)
        self._stress_offset = rules.stress_from_share / span
        self._rise_days, self._recovery_days = rules.stress_rise_days, rules.stress_recovery_days
        self._slowing = rules.stress_productivity_effect
        self.threshold = rules.burnout_threshold
        if self._unpaid is not None:
            self._unpaid_per_case = 1.0 / (rules.manageable_caseload * self.cap_share)

    def new_to_the_job(self, agency_days: float) -> bool:
        """In the first (ASYE) year after qualifying, or an agency worker in their first ``agency_days`` here."""
        in_post = self.env._now - self.started
        if self.contract == NEWLY_QUALIFIED:
            return in_post < self.rules.newly_qualified_days
        return self.contract == AGENCY and in_post < agency_days

    # -- the caseload (the pathway moves cases; the worker keeps their own list) ----------------------
    def take(self, case: Case) -> None:
        """An assessment joins the caseload (moved here by the pathway); it comes first if it is more pressing."""
        self.caseload[case.id] = case
        self.feel()
        if case.hours_left <= 0:
            return
        heappush(self._work, (case.priority, case.deadline, case.id, case))
        current = self._current
        if current is None or (case.priority, case.deadline, case.id) < (
            current.priority,
            current.deadline,
            current.id,
        ):
            self._nudge()

    def hold(self, case: Case) -> None:
        """An assessed child stays on the caseload until a long-term team takes them."""
        self.held[case.id] = case
        self.feel()

    def shelve(self, case: Case) -> None:
        """An assessment this worker completed: the child stays on the caseload (awaiting sign-off or a team)."""
        if self.caseload.pop(case.id, None) is not None:
            self.held[case.id] = case

    def rush(self, case: Case, cut_share: float) -> None:
        """Near the deadline, the hours an assessment still needs are cut short; the shortfall stays on the case."""
        if self._current is case:
            self._nudge()  # book the hours worked so far, and look again at the shorter remainder
        cut = cut_share * case.hours_left
        case.hours_left -= cut
        case.rushed_hours += cut

    def drop(self, case: Case) -> None:
        """The case leaves this caseload (the pathway moved it on); hours worked on it so far are booked."""
        if case.id in self.held:
            del self.held[case.id]
            self.feel()
            return
        if self.caseload.pop(case.id, None) is None:
            return
        if self._current is case:
            self._nudge()
        work = self._work
        for i, entry in enumerate(work):
            if entry[2] == case.id:
                work[i] = work[-1]
                work.pop()
                heapify(work)
                break
        self.feel()

    def hand_over(self) -> tuple[list[Case], list[Case]]:
        """Empty the caseload for transfer: the assessments in hand and the children held."""
        cases, held = list(self.caseload.values()), list(self.held.values())
        self.caseload.clear()
        self.held.clear()
        self._work.clear()
        self._nudge()
        self.feel()
        return cases, held

    def work_fte(self, fte: float, hours_per_fte_day: float, cap_share: float, rules: WorkforceConfig) -> None:
        """A new share of full time (a standing agency engagement changed): hours, caseload share and pace follow."""
        self.fte, self.cap_share = fte, cap_share
        self.set_rules(rules)
        self.set_full_pace(fte * hours_per_fte_day)

    def set_full_pace(self, base_hours_per_day: float) -> None:
        """Hours a day at full pace change (experience, a dated change): the pace of work follows at once."""
        self.base_hours_per_day = base_hours_per_day
        if not self._slowing and self._unpaid is None:  # (feel sets the pace only when stress or unpaid hours move it)
            self.set_hours_per_day(base_hours_per_day)
        self.feel()

    def set_hours_per_day(self, hours: float) -> None:
        """Casework hours a day change (stress, experience); the case in hand continues at the new pace."""
        if hours != self.hours_per_day:
            self.hours_per_day = hours
            if self._current is not None:
                self._nudge()

    def go_off(self) -> None:
        self.absent, self.absent_since = True, self.env._now
        self.episode += 1
        self._nudge()
        self.feel()

    def come_back(self) -> None:
        self.absent, self.absent_since = False, math.nan
        self._nudge()
        self.feel()

    def leave(self) -> None:
        self._book_unpaid()
        self.unpaid_share = 0.0
        self.gone, self.absent = True, False  # (days lost so far are booked by the workforce first)
        self.clocks = [clock + 1 for clock in self.clocks]
        self._nudge()

    def _nudge(self) -> None:
        """Make the worker look again at what to do, later this moment: at once if idle, first thing if working."""
        if self._idle:
            self._idle = False
            call_soon(self.env, self._casework)
        elif self._current is not None:
            # Book the hours worked on the case in hand now, before anyone else touches it.
            case = self._current
            worked = (self.env._now - self._current_since) * self._current_rate
            case.hours_left = max(0.0, case.hours_left - worked)
            self._current = self._timer = None
            call_soon(self.env, self._casework, urgent=True)

    def _casework(self, _alarm: Alarm | None = None) -> None:
        """Work on the first case in order until its hours are done or something changes (``_nudge``)."""
        if self.gone:
            return
        work = self._work
        if self.absent or not work:
            self._idle = True
            return
        case = work[0][3]
        self._current, self._current_since, self._current_rate = case, self.env._now, self.hours_per_day
        self._timer = call_in(self.env, case.hours_left / self._current_rate, self._hours_worked)

    def _hours_worked(self, alarm: Alarm) -> None:
        """The case in hand has had its hours, unless the worker was nudged since (then this timer is stale)."""
        if alarm is not self._timer:
            return
        case = self._current
        heappop(self._work)
        case.hours_left = 0.0
        self._current = self._timer = None
        self.pathway.hours_done(case)
        self._casework()


class Post:
    """A funded social-worker post in a team: held by an employee, covered by agency, or empty.

    A surge post is an agency worker above the establishment (``coping.agency_surge``):
    nobody is recruited to it, and it goes when its worker leaves or the surge ends. A
    standing post is one above the establishment that the council keeps filled by agency.
    """

    __slots__ = ("id", "team", "employee", "agency", "recruiting", "cover_due", "deleted", "surge", "standing")

    def __init__(self, post_id: int, team: int):
        self.id = post_id
        self.team = team
        self.employee: Worker | None = None
        self.agency: Worker | None = None
        self.recruiting = False
        self.cover_due = False  # agency cover has been asked for
        self.deleted = False
        self.surge = False
        self.standing = False

    @property
    def worker(self) -> Worker | None:
        return self.employee or self.agency


class PostStreams:
    """The named random streams of one post, so a post's life events are the same in every scenario."""

    __slots__ = ("gaps", "keep", "sick_days", "recruitment", "recruit_kind")

    def __init__(self, streams: Streams, post: int):
        # Candidate times of each life event (unit exponentials), and whether a candidate is kept.
        self.gaps = tuple(streams.exponential(f"post{post}/{event}_times") for event in LIFE_EVENTS)
        self.keep = tuple(streams.uniform(f"post{post}/{event}") for event in LIFE_EVENTS)
        self.sick_days = streams.exponential(f"post{post}/sick_days")
        self.recruitment = streams.uniform(f"post{post}/recruitment")
        self.recruit_kind = streams.uniform(f"post{post}/recruit_kind")


#: A worker's life events, each with a hazard: resigning (raised by stress), short and long sickness.
LIFE_EVENTS = ("leaving", "short_sickness", "long_sickness")
LEAVING, SHORT_SICKNESS, LONG_SICKNESS = range(3)


class Workforce:
    """Posts and people over time: leaving, vacancies, recruitment, agency cover, sickness and stress.

    Nothing here runs every day. A life event is scheduled from its hazard: candidate
    times come at the highest rate the hazard can reach (at full stress) and each is
    kept with probability rate now / highest rate (thinning), which is exact for a
    rate that changes with stress. Notice, returns from sickness, the end of a first
    year, recruitment and agency cover are each an event at their own time.
    """

    def __init__(
        self,
        env: simpy.Environment,
        config: Config,
        streams: Streams,
        pathway: Pathway,
        staff: list[Worker],
    ):
        self.env = env
        self.config = config
        self.w: WorkforceConfig = config.workforce
        self.pathway = pathway
        service = config.service
        self.per_year = 1.0 / config.run.days_per_year
        self.hours_per_fte_day = service.casework_hours_per_fte_day
        self._all_streams = streams
        self.posts: list[Post] = []
        self._streams: list[PostStreams] = []
        self.staff = staff  # everyone who has ever worked here, by id (the pathway reads it too)
        self.team_workers: list[list[Worker]] = []
        self.leavers: list[tuple[float, int, str, float, str]] = []  # (day, worker, contract, fte, reason)
        self.burnouts: list[tuple[float, int]] = []
        self.agency_heads = 0  # running totals
        self.post_count = 0
        self._awaiting_cover: list[Post] = []  # empty and standing posts waiting for room under the agency share
        self._candidates = Diary(env, self._candidate_due)  # candidate times of life events
        self._leaving_per_year = _leaving_rates(self.w)
        self.unsettled_until = -math.inf  # a restructure raises leaving until then
        self.surge_workers = 0
        self._surges: dict[int, list[Post]] = {}  # team -> its surge posts
        self._standing: list[Post] = []  # standing agency posts, oldest first
        self._standing_fte = 0.0  # each standing agency worker's FTE
        for team in range(service.teams):
            self.add_team()
            for _ in range(service.posts_in(team)):
                self.add_post(team, vacant_now=False)
        self._staff_the_posts(streams)
        self.keep_standing_agency(in_post_now=True)
        self.starting_staff = len(self.staff)  # everyone from here on joined during the run

    # -- the establishment ------------------------------------------------------------------------
    @property
    def active_posts(self) -> list[Post]:
        """The establishment: every post not deleted, surge and standing agency posts apart."""
        return [post for post in self.posts if not (post.deleted or post.surge or post.standing)]

    def standing_posts(self, team: int) -> list[Post]:
        """A team's standing agency posts (moved, not cut, when the team is cut)."""
        return [post for post in self._standing if post.team == team]

    # -- standing agency: workers above the establishment the council keeps ------------------------
    def keep_standing_agency(self, in_post_now: bool = False) -> None:
        """As many standing agency workers as ``workforce.standing_agency_fte`` asks: more engaged, the newest ended.

        The FTE is shared evenly by as few workers as the service's FTE allows, so the
        council's agency FTE is met exactly; each one's caseload is in proportion to their FTE.
        """
        total, fte = self.w.standing_agency_fte, self.config.service.fte
        wanted = math.ceil(total / fte - 1e-9) if total > 0 else 0
        self._standing_fte = total / wanted if wanted else 0.0
        while len(self._standing) < wanted:
            post = Post(len(self.posts), 0)  # its team is chosen when its worker starts
            post.standing = True
            self.posts.append(post)
            self._streams.append(PostStreams(self._all_streams, post.id))
            self._standing.append(post)
            if in_post_now and self._room_for_agency():
                self._begin(self._start_standing(post))
        while len(self._standing) > wanted:
            post = self._standing.pop()
            post.deleted = True
            if post.agency is not None:
                self._leave(post.agency, "agency_ended")
        for post in self._standing:
            worker = post.agency
            if worker is not None and worker.fte != self._standing_fte:  # the engagement's hours change
                worker.work_fte(self._standing_fte, self.hours_per_fte_day, self._standing_share(), self.w)
                self.pathway.teams[worker.team].refresh(worker)
                self.pathway.room_for(worker)
            self._vacant(post)

    def _team_with_most_gaps(self) -> int:
        """Where a standing agency worker starts: the open team with most empty posts net of its standing agency."""
        gaps = {team.id: 0 for team in self.pathway.teams if team.open}
        for post in self.active_posts:
            if post.worker is None and post.team in gaps:
                gaps[post.team] += 1
        for post in self._standing:
            if post.agency is not None and post.team in gaps:
                gaps[post.team] -= 1
        return max(gaps, key=lambda team: (gaps[team], -team))

    def _standing_share(self) -> float:
        """A standing agency worker's share of a full caseload: their FTE over the service's."""
        return min(1.0, self._standing_fte / self.config.service.fte)

    def _start_standing(self, post: Post) -> Worker:
        post.team = self._team_with_most_gaps()
        worker = self._start(post, AGENCY, self._standing_fte)
        worker.cap_share = self._standing_share()
        worker.set_rules(self.w)
        return worker

    def _replace_standing(self, post: Post) -> None:
        """A standing agency worker starts in the post, if it is still kept and empty and agency has room."""
        post.cover_due = False
        if post.deleted or post.worker is not None or not self.w.agency_allowed:
            return
        if not self._room_for_agency():
            post.cover_due = True
            self._awaiting_cover.append(post)
            return
        worker = self._start_standing(post)
        self._begin(worker)
        self.pathway.room_for(worker)

    def surge_posts(self, team: int) -> list[Post]:
        """A team's surge posts still open (kept by team, so the morning's look costs nothing at any size)."""
        posts = self._surges.get(team)
        if posts:
            posts[:] = [p for p in posts if not p.deleted]
        return list(posts or [])

    # -- coping: agency surge and restructures -----------------------------------------------------
    def add_surge(self, team: int, days: float) -> None:
        """An agency worker above the establishment, after the agency's start delay, for ``days``."""
        post = Post(len(self.posts), team)
        post.surge = True
        self.posts.append(post)
        self._surges.setdefault(team, []).append(post)
        self._streams.append(PostStreams(self._all_streams, post.id))
        start = self.w.agency_start_days
        self.env.timeout(start).callbacks.append(lambda _event: self._surge_starts(post))
        self.env.timeout(start + days).callbacks.append(lambda _event: self.end_surge(post))

    def _surge_starts(self, post: Post) -> None:
        if post.deleted or post.team >= len(self.pathway.teams) or not self.pathway.teams[post.team].open:
            post.deleted = True
            return
        worker = self._start(post, AGENCY)
        worker.surge = True
        self.surge_workers += 1
        self._begin(worker)
        self.pathway.room_for(worker)

    def end_surge(self, post: Post) -> None:
        """The surge is over (or its team was cut): the post goes, and its worker with their cases."""
        if post.deleted:
            return
        post.deleted = True
        if post.agency is not None:
            self._leave(post.agency, "surge_ended")

    def unsettle(self) -> None:
        """A restructure: leaving is raised for a while (``workforce.restructure_leaving_effect``)."""
        if self.w.restructure_leaving_effect <= 0 or self.w.restructure_unsettled_days <= 0:
            return
        self.unsettled_until = self.env.now + self.w.restructure_unsettled_days
        for worker in self.staff_in_post():
            self._schedule(worker, LEAVING)  # the highest rate is higher for a while

    def add_team(self) -> int:
        self.team_workers.append([])
        return len(self.team_workers) - 1

    def add_post(self, team: int, vacant_now: bool = True) -> Post:
        """A new, empty post: recruitment and agency cover start."""
        post = Post(len(self.posts), team)
        self.posts.append(post)
        self._streams.append(PostStreams(self._all_streams, post.id))
        self.post_count += 1
        if vacant_now:
            self._vacant(post)
        self._retry_cover()
        return post

    def delete_post(self, post: Post) -> None:
        """The post goes: whoever holds it leaves, and their cases are transferred."""
        post.deleted = True
        self.post_count -= 1
        for worker in (post.employee, post.agency):
            if worker is not None:
                self._leave(worker, "post_deleted")

    def redeploy(self, post: Post, team: int) -> None:
        """The post, and whoever holds it with their caseload, moves to another team."""
        post.team = team
        for worker in (post.employee, post.agency):
            if worker is not None:
                self.team_workers[worker.team].remove(worker)
                worker.team = team
                self.team_workers[team].append(worker)
                self.pathway.redeploy(worker)

    def update(self, config: Config) -> None:
        """New settings from a dated change: they apply from now on."""
        self.config, self.w = config, config.workforce
        self._leaving_per_year = _leaving_rates(config.workforce)
        hours = config.service.casework_hours_per_fte_day
        for worker in self.staff_in_post():
            worker.set_rules(self.w)
            if config.coping.unpaid_hours or worker._unpaid is not None:
                worker.set_coping(config.coping, config.run.warmup_days)
            share = self.w.newly_qualified_productivity if worker.contract == NEWLY_QUALIFIED else 1.0
            worker.set_full_pace(worker.fte * hours * share)
            for event in range(len(LIFE_EVENTS)):  # the hazards' highest rates may have changed
                self._schedule(worker, event)
        self.hours_per_fte_day = hours
        for post in self.active_posts:
            if post.worker is None and not post.cover_due:
                self._ask_for_cover(post)
        self._retry_cover()
        self.keep_standing_agency()

    # -- people joining and leaving ---------------------------------------------------------------
    def _staff_the_posts(self, streams: Streams) -> None:
        """Fill the posts as the service stands at the start: employees, agency cover and empty posts."""
        w, n = self.w, len(self.posts)
        order = streams.generator("starting_workforce").permutation(n).tolist()
        agency = round(w.start_agency_share * n)
        newly_qualified = round(w.start_newly_qualified_share * n)
        vacant = round(w.start_vacant_share * n)
        for rank, p in enumerate(order):
            post = self.posts[p]
            if rank < vacant:
                continue
            if rank < vacant + agency:
                self._start(post, AGENCY)
            elif rank < vacant + agency + newly_qualified:
                self._start(post, NEWLY_QUALIFIED)
            else:
                self._start(post, PERMANENT)
        for worker in self.staff:  # the newly qualified are part-way through their first year
            if worker.contract == NEWLY_QUALIFIED:
                worker.started = -w.newly_qualified_days * self._streams[worker.post].recruit_kind.next()
        for worker in self.staff:
            self._begin(worker)
        for post in self.posts:
            if post.employee is None or post.worker is None:
                self._vacant(post)

    def _start(self, post: Post, contract: str, fte: float | None = None) -> Worker:
        fte = fte or self.config.service.fte
        worker = Worker(
            self.env,
            len(self.staff),
            post.team,
            post.id,
            contract,
            fte,
            fte * self.hours_per_fte_day,
            self.pathway,
            self.w,
            self.burnouts,
        )
        if contract == NEWLY_QUALIFIED:
            worker.cap_share = self.w.newly_qualified_caseload_share
            worker.set_rules(self.w)
            worker.base_hours_per_day *= self.w.newly_qualified_productivity
            worker.hours_per_day = worker.base_hours_per_day
        if self.config.coping.unpaid_hours:
            worker.set_coping(self.config.coping, self.config.run.warmup_days)
        if contract == AGENCY:
            post.agency = worker
            if not post.surge:
                self.agency_heads += 1
        else:
            post.employee = worker
        self.staff.append(worker)
        self.team_workers[post.team].append(worker)
        self.pathway.teams[post.team].refresh(worker)
        return worker

    def _begin(self, worker: Worker) -> None:
        """A worker's life events are scheduled from the day they start."""
        for event in range(len(LIFE_EVENTS)):
            self._schedule(worker, event)
        if worker.contract == NEWLY_QUALIFIED:
            first_year_ends = max(0.0, worker.started + self.w.newly_qualified_days - self.env.now)
            self.env.timeout(first_year_ends).callbacks.append(lambda _event: self._experience(worker))

    def _leave(self, worker: Worker, reason: str) -> None:
        """The worker goes: their cases are transferred and the post falls vacant."""
        post = self.posts[worker.post]
        self._book_absence(worker)
        worker.leave()
        self.team_workers[worker.team].remove(worker)
        if post.employee is worker:
            post.employee = None
        if post.agency is worker:
            post.agency = None
            if post.surge:
                self.surge_workers -= 1
                post.deleted = True  # a surge post goes with its worker
            else:
                self.agency_heads -= 1
        self.leavers.append((self.env.now, worker.id, worker.contract, worker.fte, reason))
        self.pathway.transfer_all(worker, reason)
        self._vacant(post)
        if worker.contract == AGENCY:
            self._retry_cover()

    def _recruit(self, post: Post):
        """A permanent recruitment campaign for the post: it takes months, and some campaigns fail."""
        w, stream = self.w, self._streams[post.id].recruitment
        while True:
            yield self.env.timeout(w.recruitment_days * (0.5 + stream.next()))
            if stream.next() >= w.recruitment_failure_share:
                break
        post.recruiting = False
        kind = (
            NEWLY_QUALIFIED
            if self._streams[post.id].recruit_kind.next() < w.recruits_newly_qualified_share
            else PERMANENT
        )
        if post.deleted:
            return
        recruit = self._start(post, kind)
        self._begin(recruit)
        self.pathway.room_for(recruit)
        if post.agency is not None:  # the agency cover makes way for the recruit
            self._leave(post.agency, "agency_replaced")

    # -- vacancies and agency cover ----------------------------------------------------------------
    def _vacant(self, post: Post) -> None:
        """A post without an employee is recruited to; one with nobody in it is covered by agency when allowed."""
        if post.deleted:
            return
        if post.standing:  # another agency worker, after the agency's start delay
            if post.worker is None and not post.cover_due and self.w.agency_allowed:
                post.cover_due = True
                self.env.timeout(self.w.agency_start_days).callbacks.append(lambda _e: self._replace_standing(post))
            return
        if post.employee is None and not post.recruiting:
            post.recruiting = True
            self.env.process(self._recruit(post))
        if post.worker is None and not post.cover_due:
            self._ask_for_cover(post)

    def _ask_for_cover(self, post: Post) -> None:
        if not (self.w.agency_allowed and self.w.agency_covers_vacancies):
            return  # asked again if a dated change allows agency cover
        post.cover_due = True
        self.env.timeout(self.w.agency_start_days).callbacks.append(lambda _event: self._cover(post))

    def _cover(self, post: Post) -> None:
        """Agency cover starts, if the post is still empty and agency is under its share of posts."""
        post.cover_due = False
        if post.deleted or post.worker is not None or not (self.w.agency_allowed and self.w.agency_covers_vacancies):
            return
        if self._room_for_agency():
            self.pathway.room_for(self._begin_agency(post))
        else:
            post.cover_due = True
            self._awaiting_cover.append(post)

    def _room_for_agency(self) -> bool:
        """Agency workers, covering posts or standing (not a surge), are under their share of the posts."""
        return self.agency_heads < self.w.agency_max_share * self.post_count

    def _begin_agency(self, post: Post) -> Worker:
        worker = self._start(post, AGENCY)
        self._begin(worker)
        return worker

    def _retry_cover(self) -> None:
        """Room under the agency share (someone left, posts changed): posts waiting for cover get it in turn."""
        waiting, self._awaiting_cover = self._awaiting_cover, []
        for post in waiting:
            post.cover_due = False
            if not post.deleted and post.worker is None:  # it has waited its start days already
                (self._replace_standing if post.standing else self._cover)(post)

    # -- life events -------------------------------------------------------------------------------
    def _rate(self, worker: Worker, event: int, stress: float) -> float:
        """The hazard of a life event a working day, at a level of stress."""
        w = self.w
        if event == LEAVING:
            rate = self._leaving_per_year[worker.contract] * (1.0 + w.stress_leaving_effect * stress) * self.per_year
            if self.env.now < self.unsettled_until:
                rate *= 1.0 + w.restructure_leaving_effect
            return rate
        if event == SHORT_SICKNESS:
            return w.short_sickness_per_year * self.per_year
        return w.long_sickness_per_year * (1.0 + w.stress_sickness_effect * stress) * self.per_year

    def _schedule(self, worker: Worker, event: int) -> None:
        """The next candidate time of a life event, at its highest rate (stress 1); any earlier one is cancelled."""
        worker.clocks[event] += 1
        highest = self._rate(worker, event, 1.0)
        if highest <= 0 or worker.gone or (event == LEAVING and worker.leaving):
            return
        clock = worker.clocks[event]
        gap = self._streams[worker.post].gaps[event].next() / highest
        self._candidates.add(self.env.now + gap, (worker, event, clock, highest))

    def _candidate_due(self, entry: tuple[Worker, int, int, float]) -> None:
        worker, event, clock, highest = entry
        if clock == worker.clocks[event]:  # not cancelled since it was drawn
            self._candidate(worker, event, highest)

    def _candidate(self, worker: Worker, event: int, highest: float) -> None:
        """A candidate time: the event happens with probability rate now / highest rate."""
        keep = self._streams[worker.post].keep[event].next() < self._rate(worker, event, worker.stress_now()) / highest
        if keep and event == LEAVING:
            self._resign(worker)
        elif keep and not worker.absent:
            self._fall_sick(worker, event)
        self._schedule(worker, event)

    def _resign(self, worker: Worker) -> None:
        w = self.w
        worker.leaving = True
        notice = w.notice_days_agency if worker.contract == AGENCY else w.notice_days_permanent
        reason = "agency_left" if worker.contract == AGENCY else "resigned"
        self.env.timeout(notice).callbacks.append(lambda _event: worker.gone or self._leave(worker, reason))

    def _experience(self, worker: Worker) -> None:
        """After the first year a newly qualified worker carries a full caseload at full pace."""
        if worker.gone or worker.contract != NEWLY_QUALIFIED:
            return
        worker.contract = PERMANENT
        worker.cap_share = 1.0
        worker.set_rules(self.w)
        worker.set_full_pace(worker.fte * self.hours_per_fte_day)
        self._schedule(worker, LEAVING)  # the permanent leaving rate from now on
        self.pathway.room_for(worker)  # more room: the team can allocate to them

    def _fall_sick(self, worker: Worker, event: int) -> None:
        """Off sick for whole days; a worker off longer than the threshold has their cases reallocated."""
        w = self.w
        mean = w.long_sickness_mean_days if event == LONG_SICKNESS else w.short_sickness_mean_days
        days = max(1.0, math.ceil(mean * self._streams[worker.post].sick_days.next()))
        worker.go_off()
        self.pathway.room_for(worker)
        episode = worker.episode
        self.env.timeout(days).callbacks.append(lambda _event: self._back(worker, episode))
        if w.reallocate_after_days < days:
            self.env.timeout(w.reallocate_after_days).callbacks.append(lambda _event: self._reallocate(worker, episode))

    def _reallocate(self, worker: Worker, episode: int) -> None:
        if worker.absent and worker.episode == episode and not worker.gone and worker.load:
            self.pathway.transfer_all(worker, "sickness")

    def _back(self, worker: Worker, episode: int) -> None:
        if worker.gone or worker.episode != episode:
            return
        self._book_absence(worker)
        worker.come_back()
        self.pathway.room_for(worker)

    def _book_absence(self, worker: Worker) -> None:
        """Working days lost to the episode so far, FTE-weighted, counted once the warm-up is over."""
        if worker.absent:
            start = max(worker.absent_since, self.config.run.warmup_days)
            worker.days_lost += worker.fte * max(0.0, self.env.now - start)
            worker.absent_since = self.env.now

    def sick_days(self, worker: Worker) -> float:
        """FTE days lost in the reported years, including an episode still running."""
        self._book_absence(worker)
        return worker.days_lost

    def staff_in_post(self) -> list[Worker]:
        return [worker for team in self.team_workers for worker in team]
