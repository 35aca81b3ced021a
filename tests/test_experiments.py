"""Experiments: reproducible, common random numbers, and the model moves the right way."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simservice.config import load_config
from simservice.kpis import mean_ci
from simservice.model import simulate
from simservice.runner import run_scenario

SHORT = ["run.years=2", "run.warmup_years=0.5", "run.replications=6", "run.progress=false"]


def _same(a, b):
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.kpis, b.kpis)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.cases, b.cases)
    pd.testing.assert_frame_equal(a.staff, b.staff)
    pd.testing.assert_frame_equal(a.transfers, b.transfers)


def test_same_config_and_seed_give_identical_results():
    config = load_config([*SHORT, "run.replications=3"])
    _same(run_scenario(config), run_scenario(config))


def test_serial_and_parallel_are_identical():
    serial = load_config([*SHORT, "run.replications=4", "run.jobs=1"])
    parallel = dataclasses.replace(serial, run=dataclasses.replace(serial.run, jobs=2))
    _same(run_scenario(serial), run_scenario(parallel))


def test_a_different_seed_gives_different_results():
    config = load_config([*SHORT, "run.replications=2"])
    other = dataclasses.replace(config, run=dataclasses.replace(config.run, seed=config.run.seed + 1))
    assert not run_scenario(config).kpis.equals(run_scenario(other).kpis)


def test_replications_differ_from_each_other():
    kpis = run_scenario(load_config([*SHORT, "run.replications=3"])).kpis
    assert kpis["days_to_assessment_mean"].nunique() == 3


def test_common_random_numbers_across_scenarios():
    """Replication k of two scenarios sees the same referrals from outside: same times, urgency and workload.

    (Re-referrals depend on what the service did, so they may differ.)
    """
    base = load_config(SHORT)
    cut = load_config([*SHORT, "service.teams=3", "policy.caseload_cap=12"])
    a, b = simulate(base, 2).cases, simulate(cut, 2).cases
    a = a[~a.starting_state & (a.referral_number == 1)]
    b = b[~b.starting_state & (b.referral_number == 1)]
    assert len(a) == len(b) > 1000
    for column in ("referred_day", "priority", "workload_hours"):
        assert (a[column].to_numpy() == b[column].to_numpy()).all(), column


def _paired(base, scenario, kpi):
    """Mean paired difference scenario - base and its 95 % interval."""
    return mean_ci(scenario.kpis[kpi].to_numpy() - base.kpis[kpi].to_numpy())


@pytest.fixture(scope="module")
def four_teams():
    return run_scenario(load_config([*SHORT, "run.jobs=2"]))


def test_three_teams_mean_more_unallocated_and_longer_assessments(four_teams):
    three = run_scenario(load_config([*SHORT, "run.jobs=2", "service.teams=3"]))
    for kpi in ("unallocated_mean", "days_to_assessment_mean", "days_to_allocation_mean"):
        _, low, _ = _paired(four_teams, three, kpi)
        assert low > 0, kpi
    _, _, high = _paired(four_teams, three, "within_45_days_pct")
    assert high < 0


def test_a_lower_cap_means_lower_caseloads_and_more_unallocated(four_teams):
    capped = run_scenario(load_config([*SHORT, "run.jobs=2", "policy.caseload_cap=8"]))
    _, _, high = _paired(four_teams, capped, "caseload_mean")
    assert high < 0
    _, low, _ = _paired(four_teams, capped, "unallocated_mean")
    assert low > 0


def test_the_cap_and_the_ceiling_hold_for_allocation():
    """Allocation never goes past the cap, nor past the ceiling with the override (fixed staff, no hand-over)."""
    fixed = ["workforce=fixed", "service.handover_days=0", "service.long_term_places=null"]
    for override in ("policy.override_after_days=null", "policy.override_after_days=5"):
        config = load_config([*SHORT, *fixed, "policy.caseload_cap=8", "policy.override_ceiling=11", override])
        result = simulate(config, 0)
        limit = 8 if override.endswith("null") else 11
        assert result.caseloads[:, 1].max() <= limit
        assert result.daily["unallocated"].max() > 0  # the cap did bite


def test_more_demand_means_longer_waits(four_teams):
    busier = run_scenario(load_config([*SHORT, "run.jobs=2", "demand.referrals_per_year=3000"]))
    _, low, _ = _paired(four_teams, busier, "days_to_assessment_median")
    assert low > 0


def test_warmup_is_left_out_of_the_kpis():
    config = load_config([*SHORT, "run.replications=1"])
    result = simulate(config, 0)
    from simservice.kpis import replication_kpis

    kpis = replication_kpis(result, config.run)
    reported = result.cases[(result.cases.referred_day >= config.run.warmup_days) & ~result.cases.starting_state]
    assert kpis["referrals"] == pytest.approx(len(reported) / config.run.years)
    days = result.daily[~result.daily.warmup]
    assert len(days) == pytest.approx(config.run.years * config.run.days_per_year, abs=1)
    assert kpis["unallocated_peak"] == days["unallocated"].max()


def test_starting_state_is_a_running_service():
    config = load_config([*SHORT, "run.replications=1"])
    result = simulate(config, 0)
    first_day = result.daily.iloc[0]
    expected = config.service.initial_caseload
    assert first_day["caseload_mean"] == pytest.approx(expected, rel=0.35)
    assert first_day["unallocated"] <= config.service.teams * config.service.initial_unallocated_per_team
    assert np.all(result.cases.loc[result.cases.starting_state, "referred_day"] <= 0)
