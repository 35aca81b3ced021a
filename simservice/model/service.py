"""One replication of the service: the pathway, the workforce, the managers and coping on one clock."""

from __future__ import annotations

import gc
import math

import numpy as np

from simservice.config import Config
from simservice.model.clock import Alarm, Clock, call_in, call_soon
from simservice.model.coping import Coping
from simservice.model.demand import monthly_rates, referral_days, scenario_rates
from simservice.model.managers import Managers
from simservice.model.pathway import ALLOCATED, Case, PastReferral, Pathway, Team
from simservice.model.policies import dated_changes
from simservice.model.records import MorningCount, ReplicationResult, replication_result
from simservice.model.streams import ReferralStreams, Streams, referral_key, referral_keys
from simservice.model.workforce import Worker, Workforce


class Service:
    """A children's social care assessment service for one replication: the pathway and the workforce on one clock."""

    def __init__(self, config: Config, replication: int = 0):
        self.config = config
        self.replication = replication
        self.env = Clock()
        run = config.run
        streams = Streams(run.seed, replication)
        self.luck = ReferralStreams(run.seed, replication)
        staff: list[Worker] = []
        self.pathway = Pathway(self.env, config, self.luck, staff)
        self.workforce = Workforce(self.env, config, streams, self.pathway, staff)
        for team, workers in zip(self.pathway.teams, self.workforce.team_workers, strict=True):
            team.workers = workers
        self.managers = self.pathway.managers = Managers(
            self.env, config, streams, self.pathway, self.workforce.team_workers
        )
        self.coping = Coping(self, config)

        self._arrivals = referral_days(
            scenario_rates(config),
            run.days_per_month,
            streams.generator("arrivals"),
            streams.generator("arrival_times"),
        )
        self.days = math.ceil(run.horizon_days)
        self.count = MorningCount(self, self.days)
        self._start_running(streams)
        self._arriving = self._referral_rows()
        self._due: tuple[float, int, list[float]] | None = None  # the next referral from outside
        call_soon(self.env, self._next_referral, urgent=True)
        self._day = 0  # the next working day's morning
        call_soon(self.env, self._morning, urgent=True)
        if config.changes:
            self.env.process(dated_changes(self))

    @property
    def workers(self) -> list[Worker]:
        """Everyone who has worked in the service this run, by id."""
        return self.workforce.staff

    @property
    def cases(self) -> list[Case]:
        return self.pathway.cases

    @property
    def teams(self) -> list[Team]:
        return self.pathway.teams

    # -- demand ------------------------------------------------------------------------------------
    def _referral_rows(self):
        """Referrals from outside, in order: each one's pre-drawn day, its key and its own luck."""
        days = self._arrivals.tolist()
        block = 4096  # draws are made for a block of referrals at a time, keyed by their numbers
        for first in range(0, len(days), block):
            arriving = days[first : first + block]
            keys = referral_keys("new", len(arriving), first)
            yield from zip(arriving, keys.tolist(), self.luck.uniforms(keys).tolist(), strict=True)

    def _next_referral(self, _alarm: Alarm) -> None:
        """A referral from outside arrives at the front door at its pre-drawn time; the next one is booked."""
        due, pathway = self._due, self.pathway
        if due is not None:
            pathway.refer(pathway.new_case(*due))
        due = self._due = next(self._arriving, None)
        if due is not None:
            call_in(self.env, due[0] - self.env._now, self._next_referral)

    # -- starting state ----------------------------------------------------------------------------
    def _start_running(self, streams: Streams) -> None:
        """Start from a service already running: caseloads part-worked, a few cases waiting, long-term teams in use."""
        service, pathway, luck = self.config.service, self.pathway, self.luck
        rng = streams.generator("starting_caseloads")
        cap = self.config.policy.caseload_cap or math.inf
        number = 0

        def starting_case(referred: float):
            nonlocal number
            key = referral_key("starting", number)
            number += 1
            case = pathway.new_case(referred, key, luck.row(key), initial=True)
            case.decided = referred
            return case

        for worker in self.workforce.staff_in_post():
            limit = cap * worker.cap_share
            for _ in range(int(min(limit, rng.poisson(service.initial_caseload * worker.cap_share)))):
                referred = -30.0 * rng.random()
                case = starting_case(referred)
                case.allocated = min(0.0, referred + 3.0 * rng.random())
                case.hours_left = case.hours * rng.random()
                pathway.move(case, ALLOCATED, "running_at_start", worker=worker, team=worker.team)
        for team in pathway.teams:
            for _ in range(service.initial_unallocated_per_team):
                pathway.queue_for(starting_case(-5.0 * rng.random()), team, "running_at_start")
        # Long-term teams start at the occupancy their inflow sustains (plans a day x the mean stay), within
        # their places; each child's remaining stay is a fresh exponential draw (the stay has no memory).
        stays = streams.generator("long_term_at_start")
        children = self._referrals_per_day() * self._plan_share() * service.long_term_mean_days
        places = math.inf if service.long_term_places is None else service.long_term_places
        pathway.long_term_children = int(min(children, places))
        for child in range(pathway.long_term_children):
            stay = service.long_term_mean_days * stays.standard_exponential()
            key = referral_key("long_term_at_start", child)
            past = PastReferral(key, -60.0, luck.row(key))
            pathway.long_term_exits.add(stay, past)
        self._returns_from_before(streams.generator("closed_before_run"))

    def _referrals_per_day(self) -> float:
        """All referrals a working day over the first 12 simulated months (warm-up included): outside / (1 - p)."""
        demand = self.config.demand
        return float(monthly_rates(demand, self.config.run)[:12].mean()) / (1 - demand.rereferral_probability)

    def _plan_share(self) -> float:
        """The share of referrals that lead to a plan and a long-term team."""
        closed = self.config.policy.front_door_closure_share
        return (1 - closed) * (1 - self.config.demand.not_in_need_share)

    def _returns_from_before(self, rng: np.random.Generator) -> None:
        """Children closed before the run come back during it, so re-referrals start at their usual level.

        In a steady state every referral closes once -- at the front door, after an assessment
        or on leaving a long-term team -- so children closed at the rate referrals arrive.
        Closures over the six mean delays before the start are drawn, and those whose return
        falls after the start are scheduled.
        """
        demand = self.config.demand
        p, mean = demand.rereferral_probability, demand.rereferral_mean_days
        if p == 0 or p == 1:
            return
        per_day = self._referrals_per_day()
        window = 6 * mean
        closed = -window * rng.random(rng.poisson(per_day * window))
        back = closed + mean * rng.standard_exponential(closed.size)
        returning = (rng.random(closed.size) < p) & (back > 0)
        numbers = np.flatnonzero(returning)
        order = np.argsort(back[returning], kind="stable")
        for number in numbers[order].tolist():
            key = referral_key("closed_before_run", number)
            past = PastReferral(key, float(closed[number]), self.luck.row(key))
            self.pathway.returns.add(float(back[number]), past)

    # -- the working day ---------------------------------------------------------------------------
    def _morning(self, _alarm: Alarm) -> None:
        """Each morning the service reads its pressure and copes, the managers review their queues, and a count.

        (The workforce has no daily round: its life events are scheduled from their hazards.)
        """
        day, pathway = self._day, self.pathway
        if day >= self.days:
            return
        self.coping.morning()
        pathway.near_deadlines(day)
        for team in pathway.teams:
            pathway.review(team)
        self.count.morning(day)
        self._day = day + 1
        call_in(self.env, 1, self._morning)

    def census(self) -> dict[str, list[int]]:
        """Where every referral is now, read from the places that hold them (for checking conservation)."""
        return self.pathway.census(self.workforce.staff_in_post())

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> ReplicationResult:
        """Run the clock to the end and make the tables.

        Python's cyclic garbage collector is paused meanwhile: cases, workers and events
        form almost no reference cycles, yet the collector would walk every live object
        again and again as the run grows (measured: ``python -m simservice.bench --scale``).
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.config.run.horizon_days)
            return replication_result(self)
        finally:
            if paused:
                gc.enable()


def simulate(config: Config, replication: int = 0) -> ReplicationResult:
    """Run one replication of a scenario."""
    return Service(config, replication).run()
