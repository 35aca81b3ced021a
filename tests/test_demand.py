"""Demand: volume, seasonality, trend, shocks and a user's own monthly counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simservice.config import ConfigError
from simservice.hydra_config import load_config
from simservice.model.demand import Workload, monthly_rates, referral_days
from simservice.runs.replications import run_scenario


@pytest.fixture(scope="module")
def config():
    return load_config(["run.years=2", "run.warmup_years=1", "demand.counts_are=new"])


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
        [
            "run.years=2",
            "run.warmup_years=1",
            "demand.counts_are=new",
            "demand.shocks=[{start_month:3,months:2,extra_per_day:5}]",
        ]
    )
    base = monthly_rates(config.demand, config.run)
    bulge = monthly_rates(shocked.demand, shocked.run)
    extra = bulge - base
    assert np.allclose(extra[12 + 3 : 12 + 5], 5.0)
    assert np.allclose(np.delete(extra, [15, 16]), 0.0)


def _csv(path, rows, header="month,referrals"):
    path.write_text(header + "\n" + "".join(f"{row}\n" for row in rows))
    return path


def _months(counts, start=(2024, 4)):
    """Rows ``YYYY-MM,count`` from ``start`` on, one a month."""
    year, month = start
    rows = []
    for count in counts:
        rows.append(f"{year}-{month:02d},{count}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return rows


def test_monthly_counts_from_a_csv_are_referrals_from_outside_with_counts_are_new(tmp_path):
    counts = [200 + 10 * m for m in range(12)]
    path = _csv(tmp_path / "referrals.csv", _months(counts))
    config = load_config(
        [f"demand.monthly_counts_csv={path}", "demand.counts_are=new", "run.years=1", "run.warmup_years=0.5"]
    )
    per_month = monthly_rates(config.demand, config.run) * config.run.days_per_month
    assert np.allclose(per_month[6:], counts)
    # The warm-up months (October to March) take the same calendar months of the file's first year.
    assert np.allclose(per_month[:6], counts[6:])


def test_counts_are_all_referrals_by_default_so_re_referrals_are_drawn_within_them(tmp_path):
    counts = [217] * 12
    path = _csv(tmp_path / "referrals.csv", _months(counts))
    config = load_config([f"demand.monthly_counts_csv={path}", "run.years=1", "run.warmup_years=0"])
    assert config.demand.counts_are == "all"
    p = config.demand.rereferral_probability
    per_month = monthly_rates(config.demand, config.run) * config.run.days_per_month
    assert np.allclose(per_month, 217 * (1 - p))
    # referrals_per_year follows the same rule.
    typed = load_config(["demand.referrals_per_year=2604", "run.years=1", "run.warmup_years=0"])
    assert monthly_rates(typed.demand, typed.run).mean() * typed.run.days_per_year == pytest.approx(2604 * (1 - p))


@pytest.mark.slow
def test_a_run_on_a_file_of_all_referrals_refers_the_file_s_totals(tmp_path):
    """A council's published monthly counts (Southampton's 2,604 a year) come out as the run's yearly referrals."""
    counts = [int(c) for c in np.resize([230, 225, 210, 225, 200, 175, 215, 240, 235, 190, 225, 234], 24)]
    path = _csv(tmp_path / "referrals.csv", _months(counts))
    config = load_config(
        [f"demand.monthly_counts_csv={path}", "run.years=2", "run.replications=20", "run.jobs=2", "run.progress=false"]
    )
    summary = run_scenario(config).summary.set_index("kpi")
    yearly = sum(counts) / 2
    low, high = summary.loc["referrals", ["ci_low", "ci_high"]]
    # Re-referrals are drawn within the counts in a steady state; the model comes within 2 % of them.
    assert low <= yearly * 1.02 and high >= yearly * 0.98, (low, high, yearly)


BAD_FILES = {
    "no month column": ("count,referrals", ["2024-04,200"], "", "no month column"),
    "no referrals column": ("month,count", ["2024-04,200"], "", "no referrals column"),
    "a month that is not one": (None, ["2024-04,200", "banana,210"], "row 3", "'banana'"),
    "month 13": (None, ["2024-04,200", "2024-13,210"], "row 3", "YYYY-MM"),
    "a gap": (None, ["2024-04,200", "2024-06,210"], "row 3", "does not follow '2024-04'"),
    "a duplicate": (None, ["2024-04,200", "2024-04,210"], "row 3", "repeats '2024-04'"),
    "out of order": (None, ["2024-05,200", "2024-04,210"], "row 3", "does not follow"),
    "a negative count": (None, ["2024-04,200", "2024-05,-3"], "row 3", "referrals='-3'"),
    "text for a count": (None, ["2024-04,two hundred"], "row 2", "referrals='two hundred'"),
    "a blank count": (None, ["2024-04,200", "2024-05,"], "row 3", "referrals=''"),
    "a fraction of a referral": (None, ["2024-04,200.5"], "row 2", "whole number"),
    "no rows": (None, [], "", "no months"),
    "too short": (None, ["2024-04,200", "2024-05,210"], "", "has 2 months but run.years=1 needs 12"),
    "the wrong first month": (None, _months([200] * 12, start=(2024, 1)), "", "starts in 2024-01"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_malformed_csv_is_one_line_naming_the_file_and_row(tmp_path, case):
    header, rows, row, problem = BAD_FILES[case]
    path = _csv(tmp_path / "referrals.csv", rows, header or "month,referrals")
    config = load_config([f"demand.monthly_counts_csv={path}", "run.years=1"])
    with pytest.raises(ConfigError) as raised:
        monthly_rates(config.demand, config.run)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"demand.monthly_counts_csv='{path}'") and row in message and problem in message, message


def test_an_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "referrals.csv"
    path.write_text("")
    config = load_config([f"demand.monthly_counts_csv={path}", "run.years=1"])
    with pytest.raises(ConfigError, match="demand.monthly_counts_csv.*is empty"):
        monthly_rates(config.demand, config.run)


def test_a_longer_file_is_cut_at_the_end_of_the_run(tmp_path):
    path = _csv(tmp_path / "referrals.csv", _months(range(100, 124)))
    config = load_config(
        [f"demand.monthly_counts_csv={path}", "demand.counts_are=new", "run.years=1", "run.warmup_years=0"]
    )
    per_month = monthly_rates(config.demand, config.run) * config.run.days_per_month
    assert np.allclose(per_month, range(100, 112))


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
