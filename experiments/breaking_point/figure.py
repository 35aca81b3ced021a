"""The breaking-point study's year-by-year table, figure and 10 %-more-demand factors, from a finished sweep.

    python experiments/breaking_point/figure.py multirun/breaking_point

reads the sweep's ``sweep.csv`` and every job's ``yearly.csv`` and
``kpis_by_replication.csv``, and writes, beside this file, ``yearly.csv`` (each level's
measures year by year, mean and 95 % CI), ``breaking_point.png`` and
``ten_percent_more.csv``: with coping on and off, the factor by which 10 % more demand
(x1.1 against x1.0) raises a KPI -- the ratio of the means, with a 95 % bootstrap
interval over the paired replications -- and the mean paired difference with its
Student-t 95 % interval. It prints that table too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from simservice.reporting.kpis import mean_ci  # noqa: E402

HERE = Path(__file__).parent
BASE = 2600  # all referrals a year in the default scenario (re-referrals drawn within them)
DEMAND, COPING = "demand.referrals_per_year", "coping"
STYLE = {"default": ("coping on", "-", "o"), "off": ("coping off", "--", "s")}
RATIO_KPIS = ("unallocated_mean", "awaiting_assessment_31_march")
RESAMPLES, SEED = 20_000, 2019


def coping_name(value: object) -> str:
    """The coping choice as a name: ``off`` however it was written (off, 'off', or a YAML false)."""
    text = str(value).strip("'\"")
    return "off" if text in ("False", "false", "off") else "default"


def settings(job: Path) -> dict[str, str]:
    """The swept settings of one job, as written (``coping='off'`` read as the name off)."""
    pairs = (str(item).partition("=") for item in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))
    return {key: value.strip("'\"") for key, _, value in pairs}


def yearly(sweep: Path) -> pd.DataFrame:
    tables = []
    for job in sorted((p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        chosen = settings(job)
        table = pd.read_csv(job / "yearly.csv")
        table.insert(0, COPING, coping_name(chosen.get(COPING, "default")))
        table.insert(0, DEMAND, float(chosen[DEMAND]))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def draw(summary: pd.DataFrame, years: pd.DataFrame, title: str) -> plt.Figure:
    summary = summary.assign(coping=summary[COPING].map(coping_name))
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    ax = axes[0]
    for coping, (label, line, marker) in STYLE.items():
        for kpi, colour in (("unallocated_mean", "tab:blue"), ("awaiting_assessment_31_march", "tab:red")):
            rows = summary[(summary[COPING] == coping) & (summary["kpi"] == kpi)].sort_values(DEMAND)
            x = 100 * rows[DEMAND] / BASE
            errors = [rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]]
            name = "unallocated, time-weighted mean" if kpi == "unallocated_mean" else "awaiting assessment, 31 March"
            ax.errorbar(x, rows["mean"], yerr=errors, ls=line, marker=marker, color=colour, capsize=3)
            ax.plot([], [], ls=line, marker=marker, color=colour, label=f"{name}, {label}")
    ax.set_yscale("log")
    ax.set_xlabel("demand, % of the default's 2,600 referrals a year")
    ax.set_ylabel("children (mean over 5 years, 95 % CI; log scale)")
    ax.set_title("Backlog by demand")
    ax.legend(fontsize=7.5)

    ax = axes[1]
    unallocated = years[years["measure"] == "unallocated_mean"]
    colours = plt.cm.viridis([0.0, 0.25, 0.5, 0.72, 0.9])
    for demand, colour in zip(sorted(unallocated[DEMAND].unique()), colours, strict=False):
        for coping, (_label, line, marker) in STYLE.items():
            rows = unallocated[(unallocated[DEMAND] == demand) & (unallocated[COPING] == coping)]
            ax.plot(rows["year"], rows["mean"].clip(lower=0.5), ls=line, marker=marker, color=colour)
        ax.plot([], [], color=colour, label=f"{100 * demand / BASE:.0f} % of default demand")
    for label, line, marker in STYLE.values():
        ax.plot([], [], ls=line, marker=marker, color="grey", label=label)
    ax.set_yscale("log")
    ax.set_xticks(sorted(unallocated["year"].unique()))
    ax.set_xlabel("reported year")
    ax.set_ylabel("unallocated children, year's mean (log scale)")
    ax.set_ylim(1, 4e4)
    ax.set_title("Does the queue settle or grow?")
    ax.legend(fontsize=7.5, ncol=2, loc="upper left")

    ax = axes[2]
    on = summary[summary[COPING] == "default"]
    for kpi, label, colour in (
        ("assessed_within_45_days_of_referral_pct", "assessed within 45 working days", "tab:green"),
        ("supervision_given_pct", "supervision given, of due", "tab:purple"),
        ("workers_over_25_pct", "worker-days above 25 cases", "tab:red"),
        ("agency_pct", "agency rate", "tab:orange"),
        ("closed_at_front_door_pct", "closed at the front door", "tab:brown"),
        ("rushed_assessments_pct", "rushed assessments", "tab:grey"),
    ):
        rows = on[on["kpi"] == kpi].sort_values(DEMAND)
        errors = [rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]]
        x = 100 * rows[DEMAND] / BASE
        ax.errorbar(x, rows["mean"], yerr=errors, marker="o", color=colour, capsize=3, label=label)
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.set_xlabel("demand, % of the default's 2,600 referrals a year")
    ax.set_ylabel("% (mean over 5 years, 95 % CI)")
    ax.set_title("What gives way, coping on")
    ax.legend(fontsize=7.5, ncol=2, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ten_percent_more(sweep: Path) -> pd.DataFrame:
    """x1.1 against x1.0 demand, coping on and off: ratio of means (bootstrap interval) and paired difference."""
    jobs: dict[tuple[str, float], Path] = {}
    for job in (p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()):
        chosen = settings(job)
        jobs[(coping_name(chosen.get(COPING, "default")), float(chosen[DEMAND]))] = job
    rows = []
    for coping in STYLE:
        base, more = jobs.get((coping, float(BASE))), jobs.get((coping, round(1.1 * BASE)))
        if base is None or more is None:
            continue
        x = pd.read_csv(base / "kpis_by_replication.csv").sort_values("replication")
        y = pd.read_csv(more / "kpis_by_replication.csv").sort_values("replication")
        rng = np.random.default_rng(SEED)
        picks = rng.integers(0, len(x), (RESAMPLES, len(x)))  # the same children in both: resample pairs
        for kpi in RATIO_KPIS:
            a, b = x[kpi].to_numpy(), y[kpi].to_numpy()
            ratios = b[picks].mean(axis=1) / a[picks].mean(axis=1)
            low, high = np.percentile(ratios, [2.5, 97.5])
            difference, d_low, d_high = mean_ci(b - a)
            rows.append(
                {
                    "coping": coping,
                    "kpi": kpi,
                    "mean_x1.0": a.mean(),
                    "mean_x1.1": b.mean(),
                    "ratio": b.mean() / a.mean(),
                    "ratio_ci_low": low,
                    "ratio_ci_high": high,
                    "replications_over_3x": int((b > 3 * a).sum()),
                    "difference": difference,
                    "difference_ci_low": d_low,
                    "difference_ci_high": d_high,
                }
            )
    return pd.DataFrame(rows)


def main(sweep: Path) -> None:
    summary = pd.read_csv(sweep / "sweep.csv")
    years = yearly(sweep)
    years.to_csv(HERE / "yearly.csv", index=False, float_format="%.6g")
    factors = ten_percent_more(sweep)
    factors.to_csv(HERE / "ten_percent_more.csv", index=False, float_format="%.6g")
    print(factors.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    title = "Default service (Southampton-like unitary LA, 2018-19) under more demand, coping on and off"
    draw(summary, years, title).savefig(HERE / "breaking_point.png", dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
