"""The engine against queueing theory: Erlang C (M/M/c) and M/M/1."""

from __future__ import annotations

import math

import pytest
from conftest import queue_config

from simservice.runs.replications import run_scenario


def erlang_c_wait(arrivals: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C)."""
    load = arrivals / service_rate
    rho = load / servers
    head = sum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / (math.factorial(servers) * (1 - rho))
    return tail / (head + tail) / (servers * service_rate - arrivals)


def test_erlang_c_formula_known_value():
    # M/M/1 is Erlang C with one server: Wq = rho / (mu - lambda).
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    # A textbook value: c=2, lambda=1.5, mu=1 -> P(wait)=0.6429, Wq=1.2857.
    assert erlang_c_wait(1.5, 1.0, 2) == pytest.approx(1.2857, abs=1e-4)


@pytest.mark.parametrize("utilisation", [0.7, pytest.param(0.9, marks=pytest.mark.slow)])
def test_days_to_allocation_matches_erlang_c(utilisation):
    servers = 3
    arrivals = utilisation * servers  # mu = 1 a day
    config = queue_config(servers, arrivals, 1, "run.years=20", "run.replications=10", "run.jobs=2")
    summary = run_scenario(config).summary.set_index("kpi")
    expected = erlang_c_wait(arrivals, 1.0, servers)
    row = summary.loc["days_to_allocation_mean"]
    assert row.ci_low <= expected <= row.ci_high, (expected, row.to_dict())
    # The interval is tight enough to mean something.
    assert row.ci_high - row.ci_low < 0.25 * expected


@pytest.mark.parametrize("utilisation", [0.5, pytest.param(0.7, marks=pytest.mark.slow)])
def test_days_to_completion_matches_mm1(utilisation):
    config = queue_config(1, utilisation, None, "run.years=20", "run.replications=10", "run.jobs=2")
    summary = run_scenario(config).summary.set_index("kpi")
    expected = 1.0 / (1.0 - utilisation)
    row = summary.loc["days_to_assessment_mean"]
    assert row.ci_low <= expected <= row.ci_high, (expected, row.to_dict())
    assert row.ci_high - row.ci_low < 0.25 * expected
    # With no cap nobody waits unallocated.
    assert summary.loc["days_to_allocation_mean", "mean"] == 0.0


@pytest.mark.slow
def test_erlang_c_intervals_cover_theory_across_seeds():
    """Over 20 seeds the 95 % interval should cover Erlang C about 19 times: no bias in the engine."""
    expected = erlang_c_wait(2.7, 1.0, 3)
    covered = 0
    for seed in range(20):
        config = queue_config(3, 2.7, 1, "run.years=20", "run.replications=10", "run.jobs=2", f"run.seed={seed}")
        row = run_scenario(config).summary.set_index("kpi").loc["days_to_allocation_mean"]
        covered += row.ci_low <= expected <= row.ci_high
    assert covered >= 16
