"""One replication of the service: the pathway and the workforce on one clock, with named random streams."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import simpy

from .config import ASSESSMENT_LIMIT_DAYS, Config
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
from .policies import dated_changes
from .records import MorningCount, ReplicationResult, replication_result
from .streams import Streams
from .workforce import Worker, Workforce


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
        self.set_demand(demand)

        self.teams = [
            Team(t, policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
            for t in range(service.teams)
        ]
        self.workforce = Workforce(self.env, config, streams, self._hours_done, self._move_cases, self._joined)
        for team, workers in zip(self.teams, self.workforce.team_workers, strict=True):
            team.workers = workers
        self.route()

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
        self.count = MorningCount(self, self.days)
        self._start_running(streams)
        self.env.process(self._referrals())
        self.env.process(self._working_days())
        if config.changes:
            self.env.process(dated_changes(self, config.changes_in_order))

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
        self.open_teams[bisect_right(self._route_bounds, area)].receive(case)

    def route(self) -> None:
        """Each open team covers a share of the area: the configured shares, or equal ones."""
        self.open_teams = [team for team in self.teams if team.open]
        shares = self.config.service.team_shares
        if shares is None or len(shares) != len(self.open_teams):
            shares = [1.0 / len(self.open_teams)] * len(self.open_teams)
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
        self.move_to_long_term()

    def move_to_long_term(self) -> None:
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
        self.move_to_long_term()

    # -- policies over time (simservice/policies.py changes settings at their dates) ---------------
    def set_demand(self, demand) -> None:
        """Who is referred from now on: urgency, workload and minimum days."""
        self._hours = Workload(demand)
        self._min_days = (demand.min_days_urgent, demand.min_days_standard)
        self._min_days_spread = demand.min_days_spread

    # -- transfers ---------------------------------------------------------------------------------
    def _move_cases(self, worker: Worker, reason: str) -> None:
        """Every case a worker holds is transferred: to a colleague with room, else back to the queue, urgent first."""
        workforce, now = self.config.workforce, self.env.now
        team = self.teams[worker.team]
        if not team.open:  # the worker's team was cut: its successor takes the cases
            team = self.open_teams[team.id % len(self.open_teams)]
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
            self.count.morning(day)
            for team in self.teams:
                team.review(env.now)
            yield env.timeout(1)

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
        return replication_result(self)


def simulate(config: Config, replication: int = 0) -> ReplicationResult:
    """Run one replication of a scenario."""
    return Service(config, replication).run()
