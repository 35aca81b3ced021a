"""The clock's cheap timers keep SimPy's order: a timer happens exactly where a Timeout would have."""

from __future__ import annotations

import random

import pytest
import simpy

from simservice.model.clock import Clock, call_in, call_soon


def _schedule(env, happened: list, timers: bool, seed: int) -> None:
    """Timers and Timeouts mixed, at tied and distinct times, some set from inside others."""
    rng = random.Random(seed)

    def later(name, delay, use_timer):
        def done(_event):
            happened.append((env.now, name))
            if name < 60:  # each of the first sixty sets one more, at a tie or not
                delay_next, coin = rng.choice([0, 0.5, 1, 2]), rng.random()
                later(name + 60, delay_next, timers and coin < 0.5)

        if use_timer:
            call_in(env, delay, done)
        else:
            env.timeout(delay).callbacks.append(done)

    for name in range(100):
        later(name, rng.choice([0, 1, 1, 2, 3.5]), timers and name % 2 == 0)


@pytest.mark.parametrize("seed", range(5))
def test_timers_happen_where_timeouts_would(seed):
    """The same schedule made of Timeouts on SimPy, and of timers on the clock, runs in the same order."""
    plain, quick = [], []
    env = simpy.Environment()
    _schedule(env, plain, timers=False, seed=seed)
    env.run(until=10)
    clock = Clock()
    _schedule(clock, quick, timers=True, seed=seed)
    clock.run(until=10)
    assert len(quick) == 160 and quick == plain


def test_the_clock_stops_before_what_is_due_at_its_end_as_simpy_does():
    clock, happened = Clock(), []
    call_in(clock, 5, lambda _alarm: happened.append(5))
    call_in(clock, 4, lambda _alarm: happened.append(4))
    clock.run(until=5)
    assert happened == [4] and clock.now == 5
    clock.run(until=6)
    assert happened == [4, 5]


def test_an_urgent_call_soon_comes_before_what_is_due_now():
    clock, happened = Clock(), []
    call_soon(clock, lambda _alarm: happened.append("normal"))
    call_soon(clock, lambda _alarm: happened.append("urgent"), urgent=True)
    clock.run(until=1)
    assert happened == ["urgent", "normal"]


def test_a_process_that_fails_on_the_clock_raises_as_on_simpy():
    clock = Clock()

    def failing():
        yield clock.timeout(1)
        raise RuntimeError("casework failed")

    clock.process(failing())
    with pytest.raises(RuntimeError, match="casework failed"):
        clock.run(until=2)


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError, match="negative delay"):
        call_in(Clock(), -1, lambda _alarm: None)
