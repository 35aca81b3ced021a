"""The measures DfE publishes, year by year of the reported run, to set beside the published figures.

Each reported year starts at ``run.start_month`` (April: DfE's year to 31 March).
Flows (referrals, closures, re-referrals, leavers) count the year's events; the
children awaiting assessment are counted on the last day of March in the year;
the workforce rates are the year's means of the daily counts (DfE takes its
snapshot on 30 September); ``off_sick_pct`` is the share of workers off sick on
an average day, not DfE's days lost. Intervals are clipped to what a measure can be.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simservice.config import FinanceConfig, RunConfig
from simservice.reporting.costs import COST_LINES, cost_lines, hires_between
from simservice.reporting.kpis import dfe_workforce_rates, march_census_days, mean_ci

#: The yearly measures, with their units.
YEARLY_UNITS = {
    "referrals": "per year",
    "closed_at_front_door_pct": "% of referrals",
    "rereferral_pct": "% of referrals",
    "awaiting_assessment_31_march": "children",
    "agency_pct": "%",
    "vacancy_pct": "%",
    "turnover_pct": "%",
    "off_sick_pct": "% of workers off sick",
    "caseload_dfe": "cases per case-holding FTE",
    "unallocated_mean": "cases",
    "surge_agency_mean": "workers",
    "caseload_max_mean": "cases per worker",
}
#: What each year cost (with a finance group): the budget and its lines, as in summary.csv.
YEARLY_COST_UNITS = {"cost_total_gbp": "£", **{f"cost_{line}_gbp": "£" for line in COST_LINES}}


#: The columns of the case table that the yearly measures read.
CASE_COLUMNS = ("replication", "starting_state", "referred_day", "state", "rereferral_within_12_months")


def _year_of(day: np.ndarray | pd.Series, run: RunConfig) -> np.ndarray:
    return np.floor((np.asarray(day, dtype=float) - run.warmup_days) / run.days_per_year).astype(int)


def replication_years(
    cases: pd.DataFrame,
    daily: pd.DataFrame,
    staff: pd.DataFrame,
    run: RunConfig,
    finance: FinanceConfig | None = None,
) -> pd.DataFrame:
    """One row per reported year of one replication; with ``finance``, what the year cost too."""
    years = math.ceil(run.years - 1e-9)
    new = cases[~cases["starting_state"] & (cases["referred_day"] >= run.warmup_days)]
    new_year = _year_of(new["referred_day"], run)
    days = daily[~daily["warmup"]]
    day_year = _year_of(days["day"], run)
    leavers = staff[staff["left_because"] == "resigned"]
    leaver_year = _year_of(leavers["left_day"].fillna(-1.0), run)
    rows = []
    for year in range(years):
        referred = new[new_year == year]
        d = days[day_year == year]
        rates = dfe_workforce_rates(d)
        in_post = rates["in_post_fte"]
        heads = (d["permanent"] + d["newly_qualified"] + d["agency"]).mean()
        awaiting = math.nan
        for month, day in march_census_days(run):
            if year * 12 <= month < (year + 1) * 12:
                at = daily.loc[daily["day"] == min(day, int(daily["day"].max())), "awaiting_assessment"]
                awaiting = float(at.iloc[0]) if len(at) else math.nan
        rows.append(
            {
                "year": year + 1,
                "referrals": float(len(referred)),
                "closed_at_front_door_pct": 100.0 * (referred["state"] == "closed_at_front_door").mean(),
                "rereferral_pct": 100.0 * referred["rereferral_within_12_months"].mean(),
                "awaiting_assessment_31_march": awaiting,
                "agency_pct": rates["agency_pct"],
                "vacancy_pct": rates["vacancy_pct"],
                "turnover_pct": 100.0 * leavers["fte"][leaver_year == year].sum() / in_post if in_post else math.nan,
                "off_sick_pct": 100.0 * d["off_sick"].mean() / heads if heads else math.nan,
                "caseload_dfe": rates["caseload_dfe"],
                "unallocated_mean": d["unallocated"].mean(),
                "surge_agency_mean": d["surge_agency"].mean(),
                "caseload_max_mean": d["caseload_max"].mean(),
            }
        )
        if finance is not None:
            first = run.warmup_days + year * run.days_per_year
            lines = cost_lines(d, hires_between(staff, first, first + run.days_per_year), finance, run)
            rows[-1]["cost_total_gbp"] = sum(lines.values())
            rows[-1].update({f"cost_{line}_gbp": cost for line, cost in lines.items()})
    return pd.DataFrame(rows)


def yearly_table(
    cases: pd.DataFrame,
    daily: pd.DataFrame,
    staff: pd.DataFrame,
    run: RunConfig,
    finance: FinanceConfig | None = None,
) -> pd.DataFrame:
    """Every replication's years, then the mean and 95 % interval of each measure by year (long format).

    With ``finance``, each year's cost and its lines too (pounds in that year; a part year is not scaled up).
    """
    units = {**YEARLY_UNITS, **(YEARLY_COST_UNITS if finance is not None else {})}
    cases = cases[list(CASE_COLUMNS)]  # only what a year counts: each replication's rows are copied
    per_replication = [
        replication_years(
            cases[cases["replication"] == r],
            daily[daily["replication"] == r],
            staff[staff["replication"] == r],
            run,
            finance,
        ).assign(replication=r)
        for r in sorted(daily["replication"].unique())
    ]
    table = pd.concat(per_replication, ignore_index=True)
    rows = []
    for year, group in table.groupby("year"):
        for measure, unit in units.items():
            mean, low, high = mean_ci(group[measure])
            low, high = max(low, 0.0), min(high, 100.0) if unit.startswith("%") else high  # what it can be
            rows.append({"year": year, "measure": measure, "mean": mean, "ci_low": low, "ci_high": high, "unit": unit})
    return pd.DataFrame(rows, columns=["year", "measure", "mean", "ci_low", "ci_high", "unit"])
