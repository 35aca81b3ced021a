"""The files a run leaves: written whole or not at all."""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from simservice.config import RunConfig
from simservice.reporting.kpis import precision_table
from simservice.reporting.results import Results
from simservice.reporting.yearly import yearly_table

#: What each file holds; README.md documents them for users.
FILES = {
    "scenario.yaml": "every parameter the run used, after any council preset and before dated changes",
    "kpis_by_replication.csv": "one row per replication, one column per KPI",
    "timeseries.csv": "one row per replication and working day: queues, caseloads and flows",
    "cases.parquet": "one row per referral and replication: its dates, waits, worker and outcome",
    "staff.csv": "one row per person who held a post, per replication: contract, dates, why they left, sick days",
    "transfers.csv": "one row per case transfer: day, case, from and to worker, reason",
    "yearly.csv": "the measures DfE publishes, year by year of the reported run: mean and 95 % CI of replications",
    "teams.csv": "one row per team and replication: its unallocated work, caseload, assessments and supervision",
    "defences.parquet": "one row per layer of defence a risky child met: day, draw, hole, got through, conditions",
    "events.parquet": "with run.event_log=true: one row per move of a case (day, case, from, to, worker, reason)",
    "unallocated.png": "unallocated cases over time, mean and spread across replications",
    "workforce.png": "workers in post by contract, empty posts, off sick and mean stress over time",
    "days_to_assessment.png": "distribution of days from referral to completed assessment, with the 45-day line",
    "coping.png": "week by week, how the pressure was absorbed: backlog, thresholds, creep, surge, unpaid hours",
    "precision.csv": "each headline KPI's 95 % half-width as a share of its mean, against run.auto_half_width_share",
    "summary.csv": "one row per KPI: mean and 95 % confidence interval across replications",
}


#: A file in a run's or sweep's folder that says the folder is taken: by whom and with what command.
OWNER = ".simservice-run"
STAGING = ".partial-"


def staging_prefix() -> str:
    """Names staging folders after this host and process, so a later run can tell whose were abandoned."""
    return f"{STAGING}{socket.gethostname()}-{os.getpid()}-"


#: Files a run writes only when asked for them.
OPTIONAL = ("events.parquet",)


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A hidden folder inside ``out_dir`` to write into, removed whatever happens."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(), dir=out_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _abandoned(name: str, host: str) -> bool:
    """A staging folder of a process on this host that no longer runs."""
    rest = name[len(STAGING) :]
    owner, _, tail = rest.rpartition("-")
    owner_host, _, pid = owner.rpartition("-")
    if owner_host != host or not pid.isdigit() or not tail:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def clean_abandoned_staging(roots: Iterable[Path], depth: int = 5) -> int:
    """Remove the staging folders that killed runs left under ``roots``; those of running processes stay."""
    host, removed = socket.gethostname(), 0
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        base = len(root.parts)
        for folder, subfolders, files in os.walk(root):
            if len(Path(folder).parts) - base >= depth:
                subfolders[:] = []
                continue
            for name in list(subfolders):
                if name.startswith(STAGING) and _abandoned(name, host):
                    shutil.rmtree(Path(folder) / name, ignore_errors=True)
                    subfolders.remove(name)
                    removed += 1
            for name in files:
                if name.startswith(STAGING) and _abandoned(name, host):
                    (Path(folder) / name).unlink(missing_ok=True)
                    removed += 1
    return removed


def claim(folder: Path, command: str) -> bool:
    """Take ``folder`` for one run: True if it was new or empty and is now this run's, False if another has it."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(entry for entry in folder.iterdir() if not entry.name.startswith(STAGING)):
        return False
    try:
        descriptor = os.open(folder / OWNER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as owner:
        owner.write(f"host: {socket.gethostname()}\npid: {os.getpid()}\ncommand: {command}\n")
    return True


def claim_new(base: Path, command: str, attempts: int = 1000) -> Path:
    """A folder of this run's own at ``base``, or ``base-2``, ``base-3``... when one started in the same second."""
    for i in range(1, attempts + 1):
        folder = base if i == 1 else base.with_name(f"{base.name}-{i}")
        if claim(folder, command):
            return folder
    raise FileExistsError(f"{base}: {attempts} folders of that name are taken")


def publish(staging: Path, out_dir: Path, names: Sequence[str]) -> list[Path]:
    """Move finished files into place in order: the last one's presence means all are there."""
    for name in names:
        os.replace(staging / name, out_dir / name)
    return [out_dir / name for name in names]


def save_figure(fig, path: Path) -> None:
    """A matplotlib figure as a PNG."""
    fig.savefig(path, dpi=110)


#: A run's figures: file, the function that draws it, the table it reads (and its columns; None: all) and
#: whether it marks the dated changes.
RUN_FIGURES = (
    ("unallocated.png", "unallocated_over_time", "daily", None, True),
    ("workforce.png", "workforce_over_time", "daily", None, True),
    ("days_to_assessment.png", "days_to_assessment", "cases", ["completed_day", "days_to_assessment"], False),
    ("coping.png", "coping_over_time", "daily", None, True),
)


def _png(drawing: str, table: pd.DataFrame, run: RunConfig, title: str, changes: list[int] | None) -> bytes:
    """One of a run's figures drawn as PNG bytes (in this process, or in one of the run's processes)."""
    from simservice.reporting import figures  # matplotlib is loaded only when a run draws

    draw = getattr(figures, drawing)
    fig = draw(table, run, title) if changes is None else draw(table, run, title, changes)
    png = io.BytesIO()
    save_figure(fig, png)
    return png.getvalue()


def _draw_run_figures(results: Results, title: str) -> Iterator[bytes]:
    """The run's figures in ``RUN_FIGURES`` order, drawn on the run's processes (``run.jobs``) when it has several.

    With several, drawing is dispatched at once, so the caller writes the tables while the other processes draw;
    with one, each figure is drawn as the caller asks for it.
    """
    run = results.config.run
    changes = [change.month for change in results.config.changes]
    tasks = [
        (drawing, getattr(results, table) if columns is None else getattr(results, table)[columns], run, title)
        + ((changes,) if dated else (None,))
        for _, drawing, table, columns, dated in RUN_FIGURES
    ]
    processes = run.processes(len(tasks))
    if processes == 1:
        return (_png(*task) for task in tasks)
    from joblib import Parallel, delayed  # only for several processes: a serial run's start-up is spared it

    return Parallel(n_jobs=processes, return_as="generator")(delayed(_png)(*task) for task in tasks)


def write_outputs(results: Results, out_dir: Path, scenario: str | None = None) -> list[Path]:
    """Write every output into ``out_dir``; ``summary.csv`` lands last, so its presence means the run is whole.

    The figures are titled with the service's name, and the scenario's when it is one of a comparison.
    With ``run.jobs`` above 1, the figures are drawn on other processes while this one writes the tables.
    """
    out_dir = Path(out_dir)
    title, run = results.config.service.name, results.config.run
    if scenario is not None:
        title = f"{title}, scenario {scenario}"
    with staged(out_dir) as staging:
        drawn = _draw_run_figures(results, title)  # on other processes from now, or here when they are written
        (staging / "scenario.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(results.config)))
        results.kpis.to_csv(staging / "kpis_by_replication.csv", index=False)
        results.daily.to_csv(staging / "timeseries.csv", index=False, float_format="%.6g")
        results.cases.to_parquet(staging / "cases.parquet", index=False)
        results.staff.to_csv(staging / "staff.csv", index=False)
        results.transfers.to_csv(staging / "transfers.csv", index=False)
        results.teams.to_csv(staging / "teams.csv", index=False, float_format="%.6g")
        yearly_table(results.cases, results.daily, results.staff, run, results.config.finance).to_csv(
            staging / "yearly.csv", index=False, float_format="%.6g"
        )
        results.defences.to_parquet(staging / "defences.parquet", index=False)
        if results.events is not None:
            results.events.to_parquet(staging / "events.parquet", index=False)
        for (name, *_), png in zip(RUN_FIGURES, drawn, strict=True):
            (staging / name).write_bytes(png)
        precision_table(results.kpis, run.auto_half_width_share).assign(auto=results.auto is not None).to_csv(
            staging / "precision.csv", index=False, float_format="%.6g"
        )
        results.summary.to_csv(staging / "summary.csv", index=False)
        written = [name for name in FILES if name not in OPTIONAL or results.events is not None]
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
