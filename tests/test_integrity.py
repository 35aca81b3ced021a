"""Results that can be trusted: no silent loss, no stale or edited cache, no escape from the run folder."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from commands import simservice

from simservice.app import check_overrides, scenario_configs
from simservice.config import ConfigError
from simservice.hydra_config import compose, load_config
from simservice.query import query
from simservice.reporting.outputs import OWNER, claim, claim_new, clean_abandoned_staging
from simservice.runs.cache import MANIFEST, SUMMARY, job_key, restore, store
from simservice.runs.sweep import gather, run_job, sweep_figure

SMALL = ["run.replications=2", "run.years=1", "run.warmup_years=0.5", "run.progress=false"]


def one_line(done: subprocess.CompletedProcess) -> str:
    """The single line of a refusal: non-zero exit, no traceback."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- 1. a sweep over a documented null writes its table and its figure ----------------------------


@pytest.mark.slow
def test_a_sweep_over_null_writes_its_table_and_figure(tmp_path):
    done = simservice(
        "-m", *SMALL, "run.replications=1", "policy.caseload_cap=null,12", f"hydra.sweep.dir={tmp_path / 's'}",
        "cache_dir=null", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(tmp_path / "s" / "sweep.parquet")
    assert (table.status == "ok").all() and table.job.nunique() == 2
    assert table["policy.caseload_cap"].isna().any()
    assert (tmp_path / "s" / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_the_sweep_figure_draws_nulls_beside_numbers():
    rows = [
        {"job": j, "status": "ok", "error": "", "kpi": "unallocated_mean", "mean": m, "ci_low": m - 1, "ci_high": m + 1}
        for j, m in enumerate([5.0, 7.0, 9.0])
    ]
    table = pd.DataFrame(rows).assign(**{"policy.caseload_cap": [None, 12, 18], "service.triage_staff": [2, None, 2]})
    table["unit"] = "cases"
    fig = sweep_figure(table, "unallocated_mean")
    labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert "null" in labels


def test_the_sweep_figure_ticks_each_value_swept():
    """A planner reads the caps swept (12, 15, 18) off the axis, not 12.5, 13.0 ... between them."""
    rows = [
        {"job": j, "status": "ok", "error": "", "kpi": "unallocated_mean", "mean": m, "ci_low": m - 1, "ci_high": m + 1}
        for j, m in enumerate([5.0, 7.0, 9.0])
    ]
    table = pd.DataFrame(rows).assign(**{"policy.caseload_cap": [12, 15, 18]}, unit="cases")
    axis = sweep_figure(table, "unallocated_mean").axes[0]
    assert list(axis.get_xticks()) == [12, 15, 18]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == ["12", "15", "18"]


# -- 2. the cache key covers every input file's content ---------------------------------------------


def counts_file(path: Path, per_month: int) -> Path:
    months = [f"{2024 + (m + 3) // 12}-{(m + 3) % 12 + 1:02d}" for m in range(24)]  # April 2024 on
    path.write_text("month,referrals\n" + "".join(f"{month},{per_month}\n" for month in months))
    return path


def test_an_edited_input_file_changes_the_cache_key(tmp_path):
    counts = counts_file(tmp_path / "counts.csv", 200)
    config = load_config([*SMALL, f"demand.monthly_counts_csv={counts}"])
    before = job_key(config)
    assert job_key(config) == before
    counts_file(counts, 800)
    assert job_key(config) != before
    changed = load_config([*SMALL, f"changes=[{{month:3,setting:demand.monthly_counts_csv,value:'{counts}'}}]"])
    key = job_key(changed)
    counts_file(counts, 200)
    assert job_key(changed) != key


# -- 3. the cache keeps private, checked copies ------------------------------------------------------


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory):
    """One job run through a sweep job's code, its outputs stored in a cache."""
    tmp = tmp_path_factory.mktemp("job")
    cfg = compose([*SMALL, "run.replications=1", f"cache_dir={tmp / 'cache'}"])
    run_job(cfg, tmp / "out")
    entry = next(p for p in (tmp / "cache").iterdir() if not p.name.startswith("."))
    return tmp, entry


def fresh_cache(finished_job, tmp_path) -> Path:
    """A copy of the finished job's cache entry to damage."""
    _, entry = finished_job
    copy = tmp_path / "cache" / entry.name
    copy.mkdir(parents=True)
    for item in entry.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    return copy


@pytest.mark.slow
def test_a_sound_entry_is_restored_whole(finished_job, tmp_path):
    entry = fresh_cache(finished_job, tmp_path)
    assert restore(entry.parent, entry.name, tmp_path / "out")
    original, _ = finished_job
    assert (tmp_path / "out" / SUMMARY).read_bytes() == (original / "out" / SUMMARY).read_bytes()


@pytest.mark.parametrize(
    "damage",
    ["edit summary", "empty summary", "nan summary", "delete cases", "garbage cases", "symlink", "manifest"],
)
def test_a_damaged_entry_is_discarded_and_recomputed(finished_job, tmp_path, capsys, damage):
    entry = fresh_cache(finished_job, tmp_path)
    summary = entry / SUMMARY
    if damage == "edit summary":
        summary.write_text(summary.read_text().replace("cases", "children", 1))
    elif damage == "empty summary":
        summary.write_text("")
    elif damage == "nan summary":
        table = pd.read_csv(summary)
        table["mean"] = float("nan")
        table.to_csv(summary, index=False)
    elif damage == "delete cases":
        (entry / "cases.parquet").unlink()
    elif damage == "garbage cases":
        (entry / "cases.parquet").write_bytes(b"not a parquet file")
    elif damage == "symlink":
        (entry / "cases.parquet").unlink()
        (entry / "cases.parquet").symlink_to(tmp_path)
    else:
        (entry / MANIFEST).write_text("{}")
    assert not restore(entry.parent, entry.name, tmp_path / "out")
    assert not entry.exists()
    assert "damaged" in capsys.readouterr().err
    assert not (tmp_path / "out" / SUMMARY).exists()


def test_files_planted_in_an_entry_are_not_restored(finished_job, tmp_path):
    entry = fresh_cache(finished_job, tmp_path)
    (entry / ".hydra").mkdir()
    (entry / ".hydra" / "overrides.yaml").write_text("- policy.caseload_cap=99\n")
    (entry / "linked").symlink_to(Path("/etc"))
    assert restore(entry.parent, entry.name, tmp_path / "out")
    assert not (tmp_path / "out" / ".hydra").exists() and not (tmp_path / "out" / "linked").exists()


def test_an_edit_to_an_output_never_reaches_the_cache(finished_job):
    tmp, entry = finished_job
    out_summary = tmp / "out" / SUMMARY
    assert os.stat(out_summary).st_ino != os.stat(entry / SUMMARY).st_ino  # a copy, not a link
    before = (entry / SUMMARY).read_bytes()
    out_summary.write_text("kpi,mean\nedited,1\n")
    assert (entry / SUMMARY).read_bytes() == before
    store(entry.parent, entry.name, tmp / "out", [SUMMARY])  # storing again keeps the sound entry
    assert (entry / SUMMARY).read_bytes() == before
    manifest = json.loads((entry / MANIFEST).read_text())
    assert SUMMARY in manifest["files"]


@pytest.mark.slow
def test_an_edited_output_fails_its_job_in_the_table(tmp_path):
    cfg = compose([*SMALL, "run.replications=1", "cache_dir=null"])
    run_job(cfg, tmp_path / "0")
    assert gather(tmp_path).status.tolist()[0] == "ok"
    summary = tmp_path / "0" / SUMMARY
    summary.write_text(summary.read_text().replace("cases", "children", 1))
    table = gather(tmp_path)
    assert table.status.tolist() == ["failed"] and "changed" in table.error.iloc[0]


# -- 4 and 5. each run owns its folder ------------------------------------------------------------------


@pytest.mark.slow
def test_two_sweeps_into_one_folder_do_not_mix(tmp_path):
    folder = tmp_path / "s"
    first = simservice("-m", *SMALL, "run.replications=1", "policy.caseload_cap=12", f"hydra.sweep.dir={folder}",
                       "cache_dir=null", cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    table = pd.read_parquet(folder / "sweep.parquet")
    second = simservice("-m", *SMALL, "policy.caseload_cap=15", f"hydra.sweep.dir={folder}", cwd=tmp_path)
    line = one_line(second)
    assert "hydra.sweep.dir" in line and "another run" in line
    pd.testing.assert_frame_equal(table, pd.read_parquet(folder / "sweep.parquet"))


def test_a_run_into_a_used_folder_is_refused_and_leaves_it_alone(tmp_path):
    (tmp_path / "summary.csv").write_text("kpi,mean\nold,1\n")
    done = simservice(*SMALL, f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert "hydra.run.dir" in one_line(done)
    assert (tmp_path / "summary.csv").read_text() == "kpi,mean\nold,1\n"
    assert not (tmp_path / ".hydra").exists()


def test_one_folder_is_claimed_once(tmp_path):
    base = tmp_path / "outputs" / "2026-11-24" / "10-00-00"
    folders = [claim_new(base, "test") for _ in range(3)]
    assert len(set(folders)) == 3 and all((f / OWNER).is_file() for f in folders)
    assert not claim(folders[0], "again")


def test_two_commands_started_in_one_second_get_two_folders(tmp_path, monkeypatch):
    from datetime import datetime

    from simservice import app

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 24, 10, 0, 0)

    monkeypatch.setattr(app, "datetime", Frozen)
    monkeypatch.chdir(tmp_path)
    first, second = (app.own_folder([], False, f"command {i}") for i in range(2))
    assert first.folder != second.folder and first.folder.parent == second.folder.parent
    assert first.made == (tmp_path / "outputs").resolve()  # the first made the whole path
    assert second.made == second.resolved  # the second only its own folder
    assert [p.name for p in sorted(first.folder.parent.iterdir())] == ["10-00-00", "10-00-00-2"]


@pytest.mark.slow
def test_two_commands_at_once_get_two_folders(tmp_path):
    args = [sys.executable, "-m", "simservice", *SMALL, "run.replications=1", "run.years=0.5"]
    processes = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    summaries = sorted((tmp_path / "outputs").glob("*/*/summary.csv"))
    assert len(summaries) == 2
    owners = [(s.parent / OWNER).read_text() for s in summaries]
    assert owners[0] != owners[1]


# -- 6. names that become paths ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["/tmp/escape", "../x", "..", ".hidden", "a/b", "a b"])
def test_a_path_like_scenario_name_is_refused(name):
    cfg = compose(SMALL)
    cfg.scenarios = {name: {}, "b": {}}  # as an experiment file in YAML can name it
    with pytest.raises(ConfigError) as error:
        scenario_configs(cfg)
    assert error.value.setting == "scenarios" and "not a path" in str(error.value)


def test_a_path_like_scenario_on_the_command_line_writes_nothing(tmp_path):
    experiment = tmp_path / "conf" / "experiment"
    experiment.mkdir(parents=True)
    (experiment / "escape.yaml").write_text("# @package _global_\nscenarios:\n  ../escape: {}\n  b: {}\n")
    done = simservice(*SMALL, "experiment=escape", f"hydra.run.dir={tmp_path / 'run'}",
                      "--config-dir", str(tmp_path / "conf"), cwd=tmp_path)  # fmt: skip
    assert "scenarios" in one_line(done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]


def test_a_path_like_experiment_is_refused():
    assert "experiment" in check_overrides(["experiment=../service/southampton"])


def test_scenarios_written_on_the_command_line():
    configs = scenario_configs(compose([*SMALL, "scenarios={a:{},b:{service:{teams:3}}}"]))
    assert [c.service.teams for c in configs.values()] == [4, 3]


@pytest.mark.parametrize(("setting", "value"), [("seed", 7), ("replications", 3), ("years", 2)])
def test_a_scenario_may_not_unpair_itself(setting, value):
    with pytest.raises(ConfigError) as error:
        scenario_configs(compose([*SMALL, f"scenarios={{a:{{}},b:{{run:{{{setting}:{value}}}}}}}"]))
    assert error.value.setting == f"scenarios.b.run.{setting}"


# -- 7. the query tool reads its table and nothing else --------------------------------------------


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("it's a sweep")  # an apostrophe in the path
    pd.DataFrame({"job": [0, 1], "kpi": ["x", "x"], "mean": [1.0, 2.0]}).to_parquet(folder / "sweep.parquet")
    return folder


def test_the_query_tool_answers_from_a_folder_with_an_apostrophe(gathered):
    assert query(gathered, "SELECT sum(mean) AS total FROM sweep")["total"].iloc[0] == 3.0


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{out}'",
        "SELECT * FROM read_csv('/etc/hostname')",
        "INSTALL httpfs",
        "ATTACH '{out}' AS other",
        "SET enable_external_access = true",
        "DROP TABLE sweep",
    ],
)
def test_the_query_tool_cannot_touch_files_or_change_the_table(gathered, tmp_path, sql):
    out = tmp_path / "written.csv"
    done = subprocess.run(
        [sys.executable, "-m", "simservice.query", str(gathered), sql.format(out=out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not out.exists()
    assert query(gathered, "SELECT count(*) AS n FROM sweep")["n"].iloc[0] == 2


# -- 8. infinite, undefined and absurd values -----------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ("demand.hours_cv=inf", "demand.hours_cv"),
        ("demand.hours_cv=nan", "demand.hours_cv"),
        ("demand.referrals_per_year=inf", "demand.referrals_per_year"),
        ("demand.referrals_per_year=1e12", "demand.referrals_per_year"),
        ("run.years=1e9", "run.years"),
        ("service.teams=100000", "service.teams"),
        ("run.days_per_year=1000000", "run.days_per_year"),
        ("demand.shocks=[{start_month:0,months:1,extra_per_day:1e7}]", "demand.shocks[0].extra_per_day"),
        ("workforce.leaving_per_year_agency=-inf", "workforce.leaving_per_year_agency"),
        ("hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs"),
        ("run.replications=10000", "run.replications"),  # fits no machine this model runs on
    ],
)
def test_infinite_and_absurd_values_are_refused(override, setting):
    problem = check_overrides([*SMALL, override])
    assert problem is not None and problem.startswith(setting), problem


def test_an_absurd_value_on_the_command_line_is_one_line(tmp_path):
    done = simservice(*SMALL, "run.replications=10000", "run.years=50", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert "GB of memory" in one_line(done)
    assert not (tmp_path / "r").exists()


# -- 9. tracebacks where a line belongs -------------------------------------------------------------------


def test_a_config_error_crosses_process_boundaries():
    error = pickle.loads(pickle.dumps(ConfigError("demand.monthly_counts_csv", "f.csv", "must be a CSV")))
    assert str(error) == "demand.monthly_counts_csv='f.csv': must be a CSV"


def test_a_config_error_in_a_worker_process_arrives_whole(tmp_path):
    from simservice.runs.replications import run_scenario

    short = counts_file(tmp_path / "short.csv", 100)
    config = load_config([*SMALL, "run.jobs=2", f"demand.monthly_counts_csv={short}", "run.years=3"])
    with pytest.raises(ConfigError) as error:  # the file has 24 months, the run needs 36: found in the workers
        run_scenario(config, progress=False)
    assert error.value.setting == "demand.monthly_counts_csv"


def test_a_bad_counts_file_under_parallel_replications_is_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("month,referrals\n2024-01,lots\n")
    done = simservice(*SMALL, "run.jobs=2", f"demand.monthly_counts_csv={bad}", f"hydra.run.dir={tmp_path / 'r'}",
                      cwd=tmp_path)  # fmt: skip
    assert "demand.monthly_counts_csv" in one_line(done)


def mounted(folder: Path, options: str):
    """A small file system mounted at ``folder``; the test is skipped where mounting is not allowed."""
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("mounting a small file system is not allowed here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB disk: too small for a run's files."""
    yield from mounted(tmp_path / "disk", "size=2m")


@pytest.fixture
def read_only_disk(tmp_path):
    """A disk with room, that nobody may write to."""
    yield from mounted(tmp_path / "disk", "size=64m,ro")


def test_a_full_disk_is_one_line_and_no_summary(small_disk, tmp_path):
    out = small_disk / "run"
    done = simservice(*SMALL, f"hydra.run.dir={out}", cwd=tmp_path)
    assert "No space left" in one_line(done)
    assert not (out / SUMMARY).exists() and not list(out.glob(".partial-*"))


@pytest.mark.slow
def test_a_disk_that_fills_while_writing_is_one_line_and_no_summary(small_disk, tmp_path, monkeypatch):
    from simservice.runs import budget

    monkeypatch.setattr(budget, "FILE_BYTES_FIXED", 0)  # let the run past the first check of free space
    monkeypatch.setattr(budget, "FILE_BYTES_PER_CASE", 0)
    monkeypatch.setattr(budget, "FILE_BYTES_PER_DAY", 0)
    from simservice.app import cli

    monkeypatch.setattr(sys, "argv", ["simservice"])  # cli() sets it for Hydra; put it back afterwards
    with pytest.raises(SystemExit) as exit_code:
        cli([*SMALL, "run.replications=8", f"hydra.run.dir={small_disk / 'run'}"])
    assert exit_code.value.code == 1
    assert not (small_disk / "run" / SUMMARY).exists() and not list((small_disk / "run").glob(".partial-*"))


def test_a_read_only_folder_is_one_line(read_only_disk, tmp_path):
    done = simservice(*SMALL, f"hydra.run.dir={read_only_disk / 'run'}", cwd=tmp_path)
    assert "Read-only" in one_line(done)


@pytest.mark.slow
def test_a_read_only_cache_keeps_the_jobs_ok(read_only_disk, tmp_path):
    done = simservice("-m", *SMALL, "run.replications=1", f"cache_dir={read_only_disk / 'cache'}",
                      f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "could not be kept" in done.stderr
    assert (pd.read_parquet(tmp_path / "s" / "sweep.parquet").status == "ok").all()


def interrupt(
    args: list[str], cwd: Path, after: float, ready: Path | None = None, command: list[str] | None = None
) -> subprocess.CompletedProcess:
    """Press Ctrl-C on a command ``after`` seconds (after ``ready`` appears, if given)."""
    process = subprocess.Popen(
        [*(command or [sys.executable, "-m", "simservice"]), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as at a terminal, even under a shell's &
    )
    deadline = time.time() + 120
    while ready is not None and not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(after)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    started = tmp_path / "started"  # the interpreter has started and simservice's own code runs
    command = [sys.executable, "-c", f"open({str(started)!r}, 'w'); from simservice.__main__ import main; main()"]
    done = interrupt([*SMALL, f"hydra.run.dir={tmp_path / 'r'}"], tmp_path, 0.3, started, command)
    assert done.returncode == 130
    assert "interrupted" in one_line(done)


@pytest.mark.slow
def test_ctrl_c_during_a_sweep_is_one_line_and_no_table(tmp_path):
    sweep = tmp_path / "s"
    args = ["-m", *SMALL, "run.replications=20", "policy.caseload_cap=12,15,18,21", f"hydra.sweep.dir={sweep}",
            "cache_dir=null"]  # fmt: skip
    done = interrupt(args, tmp_path, after=1.0, ready=sweep / "0")
    assert done.returncode == 130
    assert "interrupted" in one_line(done)
    assert not (sweep / "sweep.parquet").exists()


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_whose_jobs_run_in_this_process(tmp_path):
    sweep = tmp_path / "s"
    args = ["-m", *SMALL, "run.replications=20", "policy.caseload_cap=12,15,18,21", f"hydra.sweep.dir={sweep}",
            "hydra/launcher=basic", "cache_dir=null"]  # fmt: skip
    done = interrupt(args, tmp_path, after=1.0, ready=sweep / "0")
    assert done.returncode == 130 and "interrupted" in one_line(done)
    assert not (sweep / "1").exists()  # the next job never started


# -- 10. staging folders of killed runs are cleaned up ------------------------------------------------


def test_staging_of_killed_runs_is_removed_and_of_live_runs_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    run = tmp_path / "outputs" / "2026-11-24" / "10-00-00"
    killed = run / f".partial-{host}-{dead.pid}-abc"
    live = run / f".partial-{host}-{os.getpid()}-def"
    other_host = run / f".partial-elsewhere-{dead.pid}-ghi"
    for folder in (killed, live, other_host):
        folder.mkdir(parents=True)
    assert clean_abandoned_staging([tmp_path / "outputs"]) == 1
    assert not killed.exists() and live.exists() and other_host.exists()


def test_the_api_will_not_write_into_another_runs_folder(tmp_path):
    from simservice import api

    (tmp_path / "summary.csv").write_text("kpi,mean\nold,1\n")
    with pytest.raises(FileExistsError):
        api.run(SMALL, progress=False, out_dir=tmp_path)
    assert (tmp_path / "summary.csv").read_text() == "kpi,mean\nold,1\n"


# -- what a careful user tried next ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["hydra.run.dir=out/${now:%Y}"], "hydra.run.dir"),
        (["-m", "hydra.sweep.dir=out/${run.seed}"], "hydra.sweep.dir"),
        (["hydra.run.dir=null"], "hydra.run.dir"),
        (["hydra.sweep.subdir=../escape${hydra.job.num}"], "hydra.sweep.subdir"),
        (["hydra.output_subdir=../../outside"], "hydra.output_subdir"),
        (["hydra.job.chdir=true"], "hydra.job.chdir"),
        (["hydra.job_logging.handlers.file.filename=/tmp/elsewhere.log"], "hydra.job_logging"),
        (["hydra.launcher.n_jobs=1,0"], "hydra.launcher.n_jobs=0"),
    ],
)
def test_hydra_settings_that_move_files_are_refused(overrides, named):
    problem = check_overrides([o for o in overrides if o != "-m"], multirun="-m" in overrides)
    assert problem is not None and problem.startswith(named), problem


def test_the_last_folder_named_is_the_one_claimed(tmp_path):
    from simservice.app import Refused, own_folder

    used = tmp_path / "used"
    used.mkdir()
    (used / "summary.csv").write_text("old")
    with pytest.raises(Refused):
        own_folder([f"hydra.run.dir={tmp_path / 'fresh'}", f"hydra.run.dir={used}"], False, "test")


def test_an_experiment_from_a_config_dir_of_ones_own(tmp_path):
    experiment = tmp_path / "experiment"
    experiment.mkdir()
    (experiment / "three.yaml").write_text("# @package _global_\nservice:\n  teams: 3\n")
    assert check_overrides([*SMALL, "experiment=three"], config_dir=str(tmp_path)) is None
    assert "experiment" in check_overrides([*SMALL, "experiment=four"], config_dir=str(tmp_path))


def test_a_sweep_of_comparisons_is_refused_before_any_job():
    problem = check_overrides([*SMALL, "experiment=teams_4_to_3"], multirun=True)
    assert problem.startswith("scenarios") and "compare without -m" in problem


def test_a_bad_value_in_a_scenario_names_the_scenario():
    problem = check_overrides([*SMALL, "scenarios={a:{},b:{demand:{hours_cv:nan}}}"])
    assert problem.startswith("scenarios.b.demand.hours_cv")
    assert check_overrides([*SMALL, "scenarios={a:{},b:{scenarios:{c:{}}}}"]).startswith("scenarios.b.scenarios")


def test_the_memory_of_a_comparison_counts_every_scenario(monkeypatch):
    from simservice.runs import budget

    config = load_config(SMALL)
    one = budget.memory_needed([config])
    assert budget.memory_needed([config] * 4) > 3 * (one - budget.PROCESS_BYTES)
    monkeypatch.setattr(budget, "free_memory", lambda: 1.01 * budget.memory_needed([config] * 2))
    budget.memory_check([config] * 2)
    with pytest.raises(ConfigError) as error:
        budget.memory_check([config] * 4)
    assert "4 scenarios" in str(error.value)


def test_the_memory_check_names_what_to_change(monkeypatch):
    from simservice.runs import budget

    config = load_config(SMALL)
    monkeypatch.setattr(budget, "free_memory", lambda: 1.5 * budget.memory_needed([config]))
    with pytest.raises(ConfigError) as error:
        budget.memory_check([config], processes=8)
    assert error.value.setting == "hydra.launcher.n_jobs"
    posts = load_config([*SMALL, "service.teams=500", "service.workers_per_team=100"])
    assert budget.memory_needed([posts]) > budget.memory_needed([config]) + 500 * 100 * 100e3


def test_counts_in_a_file_have_a_limit_too(tmp_path):
    counts = counts_file(tmp_path / "counts.csv", 100)
    counts.write_text(counts.read_text().replace(",100\n", ",1e9\n", 1))
    problem = check_overrides([*SMALL, f"demand.monthly_counts_csv={counts}"])
    assert problem.startswith("demand.monthly_counts_csv") and "row 2" in problem


def test_a_manifest_that_leaves_out_a_file_is_damaged(finished_job, tmp_path, capsys):
    entry = fresh_cache(finished_job, tmp_path)
    manifest = json.loads((entry / MANIFEST).read_text())
    del manifest["files"]["cases.parquet"]
    (entry / "cases.parquet").unlink()
    (entry / MANIFEST).write_text(json.dumps(manifest))
    assert not restore(entry.parent, entry.name, tmp_path / "out")
    assert "damaged" in capsys.readouterr().err


@pytest.mark.slow
def test_a_restored_entry_that_was_tampered_with_is_not_ok(finished_job, tmp_path):
    """Through a sweep job: a damaged entry is run again, and the job is ok with fresh results."""
    _, entry = finished_job
    cache = tmp_path / "cache"
    copy = fresh_cache(finished_job, tmp_path)
    (copy / SUMMARY).write_text("kpi,mean,ci_low,ci_high,unit\nreferrals,1,1,1,per year\n")
    cfg = compose([*SMALL, "run.replications=1", f"cache_dir={cache}"])
    run_job(cfg, tmp_path / "sweep" / "0")
    table = gather(tmp_path / "sweep")
    assert (table.status == "ok").all()
    assert table.set_index("kpi").loc["referrals", "mean"] > 100
    assert json.loads((tmp_path / "sweep" / "0" / "job.json").read_text())["source"] == "ran"


def test_the_query_tool_says_when_sql_returns_no_table(gathered):
    done = subprocess.run(
        [sys.executable, "-m", "simservice.query", str(gathered), ";"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "no table" in one_line(done)


def test_an_all_failed_sweep_has_a_table_and_no_figure(tmp_path, capsys):
    from omegaconf import OmegaConf

    from simservice.runs.sweep import GatherSweep

    short = counts_file(tmp_path / "short.csv", 100)
    for number in range(2):
        cfg = compose([*SMALL, "run.years=3", f"demand.monthly_counts_csv={short}", "cache_dir=null"])
        run_job(cfg, tmp_path / "s" / str(number))
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "s")}, "sweeper": {"params": None},
                                         "overrides": {"task": ["policy.caseload_cap=12,18"]}}})  # fmt: skip
    with pytest.raises(SystemExit) as code:
        GatherSweep().on_multirun_end(config)
    assert code.value.code == 1
    assert (tmp_path / "s" / "sweep.parquet").exists() and not (tmp_path / "s" / "sweep.png").exists()
    err = capsys.readouterr().err
    assert "no job finished" in err and "job 0 failed" in err


def test_the_cache_key_reads_the_whole_package_the_model_included():
    from simservice.runs.cache import PACKAGE, code_files

    names = {path.relative_to(PACKAGE).as_posix() for path in code_files()}
    assert {"model/service.py", "model/pathway.py", "model/workforce.py", "reporting/kpis.py", "config.py"} <= names
