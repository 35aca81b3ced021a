"""A default that settles, a warm-up chosen by MSER-5, and replications chosen by precision (run.replications=auto)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from commands import simservice

from simservice.api import compare
from simservice.hydra_config import load_config
from simservice.reporting.kpis import HEADLINE_KPIS, KPI_UNITS
from simservice.reporting.warmup import mser5
from simservice.runs.replications import auto_stop, look_ahead, run_scenario

#: A small service that runs a replication in a few hundredths of a second: one team, a fixed staff, no cap
#: (so nobody waits long unallocated); auto's target is loosened so that it settles on about 15 replications.
TINY = [
    "run.years=1",
    "run.warmup_years=0",
    "demand.referrals_per_year=300",
    "service.teams=1",
    "workforce=fixed",
    "policy.caseload_cap=null",
    "run.progress=false",
]
AUTO = [*TINY, "run.replications=auto", "run.auto_half_width_share=0.5", "run.auto_max_replications=30"]


# -- MSER-5 ------------------------------------------------------------------------------------------


def test_mser5_cuts_a_transient_where_it_ends():
    rng = np.random.default_rng(1)
    series = rng.normal(0.0, 1.0, 2000)
    series[:100] += 5.0  # a start-up transient of 100 observations, then stationary noise
    assert mser5(series) == 100


def test_mser5_keeps_all_of_a_stationary_series():
    assert mser5(np.random.default_rng(0).normal(0.0, 1.0, 2000)) == 0
    assert mser5(np.full(500, 3.0)) == 0


def test_mser5_counts_in_observations_and_searches_only_the_first_half():
    ramp = np.r_[np.linspace(50.0, 0.0, 300), np.zeros(100)]  # never settles within the first half
    # 80 batches of 5: the search stops at the 40th batch, so the cut is the last one it may make.
    assert mser5(ramp) == 39 * 5
    # Given room, it cuts where the ramp ends.
    assert mser5(np.r_[np.linspace(50.0, 0.0, 300), np.zeros(1000)]) == 300


@pytest.mark.slow
def test_the_warmup_command_prints_its_table_and_draws_the_figure(tmp_path):
    out = tmp_path / "w"
    arguments = [*TINY, "--years", "1", "--replications", "2", "--out", str(out)]
    done = simservice(*arguments, cwd=tmp_path, module="simservice.warmup")
    assert done.returncode == 0, done.stderr
    for series in ("unallocated", "caseload_mean", "stress_mean"):
        assert series in done.stdout
    assert "recommended: run.warmup_years=" in done.stdout
    assert (tmp_path / "w" / "warmup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(tmp_path / "w" / "warmup.csv")
    assert list(table["series"]) == ["unallocated", "caseload_mean", "stress_mean"]
    # Whole months: run.warmup_years is a multiple of 1/12.
    assert np.allclose(table["warmup_years"] * 12, np.round(table["warmup_years"] * 12))


def test_the_warmup_command_refuses_a_bad_setting_in_one_line(tmp_path):
    done = simservice("policy.caseload_cap=0", cwd=tmp_path, module="simservice.warmup")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "policy.caseload_cap" in done.stderr


# -- run.replications=auto: the rule ------------------------------------------------------------------


def _tables(values: dict[str, list[float]], n: int) -> list[pd.DataFrame]:
    """A KPI table of ``n`` replications: every KPI 10.0 unless given."""
    table = pd.DataFrame({kpi: np.full(n, 10.0) for kpi in KPI_UNITS})
    for kpi, column in values.items():
        table[kpi] = column[:n]
    return [table]


def test_look_ahead_is_five_or_five_percent_past_a_hundred():
    assert look_ahead(5) == look_ahead(100) == 5
    assert look_ahead(200) == 10


def test_auto_stops_after_the_minimum_and_the_look_ahead_when_every_kpi_is_the_same_each_time():
    run = load_config(["run.replications=auto"]).run  # at least 5, target ±5 %, at most 100
    # Every KPI identical in every replication (0 included): a half-width of 0 is within any target.
    zeros = {kpi: [0.0] * 20 for kpi in HEADLINE_KPIS[:2]}
    assert auto_stop(_tables(zeros, 9), run) is None  # precise at 5, the look-ahead needs 10
    assert auto_stop(_tables(zeros, 10), run) == 10
    assert auto_stop(_tables(zeros, 14), run) == 10  # replications run ahead do not change the choice


def test_auto_stops_where_the_precision_returns_and_holds():
    run = load_config(["run.replications=auto"]).run
    # One KPI is 10 in every replication but the 7th, 15. With n replications its half-width is
    # t(n-1) x 5 / n against 5 % of a mean of 10 + 5 / n: precise up to 6, not from 7 to 20
    # (t(19) x 5 / 20 = 0.523 > 0.513), precise from 21 on (t(20) x 5 / 21 = 0.497 <= 0.512).
    outlier = [10.0] * 40
    outlier[6] = 15.0
    tables = _tables({"unallocated_mean": outlier}, 40)
    assert auto_stop(_tables({"unallocated_mean": outlier}, 25), run) is None
    assert auto_stop(tables, run) == 21 + 5


def test_auto_stops_at_its_maximum_when_a_kpi_never_settles():
    run = load_config(["run.replications=auto", "run.auto_max_replications=12"]).run
    noisy = list(np.tile([1.0, 100.0], 10))
    assert auto_stop(_tables({"stress_mean": noisy}, 11), run) is None
    assert auto_stop(_tables({"stress_mean": noisy}, 12), run) == 12


# -- run.replications=auto: the runs ------------------------------------------------------------------


def test_auto_gives_exactly_the_results_of_asking_for_that_many():
    auto = run_scenario(load_config(AUTO))
    n = auto.config.run.replications
    assert isinstance(n, int) and 10 <= n < 30, n
    assert auto.auto is not None and auto.auto.replications == n and not auto.auto.wider
    assert auto.auto.line() == f"auto: {n} replications, every headline KPI within ±50 % of its mean"
    fixed = run_scenario(load_config([*TINY, f"run.replications={n}"]))
    pd.testing.assert_frame_equal(auto.kpis, fixed.kpis)
    pd.testing.assert_frame_equal(auto.summary, fixed.summary)


@pytest.mark.slow
def test_auto_in_parallel_gives_what_it_gives_serially():
    serial = run_scenario(load_config([*AUTO, "run.jobs=1"]))
    parallel = run_scenario(load_config([*AUTO, "run.jobs=2"]))
    assert parallel.config.run.replications == serial.config.run.replications
    pd.testing.assert_frame_equal(parallel.kpis, serial.kpis)


def test_auto_at_its_maximum_says_which_kpis_are_still_wider():
    results = run_scenario(load_config([*TINY, "run.replications=auto", "run.auto_max_replications=6"]))
    assert results.config.run.replications == 6
    assert results.auto.wider and set(results.auto.wider) <= set(HEADLINE_KPIS)
    line = results.auto.line()
    assert "6 replications" in line and "still wider than ±5 % of its mean" in line
    assert all(kpi in line for kpi in results.auto.wider)


@pytest.mark.slow
def test_auto_in_a_comparison_gives_every_scenario_the_same_number():
    comparison = compare({"base": [], "busier": ["demand.referrals_per_year=360"]}, common=AUTO, progress=False)
    numbers = {name: r.config.run.replications for name, r in comparison.results.items()}
    assert len(set(numbers.values())) == 1, numbers
    n = numbers["base"]
    # Paired: replication k of each scenario is the same replication k as run alone.
    alone = run_scenario(load_config([*TINY, "demand.referrals_per_year=360", f"run.replications={n}"]))
    pd.testing.assert_frame_equal(comparison.results["busier"].kpis, alone.kpis)
    from scipy import stats  # here, not at the top: the default test run need not import SciPy

    for result in comparison.results.values():
        kpis = result.kpis[list(HEADLINE_KPIS)]
        half = stats.t.ppf(0.975, n - 1) * kpis.std(ddof=1) / np.sqrt(n)
        assert (half <= 0.5 * kpis.mean().abs() + 1e-12).all()


@pytest.mark.slow
def test_an_auto_run_says_how_many_it_took_and_writes_it_down(tmp_path):
    done = simservice(*AUTO, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    precision = pd.read_csv(tmp_path / "run" / "precision.csv")
    n = int(precision["replications"].iloc[0])
    assert f"auto: {n} replications, every headline KPI within ±50 % of its mean" in done.stdout
    assert list(precision["kpi"]) == list(HEADLINE_KPIS) and precision["within"].all() and precision["auto"].all()
    assert len(pd.read_csv(tmp_path / "run" / "kpis_by_replication.csv")) == n


@pytest.mark.parametrize(
    "value", ["banana", pytest.param("0", marks=pytest.mark.slow), pytest.param("2.5", marks=pytest.mark.slow)]
)
def test_a_bad_number_of_replications_is_one_line(tmp_path, value):
    done = simservice(*TINY, f"run.replications={value}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("simservice: error: run.replications=")
    assert "must be a whole number from 1 to 10,000 or auto" in lines[0] and value in lines[0]
    assert not (tmp_path / "run" / "summary.csv").exists()


def test_the_budget_and_the_cache_key_read_auto_as_its_maximum_and_as_a_word():
    from simservice.runs.budget import output_bytes
    from simservice.runs.cache import job_key

    auto = load_config(["run.replications=auto", "run.auto_max_replications=40"])
    forty = load_config(["run.replications=40"])
    assert output_bytes(auto) == output_bytes(forty)
    assert job_key(auto) != job_key(forty)


# -- the default settles --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_default_settles_over_its_reported_years():
    """Per replication, the yearly means' slope over the reported years; their mean is 0 within its 95 % interval."""
    from scipy import stats  # here, not at the top: the default test run need not import SciPy

    results = run_scenario(load_config(["run.replications=30", "run.jobs=2", "run.progress=false"]))
    reported = results.daily[~results.daily["warmup"]]
    year = np.floor(reported["year"]).astype(int)
    for column in ("unallocated", "caseload_mean", "stress_mean"):
        yearly = reported.groupby(["replication", year])[column].mean().unstack()
        assert yearly.shape == (30, round(results.config.run.years))
        slopes = [np.polyfit(yearly.columns.to_numpy(float), row, 1)[0] for row in yearly.to_numpy()]
        test = stats.ttest_1samp(slopes, 0.0)
        assert test.pvalue > 0.05, f"{column} drifts: mean slope {np.mean(slopes):+.4f} a year, p = {test.pvalue:.3f}"
