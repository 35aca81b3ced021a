"""Sweeps: every job's summary gathered into one table, finished jobs never recomputed, failures reported.

A job that completes stores its outputs in a cache keyed by its configuration and
the model's code, so running the same sweep again — after an interruption, or to
add values — restores finished jobs instead of simulating them. A job that fails
writes ``failed.txt`` and lets the others finish; when the sweep ends,
``GatherSweep`` writes ``sweep.parquet`` (and ``sweep.csv``) with one row per job
and KPI, a figure of the chosen KPI, and exits non-zero naming any failed jobs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from hydra.experimental.callback import Callback  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from .config import Config  # noqa: E402
from .kpis import KPI_UNITS  # noqa: E402
from .outputs import publish, save_figure, staged  # noqa: E402

FAILED = "failed.txt"
SUMMARY = "summary.csv"
TABLE_COLUMNS = ["job", "status", "error", "kpi", "mean", "ci_low", "ci_high", "unit"]


def _code_fingerprint() -> str:
    """A hash of the model's source, so that cached results never outlive the code that made them."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def job_key(config: Config) -> str:
    """What identifies a job's results: every model parameter and the code, but not how many processes ran it."""
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, jobs=1, progress=False))
    text = OmegaConf.to_yaml(OmegaConf.structured(config), sort_keys=True) + _code_fingerprint()
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def restore(cache_dir: Path, key: str, out_dir: Path) -> bool:
    """Put a finished job's outputs into ``out_dir`` from the cache; False if it has not been run."""
    entry = cache_dir / key
    if not (entry / SUMMARY).is_file():
        return False
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in entry.iterdir():
        target = out_dir / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            _link_or_copy(item, target)
    return True


def store(cache_dir: Path, key: str, out_dir: Path, names: list[str]) -> None:
    """Keep a finished job's outputs in the cache; the entry appears whole or not at all."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    entry = cache_dir / key
    if entry.exists():
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
    try:
        for name in names:
            source = out_dir / name
            if source.is_dir():
                shutil.copytree(source, staging / name)
            elif source.exists():
                _link_or_copy(source, staging / name)
        os.rename(staging, entry)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _job_overrides(job_dir: Path) -> dict[str, Any]:
    path = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(path.read_text()) if path.exists() else []
    settings = {}
    for item in overrides or []:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra"):
            continue
        try:
            settings[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            settings[key] = value
    return settings


def gather(sweep_dir: Path) -> pd.DataFrame:
    """One row per job and KPI with the job's settings as columns; a failed job is one row with its error."""
    jobs = sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    settings = {int(job.name): _job_overrides(job) for job in jobs}
    keys = sorted({key for values in settings.values() for key in values})
    swept = [k for k in keys if len({repr(values.get(k)) for values in settings.values()}) > 1] or keys
    tables = []
    for job in jobs:
        number = int(job.name)
        if (job / SUMMARY).is_file():
            table = pd.read_csv(job / SUMMARY).assign(job=number, status="ok", error="")
        else:
            failed = job / FAILED
            error = failed.read_text().strip() if failed.exists() else "did not finish"
            table = pd.DataFrame([{"job": number, "status": "failed", "error": error, "kpi": None, "unit": None}])
        for key in swept:
            value = settings[number].get(key)
            table[key] = str(value) if isinstance(value, list | dict) else value
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["job", *swept, *TABLE_COLUMNS[1:]])
    table = pd.concat(tables, ignore_index=True)
    return table.reindex(columns=["job", *swept, *TABLE_COLUMNS[1:]])


def sweep_figure(table: pd.DataFrame, kpi: str) -> plt.Figure:
    """The chosen KPI over the swept settings: a line with intervals for one setting, a heat map for two."""
    ok = table[(table["status"] == "ok") & (table["kpi"] == kpi)]
    settings = [c for c in table.columns if c not in TABLE_COLUMNS]
    unit = KPI_UNITS.get(kpi, "")
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    numeric = [s for s in settings if pd.api.types.is_numeric_dtype(ok[s])]
    if len(settings) == 2 and len(numeric) == 2:
        grid = ok.pivot_table(index=settings[0], columns=settings[1], values="mean")
        image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        ax.set_xlabel(settings[1])
        ax.set_ylabel(settings[0])
        for (i, j), value in pd.DataFrame(grid.to_numpy()).stack().items():
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="white", fontsize="small")
        fig.colorbar(image, ax=ax, label=f"{kpi} ({unit})")
    elif settings:
        x = settings[0]
        groups = settings[1:]
        for label, rows in ok.groupby(groups, dropna=False) if groups else [((), ok)]:
            rows = rows.sort_values(x)
            xs = rows[x] if x in numeric else rows[x].astype(str)
            error = [rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]]
            values = label if isinstance(label, tuple) else (label,)
            name = ", ".join(f"{g}={'null' if pd.isna(v) else v}" for g, v in zip(groups, values, strict=True))
            ax.errorbar(xs, rows["mean"], yerr=error, marker="o", capsize=3, label=name or None)
        ax.set_xlabel(x)
        ax.set_ylabel(f"{kpi} ({unit}), mean and 95 % CI")
        positive = ok["mean"][ok["mean"] > 0]
        if len(positive) and positive.max() > 100 * positive.min():
            ax.set_yscale("symlog", linthresh=max(positive.min(), 1e-3))  # spans orders of magnitude
        if groups:
            ax.legend(frameon=False)
    ax.set_title(f"{kpi} across the sweep")
    return fig


class GatherSweep(Callback):
    """Hydra callback: when a multirun ends, gather every job into one table and report failed jobs."""

    def __init__(self, kpi: str = "unallocated_mean"):
        self.kpi = kpi

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        table = gather(sweep_dir)
        kpi = config.get("sweep_kpi", self.kpi)
        with staged(sweep_dir) as staging:
            table.to_csv(staging / "sweep.csv", index=False)
            save_figure(sweep_figure(table, kpi), staging / "sweep.png")
            table.to_parquet(staging / "sweep.parquet", index=False)
            publish(staging, sweep_dir, ["sweep.csv", "sweep.png", "sweep.parquet"])
        jobs = table["job"].nunique()
        failed = table[table["status"] == "failed"]
        print(f"Sweep of {jobs} jobs gathered in {sweep_dir / 'sweep.parquet'} (and sweep.csv, sweep.png)")
        if len(failed):
            for row in failed.itertuples(index=False):
                print(f"simservice: job {row.job} failed: {row.error}", file=sys.stderr)
            raise SystemExit(1)
