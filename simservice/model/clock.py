"""The clock: SimPy's queue of events, with cheap timers and a run loop that does less per event.

SimPy orders what is due by (time, priority, number), the number counting up as events
are scheduled. A timer here is scheduled on that same queue and takes its number from
the same counter at the moment a ``Timeout`` would, so it happens in exactly the place
a ``Timeout`` would have: the order of everything on the clock, and so every result, is
unchanged. What it saves is the event object's machinery (and, where a timer replaces a
generator process, resuming the generator and raising ``Interrupt`` into it).
"""

from __future__ import annotations

from heapq import heappop, heappush

import simpy
from simpy.events import NORMAL, URGENT


class Alarm:
    """A timer on the clock's queue: what SimPy's step needs of an event (its callbacks, and that it succeeded)."""

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self, callback):
        self.callbacks = (callback,)


def call_in(env: simpy.Environment, delay: float, callback) -> Alarm:
    """Call ``callback(alarm)`` after ``delay`` days, in the place ``env.timeout(delay)`` would have."""
    if delay < 0:
        raise ValueError(f"negative delay {delay}")
    alarm = Alarm(callback)
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), alarm))
    return alarm


def call_soon(env: simpy.Environment, callback, urgent: bool = False) -> None:
    """Call ``callback(alarm)`` later this moment, where an event succeeded now (an interrupt: ``urgent``) runs."""
    heappush(env._queue, (env._now, URGENT if urgent else NORMAL, next(env._eid), Alarm(callback)))


class Clock(simpy.Environment):
    """SimPy's environment, run to a time by a loop that does a step's work without a call per event."""

    def run(self, until=None):
        """As ``simpy.Environment.run``; to a time, stepping inline (the same order, the same stop)."""
        if until is None or isinstance(until, simpy.Event):
            return super().run(until)
        at = until if isinstance(until, int) else float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = simpy.Event(self)
        stop._ok, stop._value = True, None
        self.schedule(stop, URGENT, at - self._now)  # before every regular event at that time, as SimPy does
        queue = self._queue
        while True:
            try:
                self._now, _, _, event = heappop(queue)
            except IndexError:
                raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}') from None
            if event.__class__ is Alarm:  # most events: one callback, and nothing can have failed
                event.callbacks[0](event)
                continue
            if event is stop:
                return None
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
