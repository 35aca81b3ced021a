"""Sweeps: every job's summary gathered into one table, finished jobs never recomputed, failures reported.

Each job ends by writing ``job.json``: ``ok`` (ran, or restored from the cache and
verified: see ``cache.py``) or ``failed`` with its error. When the sweep ends
``GatherSweep`` writes ``sweep.parquet`` and ``sweep.csv`` first (one row per job
and KPI), then a figure of the chosen KPI, and exits non-zero naming any job that
failed or did not finish.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from simservice.config import ConfigError
from simservice.hydra_config import error_text, to_config
from simservice.reporting.kpis import KPI_UNITS
from simservice.reporting.outputs import publish, save_figure, staged, write_outputs
from simservice.runs.cache import SUMMARY, job_key, restore, sha256, store, summary_problem, warn, write_json
from simservice.runs.replications import run_scenario

STATUS = "job.json"
TABLE_COLUMNS = ["job", "status", "error", "kpi", "mean", "ci_low", "ci_high", "unit", "replications_used"]
PRECISION = "precision.csv"


def run_job(cfg: DictConfig, out: Path) -> None:
    """One job of a sweep: restored from the cache if it ran before; a failure is written down, not raised."""
    status: dict[str, Any]
    try:
        if cfg.scenarios:
            raise ConfigError("scenarios", list(cfg.scenarios), "a sweep runs single scenarios: compare without -m")
        named = HydraConfig.get().overrides.task if HydraConfig.initialized() else ()
        config = to_config(cfg, named)
        # One level of parallelism: the launcher runs jobs side by side, replications run in turn
        # (with run.replications=auto each job chooses its own number, one replication at a time).
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, jobs=1, progress=False))
        cache = Path(cfg.cache_dir) if cfg.cache_dir else None
        key = job_key(config)
        if cache is not None and restore(cache, key, out):
            source = f"restored from {cache / key}"
        else:
            written = write_outputs(run_scenario(config), out)
            source = "ran"
            if cache is not None:
                try:
                    store(cache, key, out, [path.name for path in written])
                except OSError as error:
                    warn(f"job {out.name}: its results are fine but could not be kept in {cache}: {error.strerror}")
        status = {"status": "ok", "source": source, "key": key, "summary_sha256": sha256(out / SUMMARY)}
        print(f"{out.name}: {source}")
    except KeyboardInterrupt:
        write_json(out / STATUS, {"status": "failed", "error": "interrupted"})
        if multiprocessing.parent_process() is None:
            raise  # jobs run in this process: Ctrl-C stops the sweep
        return  # a launcher's worker: the command itself reports the interruption
    except Exception as error:  # recorded for the gathered table; the other jobs go on
        message = str(error) if isinstance(error, ConfigError) else error_text(error)
        status = {"status": "failed", "error": f"{type(error).__name__}: {message}"}
        print(f"simservice: job {out.name} failed: {message}", file=sys.stderr)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / STATUS, status)
    except OSError as error:
        print(f"simservice: job {out.name}: cannot write {STATUS}: {error.strerror}", file=sys.stderr)


def job_status(job_dir: Path) -> tuple[str, str]:
    """``("ok", "")`` for a job that finished in this sweep with verified results, else ``("failed", why)``."""
    try:
        status = json.loads((job_dir / STATUS).read_text())
    except FileNotFoundError:
        return "failed", "did not finish"
    except (OSError, ValueError) as error:
        return "failed", f"{STATUS} is unreadable ({type(error).__name__})"
    if status.get("status") != "ok":
        return "failed", str(status.get("error", "failed"))
    summary = job_dir / SUMMARY
    if not summary.is_file() or sha256(summary) != status.get("summary_sha256"):
        return "failed", f"{SUMMARY} is missing or was changed after the job wrote it"
    problem = summary_problem(summary)
    return ("failed", problem) if problem else ("ok", "")


def count_jobs(params: Any, overrides: Sequence[str]) -> int:
    """Jobs Hydra's basic sweeper launches: one per combination of the sweep's values (a later value wins)."""
    arguments = [f"{key}={value}" for key, value in (params or {}).items()] + list(overrides)
    counts: dict[str, int] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        sweep = override.is_sweep_override()
        counts[override.get_key_element()] = len(list(override.sweep_string_iterator())) if sweep else 1
    total = 1
    for count in counts.values():
        total *= count
    return total


def expected_jobs(config: DictConfig) -> int | None:
    """How many jobs this sweep launched, from its own settings; None if they cannot be read."""
    try:
        return count_jobs(config.hydra.sweeper.get("params"), list(config.hydra.overrides.task))
    except Exception:
        return None


def _job_overrides(job_dir: Path) -> dict[str, Any]:
    path = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(path.read_text()) if path.exists() else []
    settings = {}
    for item in overrides or []:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra"):
            continue
        if "." not in key:  # a config group's choice (coping=off): a name, never a number or a truth value
            settings[key] = value.strip("'\"")
            continue
        try:
            settings[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            settings[key] = value
    return settings


def gather(sweep_dir: Path, expected: int | None = None) -> pd.DataFrame:
    """One row per job and KPI with the job's settings as columns; a failed job is one row with its error.

    With ``expected`` jobs, a job whose folder was never made is listed as not finished.
    """
    found = {int(p.name) for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()}
    numbers = sorted(found | set(range(expected or 0)))
    settings = {number: _job_overrides(Path(sweep_dir) / str(number)) for number in numbers}
    keys = sorted({key for values in settings.values() for key in values})
    swept = [k for k in keys if len({repr(values.get(k)) for values in settings.values()}) > 1] or keys
    tables = []
    for number in numbers:
        job = Path(sweep_dir) / str(number)
        status, error = job_status(job)
        if status == "ok":
            table = pd.read_csv(job / SUMMARY).assign(job=number, status="ok", error="")
            table["replications_used"] = _replications_used(job)
        else:
            table = pd.DataFrame([{"job": number, "status": "failed", "error": error, "kpi": None, "unit": None}])
        for key in swept:
            value = settings[number].get(key)
            mixed = len({type(values.get(key)) for values in settings.values()} - {type(None)}) > 1
            table[key] = str(value) if isinstance(value, list | dict) or (mixed and value is not None) else value
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["job", *swept, *TABLE_COLUMNS[1:]])
    table = pd.concat(tables, ignore_index=True)
    return table.reindex(columns=["job", *swept, *TABLE_COLUMNS[1:]])


def _replications_used(job_dir: Path) -> int | None:
    """The replications a job ran: its own number, or the one ``run.replications=auto`` chose."""
    try:
        return int(pd.read_csv(job_dir / PRECISION)["replications"].iloc[0])
    except Exception:
        return None


def _numeric(column: pd.Series) -> bool:
    """A setting plotted on a number line: numbers only, no nulls."""
    return pd.api.types.is_numeric_dtype(column) and not column.isna().any()


def _label(value: Any) -> str:
    return "null" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


#: Up to this many values of a swept number, each has its own tick on the sweep's figure.
MOST_TICKS = 12


def sweep_figure(table: pd.DataFrame, kpi: str, scenario: str = ""):
    """The chosen KPI over the swept settings: a line with intervals for one setting, a heat map for two."""
    from simservice.reporting.figures import new_figure

    ok = table[(table["status"] == "ok") & (table["kpi"] == kpi)]
    settings = [c for c in table.columns if c not in TABLE_COLUMNS]
    unit = KPI_UNITS.get(kpi, "")
    fig, ax = new_figure(figsize=(8, 4.5))
    numeric = [s for s in settings if _numeric(table[s])]
    if len(settings) == 2 and len(numeric) == 2:
        grid = ok.pivot_table(index=settings[0], columns=settings[1], values="mean")
        image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        ax.set_xlabel(settings[1])
        ax.set_ylabel(settings[0])
        for (i, j), value in pd.DataFrame(grid.to_numpy()).stack().items():
            light = image.norm(value) > 0.6  # viridis is light at its top: dark text there
            ax.text(
                j, i, f"{value:.3g}", ha="center", va="center", color="black" if light else "white", fontsize="small"
            )
        fig.colorbar(image, ax=ax, label=f"{kpi} ({unit})")
    elif settings:
        x = settings[0]
        groups = settings[1:]
        if x not in numeric:  # categories in the order the sweep gave them, nulls named
            order = list(dict.fromkeys(_label(v) for v in table[x]))
            ok = ok.assign(**{x: pd.Categorical([_label(v) for v in ok[x]], categories=order)})
        for label, rows in ok.groupby(groups, dropna=False, observed=True) if groups else [((), ok)]:
            rows = rows.sort_values(x)
            xs = rows[x] if x in numeric else rows[x].astype(str)
            error = [rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]]
            values = label if isinstance(label, tuple) else (label,)
            name = ", ".join(f"{g}={_label(v)}" for g, v in zip(groups, values, strict=True))
            ax.errorbar(xs, rows["mean"], yerr=error, marker="o", capsize=3, label=name or None)
        swept = sorted(set(ok[x].dropna())) if x in numeric else []
        if 0 < len(swept) <= MOST_TICKS:  # a tick at each value swept, not at values between (a cap of 12.5)
            ax.set_xticks(swept, [f"{v:g}" for v in swept])
        ax.set_xlabel(x)
        ax.set_ylabel(f"{kpi} ({unit}), mean and 95 % CI")
        positive = ok["mean"][ok["mean"] > 0]
        if len(positive) and positive.max() > 100 * positive.min():
            ax.set_yscale("symlog", linthresh=max(positive.min(), 1e-3))  # spans orders of magnitude
        if groups:
            ax.legend(frameon=False)
    jobs, done = table["job"].nunique(), ok["job"].nunique()
    counted = f"{jobs} jobs" if done == jobs else f"{done} of {jobs} jobs"
    ax.set_title(f"{scenario + ': ' if scenario else ''}{kpi} across a sweep of {counted}")
    return fig


class GatherSweep(Callback):
    """Hydra callback: when a multirun ends, gather every job into one table and report failed jobs.

    Hydra turns a callback's exceptions into warnings, so every way this can fail ends
    in ``SystemExit`` with one line: the exit code never claims a table that is not there.
    """

    def __init__(self, kpi: str = "unallocated_mean"):
        self.kpi = kpi

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            table = gather(sweep_dir, expected_jobs(config))
            with staged(sweep_dir) as staging:
                table.to_csv(staging / "sweep.csv", index=False)
                table.to_parquet(staging / "sweep.parquet", index=False)
                publish(staging, sweep_dir, ["sweep.csv", "sweep.parquet"])
        except Exception as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error).splitlines()[0]
            print(
                f"simservice: error: the sweep's table could not be written in {sweep_dir}: {reason}", file=sys.stderr
            )
            raise SystemExit(1) from None
        kpi = config.get("sweep_kpi", self.kpi)
        figure = "sweep.png"
        try:
            if not (table["status"] == "ok").any():
                raise ValueError("no job finished")
            with staged(sweep_dir) as staging:
                scenario = str(OmegaConf.select(config, "service.name", default="") or "")
                save_figure(sweep_figure(table, kpi, scenario), staging / figure)
                publish(staging, sweep_dir, [figure])
        except Exception as error:
            warn(f"{figure} could not be drawn ({type(error).__name__}: {error}); the table is complete")
            figure = ""
        jobs = table["job"].nunique()
        failed = table[table["status"] == "failed"]
        also = f"sweep.csv, {figure}" if figure else "sweep.csv"
        print(f"Sweep of {jobs} job{'s' if jobs != 1 else ''} gathered in {sweep_dir / 'sweep.parquet'} (and {also})")
        if len(failed):
            for row in failed.itertuples(index=False):
                print(f"simservice: job {row.job} failed: {row.error}", file=sys.stderr)
            raise SystemExit(1)
