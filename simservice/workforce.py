"""The workforce: social workers, their casework hours and their caseloads.

Staff are fixed here: every post is filled by a worker present every day. The
workforce dynamics (leaving, vacancies, agency cover, sickness, stress) change
``Worker.available`` and ``Worker.hours_per_day`` and move cases between
caseloads; the pathway only asks who has room and hands them work.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush

import simpy

from .pathway import ALLOCATED, Case


class Worker:
    """A social worker sharing casework hours across a caseload: urgent first, then the earliest deadline."""

    def __init__(
        self,
        env: simpy.Environment,
        worker_id: int,
        team: int,
        hours_per_day: float,
        hours_done: Callable[[Worker, Case], None],
    ):
        self.env = env
        self.id = worker_id
        self.team = team
        self.hours_per_day = hours_per_day
        self.available = True
        self.caseload: dict[int, Case] = {}
        self._hours_done = hours_done
        self._work: list[tuple] = []  # heap of (priority, deadline, id, case) with hours still to do
        self._current: Case | None = None
        self._wake: simpy.Event | None = None
        self._process = env.process(self._casework())

    def take(self, case: Case) -> None:
        """Add a case to the caseload; it pre-empts the case in hand if it comes first."""
        case.state = ALLOCATED
        case.worker = self.id
        if case.allocated != case.allocated:  # not yet allocated (NaN): starting-state cases keep theirs
            case.allocated = self.env.now
        self.caseload[case.id] = case
        if case.hours_left <= 0:
            return
        heappush(self._work, (case.priority, case.deadline, case.id, case))
        if self._wake is not None:
            self._wake.succeed()
            self._wake = None
        elif self._current is not None and (case.priority, case.deadline, case.id) < (
            self._current.priority,
            self._current.deadline,
            self._current.id,
        ):
            self._current = None
            self._process.interrupt()

    def release(self, case: Case) -> None:
        """The case leaves this caseload (completed, or transferred)."""
        del self.caseload[case.id]

    def _casework(self):
        """Work on the first case in order until its hours are done or a more pressing case arrives."""
        env, work = self.env, self._work
        while True:
            if not work:
                self._wake = env.event()
                yield self._wake
                continue
            case = work[0][3]
            self._current = case
            start = env.now
            try:
                yield env.timeout(case.hours_left / self.hours_per_day)
            except simpy.Interrupt:
                case.hours_left = max(0.0, case.hours_left - (env.now - start) * self.hours_per_day)
                continue
            heappop(work)
            case.hours_left = 0.0
            self._current = None
            self._hours_done(self, case)
