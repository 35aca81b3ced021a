"""Small pieces checked on their own."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simservice.records import percentile_sorted
from simservice.streams import Streams, stream_key


@given(st.lists(st.integers(0, 60), min_size=1, max_size=80), st.floats(0, 1))
def test_percentile_agrees_with_numpy(values, q):
    values = sorted(values)
    assert np.isclose(percentile_sorted(values, q), np.percentile(values, 100 * q))


def test_stream_keys_are_stable_across_runs():
    # Python's hash() is salted per process; the stream key must not be.
    assert stream_key("arrivals") == 0x348B2F81C9B4891B
    assert stream_key("arrivals") != stream_key("workload")


def test_adding_a_stream_does_not_reshuffle_another():
    before = Streams(5, 3).uniform("priority")
    first = [before.next() for _ in range(3)]
    b = Streams(5, 3)
    b.uniform("a_new_stream").next()
    priority = b.uniform("priority")
    assert [priority.next() for _ in range(3)] == first


def test_buffered_stream_matches_the_generator_sequence():
    stream = Streams(1, 0).uniform("x")
    drawn = [stream.next() for _ in range(3000)]  # crosses block boundaries
    direct = Streams(1, 0).generator("x").random(3000)
    assert np.array_equal(drawn, direct)
