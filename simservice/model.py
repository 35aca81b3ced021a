"""One replication of the service: the pathway and the workforce on one clock, with named random streams."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import pandas as pd
import simpy

from .config import ASSESSMENT_LIMIT_DAYS, Config, apply_setting
from .demand import Workload, monthly_rates, referral_days, scenario_rates
from .pathway import (
    ALLOCATED,
    AWAITING_LONG_TERM,
    AWAITING_TRIAGE,
    CLOSED_AT_FRONT_DOOR,
    COMPLETED,
    STANDARD,
    UNALLOCATED,
    URGENT,
    Case,
    FrontDoor,
    Team,
)
from .streams import Streams
from .workforce import AGENCY, NEWLY_QUALIFIED, PERMANENT, Worker, Workforce

DAILY_COLUMNS = (
    "awaiting_triage",
    "unallocated",
    "oldest_unallocated_days",
    "allocated",
    "awaiting_long_term_team",
    "long_term_children",
    "caseload_mean",
    "caseload_p90",
    "caseload_max",
    "permanent",
    "newly_qualified",
    "agency",
    "vacant_posts",
    "off_sick",
    "in_post_fte",
    "agency_fte",
    "vacant_fte",
    "case_holder_fte",
    "cases_held",
    "stress_mean",
)


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication leaves behind: cases, days, worker-day caseloads, and the workforce's events."""

    replication: int
    cases: pd.DataFrame
    daily: pd.DataFrame
    caseloads: np.ndarray  # (day, caseload, stress) for every worker in post and working day
    staff: pd.DataFrame  # one row per person who worked in the service
    transfers: pd.DataFrame  # one row per case transfer


@dataclass(frozen=True)
class PastReferral:
    """A child referred before the run began, known only by what a re-referral needs."""

    referral_number: int
    referred: float


class CaseDraws:
    """The streams that give a referral its urgency, workload, minimum days and outcome."""

    def __init__(self, streams: Streams, prefix: str, exponential: bool):
        self.priority = streams.uniform(f"{prefix}priority").next
        self.workload = (streams.exponential if exponential else streams.normal)(f"{prefix}workload").next
        self.visits = streams.uniform(f"{prefix}visits").next
        self.outcome = streams.uniform(f"{prefix}outcome").next


class Service:
    """A children's social care assessment service, from referral to outcome, for one replication."""

    def __init__(self, config: Config, replication: int = 0):
        self.config = config
        self.replication = replication
        self.env = simpy.Environment()
        service, demand, policy, run = config.service, config.demand, config.policy, config.run
        streams = Streams(run.seed, replication)

        # A stream per kind of chance, so scenarios that differ in one respect share the rest.
        exponential = demand.workload_distribution == "exponential"
        self._new = CaseDraws(streams, "", exponential)
        self._returning = CaseDraws(streams, "rereferral/", exponential)
        self._front_door_decision = streams.uniform("front_door_decision")
        self._routing = streams.uniform("routing")
        self._rereferral = streams.uniform("rereferral")
        self._rereferral_delay = streams.exponential("rereferral_delay")
        self._long_term_stay = streams.exponential("long_term_stay")
        self._set_demand(demand)

        self.teams = [
            Team(t, policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
            for t in range(service.teams)
        ]
        self.workforce = Workforce(self.env, config, streams, self._hours_done, self._move_cases, self._joined)
        for team, workers in zip(self.teams, self.workforce.team_workers, strict=True):
            team.workers = workers
        self._route()

        self.front_door = FrontDoor(self.env, service.triage_per_day, self._decide)
        self.cases: list[Case] = []
        self.closed_at_front_door: list[Case] = []
        self.completed: list[Case] = []
        self.awaiting_long_term: dict[int, Case] = {}  # assessed, on a caseload until a place and the hand-over
        self._ready_to_move: deque[Case] = deque()  # hand-over done, waiting for a place, in order
        self.long_term_children = 0
        self.transfer_log: list[tuple[float, int, int, int, str]] = []  # (day, case, from, to or -1, reason)

        self._arrivals = referral_days(
            scenario_rates(config),
            run.days_per_month,
            streams.generator("arrivals"),
            streams.generator("arrival_times"),
        )
        self.days = math.ceil(run.horizon_days)
        self._daily = {name: np.zeros(self.days) for name in DAILY_COLUMNS}
        self._caseloads: list[tuple[int, int, float]] = []
        self._start_running(streams)
        self.env.process(self._referrals())
        self.env.process(self._working_days())
        if config.changes:
            self.env.process(self._dated_changes(config.changes_in_order))

    @property
    def workers(self) -> list[Worker]:
        """Everyone who has worked in the service this run, by id."""
        return self.workforce.staff

    # -- demand ------------------------------------------------------------------------------------
    def _new_case(
        self, referred: float, draws: CaseDraws, initial: bool = False, previous: Case | PastReferral | None = None
    ) -> Case:
        urgency = URGENT if draws.priority() < self.config.demand.urgent_share else STANDARD
        hours = self._hours.hours(urgency, draws.workload())
        min_days = self._min_days[urgency] * (1.0 + self._min_days_spread * (2.0 * draws.visits() - 1.0))
        case = Case(
            len(self.cases),
            urgency,
            hours,
            min_days,
            referred + ASSESSMENT_LIMIT_DAYS,
            draws.outcome() < self.config.demand.not_in_need_share,
            referred,
            initial,
            referral_number=1 if previous is None else previous.referral_number + 1,
            previous_referral=math.nan if previous is None else previous.referred,
        )
        self.cases.append(case)
        return case

    def _referrals(self):
        """Referrals arrive at the front door at their pre-drawn times."""
        env, refer, draws = self.env, self.front_door.refer, self._new
        for day in self._arrivals.tolist():
            yield env.timeout(day - env.now)
            refer(self._new_case(day, draws))

    def _closed(self, case: Case | PastReferral) -> None:
        """A child's involvement ends; some come back later (re-referral)."""
        demand = self.config.demand
        if self._rereferral.next() < demand.rereferral_probability:
            delay = demand.rereferral_mean_days * self._rereferral_delay.next()
            self.env.timeout(delay).callbacks.append(lambda _event: self._rerefer(case))

    def _rerefer(self, previous: Case | PastReferral) -> None:
        self.front_door.refer(self._new_case(self.env.now, self._returning, previous=previous))

    # -- front door and routing --------------------------------------------------------------------
    def _decide(self, case: Case) -> None:
        """The front door's decision: close (no further action, early help) or send to the area's team."""
        case.decided = self.env.now
        closing = self._front_door_decision.next() < self.config.policy.front_door_closure_share
        area = self._routing.next()
        if closing:
            case.state = CLOSED_AT_FRONT_DOOR
            self.closed_at_front_door.append(case)
            self._closed(case)
            return
        self._routes[bisect_right(self._route_bounds, area)].receive(case)

    def _route(self) -> None:
        """Each open team covers a share of the area: the configured shares, or equal ones."""
        self._routes = [team for team in self.teams if team.open]
        shares = self.config.service.team_shares
        if shares is None or len(shares) != len(self._routes):
            shares = [1.0 / len(self._routes)] * len(self._routes)
        self._route_bounds = list(accumulate(shares))[:-1]

    # -- assessment --------------------------------------------------------------------------------
    def _hours_done(self, worker: Worker, case: Case) -> None:
        """Casework is done; the assessment closes once the visits and checks have had their minimum days."""
        wait = case.allocated + case.min_days - self.env.now
        if wait > 1e-9:
            epoch = case.epoch
            self.env.timeout(wait).callbacks.append(lambda _event: epoch == case.epoch and self._complete(case))
        else:
            self._complete(case)

    def _complete(self, case: Case) -> None:
        """An assessment is completed: the child is closed or waits for a long-term team."""
        worker = self.workers[case.worker]
        worker.release(case)
        case.completed = self.env.now
        self.completed.append(case)
        if case.not_in_need:
            case.state = COMPLETED
            case.moved_on = self.env.now
            self._closed(case)
        else:
            case.state = AWAITING_LONG_TERM
            case.epoch += 1
            worker.held[case.id] = case
            self.awaiting_long_term[case.id] = case
            epoch = case.epoch
            self.env.timeout(self.config.service.handover_days).callbacks.append(
                lambda _event: epoch == case.epoch and self._handover_due(case)
            )
        self.teams[worker.team].allocate()

    # -- downstream: the long-term teams -----------------------------------------------------------
    def _handover_due(self, case: Case) -> None:
        self._ready_to_move.append(case)
        self._move_to_long_term()

    def _move_to_long_term(self) -> None:
        """Children move on while the long-term teams have places; the rest stay where they are."""
        places = self.config.service.long_term_places
        while self._ready_to_move and (places is None or self.long_term_children < places):
            case = self._ready_to_move.popleft()
            del self.awaiting_long_term[case.id]
            team = None
            if case.worker is not None:
                holder = self.workers[case.worker]
                del holder.held[case.id]
                team = self.teams[holder.team]
            case.state = COMPLETED
            case.moved_on = self.env.now
            self.long_term_children += 1
            stay = self.config.service.long_term_mean_days * self._long_term_stay.next()
            self.env.timeout(stay).callbacks.append(lambda _event, c=case: self._long_term_ends(c))
            if team is not None:
                team.allocate()

    def _long_term_ends(self, case: Case | PastReferral) -> None:
        self.long_term_children -= 1
        self._closed(case)
        self._move_to_long_term()

    # -- policies over time ------------------------------------------------------------------------
    def _dated_changes(self, changes):
        """Each dated change takes effect at the start of its month."""
        run = self.config.run
        for change in changes:
            yield self.env.timeout(run.warmup_days + change.month * run.days_per_month - self.env.now)
            self.apply(change.setting, change.value)

    def apply(self, setting: str, value) -> None:
        """A setting takes a new value from now on; the teams, posts and front door follow it."""
        before = self.config
        self.config = apply_setting(before, setting, value)
        group, _, key = setting.partition(".")
        service, policy = self.config.service, self.config.policy
        self.workforce.update(self.config)
        if group == "demand":
            self._set_demand(self.config.demand)
        for team in self.teams:
            team.set_policy(policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
        if key in ("teams", "team_shares"):
            self._reorganise()
        if key == "workers_per_team":
            for team in self._routes:
                self._resize(team, service.workers_per_team)
        if key in ("triage_staff", "triage_per_staff_per_day"):
            self.front_door.set_capacity(service.triage_per_day)
        self._move_to_long_term()
        for team in self._routes:
            team.allocate()

    def _set_demand(self, demand) -> None:
        self._hours = Workload(demand)
        self._min_days = (demand.min_days_urgent, demand.min_days_standard)
        self._min_days_spread = demand.min_days_spread

    def _reorganise(self) -> None:
        """Cut teams (their area, queue and posts go to the rest) or open new ones (with empty posts)."""
        wanted, open_teams = self.config.service.teams, [team for team in self.teams if team.open]
        for cut in open_teams[wanted:]:
            cut.open = False
        self._route()
        keep = self._routes
        for cut in open_teams[wanted:]:
            waiting, cut.queue = sorted(cut.queue), []
            for i, item in enumerate(waiting):
                keep[i % len(keep)].requeue(item[3])
            for post in [p for p in self.workforce.active_posts if p.team == cut.id]:
                if self.config.policy.team_cut == "redeploy":
                    smallest = min(keep, key=lambda t: (self._posts_in(t), t.id))
                    self.workforce.redeploy(post, smallest.id)
                else:
                    self.workforce.delete_post(post)
        for _ in range(wanted - len(open_teams)):
            policy = self.config.policy
            team = Team(len(self.teams), policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
            team.workers = self.workforce.team_workers[self.workforce.add_team()]
            self.teams.append(team)
            self._resize(team, self.config.service.workers_per_team)
        self._route()

    def _posts_in(self, team: Team) -> int:
        return sum(1 for post in self.workforce.active_posts if post.team == team.id)

    def _resize(self, team: Team, posts: int) -> None:
        """Add empty posts, or delete posts: empty ones first, then agency-covered, then the newest."""
        mine = [post for post in self.workforce.active_posts if post.team == team.id]
        for _ in range(posts - len(mine)):
            self.workforce.add_post(team.id)
        surplus = sorted(mine, key=lambda p: (p.worker is not None, p.employee is not None, -p.id))
        for post in surplus[: max(0, len(mine) - posts)]:
            self.workforce.delete_post(post)

    # -- transfers ---------------------------------------------------------------------------------
    def _move_cases(self, worker: Worker, reason: str) -> None:
        """Every case a worker holds is transferred: to a colleague with room, else back to the queue, urgent first."""
        workforce, now = self.config.workforce, self.env.now
        team = self.teams[worker.team]
        if not team.open:  # the worker's team was cut: its successor takes the cases
            team = self._routes[team.id % len(self._routes)]
        in_hand, held = worker.hand_over()
        for case in sorted(in_hand, key=lambda c: (c.priority, c.deadline, c.id)):
            done = case.hours - case.hours_left
            case.hours_left += workforce.transfer_hours + workforce.transfer_progress_lost * done
            case.transfers += 1
            colleague = team.least_loaded(team.cap)
            self.transfer_log.append((now, case.id, worker.id, -1 if colleague is None else colleague.id, reason))
            if colleague is None:
                team.requeue(case)
            else:
                colleague.take(case)
        for case in held:  # a child waiting for a long-term team stays with someone in the team if possible
            case.transfers += 1
            colleague = team.least_loaded(math.inf)
            self.transfer_log.append((now, case.id, worker.id, -1 if colleague is None else colleague.id, reason))
            case.worker = None if colleague is None else colleague.id
            if colleague is not None:
                case.workers += 1
                colleague.held[case.id] = case
        team.allocate()

    def _joined(self, worker: Worker) -> None:
        """Someone joined, came back or gained room: the team allocates."""
        self.teams[worker.team].allocate()

    # -- starting state ----------------------------------------------------------------------------
    def _start_running(self, streams: Streams) -> None:
        """Start from a service already running: caseloads part-worked, a few cases waiting, long-term teams full."""
        service = self.config.service
        rng = streams.generator("starting_state")
        starting = CaseDraws(streams, "starting/", self._hours.exponential)
        cap = self.config.policy.caseload_cap or math.inf
        for worker in self.workforce.staff_in_post():
            limit = cap * worker.cap_share
            for _ in range(int(min(limit, rng.poisson(service.initial_caseload * worker.cap_share)))):
                referred = -30.0 * rng.random()
                case = self._new_case(referred, starting, initial=True)
                case.decided = referred
                case.allocated = min(0.0, referred + 3.0 * rng.random())
                case.hours_left = case.hours * rng.random()
                case.team = worker.team
                worker.take(case)
        for team in self.teams:
            for _ in range(service.initial_unallocated_per_team):
                case = self._new_case(-5.0 * rng.random(), starting, initial=True)
                case.decided = case.referred
                team.receive(case)
        if service.long_term_places is not None:
            # Long-term teams start near the occupancy their inflow sustains, below their places.
            self.long_term_children = int(0.9 * service.long_term_places)
            for _ in range(self.long_term_children):
                stay = service.long_term_mean_days * rng.standard_exponential()
                self.env.timeout(stay).callbacks.append(lambda _event: self._long_term_ends(PastReferral(1, -60.0)))
        self._returns_from_before(rng)

    def _returns_from_before(self, rng: np.random.Generator) -> None:
        """Children closed before the run come back during it, so re-referrals start at their usual level.

        In a steady state every referral closes once and returns with probability p, so
        all referrals arrive at the outside rate / (1 - p). Closures at the front door and
        after an assessment (not in need) over the six mean delays before the start are
        drawn, and those whose return falls after the start are scheduled.
        """
        demand, policy = self.config.demand, self.config.policy
        p, mean = demand.rereferral_probability, demand.rereferral_mean_days
        if p == 0 or p == 1:
            return
        closing = policy.front_door_closure_share + (1 - policy.front_door_closure_share) * demand.not_in_need_share
        per_day = monthly_rates(demand, self.config.run)[:12].mean() / (1 - p) * closing
        window = 6 * mean
        closed = -window * rng.random(rng.poisson(per_day * window))
        back = closed + mean * rng.standard_exponential(closed.size)
        returning = (rng.random(closed.size) < p) & (back > 0)
        for day, referred in sorted(zip(back[returning].tolist(), closed[returning].tolist(), strict=True)):
            self.env.timeout(day).callbacks.append(lambda _event, r=referred: self._rerefer(PastReferral(1, r)))

    # -- the working day ---------------------------------------------------------------------------
    def _working_days(self):
        """Each morning: the workforce's day, a count of where everything is, then the managers' review."""
        env = self.env
        for day in range(self.days):
            self.workforce.day()
            self._record(day)
            for team in self.teams:
                team.review(env.now)
            yield env.timeout(1)

    def _record(self, day: int) -> None:
        """The morning count: queues, caseloads, who is in post, off sick, and how stressed."""
        daily = self._daily
        now = self.env.now
        queued = [item[1] for team in self.teams for item in team.queue]
        daily["awaiting_triage"][day] = len(self.front_door.queue)
        daily["unallocated"][day] = len(queued)
        daily["oldest_unallocated_days"][day] = now - min(queued) if queued else 0.0
        daily["awaiting_long_term_team"][day] = len(self.awaiting_long_term)
        daily["long_term_children"][day] = self.long_term_children

        loads, allocated, stress, off_sick = [], 0, 0.0, 0
        heads = dict.fromkeys((PERMANENT, NEWLY_QUALIFIED, AGENCY), 0)
        employees_fte = agency_fte = holder_fte = 0.0
        cases_held = 0
        in_post = self.workforce.staff_in_post()
        for worker in in_post:
            load = len(worker.caseload) + len(worker.held)
            allocated += len(worker.caseload)
            stress += worker.stress
            heads[worker.contract] += 1
            if worker.contract == AGENCY:
                agency_fte += worker.fte
            else:
                employees_fte += worker.fte
            if load:
                holder_fte += worker.fte
                cases_held += load
            if worker.absent:
                off_sick += 1
            else:
                loads.append(load)
                self._caseloads.append((day, load, worker.stress))
        if loads:
            loads.sort()
            daily["caseload_mean"][day] = sum(loads) / len(loads)
            daily["caseload_p90"][day] = _percentile_sorted(loads, 0.9)
            daily["caseload_max"][day] = loads[-1]
        daily["allocated"][day] = allocated
        daily["permanent"][day] = heads[PERMANENT]
        daily["newly_qualified"][day] = heads[NEWLY_QUALIFIED]
        daily["agency"][day] = heads[AGENCY]
        posts = self.workforce.active_posts
        daily["vacant_posts"][day] = sum(1 for post in posts if post.worker is None)
        daily["vacant_fte"][day] = self.config.service.fte * sum(1 for post in posts if post.employee is None)
        daily["off_sick"][day] = off_sick
        daily["in_post_fte"][day] = employees_fte
        daily["agency_fte"][day] = agency_fte
        daily["case_holder_fte"][day] = holder_fte
        daily["cases_held"][day] = cases_held
        daily["stress_mean"][day] = stress / len(in_post) if in_post else 0.0

    def census(self) -> dict[str, list[int]]:
        """Where every referral is now, read from the places that hold them (for checking conservation)."""
        return {
            AWAITING_TRIAGE: [case.id for case in self.front_door.queue],
            CLOSED_AT_FRONT_DOOR: [case.id for case in self.closed_at_front_door],
            UNALLOCATED: [item[2] for team in self.teams for item in team.queue],
            ALLOCATED: [case_id for worker in self.workforce.staff_in_post() for case_id in worker.caseload],
            AWAITING_LONG_TERM: list(self.awaiting_long_term),
            COMPLETED: [case.id for case in self.completed if case.state == COMPLETED],
        }

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> ReplicationResult:
        self.env.run(until=self.config.run.horizon_days)
        return ReplicationResult(
            self.replication,
            self._case_table(),
            self._daily_table(),
            np.array(self._caseloads, dtype=float).reshape(-1, 3),
            self._staff_table(),
            pd.DataFrame(self.transfer_log, columns=["day", "case_id", "from_worker", "to_worker", "reason"]),
        )

    def _case_table(self) -> pd.DataFrame:
        cases = self.cases
        referred = np.array([c.referred for c in cases])
        allocated = np.array([c.allocated for c in cases])
        completed = np.array([c.completed for c in cases])
        previous = np.array([c.previous_referral for c in cases])
        days_to_assessment = completed - referred
        return pd.DataFrame(
            {
                "replication": self.replication,
                "case_id": np.array([c.id for c in cases], dtype=np.int64),
                "starting_state": np.array([c.initial for c in cases], dtype=bool),
                "referral_number": np.array([c.referral_number for c in cases], dtype=np.int64),
                "previous_referral_day": previous,
                "rereferral_within_12_months": (referred - previous) <= self.config.run.days_per_year,
                "priority": pd.Categorical(
                    ["urgent" if c.priority == URGENT else "standard" for c in cases], categories=["urgent", "standard"]
                ),
                "team": pd.array([c.team for c in cases], dtype="Int64"),
                "worker": pd.array([c.worker for c in cases], dtype="Int64"),
                "workload_hours": np.array([c.hours for c in cases]),
                "referred_day": referred,
                "decided_day": np.array([c.decided for c in cases]),
                "allocated_day": allocated,
                "completed_day": completed,
                "moved_on_day": np.array([c.moved_on for c in cases]),
                "days_to_allocation": allocated - referred,
                "days_to_assessment": days_to_assessment,
                "within_45_days": np.where(np.isnan(completed), np.nan, days_to_assessment <= ASSESSMENT_LIMIT_DAYS),
                "allocated_over_cap": np.array([c.over_cap for c in cases], dtype=bool),
                "transfers": np.array([c.transfers for c in cases], dtype=np.int64),
                "social_workers": np.array([c.workers for c in cases], dtype=np.int64),
                "state": pd.Categorical([c.state for c in cases]),
                "outcome": [c.outcome for c in cases],
            }
        )

    def _staff_table(self) -> pd.DataFrame:
        left = {worker_id: (day, reason) for day, worker_id, _, _, reason in self.workforce.leavers}
        staff = self.workforce.staff
        return pd.DataFrame(
            {
                "replication": self.replication,
                "worker": [w.id for w in staff],
                "team": [w.team for w in staff],
                "post": [w.post for w in staff],
                "contract": [w.contract for w in staff],
                "fte": [w.fte for w in staff],
                "started_day": [w.started for w in staff],
                "left_day": [left.get(w.id, (math.nan, None))[0] for w in staff],
                "left_because": [left.get(w.id, (math.nan, None))[1] for w in staff],
                "sick_days_reported": [w.days_lost for w in staff],
            }
        )

    def _daily_table(self) -> pd.DataFrame:
        run = self.config.run
        day = np.arange(self.days)
        edges = np.arange(self.days + 1)
        referred = [c.referred for c in self.cases if not c.initial]
        table = pd.DataFrame({"replication": self.replication, "day": day})
        table["year"] = (day - run.warmup_days) / run.days_per_year
        table["warmup"] = day < run.warmup_days
        table["referrals"] = np.histogram(referred, edges)[0]
        table["completed"] = np.histogram([c.completed for c in self.completed], edges)[0]
        table["leavers"] = np.histogram([leaver[0] for leaver in self.workforce.leavers], edges)[0]
        table["burnout_episodes"] = np.histogram([b[0] for b in self.workforce.burnouts], edges)[0]
        for name in DAILY_COLUMNS:
            table[name] = self._daily[name]
        counts = [
            "awaiting_triage",
            "unallocated",
            "allocated",
            "awaiting_long_term_team",
            "long_term_children",
            "permanent",
            "newly_qualified",
            "agency",
            "vacant_posts",
            "off_sick",
        ]
        return table.astype({name: "int64" for name in counts})


def _percentile_sorted(values: list[int], q: float) -> float:
    """numpy's default (linear) percentile of a sorted list, without numpy's per-call overhead."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (position - low) * (values[high] - values[low])


def simulate(config: Config, replication: int = 0) -> ReplicationResult:
    """Run one replication of a scenario."""
    return Service(config, replication).run()
