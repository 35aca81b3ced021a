"""The workforce: posts, the social workers who hold them, and what makes capacity move.

A team has a fixed number of **posts**. A post is held by an employee (permanent
or newly qualified), covered by an agency worker, or empty. People **leave** at a
hazard that stress raises, after a notice period; an empty post is **recruited**
to (slowly, and some campaigns fail) and **covered by agency** meanwhile where
the policy allows. Workers go **off sick**, and stress follows their caseload.
The pathway asks who is at work with the fewest cases and moves cases to them; when a
worker leaves or is off too long, ``Workforce`` asks the pathway to move their cases.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, NamedTuple

import simpy

from .config import Config, WorkforceConfig
from .streams import Streams

if TYPE_CHECKING:
    from .pathway import Case, Pathway

PERMANENT, NEWLY_QUALIFIED, AGENCY = "permanent", "newly_qualified", "agency"


def _leaving_rates(w: WorkforceConfig) -> dict[str, float]:
    """The annual leaving hazard of each contract, before stress."""
    return {
        PERMANENT: w.leaving_per_year_permanent,
        NEWLY_QUALIFIED: w.leaving_per_year_newly_qualified,
        AGENCY: w.leaving_per_year_agency,
    }


class Work(NamedTuple):
    """An assessment on a worker's list, in the order they work: urgent first, then the earliest deadline."""

    priority: int
    deadline: float
    case_id: int
    case: Case


class Worker:
    """A social worker sharing casework hours across a caseload: urgent first, then the earliest deadline."""

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
        self.stress = 0.0
        self.burnt_out = False
        self.absent = False
        self.back_on = math.inf
        self.absent_since = math.nan
        self.leaving_on = math.inf
        self.gone = False
        self.days_lost = 0.0
        self.caseload: dict[int, Case] = {}  # assessments in hand
        self.held: dict[int, Case] = {}  # assessed children waiting for a long-term team
        self.stamp = 0  # bumped when the load or availability changes (the team's least-loaded order)
        self.pathway = pathway
        self._work: list[Work] = []  # a heap of the assessments with hours still to do
        self._current: Case | None = None
        self._current_since = 0.0
        self._current_rate = base_hours_per_day
        self._wake: simpy.Event | None = None
        self._process = env.process(self._casework())

    @property
    def load(self) -> int:
        """Cases on this worker's caseload: assessments in hand and children awaiting hand-over."""
        return len(self.caseload) + len(self.held)

    @property
    def available(self) -> bool:
        """At work and not leaving today: can be given cases."""
        return not self.absent and not self.gone

    def take(self, case: Case) -> None:
        """An assessment joins the caseload (moved here by the pathway); it comes first if it is more pressing."""
        self.caseload[case.id] = case
        if case.hours_left <= 0:
            return
        heappush(self._work, Work(case.priority, case.deadline, case.id, case))
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

    def drop(self, case: Case) -> None:
        """The case leaves this caseload (the pathway moved it on); hours worked on it so far are booked."""
        if case.id in self.held:
            del self.held[case.id]
            return
        if self.caseload.pop(case.id, None) is None:
            return
        if self._current is case:
            self._nudge()
        work = self._work
        for i, entry in enumerate(work):
            if entry.case_id == case.id:
                work[i] = work[-1]
                work.pop()
                heapify(work)
                break

    def hand_over(self) -> tuple[list[Case], list[Case]]:
        """Empty the caseload for transfer: the assessments in hand and the children held."""
        cases, held = list(self.caseload.values()), list(self.held.values())
        self.caseload.clear()
        self.held.clear()
        self._work.clear()
        self._nudge()
        return cases, held

    def set_hours_per_day(self, hours: float) -> None:
        """Casework hours a day change (stress, experience); the case in hand continues at the new pace."""
        if hours != self.hours_per_day:
            self.hours_per_day = hours
            if self._current is not None:
                self._nudge()

    def go_off(self, until: float) -> None:
        self.absent, self.back_on, self.absent_since = True, until, self.env.now
        self._nudge()

    def come_back(self) -> None:
        self.absent, self.back_on, self.absent_since = False, math.inf, math.nan
        self._nudge()

    def leave(self) -> None:
        self.gone = True
        self._nudge()

    def _nudge(self) -> None:
        """Make the casework process look again at what to do: wake it if idle, interrupt it if working."""
        if self._wake is not None:
            self._wake.succeed()
            self._wake = None
        elif self._current is not None:
            # Book the hours worked on the case in hand now, before anyone else touches it.
            case = self._current
            worked = (self.env.now - self._current_since) * self._current_rate
            case.hours_left = max(0.0, case.hours_left - worked)
            self._current = None
            self._process.interrupt()

    def _casework(self):
        """Work on the first case in order until its hours are done or something changes."""
        env, work = self.env, self._work
        while not self.gone:
            if self.absent or not work:
                self._wake = env.event()
                yield self._wake
                continue
            case = work[0].case
            self._current, self._current_since, self._current_rate = case, env.now, self.hours_per_day
            try:
                yield env.timeout(case.hours_left / self._current_rate)
            except simpy.Interrupt:
                continue  # _nudge has booked the hours worked
            heappop(work)
            case.hours_left = 0.0
            self._current = None
            self.pathway.hours_done(case)


class Post:
    """A funded social-worker post in a team: held by an employee, covered by agency, or empty."""

    __slots__ = ("id", "team", "employee", "agency", "recruiting", "agency_due", "deleted")

    def __init__(self, post_id: int, team: int):
        self.id = post_id
        self.team = team
        self.employee: Worker | None = None
        self.agency: Worker | None = None
        self.recruiting = False
        self.agency_due = math.inf
        self.deleted = False

    @property
    def worker(self) -> Worker | None:
        return self.employee or self.agency


class PostStreams:
    """The named random streams of one post, so a post's life events are the same in every scenario."""

    __slots__ = ("leaving", "short_sickness", "long_sickness", "sick_days", "recruitment", "recruit_kind")

    def __init__(self, streams: Streams, post: int):
        self.leaving = streams.uniform(f"post{post}/leaving")
        self.short_sickness = streams.uniform(f"post{post}/short_sickness")
        self.long_sickness = streams.uniform(f"post{post}/long_sickness")
        self.sick_days = streams.exponential(f"post{post}/sick_days")
        self.recruitment = streams.uniform(f"post{post}/recruitment")
        self.recruit_kind = streams.uniform(f"post{post}/recruit_kind")


class Workforce:
    """Posts and people over time: leaving, vacancies, recruitment, agency cover, sickness and stress."""

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
        for team in range(service.teams):
            self.add_team()
            for _ in range(service.workers_per_team):
                self.add_post(team)
        self._leaving_per_year = _leaving_rates(self.w)
        self.leavers: list[tuple[float, int, str, float, str]] = []  # (day, worker, contract, fte, reason)
        self.burnouts: list[tuple[float, int]] = []
        self._staff_the_posts(streams)

    # -- the establishment ------------------------------------------------------------------------
    @property
    def active_posts(self) -> list[Post]:
        return [post for post in self.posts if not post.deleted]

    def add_team(self) -> int:
        self.team_workers.append([])
        return len(self.team_workers) - 1

    def add_post(self, team: int) -> Post:
        """A new, empty post: recruitment and agency cover start the next morning."""
        post = Post(len(self.posts), team)
        self.posts.append(post)
        self._streams.append(PostStreams(self._all_streams, post.id))
        return post

    def delete_post(self, post: Post) -> None:
        """The post goes: whoever holds it leaves, and their cases are transferred."""
        post.deleted = True
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
        if hours != self.hours_per_fte_day:
            self.hours_per_fte_day = hours
            for worker in self.staff_in_post():
                share = self.w.newly_qualified_productivity if worker.contract == NEWLY_QUALIFIED else 1.0
                worker.base_hours_per_day = worker.fte * hours * share
                self._stress(worker)

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

    def _start(self, post: Post, contract: str) -> Worker:
        fte = self.config.service.fte
        worker = Worker(
            self.env,
            len(self.staff),
            post.team,
            post.id,
            contract,
            fte,
            fte * self.hours_per_fte_day,
            self.pathway,
        )
        if contract == NEWLY_QUALIFIED:
            worker.cap_share = self.w.newly_qualified_caseload_share
            worker.base_hours_per_day *= self.w.newly_qualified_productivity
            worker.hours_per_day = worker.base_hours_per_day
        if contract == AGENCY:
            post.agency = worker
        else:
            post.employee = worker
        self.staff.append(worker)
        self.team_workers[post.team].append(worker)
        self.pathway.teams[post.team].refresh(worker)
        return worker

    def _leave(self, worker: Worker, reason: str) -> None:
        """The worker goes: their cases are transferred and the post falls vacant."""
        post = self.posts[worker.post]
        worker.leave()
        self.team_workers[worker.team].remove(worker)
        if post.employee is worker:
            post.employee = None
        if post.agency is worker:
            post.agency = None
        self.leavers.append((self.env.now, worker.id, worker.contract, worker.fte, reason))
        self.pathway.transfer_all(worker, reason)

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
        self.pathway.room_for(recruit)
        if post.agency is not None:  # the agency cover makes way for the recruit
            self._leave(post.agency, "agency_replaced")

    # -- the working day --------------------------------------------------------------------------
    def day(self) -> None:
        """Each morning: stress moves, people resign, fall sick or come back, and posts are filled."""
        now = self.env.now
        for worker in list(self.staff_in_post()):
            if worker.leaving_on <= now:
                self._leave(worker, "agency_left" if worker.contract == AGENCY else "resigned")
                continue
            self._stress(worker)
            self._experience(worker, now)
            self._resign(worker, now)
            self._sickness(worker, now)
        for post in self.active_posts:
            self._fill(post, now)

    def staff_in_post(self) -> list[Worker]:
        return [worker for team in self.team_workers for worker in team]

    def _stress(self, worker: Worker) -> None:
        """Stress drifts towards what the caseload warrants: quickly up, slowly down."""
        w = self.w
        if worker.absent:
            target = 0.0
        else:
            ratio = worker.load / (w.manageable_caseload * worker.cap_share)
            span = w.stress_full_share - w.stress_from_share
            target = min(1.0, max(0.0, (ratio - w.stress_from_share) / span))
        pace = w.stress_rise_days if target > worker.stress else w.stress_recovery_days
        worker.stress += (target - worker.stress) / pace
        if worker.stress >= w.burnout_threshold and not worker.burnt_out:
            worker.burnt_out = True
            self.burnouts.append((self.env.now, worker.id))
        elif worker.stress < 0.75 * w.burnout_threshold:
            worker.burnt_out = False
        productivity = 1.0 - w.stress_productivity_effect * round(worker.stress, 1)
        worker.set_hours_per_day(worker.base_hours_per_day * productivity)

    def _experience(self, worker: Worker, now: float) -> None:
        """After the first year a newly qualified worker carries a full caseload at full pace."""
        if worker.contract == NEWLY_QUALIFIED and now - worker.started >= self.w.newly_qualified_days:
            worker.contract = PERMANENT
            worker.cap_share = 1.0
            worker.base_hours_per_day = worker.fte * self.hours_per_fte_day
            self.pathway.room_for(worker)  # more room: the team can allocate to them

    def _resign(self, worker: Worker, now: float) -> None:
        if worker.leaving_on != math.inf:
            return
        w = self.w
        rate = self._leaving_per_year[worker.contract] * (1.0 + w.stress_leaving_effect * worker.stress)
        if self._streams[worker.post].leaving.next() < -math.expm1(-rate * self.per_year):
            notice = w.notice_days_agency if worker.contract == AGENCY else w.notice_days_permanent
            worker.leaving_on = now + notice

    def _sickness(self, worker: Worker, now: float) -> None:
        w, streams = self.w, self._streams[worker.post]
        if worker.absent and now >= worker.back_on:
            worker.come_back()
            self.pathway.room_for(worker)
        if worker.absent:
            self._lose_day(worker, now)
            if now - worker.absent_since >= w.reallocate_after_days and worker.load:
                self.pathway.transfer_all(worker, "sickness")
            return
        short = streams.short_sickness.next() < -math.expm1(-w.short_sickness_per_year * self.per_year)
        long_rate = w.long_sickness_per_year * (1.0 + w.stress_sickness_effect * worker.stress)
        long = streams.long_sickness.next() < -math.expm1(-long_rate * self.per_year)
        if long or short:
            mean = w.long_sickness_mean_days if long else w.short_sickness_mean_days
            days = max(1.0, math.ceil(mean * streams.sick_days.next()))
            worker.go_off(now + days)
            self.pathway.room_for(worker)
            self._lose_day(worker, now)

    def _lose_day(self, worker: Worker, now: float) -> None:
        """A working day lost to sickness, counted (FTE-weighted) once the warm-up is over."""
        if now >= self.config.run.warmup_days:
            worker.days_lost += worker.fte

    def _fill(self, post: Post, now: float) -> None:
        """An empty post is recruited to, and covered by agency while the policy allows."""
        w = self.w
        if post.employee is None and not post.recruiting:
            post.recruiting = True
            self.env.process(self._recruit(post))
        if post.employee is not None or post.agency is not None or not w.agency_allowed:
            post.agency_due = math.inf
            return
        if post.agency_due == math.inf:
            post.agency_due = now + w.agency_start_days
        elif now >= post.agency_due:
            posts = self.active_posts
            agency_now = sum(1 for p in posts if p.agency is not None)
            if agency_now < w.agency_max_share * len(posts):
                post.agency_due = math.inf
                self.pathway.room_for(self._start(post, AGENCY))
