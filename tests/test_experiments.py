"""Experiments: reproducible, common random numbers, and the model moves the right way."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from simservice.hydra_config import load_config
from simservice.model.service import Service, simulate
from simservice.reporting.kpis import mean_ci
from simservice.reporting.outputs import write_outputs
from simservice.runs.replications import run_scenario

SHORT = ["run.years=2", "run.warmup_years=0.5", "run.replications=6", "run.progress=false"]


def _same(a, b):
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.kpis, b.kpis)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.cases, b.cases)
    pd.testing.assert_frame_equal(a.staff, b.staff)
    pd.testing.assert_frame_equal(a.transfers, b.transfers)


def test_same_config_and_seed_give_identical_results():
    config = load_config([*SHORT, "run.years=1", "run.replications=2"])
    _same(run_scenario(config), run_scenario(config))


def test_serial_and_parallel_are_identical(tmp_path):
    """The same tables, and the same files byte for byte (figures drawn on other processes, dated change marked)."""
    change = "changes=[{month:6,setting:service.teams,value:3}]"
    serial = load_config([*SHORT, "run.years=1", "run.replications=4", "run.jobs=1", change])
    parallel = dataclasses.replace(serial, run=dataclasses.replace(serial.run, jobs=2))
    one, two = run_scenario(serial), run_scenario(parallel)
    _same(one, two)
    written = {jobs: write_outputs(results, tmp_path / jobs) for jobs, results in (("1", one), ("2", two))}
    names = [path.name for path in written["1"]]
    assert names == [path.name for path in written["2"]] and {"coping.png", "unallocated.png"} <= set(names)
    for a, b in zip(written["1"], written["2"], strict=True):
        if a.name != "scenario.yaml":  # (which says run.jobs)
            assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.slow
def test_a_different_seed_gives_different_results():
    config = load_config([*SHORT, "run.replications=2"])
    other = dataclasses.replace(config, run=dataclasses.replace(config.run, seed=config.run.seed + 1))
    assert not run_scenario(config).kpis.equals(run_scenario(other).kpis)


@pytest.mark.slow
def test_replications_differ_from_each_other():
    kpis = run_scenario(load_config([*SHORT, "run.replications=3"])).kpis
    assert kpis["days_to_assessment_mean"].nunique() == 3


def test_common_random_numbers_follow_each_child_across_scenarios():
    """Two scenarios that differ only in policy see the same children: every new referral in both has the same
    urgency, workload, front-door decision, team and outcome -- all of them, not on average.

    (Coping is off: raised thresholds would rightly close different children where the backlogs differ.)"""
    # (Nor does a triage backlog widen the front door's hole: re-referrals, which differ, make the backlog.)
    same = [*SHORT, "coping=off", "risk.per_triage_backlog_day=0"]
    base = load_config([*same, "policy.caseload_cap=18"])
    lower = load_config([*same, "policy.caseload_cap=15"])
    a, b = simulate(base, 2).cases, simulate(lower, 2).cases
    new_a = a[~a.starting_state & (a.referral_number == 1)].set_index("referral_key")
    new_b = b[~b.starting_state & (b.referral_number == 1)].set_index("referral_key")
    assert len(new_a) == len(new_b) > 1000
    new_b = new_b.loc[new_a.index]
    for column in ("referred_day", "priority", "workload_hours"):
        assert (new_a[column].to_numpy() == new_b[column].to_numpy()).all(), column
    decided = new_a.decided_day.notna() & new_b.decided_day.notna()
    closed_a = new_a.state[decided] == "closed_at_front_door"
    closed_b = new_b.state[decided] == "closed_at_front_door"
    assert closed_a.sum() > 100 and (closed_a == closed_b).all(), "front-door decision"
    routed = decided & ~closed_a
    assert (new_a.team[routed] == new_b.team[routed]).all(), "team area"
    completed = new_a.outcome.notna() & new_b.outcome.notna() & ~closed_a.reindex(new_a.index, fill_value=False)
    # (A hidden risk missed in one scenario and caught in the other rightly ends differently.)
    completed &= ~new_a.missed_risk & ~new_b.missed_risk
    assert completed.sum() > 1000 and (new_a.outcome[completed] == new_b.outcome[completed]).all(), "outcome"
    # The scenarios did differ: the children waited differently.
    assert not np.allclose(new_a.days_to_allocation.fillna(-1), new_b.days_to_allocation.fillna(-1))
    # A re-referral's luck is keyed by its parent: the same child returning in both has the same urgency.
    again_a = a[a.referral_number > 1].set_index("referral_key")
    again_b = b[b.referral_number > 1].set_index("referral_key")
    both = again_a.index.intersection(again_b.index)
    both = both[again_a.loc[both, "after_missed_risk"].to_numpy() == again_b.loc[both, "after_missed_risk"].to_numpy()]
    assert len(both) > 100
    assert (again_a.loc[both, "priority"] == again_b.loc[both, "priority"]).all()
    assert (again_a.loc[both, "workload_hours"] == again_b.loc[both, "workload_hours"]).all()


def _paired(base, scenario, kpi):
    """Mean paired difference scenario - base and its 95 % interval."""
    return mean_ci(scenario.kpis[kpi].to_numpy() - base.kpis[kpi].to_numpy())


@pytest.fixture(scope="module")
def four_teams():
    return run_scenario(load_config([*SHORT, "run.jobs=2"]))


@pytest.mark.slow
def test_three_teams_mean_more_unallocated_and_longer_assessments(four_teams):
    three = run_scenario(load_config([*SHORT, "run.jobs=2", "service.teams=3"]))
    for kpi in ("unallocated_mean", "days_to_assessment_mean", "days_to_allocation_mean"):
        _, low, _ = _paired(four_teams, three, kpi)
        assert low > 0, kpi
    _, _, high = _paired(four_teams, three, "within_45_days_pct")
    assert high < 0


@pytest.mark.slow
def test_a_lower_cap_means_lower_caseloads_and_more_unallocated():
    """Without the over-cap override a lower cap binds: caseloads fall and children wait unallocated."""
    no_override = [*SHORT, "run.jobs=2", "policy.override_after_days=null"]
    base = run_scenario(load_config(no_override))
    capped = run_scenario(load_config([*no_override, "policy.caseload_cap=8"]))
    _, _, high = _paired(base, capped, "caseload_mean")
    assert high < 0
    _, low, _ = _paired(base, capped, "unallocated_mean")
    assert low > 0


@pytest.mark.slow
def test_the_override_trades_the_queue_for_caseloads_over_the_cap(four_teams):
    """With the override on, a lower cap sends long waiters over it: allocations over the cap rise."""
    capped = run_scenario(load_config([*SHORT, "run.jobs=2", "policy.caseload_cap=8"]))
    _, low, _ = _paired(four_teams, capped, "allocated_over_cap_pct")
    assert low > 0
    _, low, _ = _paired(four_teams, capped, "unallocated_mean")
    assert low > 0


def test_the_cap_and_the_ceiling_hold_for_allocation():
    """Allocation never goes past the cap, nor past the ceiling with the override (fixed staff, no hand-over)."""
    fixed = ["workforce=fixed", "coping=off", "service.handover_days=0", "service.long_term_places=null"]
    for override in ("policy.override_after_days=null", "policy.override_after_days=5"):
        config = load_config([*SHORT, *fixed, "policy.caseload_cap=8", "policy.override_ceiling=11", override])
        result = simulate(config, 0)
        limit = 8 if override.endswith("null") else 11
        assert result.caseloads[:, 1].max() <= limit
        assert result.daily["unallocated"].max() > 0  # the cap did bite


@pytest.mark.slow
def test_more_demand_means_longer_waits(four_teams):
    busier = run_scenario(load_config([*SHORT, "run.jobs=2", "demand.referrals_per_year=4300"]))
    _, low, _ = _paired(four_teams, busier, "days_to_assessment_median")
    assert low > 0


def test_warmup_is_left_out_of_the_kpis():
    config = load_config([*SHORT, "run.replications=1"])
    result = simulate(config, 0)
    from simservice.reporting.kpis import replication_kpis

    kpis = replication_kpis(result, config.run)
    reported = result.cases[(result.cases.referred_day >= config.run.warmup_days) & ~result.cases.starting_state]
    assert kpis["referrals"] == pytest.approx(len(reported) / config.run.years)
    days = result.daily[~result.daily.warmup]
    assert len(days) == pytest.approx(config.run.years * config.run.days_per_year, abs=1)
    assert kpis["unallocated_peak"] == days["unallocated"].max()


def _expected_starting_caseload(mean: float, limit: float) -> float:
    """E[min(Poisson(mean), limit)] rounded down, as the starting state draws a worker's caseload."""
    top = int(limit)
    pmf = [math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) if mean > 0 else float(k == 0) for k in range(top)]
    return sum(k * p for k, p in enumerate(pmf)) + top * (1 - sum(pmf))


def test_starting_state_is_a_running_service():
    """Before the first referral every worker holds a part-worked caseload drawn as configured, and every
    team has its starting queue."""
    config = load_config([*SHORT, "run.replications=1"])
    cap = config.policy.caseload_cap
    loads, expected, variance = [], [], []
    for replication in range(20):
        service = Service(config, replication)
        for team in service.teams:
            assert len(team.queue) == config.service.initial_unallocated_per_team
        for worker in service.workforce.staff_in_post():
            mean = config.service.initial_caseload * worker.cap_share
            loads.append(worker.load)
            expected.append(_expected_starting_caseload(mean, cap * worker.cap_share))
            variance.append(mean)
            assert worker.load <= cap * worker.cap_share
            assert all(0 <= case.hours_left <= case.hours for case in worker.caseload.values())
            assert all(case.referred <= 0 and case.allocated <= 0 for case in worker.caseload.values())
    # The mean caseload matches its expectation within four standard errors.
    assert abs(np.mean(loads) - np.mean(expected)) < 4 * math.sqrt(np.sum(variance)) / len(loads)
    result = simulate(config, 0)
    assert np.all(result.cases.loc[result.cases.starting_state, "referred_day"] <= 0)
