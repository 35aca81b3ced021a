"""The files a run leaves: written whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from . import figures
from .runner import Results

#: What each file holds; README.md documents them for users.
FILES = {
    "kpis_by_replication.csv": "one row per replication, one column per KPI",
    "timeseries.csv": "one row per replication and working day: queues, caseloads and flows",
    "cases.parquet": "one row per referral and replication: its dates, waits, worker and outcome",
    "staff.csv": "one row per person who held a post, per replication: contract, dates, why they left, sick days",
    "transfers.csv": "one row per case transfer: day, case, from and to worker, reason",
    "events.parquet": "with run.event_log=true: one row per move of a case (day, case, from, to, worker, reason)",
    "unallocated.png": "unallocated cases over time, mean and spread across replications",
    "workforce.png": "workers in post by contract, empty posts, off sick and mean stress over time",
    "days_to_assessment.png": "distribution of days from referral to completed assessment, with the 45-day line",
    "summary.csv": "one row per KPI: mean and 95 % confidence interval across replications",
}


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A hidden folder inside ``out_dir`` to write into, removed whatever happens."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, out_dir: Path, names: Sequence[str]) -> list[Path]:
    """Move finished files into place in order: the last one's presence means all are there."""
    for name in names:
        os.replace(staging / name, out_dir / name)
    return [out_dir / name for name in names]


def save_figure(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(results: Results, out_dir: Path) -> list[Path]:
    """Write every output into ``out_dir``; ``summary.csv`` lands last, so its presence means the run is whole."""
    out_dir = Path(out_dir)
    title, run = results.config.service.name, results.config.run
    with staged(out_dir) as staging:
        results.kpis.to_csv(staging / "kpis_by_replication.csv", index=False)
        results.daily.to_csv(staging / "timeseries.csv", index=False, float_format="%.6g")
        results.cases.to_parquet(staging / "cases.parquet", index=False)
        results.staff.to_csv(staging / "staff.csv", index=False)
        results.transfers.to_csv(staging / "transfers.csv", index=False)
        if results.events is not None:
            results.events.to_parquet(staging / "events.parquet", index=False)
        save_figure(figures.unallocated_over_time(results.daily, run, title), staging / "unallocated.png")
        save_figure(figures.workforce_over_time(results.daily, run, title), staging / "workforce.png")
        save_figure(figures.days_to_assessment(results.cases, run, title), staging / "days_to_assessment.png")
        results.summary.to_csv(staging / "summary.csv", index=False)
        written = [name for name in FILES if name != "events.parquet" or results.events is not None]
        return publish(staging, out_dir, written)  # summary.csv is last in FILES


def format_number(x: float, signed: bool = False) -> str:
    """A KPI value to read: whole numbers from 100, one decimal from 10, two below; "-" if missing."""
    if pd.isna(x):
        return "-"
    sign = "+" if signed else ""
    if abs(x) >= 100:
        return f"{x:{sign},.0f}"
    return f"{x:{sign},.1f}" if abs(x) >= 10 else f"{x:{sign},.2f}"


def format_summary(summary: pd.DataFrame) -> str:
    """The KPI table as a person reads it: mean, [95 % CI] and unit."""
    number = format_number
    width = max(len(k) for k in summary["kpi"])
    lines = [f"{'KPI':<{width}}  {'mean':>9}  {'95 % CI':>21}  unit"]
    for row in summary.itertuples(index=False):
        ci = f"[{number(row.ci_low)}, {number(row.ci_high)}]"
        lines.append(f"{row.kpi:<{width}}  {number(row.mean):>9}  {ci:>21}  {row.unit}")
    return "\n".join(lines)
