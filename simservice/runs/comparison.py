"""Scenario comparison: a base and other scenarios, run with common random numbers, as paired differences.

Replication k of every scenario sees the same referrals and life events, so the
difference between two scenarios in replication k is policy, not luck; the
interval of the mean paired difference is therefore much narrower than the
intervals of the two scenarios taken apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simservice.config import Config
from simservice.reporting.kpis import KPI_UNITS, mean_ci
from simservice.reporting.outputs import format_number as _fmt
from simservice.reporting.outputs import publish, save_figure, staged, write_outputs
from simservice.reporting.results import Results
from simservice.runs.replications import run_scenarios


@dataclass(frozen=True)
class Comparison:
    """Every scenario's results, and the paired differences of each against the base (the first)."""

    results: dict[str, Results]
    differences: pd.DataFrame

    @property
    def base(self) -> str:
        return next(iter(self.results))


def paired_differences(base: pd.DataFrame, scenario: pd.DataFrame, units: dict[str, str] | None = None) -> pd.DataFrame:
    """Per KPI (``units``: which, and their units; all of summary.csv's by default): both means, the mean
    paired difference (scenario - base) and its 95 % interval."""
    rows = []
    for kpi, unit in (KPI_UNITS if units is None else units).items():
        diff, low, high = mean_ci(scenario[kpi].to_numpy() - base[kpi].to_numpy())
        rows.append(
            {
                "kpi": kpi,
                "base_mean": base[kpi].mean(),
                "scenario_mean": scenario[kpi].mean(),
                "difference": diff,
                "ci_low": low,
                "ci_high": high,
                "unit": unit,
                "significant": bool(low > 0 or high < 0),
            }
        )
    return pd.DataFrame(rows)


def unpaired_interval(base: pd.Series, scenario: pd.Series, level: float = 0.95) -> tuple[float, float]:
    """Welch's interval for the difference of means, as if the scenarios had not shared random numbers."""
    a, b = np.asarray(base, float), np.asarray(scenario, float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    if se == 0:
        return float(b.mean() - a.mean()), float(b.mean() - a.mean())
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    from scipy import stats  # Welch's fractional degrees of freedom: SciPy, imported only here

    half = stats.t.ppf(0.5 + level / 2, dof) * se
    diff = b.mean() - a.mean()
    return float(diff - half), float(diff + half)


def compare(scenarios: dict[str, Config], progress: bool | None = None) -> Comparison:
    """Run every scenario (the first is the base) and difference each against the base, replication by replication.

    With ``run.replications=auto`` the scenarios run together to one number of replications, chosen so
    that every scenario's headline KPIs are precise enough: every pair stays paired.
    """
    results = run_scenarios(scenarios, progress=progress)
    base_name = next(iter(results))
    base = results[base_name].kpis
    tables = [
        paired_differences(base, result.kpis).assign(scenario=name)
        for name, result in results.items()
        if name != base_name
    ]
    differences = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if not differences.empty:
        differences.insert(0, "base", base_name)
        differences = differences[
            [
                "scenario",
                "base",
                "kpi",
                "base_mean",
                "scenario_mean",
                "difference",
                "ci_low",
                "ci_high",
                "unit",
                "significant",
            ]
        ]
    return Comparison(results, differences)


def write_comparison(comparison: Comparison, out_dir: Path) -> None:
    """Each scenario's files in a folder of its own, then the overlays, then ``comparison.csv`` last."""
    from simservice.reporting import figures  # matplotlib is loaded only when a comparison draws

    out_dir = Path(out_dir)
    for name, result in comparison.results.items():
        write_outputs(result, out_dir / "scenarios" / name, scenario=name)
    daily = {name: result.daily for name, result in comparison.results.items()}
    base = next(iter(comparison.results.values())).config
    run, title = base.run, f"{base.service.name}: {', '.join(comparison.results)}"
    with staged(out_dir) as staging:
        changes = sorted({change.month for result in comparison.results.values() for change in result.config.changes})
        for column, name in (("unallocated", "compare_unallocated.png"), ("caseload_mean", "compare_caseload.png")):
            save_figure(figures.scenarios_over_time(daily, run, column, changes, title), staging / name)
        comparison.differences.to_csv(staging / "comparison.csv", index=False)
        publish(staging, out_dir, ["compare_unallocated.png", "compare_caseload.png", "comparison.csv"])


def format_differences(differences: pd.DataFrame) -> str:
    """The differences as a person reads them: one block per scenario."""
    if differences.empty:
        return "(only a base scenario: nothing to compare)"
    lines = []
    width = max(len(k) for k in differences["kpi"])
    for scenario, rows in differences.groupby("scenario", sort=False):
        lines.append(f"{scenario} - {rows['base'].iloc[0]} (paired, 95 % CI; * the interval excludes 0)")
        lines.append(f"  {'KPI':<{width}}  {'base':>9}  {'scenario':>9}  {'difference':>11}  {'95 % CI':>22}")
        for row in rows.itertuples(index=False):
            ci = f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]"
            star = "*" if row.significant else " "
            lines.append(
                f"  {row.kpi:<{width}}  {_fmt(row.base_mean):>9}  {_fmt(row.scenario_mean):>9}"
                f"  {_fmt(row.difference, signed=True):>11}{star} {ci:>22}  {row.unit}"
            )
    return "\n".join(lines)
