"""The pathway a referral follows: front door, a team's unallocated queue, allocation, assessment, outcome."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from .workforce import Worker

# Where a referral is: every referral is in exactly one of these at any time.
AWAITING_TRIAGE = "awaiting_triage"
CLOSED_AT_FRONT_DOOR = "closed_at_front_door"
UNALLOCATED = "unallocated"
ALLOCATED = "allocated"
AWAITING_LONG_TERM = "awaiting_long_term_team"  # assessed, still on the assessment worker's caseload
COMPLETED = "completed"  # assessed: closed, or moved on to a long-term team
STATES = (AWAITING_TRIAGE, CLOSED_AT_FRONT_DOOR, UNALLOCATED, ALLOCATED, AWAITING_LONG_TERM, COMPLETED)

URGENT, STANDARD = 0, 1

NOT_IN_NEED = "not_in_need"
PLAN = "child_in_need_or_protection_plan"


class Case:
    """One referral of one child, and what has happened to it so far."""

    __slots__ = (
        "id",
        "priority",
        "hours",
        "hours_left",
        "min_days",
        "deadline",
        "not_in_need",
        "initial",
        "state",
        "team",
        "worker",
        "referred",
        "decided",
        "allocated",
        "completed",
        "over_cap",
        "workers",
        "transfers",
        "epoch",
        "referral_number",
        "previous_referral",
        "moved_on",
    )

    def __init__(
        self,
        case_id,
        priority,
        hours,
        min_days,
        deadline,
        not_in_need,
        referred,
        initial=False,
        referral_number=1,
        previous_referral=float("nan"),
    ):
        self.id = case_id
        self.priority = priority
        self.hours = hours
        self.hours_left = hours
        self.min_days = min_days
        self.deadline = deadline
        self.not_in_need = not_in_need
        self.initial = initial
        self.state = AWAITING_TRIAGE
        self.team: int | None = None
        self.worker: int | None = None
        self.referred = referred
        self.decided = float("nan")
        self.allocated = float("nan")
        self.completed = float("nan")
        self.over_cap = False
        self.workers = 0  # social workers the child has had
        self.transfers = 0
        self.epoch = 0  # bumped at every move, so stale timers know to do nothing
        self.referral_number = referral_number
        self.previous_referral = previous_referral  # day of this child's previous referral
        self.moved_on = float("nan")  # day the child left the assessment worker's caseload

    @property
    def outcome(self) -> str | None:
        if self.state == CLOSED_AT_FRONT_DOOR:
            return "closed_at_front_door"
        if self.state == COMPLETED:
            return NOT_IN_NEED if self.not_in_need else PLAN
        return None


class FrontDoor:
    """Triage (MASH): decides referrals in order at its capacity; a backlog delays all behind it."""

    def __init__(self, env: simpy.Environment, per_day: float | None, decide: Callable[[Case], None]):
        self.env = env
        self.decide = decide
        self.queue: deque[Case] = deque()
        self._service_days: float | None = None
        self._wake: simpy.Event | None = None
        self._process: simpy.Process | None = None
        self.set_capacity(per_day)

    def set_capacity(self, per_day: float | None) -> None:
        """Triage capacity changes (a dated change); None: decisions are instant."""
        self._service_days = None if per_day is None else 1.0 / per_day
        if self._service_days is not None and self._process is None:
            self._process = self.env.process(self._triage())
        self._nudge()

    def refer(self, case: Case) -> None:
        if self._service_days is None and not self.queue:
            self.decide(case)
            return
        self.queue.append(case)
        self._nudge()

    def _nudge(self) -> None:
        if self._wake is not None:
            self._wake.succeed()
            self._wake = None

    def _triage(self):
        env, queue = self.env, self.queue
        while True:
            if not queue:
                self._wake = env.event()
                yield self._wake
                continue
            if self._service_days is not None:
                yield env.timeout(self._service_days)
            if queue:
                self.decide(queue.popleft())


class Team:
    """An assessment team: its unallocated queue (urgent first, then oldest) and its workers."""

    def __init__(self, team_id: int, cap: int | None, override_after: float | None, ceiling: int):
        self.id = team_id
        self.open = True
        self.set_policy(cap, override_after, ceiling)
        self.workers: list[Worker] = []
        self.queue: list[tuple] = []  # heap of (priority, referred, id, case)

    def set_policy(self, cap: int | None, override_after: float | None, ceiling: int) -> None:
        """The caseload cap and the over-cap override; a dated change can move them."""
        self.cap = cap if cap is not None else float("inf")
        self.override_after = override_after
        self.ceiling = max(ceiling, cap or 0)

    def receive(self, case: Case) -> None:
        """A case joins the queue and is allocated at once if a worker has room under the cap."""
        self.requeue(case)
        self.allocate()

    def requeue(self, case: Case) -> None:
        """A case waits in the unallocated queue, in its place by urgency and age."""
        case.state = UNALLOCATED
        case.team = self.id
        case.worker = None
        case.epoch += 1
        heappush(self.queue, (case.priority, case.referred, case.id, case))

    def allocate(self) -> None:
        """Give waiting cases to the workers with most room, while anyone is under the cap."""
        queue = self.queue
        while queue:
            worker = self.least_loaded(self.cap)
            if worker is None:
                return
            worker.take(heappop(queue)[3])

    def review(self, now: float) -> None:
        """The manager's daily look at the queue: cases waiting too long go over the cap."""
        if self.override_after is None or not self.queue:
            return
        overdue = sorted(item for item in self.queue if now - item[3].referred >= self.override_after)
        if not overdue:
            return
        taken = set()
        for item in overdue:
            worker = self.least_loaded(self.ceiling)
            if worker is None:
                break
            item[3].over_cap = worker.load >= self.cap * worker.cap_share
            worker.take(item[3])
            taken.add(item[2])
        if taken:
            self.queue = [item for item in self.queue if item[2] not in taken]
            heapify(self.queue)

    def least_loaded(self, limit: float) -> Worker | None:
        """The worker at work with the fewest cases, if any is below ``limit`` (scaled by their protection)."""
        best, best_share = None, 1.0
        for worker in self.workers:
            share = worker.load / (limit * worker.cap_share)
            if share < best_share and worker.available:
                best, best_share = worker, share
        return best
