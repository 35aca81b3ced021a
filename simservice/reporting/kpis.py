"""Key performance indicators: per replication, and across replications with 95 % confidence intervals.

Only the reported years count: the warm-up is discarded. Durations are in working days.

>>> mean_ci([1.0, 2.0, 3.0])
(2.0, -0.484..., 4.484...)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simservice.config import ASSESSMENT_LIMIT_DAYS, Config, RunConfig
from simservice.model.defences import LAYERS
from simservice.model.records import ReplicationResult
from simservice.reporting.costs import COST_UNITS, cost_kpis
from simservice.reporting.t_table import T_975

#: The missed-risk KPIs, with their units.
RISK_UNITS = {
    "risky_referrals_pct": "% of referrals",
    "missed_risks": "per year",
    "missed_risks_per_1000": "per 1,000 assessments",
    "missed_at_front_door_pct": "% of missed risks",
    **{f"widened_{layer}_pct": "% of missed risks" for layer in LAYERS},
    "rereferrals_after_missed_risk": "per year",
    "serious_incidents": "per year (illustrative)",
}


#: Every KPI a run reports, in the order it reports them, with its unit.
KPI_UNITS = {
    "referrals": "per year",
    "closed_at_front_door_pct": "%",
    "decided_within_1_day_pct": "%",
    "assessments_completed": "per year",
    "unallocated_mean": "cases",
    "unallocated_joins": "per year",
    "unallocated_wait_mean": "working days",
    "unallocated_peak": "cases",
    "unallocated_end": "cases",
    "unallocated_oldest_days_max": "working days",
    "days_to_allocation_mean": "working days",
    "days_to_allocation_median": "working days",
    "days_to_assessment_mean": "working days",
    "days_to_assessment_median": "working days",
    "days_to_assessment_p90": "working days",
    "within_45_days_pct": "%",
    "caseload_mean": "cases per worker",
    "caseload_p90": "cases per worker",
    "caseload_max": "cases per worker",
    "allocated_over_cap_pct": "%",
    "transfers_per_case": "transfers per assessment",
    "children_2plus_workers_pct": "%",
    "turnover_pct": "%",
    "agency_pct": "%",
    "vacancy_pct": "%",
    "caseload_dfe": "cases per case-holding FTE",
    "absence_pct": "%",
    "sickness_days_per_fte": "days per FTE per year",
    "stress_mean": "0 (none) to 1 (full)",
    "burnout_episodes": "per year",
    "rereferral_pct": "%",
    # Measures that stay honest in overload, and how the service coped.
    "awaiting_assessment_31_march": "children",
    "awaiting_triage_mean": "referrals",
    "assessed_within_45_days_of_referral_pct": "%",
    "sign_off_wait_mean": "working days",
    "supervision_given_pct": "%",
    "manager_vacancy_pct": "%",
    "caseload_team_max_mean": "cases per worker",
    "workers_over_25_pct": "% of worker-days",
    "closed_under_raised_threshold_pct": "% of referrals",
    "surge_agency_days": "worker-days per year",
    "unpaid_hours": "hours per year",
    "rushed_assessments_pct": "% of assessments",
    "rushed_hours": "hours per year",
    # Hidden risk and the layers of defence (model/defences.py).
    **RISK_UNITS,
    # What it cost (reporting/costs.py): the budget a year, its lines, unit costs, and the hidden cost of unpaid hours.
    **COST_UNITS,
}

#: The KPIs a run's precision is judged by: ``run.replications=auto`` adds replications until each is precise enough.
HEADLINE_KPIS = (
    "assessed_within_45_days_of_referral_pct",
    "unallocated_mean",
    "caseload_mean",
    "turnover_pct",
    "agency_pct",
    "stress_mean",
)


def replication_kpis(result: ReplicationResult, run: RunConfig, config: Config | None = None) -> dict[str, float]:
    """The KPIs of one replication over its reported years; the costs need the scenario (NaN without it)."""
    start = run.warmup_days
    cases, daily = result.cases, result.daily
    referred = cases[(cases["referred_day"] >= start) & ~cases["starting_state"]]
    decided = cases[cases["decided_day"] >= start]
    allocated = cases[cases["allocated_day"] >= start]
    completed = cases[cases["completed_day"] >= start]
    days = daily[~daily["warmup"]]
    loads = result.caseloads[result.caseloads[:, 0] >= start, 1]
    waits = completed["days_to_assessment"]
    totals = result.totals
    in_post_days = _in_post_days(result.staff, start, start + totals["days"])
    return {
        "referrals": len(referred) / run.years,
        "closed_at_front_door_pct": _pct(referred["state"] == "closed_at_front_door"),
        "decided_within_1_day_pct": _pct((decided["decided_day"] - decided["referred_day"]) <= 1.0),
        "assessments_completed": len(completed) / run.years,
        # Time-weighted over the reported years; every wait in a queue, second waits after a transfer too.
        "unallocated_mean": totals["queue_days"] / totals["days"],
        "unallocated_joins": totals["queue_joins"] / run.years,
        "unallocated_wait_mean": totals["queue_wait_days"] / totals["queue_waits"] if totals["queue_waits"] else 0.0,
        "unallocated_peak": days["unallocated"].max(),
        "unallocated_end": days["unallocated"].iloc[-1],
        "unallocated_oldest_days_max": days["oldest_unallocated_days"].max(),
        "days_to_allocation_mean": allocated["days_to_allocation"].mean(),
        "days_to_allocation_median": allocated["days_to_allocation"].median(),
        "days_to_assessment_mean": waits.mean(),
        "days_to_assessment_median": waits.median(),
        "days_to_assessment_p90": waits.quantile(0.9),
        "within_45_days_pct": _pct(completed["within_45_days"] == 1.0),
        "caseload_mean": totals["held_days"] / in_post_days if in_post_days else math.nan,
        "caseload_p90": float(np.percentile(loads, 90)) if loads.size else math.nan,
        "caseload_max": loads.max() if loads.size else math.nan,
        "allocated_over_cap_pct": _pct(allocated["allocated_over_cap"]),
        "transfers_per_case": completed["transfers"].mean(),
        "children_2plus_workers_pct": _pct(completed["social_workers"] >= 2),
        **workforce_kpis(result, run),
        "rereferral_pct": _pct(referred["rereferral_within_12_months"]),
        **coping_kpis(result, run),
        **risk_kpis(result, run),
        **(cost_kpis(result, config) if config is not None else dict.fromkeys(COST_UNITS, math.nan)),
    }


def coping_kpis(result: ReplicationResult, run: RunConfig) -> dict[str, float]:
    """What overload does and how the service absorbed it: counts that do not flatter when work goes undone."""
    start, totals = run.warmup_days, result.totals
    cases, daily = result.cases, result.daily
    days = daily[~daily["warmup"]]
    referred = cases[(cases["referred_day"] >= start) & ~cases["starting_state"]]
    # Referrals accepted (not closed at the front door) that have had their 45 days; not yet assessed is late.
    due = referred[
        (referred["referred_day"] <= start + totals["days"] - ASSESSMENT_LIMIT_DAYS)
        & (referred["state"] != "closed_at_front_door")
    ]
    completed = cases[cases["completed_day"] >= start]
    loads = result.caseloads[result.caseloads[:, 0] >= start, 1]
    managers = days[["managers_in_post", "managers_interim", "managers_vacant"]].sum(axis=1)
    planned = totals["supervision_planned_hours"]
    return {
        "awaiting_assessment_31_march": _at_31_march(daily, run),
        "awaiting_triage_mean": days["awaiting_triage"].mean(),
        "assessed_within_45_days_of_referral_pct": _pct(
            (due["completed_day"] - due["referred_day"]) <= ASSESSMENT_LIMIT_DAYS
        ),
        "sign_off_wait_mean": completed["sign_off_wait"].mean(),
        "supervision_given_pct": 100.0 * totals["supervision_given_hours"] / planned if planned else 100.0,
        "manager_vacancy_pct": 100.0 * days["managers_vacant"].sum() / managers.sum() if managers.sum() else 0.0,
        "caseload_team_max_mean": days["caseload_team_max"].mean(),
        "workers_over_25_pct": _pct(pd.Series(loads > 25)),
        "closed_under_raised_threshold_pct": _pct(referred["closed_under_raised_threshold"]),
        "surge_agency_days": days["surge_agency"].sum() / run.years,
        "unpaid_hours": totals["unpaid_hours"] / run.years,
        "rushed_assessments_pct": _pct(completed["rushed_hours"] > 0),
        "rushed_hours": completed["rushed_hours"].sum() / run.years,
    }


def reported_missed(cases: pd.DataFrame, start: float) -> pd.DataFrame:
    """The missed risks of the reported years (the day the last layer let them through)."""
    return cases[cases["missed_risk"] & (cases["missed_day"] >= start)]


def risk_kpis(result: ReplicationResult, run: RunConfig) -> dict[str, float]:
    """How many risks got through, where, and what followed, over the reported years."""
    start = run.warmup_days
    cases = result.cases
    referred = cases[(cases["referred_day"] >= start) & ~cases["starting_state"]]
    assessed = (cases["completed_day"] >= start).sum()
    missed = reported_missed(cases, start)
    passed = result.defences[result.defences["case_id"].isin(missed["case_id"])]
    widened = passed[passed["draw"] >= passed["base_hole"]]
    return {
        "risky_referrals_pct": _pct(referred["risky"]),
        "missed_risks": len(missed) / run.years,
        "missed_risks_per_1000": 1000.0 * len(missed) / assessed if assessed else np.nan,
        "missed_at_front_door_pct": _pct(missed["state"] == "closed_at_front_door"),
        **{
            f"widened_{layer}_pct": 100.0 * widened.loc[widened["layer"] == layer, "case_id"].nunique() / len(missed)
            if len(missed)
            else np.nan
            for layer in LAYERS
        },
        "rereferrals_after_missed_risk": referred["after_missed_risk"].sum() / run.years,
        "serious_incidents": missed["serious_incident"].sum() / run.years,
    }


def march_census_days(run: RunConfig) -> list[tuple[int, int]]:
    """(reported month, working day) of the last count of each March in the reported years: DfE's census day."""
    return [
        (month, math.floor(run.warmup_days + (month + 1) * run.days_per_month + 1e-9) - 1)
        for month in range(round(run.years * 12))
        if (run.start_month - 1 + month) % 12 == 2
    ]


def _at_31_march(daily: pd.DataFrame, run: RunConfig) -> float:
    """Children awaiting assessment at the last count of each March in the reported years, mean."""
    counts = [daily["awaiting_assessment"].iloc[min(day, len(daily) - 1)] for _, day in march_census_days(run)]
    return float(np.mean(counts)) if counts else math.nan


def dfe_workforce_rates(days: pd.DataFrame) -> dict[str, float]:
    """Agency and vacancy rates and caseload the DfE way, from daily counts; and the mean in-post FTE.

    agency rate = agency / (agency + in post); vacancy rate = vacancies / (vacancies + in post);
    caseload = cases / case-holder FTE.
    """
    in_post, agency, vacant = days["in_post_fte"].mean(), days["agency_fte"].mean(), days["vacant_fte"].mean()
    holders, held = days["case_holder_fte"].to_numpy(), days["cases_held"].to_numpy()
    return {
        "in_post_fte": in_post,
        "agency_pct": 100.0 * agency / (agency + in_post) if agency + in_post else math.nan,
        "vacancy_pct": 100.0 * vacant / (vacant + in_post) if vacant + in_post else math.nan,
        "caseload_dfe": float(np.mean(held[holders > 0] / holders[holders > 0])) if (holders > 0).any() else math.nan,
    }


def _in_post_days(staff: pd.DataFrame, start: float, end: float) -> float:
    """Worker-days in post between ``start`` and ``end``: the time-weighted number of workers."""
    joined = staff["started_day"].clip(lower=start)
    left = staff["left_day"].fillna(end).clip(upper=end)
    return float((left - joined).clip(lower=0).sum())


def t_quantile_95(dof: float) -> float:
    """The Student-t quantile of a two-sided 95 % interval: from the table, or from SciPy past it."""
    if dof == int(dof) and 1 <= dof <= len(T_975):
        return T_975[int(dof) - 1]
    from scipy import stats  # only for fractional or very large degrees of freedom

    return float(stats.t.ppf(0.975, dof))


def workforce_kpis(result: ReplicationResult, run: RunConfig) -> dict[str, float]:
    """The workforce measures DfE publishes, computed the DfE way, plus stress and burnout."""
    start = run.warmup_days
    days = result.daily[~result.daily["warmup"]]
    staff = result.staff
    rates = dfe_workforce_rates(days)
    in_post = rates["in_post_fte"]
    leavers = staff[(staff["left_day"] >= start) & (staff["left_because"] == "resigned")]
    employees = staff[staff["contract"] != "agency"]
    sick_days = employees["sick_days_reported"].sum() / run.years
    return {
        # turnover = leavers / in-post FTE
        "turnover_pct": 100.0 * leavers["fte"].sum() / run.years / in_post if in_post else math.nan,
        "agency_pct": rates["agency_pct"],
        "vacancy_pct": rates["vacancy_pct"],
        "caseload_dfe": rates["caseload_dfe"],
        "absence_pct": 100.0 * sick_days / (in_post * run.days_per_year) if in_post else math.nan,
        "sickness_days_per_fte": sick_days / in_post if in_post else math.nan,
        "stress_mean": days["stress_mean"].mean(),
        "burnout_episodes": days["burnout_episodes"].sum() / run.years,
    }


def _pct(flags: pd.Series) -> float:
    return 100.0 * flags.mean() if len(flags) else math.nan


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its t-based confidence interval; the interval is NaN for a single value."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    if level == 0.95:
        quantile = t_quantile_95(x.size - 1)
    else:
        from scipy import stats  # other levels are rare: SciPy only when asked

        quantile = float(stats.t.ppf(0.5 + level / 2, x.size - 1))
    half = quantile * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def summarise(kpis: pd.DataFrame) -> pd.DataFrame:
    """One row per KPI: its mean across replications, the 95 % confidence interval and the unit.

    The interval is clipped to what the KPI can be (no negative counts, no share over 100 %).
    """
    rows = []
    for kpi, unit in KPI_UNITS.items():
        mean, low, high = mean_ci(kpis[kpi])
        # Every KPI is a count, a duration or a share: its interval stops at what is possible.
        low, high = max(low, 0.0), min(high, 100.0) if unit.startswith("%") else high
        rows.append({"kpi": kpi, "mean": mean, "ci_low": low, "ci_high": high, "unit": unit})
    return pd.DataFrame(rows, columns=["kpi", "mean", "ci_low", "ci_high", "unit"])


def half_width_95(values) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t-interval (NaN values left out; NaN half-width below two values)."""
    mean, low, high = mean_ci(values)
    return mean, (high - low) / 2 if not math.isnan(low) else math.nan


def precise(mean: float, half_width: float, share: float) -> bool:
    """A 95 % half-width within ``share`` of the mean's size.

    A KPI with no numbers at all cannot be improved by more replications and counts as precise; a
    KPI with the same value in every replication (0 in all, say) has a half-width of 0 and is precise.
    """
    if math.isnan(mean):
        return True
    return not math.isnan(half_width) and half_width <= share * abs(mean)


def precision_table(kpis: pd.DataFrame, share: float, headline: tuple[str, ...] = HEADLINE_KPIS) -> pd.DataFrame:
    """Each headline KPI's mean and 95 % half-width, as a share of the mean, against the target ``share``."""
    rows = []
    for kpi in headline:
        mean, half = half_width_95(kpis[kpi])
        rows.append(
            {
                "kpi": kpi,
                "replications": len(kpis),
                "mean": mean,
                "half_width": half,
                "half_width_pct": 100.0 * half / abs(mean) if mean else (0.0 if half == 0 else math.nan),
                "target_pct": 100.0 * share,
                "within": precise(mean, half, share),
            }
        )
    return pd.DataFrame(rows)
