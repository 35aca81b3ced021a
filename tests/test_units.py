"""Small pieces checked on their own."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simservice.model.records import percentile_sorted
from simservice.model.streams import Streams, stream_key


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


def test_the_t_table_is_scipys_student_t():
    from scipy import stats

    from simservice.reporting.kpis import mean_ci, t_quantile_95
    from simservice.reporting.t_table import T_975

    assert len(T_975) == 1000
    dofs = np.arange(1, 1001)
    assert np.allclose(T_975, stats.t.ppf(0.975, dofs), rtol=1e-12, atol=0)
    assert t_quantile_95(2000) == stats.t.ppf(0.975, 2000)
    # The interval of three values uses dof 2, not the normal's 1.96.
    mean, low, _ = mean_ci([1.0, 2.0, 3.0])
    assert mean - low == stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)


def test_a_referrals_draws_depend_on_its_key_only():
    from simservice.model.streams import ReferralStreams, referral_key, referral_keys, return_key

    luck = ReferralStreams(2019, 4)
    keys = referral_keys("new", 50)
    rows = luck.uniforms(keys)
    assert np.array_equal(rows[37], luck.row(referral_key("new", 37)))
    assert np.array_equal(ReferralStreams(2019, 4).uniforms(keys[30:]), rows[30:])  # no order effect
    assert not np.array_equal(ReferralStreams(2019, 5).uniforms(keys), rows)  # another replication
    assert (rows > 0).all() and (rows < 1).all()
    # Uniform enough: each field's mean and spread over many referrals.
    many = luck.uniforms(referral_keys("new", 200_000))
    assert np.allclose(many.mean(axis=0), 0.5, atol=0.005) and np.allclose(many.var(axis=0), 1 / 12, atol=0.002)
    assert abs(np.corrcoef(many[:, 0], many[:, 1])[0, 1]) < 0.01
    child = return_key(int(keys[0]))
    assert child not in set(keys.tolist()) and return_key(child) != child


def test_a_diary_acts_on_every_entry_at_its_time_in_order():
    import random

    import simpy

    from simservice.model.pathway import Diary

    env = simpy.Environment()
    seen, booked = [], []
    diary = Diary(env, lambda entry: seen.append((env.now, entry)))
    rnd = random.Random(1)

    def booking():
        for _ in range(3000):
            yield env.timeout(rnd.expovariate(5))
            for _ in range(rnd.randint(0, 3)):
                day = env.now + rnd.choice([0.0, rnd.random(), rnd.expovariate(0.05)])
                booked.append((day, len(booked)))
                diary.add(day, len(booked) - 1)

    env.process(booking())
    env.run()
    assert len(seen) == len(booked) > 4000
    assert all(abs(now - booked[entry][0]) < 1e-9 for now, entry in seen)
    assert [entry for _, entry in seen] == [entry for _, entry in sorted(booked)]


def test_referral_keys_from_any_number_are_the_same_keys():
    from simservice.model.streams import referral_key, referral_keys

    assert referral_keys("new", 5, 4093).tolist() == [referral_key("new", n) for n in range(4093, 4098)]


def test_the_scale_benchmark_runs_a_size_over_a_minute_once(monkeypatch, capsys):
    """Later rounds skip a size whose first run took over a minute; the fastest run of every other size counts."""
    import subprocess

    from simservice import bench

    cpu = {"1": [0.30, 0.20, 0.25], "100": [61.0, 1.0, 1.0]}  # seconds for each run of a size, in turn
    runs: list[str] = []

    def one_size(command, **_):
        factor = command[-1]
        seconds = cpu[factor][sum(run == factor for run in runs)]
        runs.append(factor)
        referrals = 1000 * int(factor)
        bare = 0.03 * int(factor) * (1 if factor == "1" else 1.5)  # bare SimPy: 30 us a customer, 45 at 100x
        return subprocess.CompletedProcess(command, 0, stdout=f"{referrals} {seconds} 2048000 {referrals} {bare}")

    monkeypatch.setattr(bench.subprocess, "run", one_size)
    bench.scale_benchmark([1, 100], repeats=3)
    assert runs == ["1", "100", "1", "1"]
    *_, bare, last = capsys.readouterr().out.splitlines()
    assert bare.endswith(f"at 100x vs 1x: {(4.5 / 100_000) / (0.03 / 1000):.2f}x")
    assert last == f"per-referral cost at 100x vs 1x: {(61.0 / 100_000) / (0.20 / 1000):.2f}x"
