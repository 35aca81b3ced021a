"""The ``simservice`` command as a user types it: outputs, overrides, bad input and interruption."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from commands import simservice

from simservice.app import SWEEP_PARAMS_RULE
from simservice.reporting.kpis import KPI_UNITS

SMALL = ["run.replications=2", "run.years=1", "run.warmup_years=0.5", "run.progress=false"]
REQUIRED_KPIS = [
    "referrals",
    "assessments_completed",
    "unallocated_mean",
    "unallocated_peak",
    "days_to_allocation_median",
    "days_to_assessment_median",
    "days_to_assessment_p90",
    "within_45_days_pct",
    "caseload_mean",
    "caseload_p90",
]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    done = simservice(*SMALL, f"hydra.run.dir={out}", cwd=out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_run_writes_every_output(small_run):
    out, done = small_run
    for name in ("summary.csv", "kpis_by_replication.csv", "timeseries.csv", "cases.parquet"):
        assert (out / name).stat().st_size > 0, name
    for name in ("unallocated.png", "days_to_assessment.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not list(out.glob(".partial-*"))
    assert "within_45_days_pct" in done.stdout


def test_summary_has_every_kpi_with_an_interval(small_run):
    out, _ = small_run
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["kpi", "mean", "ci_low", "ci_high", "unit"]
    assert set(REQUIRED_KPIS) <= set(summary["kpi"])
    assert list(summary["kpi"]) == list(KPI_UNITS)
    # Each interval is the t-interval of the replications' values, clipped to what the KPI can be.
    kpis = pd.read_csv(out / "kpis_by_replication.csv")
    from scipy import stats  # here, not at the top: only this test needs SciPy's second of imports

    t = stats.t.ppf(0.975, len(kpis) - 1)
    for row in summary.itertuples():
        values = kpis[row.kpi].dropna()
        half = t * values.std(ddof=1) / len(values) ** 0.5
        assert row.mean == pytest.approx(values.mean(), nan_ok=True)
        assert row.ci_low == pytest.approx(max(values.mean() - half, 0.0), nan_ok=True), row.kpi
        high = values.mean() + half
        assert row.ci_high == pytest.approx(min(high, 100.0) if row.unit == "%" else high, nan_ok=True), row.kpi


def test_per_replication_series_and_case_files_agree(small_run):
    out, _ = small_run
    kpis = pd.read_csv(out / "kpis_by_replication.csv")
    series = pd.read_csv(out / "timeseries.csv")
    cases = pd.read_parquet(out / "cases.parquet")
    assert sorted(kpis["replication"]) == [0, 1]
    assert set(series["replication"]) == set(cases["replication"]) == {0, 1}
    # Referrals a day in the series add up to the referrals in the case records.
    reported = cases[~cases.starting_state]
    assert series["referrals"].sum() == len(reported)
    summary = pd.read_csv(out / "summary.csv").set_index("kpi")
    assert summary.loc["referrals", "mean"] == pytest.approx(kpis["referrals"].mean())


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        pytest.param("demand.referrals_per_year=-5", "demand.referrals_per_year", marks=pytest.mark.slow),
        ("policy.caseload_cap=0", "policy.caseload_cap"),
        ("policy.front_door_closure_share=1.5", "policy.front_door_closure_share"),
        pytest.param("demand.urgent_share=-0.1", "demand.urgent_share", marks=pytest.mark.slow),
        ("policy.no_such_setting=3", "policy.no_such_setting"),
        pytest.param("service.teams=four", "service.teams", marks=pytest.mark.slow),
        ("run.replications=2,0", "run.replications"),  # a sweep: every value is checked first
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, override, setting):
    args = [*SMALL, override, f"hydra.run.dir={tmp_path}", f"hydra.sweep.dir={tmp_path}"]
    done = simservice(*(["-m", *args] if "," in override else args), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    value = override.split("=", 1)[1].split(",")[-1]
    assert setting in lines[0] and value in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "summary.csv").exists()


def test_interrupted_run_leaves_no_summary(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simservice",
            "run.replications=200",
            "run.progress=false",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as at a terminal, even under a shell's &
    )
    deadline = time.time() + 60
    while not (tmp_path / ".hydra").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    assert not (tmp_path / "summary.csv").exists()


def test_failed_write_leaves_no_summary(tmp_path, monkeypatch):
    from simservice.api import run
    from simservice.reporting import figures

    results = run([*SMALL, "run.replications=1"], progress=False)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(figures, "days_to_assessment", broken)
    from simservice.reporting.outputs import write_outputs

    with pytest.raises(OSError):
        write_outputs(results, tmp_path)
    assert not (tmp_path / "summary.csv").exists()
    assert not list(tmp_path.glob(".partial-*"))


def test_a_single_run_is_composed_once(tmp_path, monkeypatch):
    """The checks' composition is the one the run uses; hydra.main would compose the config twice more."""
    from simservice import app

    composed = []

    def counted(*args, **kwargs):
        composed.append(args)
        return real(*args, **kwargs)

    def hydra_main():
        raise AssertionError("a single run went through hydra.main")

    real = app.compose
    monkeypatch.setattr(app, "compose", counted)
    monkeypatch.setattr(app, "main", hydra_main)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "run"
    app.cli([*SMALL, "run.replications=1", "--config-name=config", "service.teams=3", "hydra.job.name=mine",
             f"hydra.run.dir={folder}"])  # fmt: skip
    assert len(composed) == 1
    assert pd.read_csv(folder / "summary.csv")["kpi"].tolist() == list(KPI_UNITS)
    ran_on = (folder / ".hydra" / "config.yaml").read_text()
    assert "teams: 3" in ran_on and "replications: 1" in ran_on
    assert (folder / "mine.log").is_file() and "- hydra.job.name=mine" in (folder / ".hydra" / "hydra.yaml").read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["service.teams=3,4"],  # Hydra refuses a list of values without -m, in its own words
        ["hydra.verbose=true"],  # Hydra's own logging, set up as it composes
        ["+hydra.callbacks.mine._target_=hydra.experimental.callback.Callback"],  # a callback to build
        ["--config-dir=."],
    ],
)
def test_what_a_run_composed_once_cannot_do_goes_through_hydra_main(args, tmp_path, monkeypatch):
    from simservice import app

    through: list[list[str]] = []
    monkeypatch.setattr(app, "main", lambda: through.append(sys.argv[1:]))
    monkeypatch.setattr(sys, "argv", ["simservice"])
    monkeypatch.chdir(tmp_path)
    app.cli([*SMALL, *args])
    assert len(through) == 1 and set(args) <= set(through[0])


@pytest.mark.parametrize(
    "args, line",
    [
        (["--bogus"], "--bogus: not an option of simservice; simservice --help lists them"),
        (["--multirun=3"], "argument --multirun/-m: ignored explicit argument '3'"),
        (["--config-name", "config", "service.teams=0"], "service.teams=0: must be a whole number from 1 to 500"),
        # A value of the wrong type is worded by the setting's declared limits too, naming the setting.
        (["service.teams=abc"], "service.teams=abc: must be a whole number from 1 to 500"),
        (["demand.seasonality=3"], "demand.seasonality=3: each must be a number from 0 to 100"),
        (["demand.seasonality=[1,a]"], "demand.seasonality=[1,a]: each must be a number from 0 to 100"),
        (["run.progress=maybe"], "run.progress='maybe': must be true or false"),
        (
            ["scenarios={a:{},b:{service:{teams:abc}}}"],
            "scenarios.b={'service': {'teams': 'abc'}}: service.teams='abc': must be a whole number from 1 to 500",
        ),
        # ... and so is one inside a dated change: its month, or its value by the setting it changes.
        (
            ["changes=[{month:x,setting:service.teams,value:3}]"],
            "changes=[{month:x,setting:service.teams,value:3}]: month='x': must be a month of the reported run,"
            " a whole number from 0 (its first month)",
        ),
        (
            ["changes=[{month:3,setting:service.teams,value:abc}]"],
            "changes[0].value='abc': for service.teams: must be a whole number from 1 to 500",
        ),
        (  # not yes, as on the command line
            ["changes=[{month:3,setting:coping.agency_surge,value:yes}]"],
            "changes[0].value='yes': for coping.agency_surge: must be true or false",
        ),
        # A sweep's Hydra settings are checked before anything runs, and named.
        (["-m", "hydra.launcher.bogus=1"], "hydra.launcher.bogus=1: Key 'bogus' not in 'JobLibLauncherConf'"),
        (  # with another override that fails only beside it: both are named
            ["-m", "service.teams=3,4", "hydra/launcher=basic", "hydra.launcher.n_jobs=2"],
            "service.teams=3 hydra/launcher=basic hydra.launcher.n_jobs=2: Key 'n_jobs' not in 'BasicLauncherConf'",
        ),
        (
            ["-m", "hydra.sweeper.params={service.teams:abc}"],  # which Hydra cannot set: a traceback, it was
            f"hydra.sweeper.params: {SWEEP_PARAMS_RULE}",
        ),
    ],
)
def test_a_mistyped_flag_or_a_bad_setting_after_a_flag_is_one_line(args, line, tmp_path, monkeypatch, capsys):
    from simservice import app

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        app.cli(args)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"simservice: error: {line}"]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("cleared", ["hydra.sweeper.params=null", "hydra.sweeper.params={}"])
def test_a_sweep_may_clear_an_experiment_s_grid(cleared):
    """What Hydra can do with a sweep's grid on the command line, the checks let through: clear it."""
    from simservice.app import check_overrides

    sweep = ["experiment=caseload_caps", cleared, "policy.caseload_cap=12,15", "run.replications=1"]
    assert check_overrides(sweep, multirun=True) is None


@pytest.mark.parametrize(
    "folder, made",
    [
        ([], []),  # the command's own folder: outputs/<date>/<time>, and outputs/ it made for it
        (["hydra.run.dir=made/for/it"], []),
        (["hydra.run.dir=mine"], []),  # an empty folder of the user's own is kept, as it was
        (["hydra.run.dir=new/../mine"], ["new"]),  # ... however it is named (new/ is made on the way, and stays)
        (["hydra.run.dir=staged"], []),  # ... and so is one that holds only a killed run's staging folder
    ],
)
def test_a_command_refused_after_taking_a_folder_gives_back_what_it_made(folder, made, tmp_path, monkeypatch, capsys):
    """Hydra refuses a list of values without -m after the command has taken a folder for the run."""
    from simservice import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "staged" / ".partial-elsewhere-1-x").mkdir(parents=True)
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    with pytest.raises(SystemExit) as exit_:
        app.cli([*folder, "service.teams=3,4"])
    assert exit_.value.code == 2
    [said] = capsys.readouterr().err.splitlines()
    assert said.startswith("simservice: error: Ambiguous value for argument 'service.teams=3,4'"), said
    assert {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} == before | {Path(m) for m in made}


def test_giving_back_a_folder_that_cannot_be_removed_is_still_one_line(tmp_path, monkeypatch, capsys):
    """Another command writing into outputs/<date>/ as this one gives it back: what is there stays, no traceback."""
    from simservice import app

    monkeypatch.chdir(tmp_path)

    def busy(self):
        raise OSError(39, "Directory not empty", str(self))

    monkeypatch.setattr(Path, "rmdir", busy)
    with pytest.raises(SystemExit) as exit_:
        app.cli(["service.teams=3,4"])
    assert exit_.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_folder_that_cannot_be_taken_leaves_nothing(tmp_path, monkeypatch, capsys):
    from simservice import app

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        app.cli([*SMALL, f"hydra.run.dir=a/b/{'x' * 300}"])
    assert exit_.value.code == 1
    assert "File name too long" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("named", [True, False], ids=["named-folder", "default-folder"])
def test_a_run_composed_once_writes_what_hydra_main_writes(tmp_path, named):
    """The same files, byte for byte, as the run hydra.main makes (taken when --config-path is given)."""
    from simservice.hydra_config import conf_dir
    from simservice.reporting.outputs import OWNER

    args = [*SMALL, "run.replications=1", "policy.caseload_cap=15"]
    folders, outputs = {}, {}
    for way, flags in (("once", []), ("main", [f"--config-path={conf_dir()}"])):
        (tmp_path / way).mkdir()
        where = [f"hydra.run.dir=run-{way}"] if named else []
        done = simservice(*flags, *args, *where, cwd=tmp_path / way)
        assert done.returncode == 0, done.stderr
        folders[way] = Path(done.stdout.strip().splitlines()[-1].removeprefix("Results in "))
        outputs[way] = done.stdout.replace(str(folders[way]), "FOLDER")
    assert outputs["once"] == outputs["main"]

    def written(way: str, name: Path) -> bytes:
        text = (folders[way] / name).read_bytes()
        if name.name == "hydra.yaml":  # the folders, and the --config-path given to hydra.main
            for path in (folders[way], folders[way].relative_to(tmp_path / way), tmp_path / way):
                text = text.replace(str(path).encode(), b"FOLDER")
            text = text.replace(f"--config-path={conf_dir()}".encode(), b"")
        return text

    files = _files(folders["main"])
    assert files == _files(folders["once"])
    for name in files:
        if name.name != OWNER:  # (who made the folder: this process and command)
            assert written("once", name) == written("main", name), name


def _files(folder: Path) -> list[Path]:
    return sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file())


def test_console_script_is_installed_and_answers():
    script = Path(sys.executable).parent / "simservice"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "simservice: a simulator" in done.stdout and "experiment:" in done.stdout


def test_a_malformed_demand_file_is_one_line_and_nothing_is_written(tmp_path):
    counts = tmp_path / "referrals.csv"
    counts.write_text("month,referrals\n2024-04,200\n2024-05,banana\n")
    out = tmp_path / "run"
    done = simservice(*SMALL, f"demand.monthly_counts_csv={counts}", f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "row 3" in lines[0] and "banana" in lines[0], done.stderr
    assert not (out / "summary.csv").exists() and not list(out.glob("*.png"))


def test_the_run_s_figures_mark_its_dated_changes():
    from simservice.api import run
    from simservice.reporting import figures

    results = run([*SMALL, "run.replications=1", "changes=[{month:6,setting:service.teams,value:3}]"], progress=False)
    run_config = results.config.run
    for draw in (figures.unallocated_over_time, figures.workforce_over_time):
        fig = draw(results.daily, run_config, "title", [6])
        dotted = [line for ax in fig.axes for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert dotted and all(line.get_xdata()[0] == 0.5 for line in dotted)
        assert "dated change" in [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        plain = draw(results.daily, run_config, "title")
        assert not [line for ax in plain.axes for line in ax.get_lines() if line.get_linestyle() == ":"]


@pytest.mark.parametrize(
    ("module", "prog", "args"),
    [
        ("simservice.warmup", "python -m simservice.warmup", ["--nonsense"]),
        ("simservice.story", "python -m simservice.story", []),
        ("simservice.query", "python -m simservice.query", []),
        ("simservice.bench", "python -m simservice.bench", ["--repeats", "many"]),
        ("simservice.validate", "python -m simservice.validate", ["--year"]),
        ("simservice.web.serve", "simservice-app", ["--port", "x"]),
    ],
)
def test_every_command_s_mistyped_option_is_one_line_and_exit_2(module, prog, args, capsys):
    """Not argparse's usage and then the error: one line naming what was wrong, as a mistyped setting gets."""
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(args)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"{prog}: error: ") and error.count("\n") == 1, error
