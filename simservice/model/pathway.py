"""The pathway a referral follows, and the one place that moves it.

``Pathway.move`` is the only code that changes a case's state, team, worker and
epoch. Every move is one typed ``Move`` (day, case, from, to, worker, reason), kept
in the replication's event log when ``run.event_log`` is on, and counted in running
totals (time-weighted queue and caseloads, every wait in the queue) either way::

    referred -> awaiting_triage -> closed_at_front_door
                                -> unallocated -> allocated -> awaiting_sign_off -> completed (not in need)
                                       ^             |                           -> awaiting_long_term_team
                                       +-- transfer -+                                  -> completed

An assessment counts as completed when its team manager signs it off; with
managers of unlimited time (``managers.hours_per_week=null``) sign-off is instant
and a case goes straight from ``allocated`` to its outcome.

The workforce asks the pathway to move cases (``transfer_all``, ``redeploy``) and
tells it when a worker's room changes (``room_for``); it holds no callbacks.

A child with a hidden risk meets the layers of defence (``model/defences.py``) on the
way: the front door when it would close the referral, then -- once assessed -- the
wait it had, the worker who assessed, and the manager's oversight at sign-off. The
pathway reads the conditions the child met there; a risk that gets through every layer
is a missed risk: the child is closed, and comes back sooner and urgent.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from heapq import heapify, heappop, heappush
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

import simpy

from simservice.config import ASSESSMENT_LIMIT_DAYS, Config
from simservice.model import defences as layer
from simservice.model.clock import Alarm, call_in, call_soon
from simservice.model.defences import Defences
from simservice.model.demand import ElapsedTime, Workload
from simservice.model.streams import ReferralStreams, return_key

if TYPE_CHECKING:
    from simservice.model.managers import Managers
    from simservice.model.workforce import Worker

# Where a referral is: every referral is in exactly one of these at any time.
REFERRED = "referred"  # only as the "from" of a referral's first move
AWAITING_TRIAGE = "awaiting_triage"
CLOSED_AT_FRONT_DOOR = "closed_at_front_door"
UNALLOCATED = "unallocated"
ALLOCATED = "allocated"
AWAITING_SIGN_OFF = "awaiting_sign_off"  # assessed, waiting for the manager; still on the worker's caseload
AWAITING_LONG_TERM = "awaiting_long_term_team"  # assessed, still on the assessment worker's caseload
COMPLETED = "completed"  # assessed: closed, or moved on to a long-term team
STATES = (
    AWAITING_TRIAGE,
    CLOSED_AT_FRONT_DOOR,
    UNALLOCATED,
    ALLOCATED,
    AWAITING_SIGN_OFF,
    AWAITING_LONG_TERM,
    COMPLETED,
)

URGENT, STANDARD = 0, 1

NOT_IN_NEED = "not_in_need"
PLAN = "child_in_need_or_protection_plan"

#: Why a case moved when a worker's cases are handed on.
TRANSFER_REASONS = (
    "resigned",
    "agency_left",
    "agency_replaced",
    "agency_ended",
    "post_deleted",
    "sickness",
    "surge_ended",
)


class Move(NamedTuple):
    """One entry of the event log: a case moved between states (or between workers) on a day."""

    day: float
    case: int
    source: str
    target: str
    worker: int  # the worker holding the case after the move, -1 for nobody
    reason: str


class Waiting(NamedTuple):
    """A case in a team's unallocated queue: urgent first, then the longest referred."""

    priority: int
    referred: float
    case_id: int
    case: Case


class Case:
    """One referral of one child, its own luck (drawn when referred), and what has happened to it so far."""

    __slots__ = (
        "id",
        "key",
        "priority",
        "hours",
        "hours_left",
        "min_days",
        "deadline",
        "not_in_need",
        "initial",
        "front_door_draw",
        "area_draw",
        "return_draw",
        "return_delay",
        "long_term_stay",
        "state",
        "team",
        "worker",
        "last_worker",
        "referred",
        "decided",
        "allocated",
        "completed",
        "over_cap",
        "workers",
        "transfers",
        "epoch",
        "queued_since",
        "waited_again",
        "referral_number",
        "previous_referral",
        "moved_on",
        "assessed",
        "raised_threshold",
        "rushed_hours",
        "risky",
        "checks",
        "caught_at",
        "missed",
        "missed_day",
        "serious_incident",
        "after_missed_risk",
    )

    def __init__(self, case_id, key, referred, initial=False, referral_number=1, previous_referral=math.nan):
        self.id = case_id
        self.key = key  # the referral's key: its own luck, and its child's next referral
        self.initial = initial
        self.state = REFERRED
        self.team: int | None = None
        self.worker: int | None = None
        self.last_worker: int | None = None
        self.referred = referred
        self.deadline = referred + ASSESSMENT_LIMIT_DAYS
        self.decided = math.nan
        self.allocated = math.nan
        self.completed = math.nan
        self.over_cap = False
        self.workers = 0  # social workers the child has had
        self.transfers = 0
        self.epoch = 0  # bumped at every move, so stale timers know to do nothing
        self.queued_since = math.nan
        self.waited_again = 0.0  # days back in the queue after a first allocation (transfers)
        self.referral_number = referral_number
        self.previous_referral = previous_referral  # day of this child's previous referral
        self.moved_on = math.nan  # day the child left the assessment worker's caseload
        self.assessed = math.nan  # day the casework and its minimum days were done (before sign-off)
        self.raised_threshold = False  # closed at the front door only because thresholds had risen
        self.rushed_hours = 0.0  # hours the assessment needed and did not get, because it was rushed
        self.risky = False  # carries a hidden risk of significant harm (model/defences.py)
        self.caught_at: str | None = None  # the layer of defence that caught the risk
        self.missed = False  # a risky child who got through every layer it met
        self.missed_day = math.nan
        self.serious_incident = False  # followed by a serious incident (illustrative)

    @property
    def outcome(self) -> str | None:
        if self.state == CLOSED_AT_FRONT_DOOR:
            return "closed_at_front_door"
        if self.state == COMPLETED:
            return NOT_IN_NEED if self.not_in_need else PLAN
        return None


class PastReferral:
    """A child referred before the run began, known only by what a re-referral needs."""

    __slots__ = ("key", "referral_number", "referred", "return_draw", "return_delay", "raised_threshold", "missed")

    def __init__(self, key: int, referred: float, draws: list[float]):
        self.key, self.referral_number, self.referred = key, 1, referred
        self.raised_threshold = self.missed = False
        self.return_draw, self.return_delay = draws[RETURNS], -math.log(draws[RETURN_DELAY])


# Positions in a referral's row of uniforms (streams.REFERRAL_FIELDS).
(
    URGENCY,
    WORKLOAD,
    WORKLOAD_ANGLE,
    VISITS,
    FRONT_DOOR,
    AREA,
    OUTCOME,
    RETURNS,
    RETURN_DELAY,
    LONG_TERM_STAY,
    FIRST_VISIT,
    PARTNER_INFORMATION,
    RISK,
) = range(13)


class Level:
    """A count that changes at moments, and its integral over time (for time-weighted means)."""

    __slots__ = ("count", "area", "since")

    def __init__(self) -> None:
        self.count, self.area, self.since = 0, 0.0, 0.0

    def change(self, now: float, delta: int) -> None:
        self.area += self.count * (now - self.since)
        self.since = now
        self.count += delta

    def area_at(self, now: float) -> float:
        return self.area + self.count * (now - self.since)


class Diary:
    """Follow-ups due on a day (a return, the end of a long-term stay), with one timer for the earliest.

    A single timer keeps thousands of pending follow-ups off the clock's own queue,
    which every other event would otherwise pay for. Entries wait in a bucket per
    working day; only the day being worked through is a heap, so its cost stays
    small however many follow-ups the service has booked.
    """

    def __init__(self, env: simpy.Environment, act):
        self.env = env
        self.act = act  # what to do with an entry when its day comes
        self.heap: list[tuple[float, int, object]] = []  # entries of the days up to ``_open_until``
        self._open_until = -math.inf
        self._later: dict[int, list[tuple[float, int, object]]] = {}  # later entries, by whole day
        self._later_days: list[int] = []  # a heap of the keys of ``_later``
        self._added = 0
        self._timer_at = math.inf
        self._alarm: Alarm | None = None  # the timer set for the earliest entry (an earlier one replaces it)
        self._busy = False

    def __len__(self) -> int:
        return len(self.heap) + sum(len(bucket) for bucket in self._later.values())

    def add(self, day: float, entry) -> None:
        item = (day, self._added, entry)
        self._added += 1
        whole = int(day)
        if whole <= self._open_until:
            heappush(self.heap, item)
            if day < self._timer_at and not self._busy:
                self._set(day)
            return
        bucket = self._later.get(whole)
        if bucket is None:
            self._later[whole] = [item]
            heappush(self._later_days, whole)
        else:
            bucket.append(item)
        if not self.heap and not self._busy:
            self._open_next()

    def _open_next(self) -> None:
        """The earliest booked day's bucket becomes the heap, and the timer is set for its first entry."""
        whole = heappop(self._later_days)
        bucket = self._later.pop(whole)
        heapify(bucket)
        self.heap, self._open_until = bucket, whole
        self._set(bucket[0][0])

    def _set(self, day: float) -> None:
        self._timer_at = day
        self._alarm = call_in(self.env, max(0.0, day - self.env._now), self._due)

    def _due(self, alarm: Alarm) -> None:
        if alarm is not self._alarm:
            return  # an earlier entry came and set a timer of its own
        heap, now, act = self.heap, self.env._now, self.act
        self._busy, self._timer_at = True, math.inf
        while heap and heap[0][0] <= now:
            act(heappop(heap)[2])
        self._busy = False
        if heap:
            self._set(heap[0][0])
        elif self._later_days:
            self._open_next()


class FrontDoor:
    """Triage (MASH): decides referrals in order at its capacity; a backlog delays all behind it."""

    def __init__(self, env: simpy.Environment, per_day: float | None, pathway: Pathway):
        self.env = env
        self.pathway = pathway
        self.queue: deque[Case] = deque()
        self._service_days: float | None = None
        self._started = False  # triage has had a capacity (decisions take time) at some point
        self._idle = False  # nothing to decide: waiting to be nudged
        self.set_capacity(per_day)

    def set_capacity(self, per_day: float | None) -> None:
        """Triage capacity changes (a dated change); None: decisions are instant."""
        self._service_days = None if per_day is None else 1.0 / per_day
        if self._service_days is not None and not self._started:
            self._started = True
            call_soon(self.env, self._triage, urgent=True)
        self._nudge()

    def refer(self, case: Case) -> None:
        if self._service_days is None and not self.queue:
            self.pathway.decide(case)
            return
        self.queue.append(case)
        self._nudge()

    def _nudge(self) -> None:
        if self._idle:
            self._idle = False
            call_soon(self.env, self._triage)

    def _triage(self, _alarm: Alarm | None = None) -> None:
        """Take the next referral in order (it is decided once its time is up), or wait to be nudged."""
        queue = self.queue
        while queue:
            if self._service_days is not None:
                call_in(self.env, self._service_days, self._decided)
                return
            self.pathway.decide(queue.popleft())
        self._idle = True

    def _decided(self, _alarm: Alarm) -> None:
        if self.queue:
            self.pathway.decide(self.queue.popleft())
        self._triage()


class Team:
    """An assessment team: its unallocated queue (urgent first, then oldest) and who has the fewest cases."""

    def __init__(self, team_id: int, cap: int | None, override_after: float | None, ceiling: int):
        self.id = team_id
        self.open = True
        self.set_policy(cap, override_after, ceiling)
        self.workers: list[Worker] = []  # owned by the workforce
        self.queue: list[Waiting] = []  # a heap
        self.waiting = Level()  # the queue's length over time
        self.waiting_before = 0.0  # its integral at the end of the warm-up
        # A heap of (cases over the worker's protected share, worker id, stamp, worker), the fewest first; an entry
        # is stale once the worker's stamp moves on. (Plain tuples: this is pushed to on every move of a case.)
        self._by_load: list[tuple[float, int, int, Worker]] = []

    def set_policy(self, cap: int | None, override_after: float | None, ceiling: int) -> None:
        """The caseload cap and the over-cap override; a dated change can move them."""
        self.cap = cap if cap is not None else math.inf
        self.base_override_after = self.override_after = override_after  # caseload creep can shorten the wait
        self.base_ceiling = self.ceiling = max(ceiling, cap or 0)  # caseload creep can raise the ceiling

    def refresh(self, worker: Worker) -> None:
        """A worker's caseload or availability changed: their place in the least-loaded order follows."""
        stamp = worker.stamp = worker.stamp + 1
        if not worker.absent and not worker.gone and worker.team == self.id:
            load = len(worker.caseload) + len(worker.held)
            heap = self._by_load
            heappush(heap, (load / worker.cap_share, worker.id, stamp, worker))
            if len(heap) > 4 * len(self.workers) + 32:  # drop stale entries now and then
                self._by_load = [entry for entry in heap if entry[2] == entry[3].stamp]
                heapify(self._by_load)

    def least_loaded(self, limit: float) -> Worker | None:
        """The worker at work with the fewest cases (relative to their protected share), if below ``limit``."""
        heap = self._by_load
        while heap:
            load, _, stamp, worker = heap[0]
            if stamp != worker.stamp:
                heappop(heap)
                continue
            return worker if load < limit else None
        return None


class Pathway:
    """Every referral's life, from referral to outcome: the only writer of a case's state, team, worker and epoch."""

    def __init__(self, env: simpy.Environment, config: Config, luck: ReferralStreams, staff: list[Worker]):
        self.env = env
        self.config = config
        self.luck = luck
        self.staff = staff  # everyone who has worked here, by id (the workforce's list)
        self.reported_from = config.run.warmup_days
        policy, service = config.policy, config.service
        self.set_demand(config.demand)
        self.cases: list[Case] = []
        self.closed_at_front_door: list[Case] = []
        self.completed: list[Case] = []
        self.awaiting_long_term: dict[int, Case] = {}  # assessed, on a caseload until a place and the hand-over
        self._ready_to_move: deque[Case] = deque()  # hand-over done, waiting for a place, in order
        self.long_term_children = 0
        self.returns = Diary(env, self.rerefer)  # children who will come back, by day
        self.long_term_exits = Diary(env, self.long_term_ends)  # children leaving the long-term teams, by day
        self.handovers = Diary(env, self._handover_due)  # assessed children due to move on, by day
        self.completions = Diary(env, self._complete_if_current)  # assessments waiting out their minimum days
        self.teams = [
            Team(t, policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
            for t in range(service.teams)
        ]
        self.route()
        self.front_door = FrontDoor(env, service.triage_per_day, self)
        self.managers: Managers | None = None  # set by the service
        self.closure_share = policy.front_door_closure_share  # raised by coping when thresholds rise
        self.deadline_checks: dict[int, list[tuple[Case, int]]] = {}  # morning -> cases to look at, near deadline
        self.rushed_days: list[float] = []  # when an assessment was rushed
        self.defences = Defences(config.risk)  # the layers a risky child passes, and every passage
        # The record of the run: the event log (when asked), transfers, and running totals.
        self.events: list[Move] | None = [] if config.run.event_log else None
        self.transfer_log: list[tuple[float, int, int, int, str]] = []  # (day, case, from, to or -1, reason)
        self.in_state = dict.fromkeys(STATES, 0)
        self.queue = Level()  # cases waiting unallocated
        self.held = Level()  # cases on workers' caseloads
        self.queue_area_before = self.held_area_before = 0.0  # the integrals at the end of the warm-up
        call_in(env, self.reported_from, lambda _alarm: self._start_reporting())
        self.queue_joins = 0  # in the reported years
        self.queue_waits_ended = 0
        self.queue_wait_days = 0.0

    # -- the one writer ----------------------------------------------------------------------------
    def move(self, case: Case, target: str, reason: str, worker: Worker | None = None, team: int | None = None):
        """Move a case to ``target`` (held by ``worker``, in ``team``), keep the totals and log the move."""
        now = self.env._now
        source, old = case.state, case.worker
        new = None if worker is None else worker.id
        if new == old and new is not None:
            # The same holder: a completed assessment stays on the caseload, or a redeployed worker's case.
            case.state = target
            if team is not None:
                case.team = team
            if target != source:
                self.in_state[source] -= 1
                self.in_state[target] += 1
                case.epoch += 1
                worker.shelve(case)
            if self.events is not None:
                self.events.append(Move(now, case.id, source, target, new, reason))
            return
        held = self.held
        if old is not None:
            holder = self.staff[old]
            holder.drop(case)
            self.teams[holder.team].refresh(holder)
            held.area += held.count * (now - held.since)  # (Level.change, written out: every move comes here)
            held.since = now
            held.count -= 1
        if source == UNALLOCATED:
            self.teams[case.team].waiting.change(now, -1)
        if source != target:
            in_state = self.in_state
            if source != REFERRED:
                in_state[source] -= 1
            in_state[target] += 1
            if source == UNALLOCATED:
                self._left_queue(case, now)
            elif target == UNALLOCATED:
                case.queued_since = now
                self.queue.change(now, 1)
                if now >= self.reported_from:
                    self.queue_joins += 1
        case.state = target
        case.worker = new
        if team is not None:
            case.team = team
        if target == UNALLOCATED:
            self.teams[case.team].waiting.change(now, 1)
        case.epoch += 1
        if self.events is not None:
            self.events.append(Move(now, case.id, source, target, -1 if new is None else new, reason))
        if worker is not None:
            if new != case.last_worker:
                case.workers += 1
                case.last_worker = new
            held.area += held.count * (now - held.since)
            held.since = now
            held.count += 1
            if target == ALLOCATED:
                if case.allocated != case.allocated:  # the first allocation (NaN before)
                    case.allocated = now
                    if self.config.coping.rushed_assessments:
                        check = case.deadline - self.config.coping.rush_days_before_deadline
                        morning = math.ceil(max(now, check))
                        self.deadline_checks.setdefault(morning, []).append((case, case.epoch))
                worker.take(case)
            else:
                worker.hold(case)
            self.teams[worker.team].refresh(worker)
            if target == ALLOCATED and case.hours_left <= 0:
                self.hours_done(case)

    def _start_reporting(self) -> None:
        """The warm-up ends: the running totals of the reported years start here."""
        now = self.env._now
        self.queue_area_before = self.queue.area_at(now)
        self.held_area_before = self.held.area_at(now)
        for team in self.teams:
            team.waiting_before = team.waiting.area_at(now)

    def _left_queue(self, case: Case, now: float) -> None:
        wait = now - case.queued_since
        self.queue.change(now, -1)
        if case.allocated == case.allocated:  # back in the queue after a first allocation
            case.waited_again += wait
        if now >= self.reported_from:
            self.queue_waits_ended += 1
            self.queue_wait_days += wait

    # -- referral ----------------------------------------------------------------------------------
    def set_demand(self, demand) -> None:
        """Who is referred from now on: urgency, workload and minimum days."""
        self.demand = demand
        self._hours = Workload(demand)
        self._min_days = (demand.min_days_urgent, demand.min_days_standard)
        self._elapsed = ElapsedTime(demand)

    def new_case(self, referred: float, key: int, draws: list[float], initial: bool = False, previous=None) -> Case:
        """A referral and everything random about it, from its own draws."""
        demand = self.demand
        case = Case(
            len(self.cases),
            key,
            referred,
            initial,
            referral_number=1 if previous is None else previous.referral_number + 1,
            previous_referral=math.nan if previous is None else previous.referred,
        )
        missed_before = previous is not None and previous.missed  # a missed risk comes back urgent
        urgency = URGENT if missed_before or draws[URGENCY] < demand.urgent_share else STANDARD
        if self._hours.exponential:
            variate = -math.log(draws[WORKLOAD])
        else:  # Box-Muller: a standard normal from two uniforms
            variate = math.sqrt(-2.0 * math.log(draws[WORKLOAD])) * math.cos(2.0 * math.pi * draws[WORKLOAD_ANGLE])
        case.priority = urgency
        case.hours = case.hours_left = self._hours.hours(urgency, variate)
        floor = self._min_days[urgency] * (1.0 + demand.min_days_spread * (2.0 * draws[VISITS] - 1.0))
        case.min_days = self._elapsed.days(urgency, floor, draws[FIRST_VISIT], draws[PARTNER_INFORMATION])
        case.not_in_need = not missed_before and draws[OUTCOME] < demand.not_in_need_share
        # Of the children an assessment would find in need of a plan, some carry a hidden risk of significant harm.
        case.after_missed_risk = missed_before
        case.risky = missed_before or (
            not case.not_in_need and draws[RISK] < self.defences.risky_share(urgency == URGENT)
        )
        case.checks = self.luck.checks(key) if case.risky else ()  # one draw a layer, then the serious incident
        case.front_door_draw = draws[FRONT_DOOR]
        case.area_draw = draws[AREA]
        case.return_draw = draws[RETURNS]
        case.return_delay = -math.log(draws[RETURN_DELAY])
        case.long_term_stay = -math.log(draws[LONG_TERM_STAY])
        self.cases.append(case)
        self.move(case, AWAITING_TRIAGE, "referred")
        return case

    def refer(self, case: Case) -> None:
        self.front_door.refer(case)

    def closed(self, case: Case | PastReferral) -> None:
        """A child's involvement ends; some come back later (re-referral), as their own draws say.

        A child closed only because thresholds had risen comes back more often; a missed risk more often
        still, and sooner.
        """
        demand = self.demand
        if case.missed:
            p, mean_days = self.config.risk.missed_return_probability, self.config.risk.missed_return_mean_days
        elif case.raised_threshold:
            p, mean_days = self.config.coping.raised_threshold_rereferral, demand.rereferral_mean_days
        else:
            p, mean_days = demand.rereferral_probability, demand.rereferral_mean_days
        if case.return_draw < p:
            self.returns.add(self.env._now + mean_days * case.return_delay, case)

    def rerefer(self, previous: Case | PastReferral) -> None:
        """The child comes back: a new referral whose luck is keyed by the one before it."""
        key = return_key(previous.key)
        self.refer(self.new_case(self.env._now, key, self.luck.row(key), previous=previous))

    # -- front door and routing --------------------------------------------------------------------
    def decide(self, case: Case) -> None:
        """The front door's decision: close (no further action, early help) or send to the area's team."""
        now = case.decided = self.env._now
        reason = "referred_on"
        if case.front_door_draw < self.closure_share:
            raised = case.front_door_draw >= self.config.policy.front_door_closure_share
            if case.risky and not self._through(
                case, layer.FRONT_DOOR, {"triage_backlog": now - case.referred, layer.RAISED_THRESHOLD: float(raised)}
            ):
                reason = "risk_recognised"  # the front door saw the risk: the child goes on
            else:
                case.raised_threshold = raised
                self.move(case, CLOSED_AT_FRONT_DOOR, "raised_threshold" if raised else "front_door")
                self.closed_at_front_door.append(case)
                if case.risky:
                    self._missed(case)
                self.closed(case)
                return
        team = self.open_teams[bisect_right(self._route_bounds, case.area_draw)]
        self.queue_for(case, team, reason)
        self.allocate(team)

    def route(self) -> None:
        """Each open team covers a share of the area: the configured shares, or equal ones."""
        self.open_teams = [team for team in self.teams if team.open]
        shares = self.config.service.team_shares
        if shares is None or len(shares) != len(self.open_teams):
            shares = [1.0 / len(self.open_teams)] * len(self.open_teams)
        self._route_bounds = list(accumulate(shares))[:-1]

    # -- allocation --------------------------------------------------------------------------------
    def queue_for(self, case: Case, team: Team, reason: str) -> None:
        """The case waits in the team's unallocated queue, in its place by urgency and age."""
        self.move(case, UNALLOCATED, reason, team=team.id)
        heappush(team.queue, Waiting(case.priority, case.referred, case.id, case))

    def allocate(self, team: Team) -> None:
        """Give waiting cases to the workers with fewest cases, while anyone is under the cap."""
        queue = team.queue
        while queue:
            worker = team.least_loaded(team.cap)
            if worker is None:
                return
            self.move(heappop(queue).case, ALLOCATED, "allocated", worker=worker)
            if self.managers is not None:
                self.managers.allocated(team.id)

    def room_for(self, worker: Worker) -> None:
        """Someone joined, came back, went off or gained room: the team's order follows, and it allocates."""
        team = self.teams[worker.team]
        team.refresh(worker)
        self.allocate(team)

    def review(self, team: Team) -> None:
        """The manager's daily look at the queue: cases waiting too long go over the cap."""
        if team.override_after is None or not team.queue:
            return
        now = self.env._now
        overdue = sorted(entry for entry in team.queue if now - entry.referred >= team.override_after)
        if not overdue:
            return
        taken = set()
        for entry in overdue:
            worker = team.least_loaded(team.ceiling)
            if worker is None:
                break
            entry.case.over_cap = worker.load >= team.cap * worker.cap_share
            self.move(entry.case, ALLOCATED, "over_cap", worker=worker)
            if self.managers is not None:
                self.managers.allocated(team.id)
            taken.add(entry.case_id)
        if taken:
            team.queue = [entry for entry in team.queue if entry.case_id not in taken]
            heapify(team.queue)

    # -- assessment --------------------------------------------------------------------------------
    def hours_done(self, case: Case) -> None:
        """Casework is done; the assessment closes once the visits and checks have had their minimum days."""
        due = case.allocated + case.min_days
        if due - self.env._now > 1e-9:
            self.completions.add(due, (case, case.epoch))
        else:
            self._complete(case)

    def _complete_if_current(self, entry: tuple[Case, int]) -> None:
        case, epoch = entry
        if epoch == case.epoch:  # not moved since its hours were done
            self._complete(case)

    def _complete(self, case: Case) -> None:
        """The casework is done: the manager signs it off (at once, when managers have unlimited time)."""
        case.assessed = self.env._now
        if case.risky and case.caught_at is None:
            self._waiting_and_assessment(case)
        managers = self.managers
        if managers is None or managers.unlimited:
            self.signed_off(case)
            return
        worker = self.staff[case.worker]
        self.move(case, AWAITING_SIGN_OFF, "assessed", worker=worker)
        managers.for_team(case.team, self.open_teams).sign_off(case)

    def signed_off(self, case: Case) -> None:
        """An assessment is completed: the child is closed or waits for a long-term team."""
        worker = None if case.worker is None else self.staff[case.worker]
        case.completed = self.env._now
        self.completed.append(case)
        if case.risky and case.caught_at is None:
            self._oversight(case, worker)
        if case.not_in_need:
            case.moved_on = self.env._now
            self.move(case, COMPLETED, NOT_IN_NEED)
            self.closed(case)
        else:
            self.move(case, AWAITING_LONG_TERM, PLAN, worker=worker, team=case.team)
            self.awaiting_long_term[case.id] = case
            # The hand-over is due whoever holds the child by then (a transfer does not restart it).
            self.handovers.add(self.env._now + self.config.service.handover_days, case)
        self.allocate(self.teams[case.team if worker is None else worker.team])

    # -- rushed work -------------------------------------------------------------------------------
    def near_deadlines(self, morning: int) -> None:
        """Each morning, for assessments near their deadline: a worker holding too many cuts the hours short."""
        due = self.deadline_checks.pop(morning, None)
        coping = self.config.coping
        if not due or not coping.rushed_assessments:
            return
        for case, _ in due:
            if case.state != ALLOCATED or case.worker is None or case.hours_left <= 0:
                continue
            worker = self.staff[case.worker]
            manageable = self.config.workforce.manageable_caseload * worker.cap_share
            if worker.absent or worker.load < coping.rush_from_caseload_share * manageable:
                continue
            worker.rush(case, coping.rush_hours_cut_share)
            self.rushed_days.append(self.env._now)

    # -- the layers of defence a risky child meets (model/defences.py) ----------------------------------
    def _through(self, case: Case, at: str, met: dict[str, float]) -> bool:
        """The child meets a layer with its own draw: True if the risk gets through; else the layer caught it."""
        through = self.defences.through(case.id, at, self.env._now, case.checks[layer.LAYERS.index(at)], met)
        if not through:
            case.caught_at = at
        return through

    def _missed(self, case: Case) -> None:
        """The risk got through every layer the child met; sometimes a serious incident follows (illustrative)."""
        case.missed, case.missed_day = True, self.env._now
        case.serious_incident = case.checks[-1] < self.config.risk.serious_incident_probability

    def _waiting_and_assessment(self, case: Case) -> None:
        """An assessed risky child has met two layers: the wait unallocated, and the worker who assessed them."""
        days_unallocated = case.allocated - case.decided + case.waited_again
        if not self._through(case, layer.WAITING, {"days_unallocated": days_unallocated}):
            return
        worker = self.staff[case.worker]
        risk = self.config.risk
        manageable = self.config.workforce.manageable_caseload * worker.cap_share
        met = {
            "caseload": max(0.0, worker.load - manageable),
            "stress": worker.stress_now(),
            "new_worker": float(worker.new_to_the_job(risk.new_agency_days)),
            "worker_changes": max(0, case.workers - 1),
            "rushed": case.rushed_hours / case.hours if case.hours > 0 else 0.0,
        }
        self._through(case, layer.ASSESSMENT, met)

    def _oversight(self, case: Case, worker: Worker | None) -> None:
        """Sign-off and supervision: the last layer. A risk that gets through is closed as not in need."""
        managers = self.managers
        waiting = (
            0 if managers is None or managers.unlimited else len(managers.for_team(case.team, self.open_teams).queue)
        )
        missed = 0.0 if worker is None else worker.supervision_missed
        if self._through(case, layer.OVERSIGHT, {"supervision_missed": missed, "sign_off_pressure": waiting}):
            case.not_in_need = True
            self._missed(case)

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
            team = None if case.worker is None else self.teams[self.staff[case.worker].team]
            case.moved_on = self.env._now
            self.move(case, COMPLETED, "long_term_team")
            self.long_term_children += 1
            self.long_term_exits.add(
                self.env._now + self.config.service.long_term_mean_days * case.long_term_stay, case
            )
            if team is not None:
                self.allocate(team)

    def long_term_ends(self, case: Case | PastReferral) -> None:
        self.long_term_children -= 1
        self.closed(case)
        self.move_to_long_term()

    # -- transfers ---------------------------------------------------------------------------------
    def transfer_all(self, worker: Worker, reason: str) -> None:
        """Every case a worker holds is transferred: to a colleague with room, else back to the queue, urgent first."""
        workforce, now = self.config.workforce, self.env._now
        team = self.teams[worker.team]
        if not team.open:  # the worker's team was cut: its successor takes the cases
            team = self.open_teams[team.id % len(self.open_teams)]
        in_hand, held = worker.hand_over()
        self.teams[worker.team].refresh(worker)
        for case in sorted(in_hand, key=lambda c: (c.priority, c.deadline, c.id)):
            done = case.hours - case.hours_left
            case.hours_left += workforce.transfer_hours + workforce.transfer_progress_lost * done
            case.transfers += 1
            colleague = team.least_loaded(team.cap)
            self.transfer_log.append((now, case.id, worker.id, -1 if colleague is None else colleague.id, reason))
            if colleague is None:
                self.queue_for(case, team, reason)
            else:
                self.move(case, ALLOCATED, reason, worker=colleague, team=team.id)
        for case in held:  # an assessed child (awaiting sign-off or a long-term team) stays in the team if possible
            case.transfers += 1
            colleague = team.least_loaded(math.inf)
            self.transfer_log.append((now, case.id, worker.id, -1 if colleague is None else colleague.id, reason))
            self.move(case, case.state, reason, worker=colleague, team=team.id)
        self.allocate(team)

    def redeploy(self, worker: Worker) -> None:
        """A worker moved to another team takes their caseload with them."""
        for case in (*worker.caseload.values(), *worker.held.values()):
            self.move(case, case.state, "redeployed", worker=worker, team=worker.team)
        self.room_for(worker)

    def move_queue(self, cut: Team, keep: list[Team]) -> None:
        """A cut team's waiting cases join the remaining teams' queues in turn."""
        waiting, cut.queue = sorted(cut.queue), []
        for i, entry in enumerate(waiting):
            self.queue_for(entry.case, keep[i % len(keep)], "team_cut")

    def census(self, staff_in_post: list[Worker]) -> dict[str, list[int]]:
        """Where every referral is now, read from the places that hold them (for checking conservation)."""
        return {
            AWAITING_TRIAGE: [case.id for case in self.front_door.queue],
            CLOSED_AT_FRONT_DOOR: [case.id for case in self.closed_at_front_door],
            UNALLOCATED: [entry.case_id for team in self.teams for entry in team.queue],
            ALLOCATED: [case_id for worker in staff_in_post for case_id in worker.caseload],
            AWAITING_SIGN_OFF: [] if self.managers is None else [c.id for m in self.managers.posts for c in m.queue],
            AWAITING_LONG_TERM: list(self.awaiting_long_term),
            COMPLETED: [case.id for case in self.completed if case.state == COMPLETED],
        }
