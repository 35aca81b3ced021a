"""Demand: volume, seasonality, trend, shocks and a user's own monthly counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simservice.config import ConfigError
from simservice.hydra_config import load_config
from simservice.model.demand import Workload, monthly_rates, referral_days


@pytest.fixture(scope="module")
def config():
    return load_config(["run.years=2", "run.warmup_years=1"])


def test_volume_matches_referrals_per_year(config):
    rates = monthly_rates(config.demand, config.run)
    assert len(rates) == 36
    assert rates.mean() * config.run.days_per_year == pytest.approx(config.demand.referrals_per_year)
    rng = np.random.default_rng(0)
    counts = [len(referral_days(rates, config.run.days_per_month, rng, rng)) for _ in range(200)]
    expected = config.demand.referrals_per_year * 3
    assert np.mean(counts) == pytest.approx(expected, rel=0.01)
    # Poisson: the variance is the mean.
    assert np.var(counts) == pytest.approx(expected, rel=0.25)


def test_arrivals_are_sorted_and_inside_the_run(config):
    rng = np.random.default_rng(1)
    days = referral_days(monthly_rates(config.demand, config.run), config.run.days_per_month, rng, rng)
    assert np.all(np.diff(days) >= 0)
    assert days.min() >= 0 and days.max() < config.run.horizon_days


def test_august_dips_and_autumn_rises(config):
    rates = monthly_rates(config.demand, config.run)
    # The reported period starts in April (run.start_month=4), after 12 warm-up months.
    by_calendar = {(config.run.start_month - 1 + m) % 12 + 1: rates[12 + m] for m in range(12)}
    assert by_calendar[8] < by_calendar[7] and by_calendar[8] < by_calendar[9]
    assert by_calendar[10] > by_calendar[8] * 1.3


def test_trend_grows_demand_year_on_year(config):
    grown = dataclasses.replace(config.demand, trend_per_year=0.2)
    rates = monthly_rates(grown, config.run)
    assert rates[24:36].sum() / rates[12:24].sum() == pytest.approx(1.2, rel=1e-9)


def test_a_shock_adds_referrals_in_its_window_only(config):
    shocked = load_config(
        ["run.years=2", "run.warmup_years=1", "demand.shocks=[{start_month:3,months:2,extra_per_day:5}]"]
    )
    base = monthly_rates(config.demand, config.run)
    bulge = monthly_rates(shocked.demand, shocked.run)
    extra = bulge - base
    assert np.allclose(extra[12 + 3 : 12 + 5], 5.0)
    assert np.allclose(np.delete(extra, [15, 16]), 0.0)


def test_monthly_counts_from_a_csv(tmp_path):
    path = tmp_path / "referrals.csv"
    counts = [200 + 10 * m for m in range(12)]
    path.write_text("month,referrals\n" + "".join(f"2024-{m + 1:02d},{c}\n" for m, c in enumerate(counts)))
    config = load_config([f"demand.monthly_counts_csv={path}", "run.years=1", "run.warmup_years=0.5"])
    rates = monthly_rates(config.demand, config.run)
    per_month = rates * config.run.days_per_month
    assert np.allclose(per_month[6:], counts)
    # The warm-up months take the same calendar months of the file's first year.
    assert np.allclose(per_month[:6], counts[6:])


def test_a_csv_too_short_for_the_run_is_a_clear_error(tmp_path):
    path = tmp_path / "referrals.csv"
    path.write_text("month,referrals\n2024-01,100\n2024-02,120\n")
    config = load_config([f"demand.monthly_counts_csv={path}", "run.years=1"])
    with pytest.raises(ConfigError, match="demand.monthly_counts_csv.*has 2 months"):
        monthly_rates(config.demand, config.run)


def test_a_missing_csv_is_a_clear_error():
    with pytest.raises(ConfigError, match="demand.monthly_counts_csv"):
        load_config(["demand.monthly_counts_csv=/no/such/file.csv"])


@pytest.mark.parametrize("distribution", ["lognormal", "exponential"])
def test_workload_has_the_configured_mean(config, distribution):
    demand = dataclasses.replace(config.demand, workload_distribution=distribution)
    work = Workload(demand)
    rng = np.random.default_rng(3)
    draws = rng.standard_exponential(200_000) if distribution == "exponential" else rng.standard_normal(200_000)
    hours = np.array([work.hours(1, v) for v in draws])
    assert hours.mean() == pytest.approx(demand.hours_standard, rel=0.01)
    if distribution == "lognormal":
        assert hours.std() / hours.mean() == pytest.approx(demand.hours_cv, rel=0.03)
