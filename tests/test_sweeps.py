"""Sweeps through the joblib launcher, gathered, resumable and honest about failures; experiments compose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from commands import simservice

from simservice.app import scenario_configs
from simservice.hydra_config import compose, conf_dir, load_config
from simservice.query import query
from simservice.reporting.kpis import KPI_UNITS
from simservice.runs.sweep import gather, run_job

SMALL = ["run.replications=2", "run.years=1", "run.warmup_years=0.5"]


def sweep_args(tmp: Path, name: str, cache: str, *extra: str) -> list[str]:
    return ["-m", *SMALL, *extra, f"hydra.sweep.dir={tmp / name}", f"cache_dir={tmp / cache}"]


@pytest.fixture(scope="module")
def caps_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    done = simservice(
        *sweep_args(tmp, "first", "cache", "policy.caseload_cap=12,18", "hydra.launcher.n_jobs=2"), cwd=tmp
    )
    assert done.returncode == 0, done.stderr
    return tmp, done


@pytest.mark.slow
def test_sweep_gathers_one_complete_set_of_kpis_per_job(caps_sweep):
    tmp, done = caps_sweep
    table = pd.read_parquet(tmp / "first" / "sweep.parquet")
    assert sorted(table["job"].unique()) == [0, 1]
    assert (table["status"] == "ok").all()
    for _, rows in table.groupby("job"):
        assert sorted(rows["kpi"]) == sorted(KPI_UNITS)
    assert sorted(table["policy.caseload_cap"].unique()) == [12, 18]
    assert (tmp / "first" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "Sweep of 2 jobs gathered" in done.stdout


@pytest.mark.slow
def test_the_sweep_table_answers_sql(caps_sweep):
    tmp, _ = caps_sweep
    answer = query(
        tmp / "first",
        """SELECT "policy.caseload_cap" AS cap, mean FROM sweep WHERE kpi = 'unallocated_mean' ORDER BY cap""",
    )
    assert list(answer["cap"]) == [12, 18]
    assert answer["mean"].iloc[0] > answer["mean"].iloc[1]  # a lower cap leaves more children waiting


@pytest.mark.slow
def test_running_the_same_sweep_again_restores_finished_jobs(caps_sweep):
    tmp, _ = caps_sweep
    again = simservice(*sweep_args(tmp, "again", "cache", "policy.caseload_cap=12,18"), cwd=tmp)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("restored from") == 2
    first = pd.read_parquet(tmp / "first" / "sweep.parquet")
    pd.testing.assert_frame_equal(first, pd.read_parquet(tmp / "again" / "sweep.parquet"))


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_table(tmp_path):
    caps = "policy.caseload_cap=12,15,18"
    whole = simservice(*sweep_args(tmp_path, "whole", "cache_whole", caps, "hydra/launcher=basic"), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr

    args = [
        sys.executable,
        "-m",
        "simservice",
        *sweep_args(tmp_path, "killed", "cache", caps, "hydra/launcher=basic"),
    ]
    process = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    cache = tmp_path / "cache"
    deadline = time.time() + 120
    while time.time() < deadline and not [p for p in cache.glob("*") if not p.name.startswith(".")]:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "sweep.parquet").exists()
    finished = [p for p in cache.glob("*") if not p.name.startswith(".")]
    assert 1 <= len(finished) < 3

    resumed = simservice(*sweep_args(tmp_path, "resumed", "cache", caps, "hydra/launcher=basic"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("restored from") == len(finished)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "whole" / "sweep.parquet"), pd.read_parquet(tmp_path / "resumed" / "sweep.parquet")
    )


def test_a_failed_job_is_recorded_and_the_others_finish(tmp_path):
    # A file that is short of months passes the first check (it is a file) and fails in the job.
    short = tmp_path / "short.csv"
    short.write_text("month,referrals\n2024-04,100\n")
    sweep = tmp_path / "s"
    for number, value in enumerate([str(short), "null"]):
        cfg = compose([*SMALL, "run.progress=false", f"demand.monthly_counts_csv={value}", "cache_dir=null"])
        run_job(cfg, sweep / str(number))
    table = gather(sweep, expected=3)
    failed = table[table.job == 0]
    assert len(failed) == 1 and failed.status.iloc[0] == "failed"
    assert "has 1 months" in failed.error.iloc[0]
    ok = table[table.job == 1]
    assert (ok.status == "ok").all() and sorted(ok.kpi) == sorted(KPI_UNITS)
    never = table[table.job == 2]
    assert never.status.tolist() == ["failed"] and never.error.tolist() == ["did not finish"]


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml")))
def test_every_experiment_composes(experiment):
    """An experiment is a comparison whose scenarios all load, or a sweep whose every value loads."""
    cfg = compose([f"experiment={experiment}"])
    if cfg.scenarios:
        configs = scenario_configs(cfg)
        assert len(configs) >= 2
        return
    text = yaml.safe_load((conf_dir() / "experiment" / f"{experiment}.yaml").read_text())
    swept = text["hydra"]["sweeper"]["params"]
    assert swept, "an experiment without scenarios must sweep something"
    for setting, values in swept.items():
        for value in str(values).split(","):
            load_config([f"experiment={experiment}", f"{setting}={value}"])


def _side(scenario: str) -> str:
    return "base" if scenario == "usual" else "scenario"


@pytest.mark.slow
def test_a_comparison_from_the_command_line(tmp_path):
    done = simservice(
        "experiment=front_door_bulge", *SMALL, "run.progress=false", f"hydra.run.dir={tmp_path}", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert set(table.scenario) == {"bulge"} and set(table.base) == {"usual"}
    assert sorted(table.kpi) == sorted(KPI_UNITS)
    rows = table.set_index("kpi")
    assert rows.loc["referrals", "difference"] > 0
    for name in ("compare_unallocated.png", "compare_caseload.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    for scenario in ("usual", "bulge"):
        summary = pd.read_csv(tmp_path / "scenarios" / scenario / "summary.csv").set_index("kpi")
        assert list(summary.index) == list(KPI_UNITS)
        assert summary.loc["referrals", "mean"] == pytest.approx(rows.loc["referrals", f"{_side(scenario)}_mean"])
    assert "bulge - usual" in done.stdout
