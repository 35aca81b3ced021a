"""One replication of the service: the pathway and the workforce on one clock, with named random streams."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import pandas as pd
import simpy

from .config import ASSESSMENT_LIMIT_DAYS, Config
from .demand import Workload, monthly_rates, referral_days
from .pathway import (
    ALLOCATED,
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
from .workforce import Worker

DAILY_COLUMNS = (
    "awaiting_triage",
    "unallocated",
    "oldest_unallocated_days",
    "allocated",
    "caseload_mean",
    "caseload_p90",
    "caseload_max",
)


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication leaves behind: a row per case, a row per day, and every worker-day's caseload."""

    replication: int
    cases: pd.DataFrame
    daily: pd.DataFrame
    caseloads: np.ndarray  # (day, caseload) for every worker and working day


class Service:
    """A children's social care assessment service, from referral to outcome, for one replication."""

    def __init__(self, config: Config, replication: int = 0):
        self.config = config
        self.replication = replication
        self.env = simpy.Environment()
        service, demand, policy, run = config.service, config.demand, config.policy, config.run
        streams = Streams(run.seed, replication)

        # A stream per kind of chance, so scenarios that differ in one respect share the rest.
        self._priority = streams.uniform("priority")
        self._workload = (
            streams.exponential("workload")
            if demand.workload_distribution == "exponential"
            else (streams.normal("workload"))
        )
        self._front_door_decision = streams.uniform("front_door_decision")
        self._routing = streams.uniform("routing")
        self._outcome = streams.uniform("outcome")
        self._visits = streams.uniform("visits")
        self._hours = Workload(demand)
        self._min_days = (demand.min_days_urgent, demand.min_days_standard)
        self._min_days_spread = demand.min_days_spread

        shares = service.team_shares or [1.0 / service.teams] * service.teams
        self._team_bounds = list(accumulate(shares))[:-1]
        self.teams = [
            Team(t, policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
            for t in range(service.teams)
        ]
        self.workers: list[Worker] = []
        for team in self.teams:
            for _ in range(service.workers_per_team):
                worker = Worker(self.env, len(self.workers), team.id, service.casework_hours_per_day, self._hours_done)
                team.workers.append(worker)
                self.workers.append(worker)

        self.front_door = FrontDoor(self.env, service.triage_per_day, self._decide)
        self.cases: list[Case] = []
        self.closed_at_front_door: list[Case] = []
        self.completed: list[Case] = []

        self._arrivals = referral_days(monthly_rates(demand, run), run.days_per_month, streams.generator("arrivals"))
        self.days = math.ceil(run.horizon_days)
        self._daily = {name: np.zeros(self.days) for name in DAILY_COLUMNS}
        self._caseloads: list[tuple[int, int]] = []
        self._start_running(streams)
        self.env.process(self._referrals())
        self.env.process(self._working_days())

    # -- demand ------------------------------------------------------------------------------------
    def _new_case(
        self, referred: float, priority: float, hours: float, visits: float, outcome: float, initial: bool = False
    ) -> Case:
        urgency = URGENT if priority < self.config.demand.urgent_share else STANDARD
        case = Case(
            len(self.cases),
            urgency,
            self._hours.hours(urgency, hours),
            self._min_days[urgency] * (1.0 + self._min_days_spread * (2.0 * visits - 1.0)),
            referred + ASSESSMENT_LIMIT_DAYS,
            outcome < self.config.demand.not_in_need_share,
            referred,
            initial,
        )
        self.cases.append(case)
        return case

    def _referrals(self):
        """Referrals arrive at the front door at their pre-drawn times."""
        env, refer = self.env, self.front_door.refer
        priority, workload, visits, outcome = (
            self._priority.next,
            self._workload.next,
            self._visits.next,
            self._outcome.next,
        )
        for day in self._arrivals.tolist():
            yield env.timeout(day - env.now)
            refer(self._new_case(day, priority(), workload(), visits(), outcome()))

    # -- front door and routing --------------------------------------------------------------------
    def _decide(self, case: Case) -> None:
        """The front door's decision: close (no further action, early help) or send to the area's team."""
        case.decided = self.env.now
        closing = self._front_door_decision.next() < self.config.policy.front_door_closure_share
        area = self._routing.next()
        if closing:
            case.state = CLOSED_AT_FRONT_DOOR
            self.closed_at_front_door.append(case)
            return
        self.teams[bisect_right(self._team_bounds, area)].receive(case)

    # -- assessment --------------------------------------------------------------------------------
    def _hours_done(self, worker: Worker, case: Case) -> None:
        """Casework is done; the assessment closes once the visits and checks have had their minimum days."""
        wait = case.allocated + case.min_days - self.env.now
        if wait > 1e-9:
            self.env.timeout(wait).callbacks.append(lambda _event: self._complete(case))
        else:
            self._complete(case)

    def _complete(self, case: Case) -> None:
        """An assessment is completed: the worker has room, so the team allocates again."""
        worker = self.workers[case.worker]
        worker.release(case)
        case.state = COMPLETED
        case.completed = self.env.now
        self.completed.append(case)
        self.teams[worker.team].allocate()

    # -- starting state ----------------------------------------------------------------------------
    def _start_running(self, streams: Streams) -> None:
        """Start from a service already running: caseloads part-worked and a few cases waiting."""
        service = self.config.service
        rng = streams.generator("starting_state")
        for worker in self.workers:
            for _ in range(int(rng.poisson(service.initial_caseload))):
                referred = -30.0 * rng.random()
                case = self._starting_case(rng, referred)
                case.allocated = min(0.0, referred + 3.0 * rng.random())
                case.hours_left = case.hours * rng.random()
                case.team = worker.team
                worker.take(case)
        for team in self.teams:
            for _ in range(service.initial_unallocated_per_team):
                team.receive(self._starting_case(rng, -5.0 * rng.random()))

    def _starting_case(self, rng: np.random.Generator, referred: float) -> Case:
        hours = rng.standard_exponential() if self._hours.exponential else rng.standard_normal()
        case = self._new_case(referred, rng.random(), hours, rng.random(), rng.random(), initial=True)
        case.decided = referred
        return case

    # -- the working day ---------------------------------------------------------------------------
    def _working_days(self):
        """Each morning: count where every case is, then the managers review their queues."""
        env = self.env
        for day in range(self.days):
            self._record(day)
            for team in self.teams:
                team.review(env.now)
            yield env.timeout(1)

    def _record(self, day: int) -> None:
        daily = self._daily
        now = self.env.now
        queued = [item[1] for team in self.teams for item in team.queue]
        loads = [len(worker.caseload) for worker in self.workers if worker.available]
        daily["awaiting_triage"][day] = len(self.front_door.queue)
        daily["unallocated"][day] = len(queued)
        daily["oldest_unallocated_days"][day] = now - min(queued) if queued else 0.0
        daily["allocated"][day] = sum(loads)
        if loads:
            loads.sort()
            daily["caseload_mean"][day] = sum(loads) / len(loads)
            daily["caseload_p90"][day] = _percentile_sorted(loads, 0.9)
            daily["caseload_max"][day] = loads[-1]
        self._caseloads.extend((day, load) for load in loads)

    def census(self) -> dict[str, list[int]]:
        """Where every referral is now, read from the places that hold them (for checking conservation)."""
        return {
            AWAITING_TRIAGE: [case.id for case in self.front_door.queue],
            CLOSED_AT_FRONT_DOOR: [case.id for case in self.closed_at_front_door],
            UNALLOCATED: [item[2] for team in self.teams for item in team.queue],
            ALLOCATED: [case_id for worker in self.workers for case_id in worker.caseload],
            COMPLETED: [case.id for case in self.completed],
        }

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> ReplicationResult:
        self.env.run(until=self.config.run.horizon_days)
        return ReplicationResult(self.replication, self._case_table(), self._daily_table(), np.array(self._caseloads))

    def _case_table(self) -> pd.DataFrame:
        cases = self.cases
        referred = np.array([c.referred for c in cases])
        allocated = np.array([c.allocated for c in cases])
        completed = np.array([c.completed for c in cases])
        days_to_assessment = completed - referred
        return pd.DataFrame(
            {
                "replication": self.replication,
                "case_id": np.array([c.id for c in cases], dtype=np.int64),
                "starting_state": np.array([c.initial for c in cases], dtype=bool),
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
                "days_to_allocation": allocated - referred,
                "days_to_assessment": days_to_assessment,
                "within_45_days": np.where(np.isnan(completed), np.nan, days_to_assessment <= ASSESSMENT_LIMIT_DAYS),
                "allocated_over_cap": np.array([c.over_cap for c in cases], dtype=bool),
                "state": pd.Categorical([c.state for c in cases]),
                "outcome": [c.outcome for c in cases],
            }
        )

    def _daily_table(self) -> pd.DataFrame:
        run = self.config.run
        day = np.arange(self.days)
        edges = np.arange(self.days + 1)
        table = pd.DataFrame({"replication": self.replication, "day": day})
        table["year"] = (day - run.warmup_days) / run.days_per_year
        table["warmup"] = day < run.warmup_days
        table["referrals"] = np.histogram(self._arrivals, edges)[0]
        table["completed"] = np.histogram([c.completed for c in self.completed], edges)[0]
        for name in DAILY_COLUMNS:
            table[name] = self._daily[name]
        return table.astype({"awaiting_triage": "int64", "unallocated": "int64", "allocated": "int64"})


def _percentile_sorted(values: list[int], q: float) -> float:
    """numpy's default (linear) percentile of a sorted list, without numpy's per-call overhead."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (position - low) * (values[high] - values[low])


def simulate(config: Config, replication: int = 0) -> ReplicationResult:
    """Run one replication of a scenario."""
    return Service(config, replication).run()
