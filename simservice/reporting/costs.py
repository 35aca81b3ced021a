"""What the service cost: what a replication did, priced at the rates of ``finance``.

Every line counts what happened, not what was planned, from the morning counts
(one count a working day) and the staff table:

- employed social workers: FTE-days in post by contract (permanent, newly qualified),
  at salary x (1 + on-costs) / working days a year; an employee off sick is paid;
- agency cover: agency FTE-days worked at the agency day rate; a day off sick or a
  day the post is empty costs nothing (an agency worker is paid for the days worked);
- surge: FTE-days worked by agency workers above the establishment (``coping.agency_surge``)
  at the surge (managed team) day rate;
- managers: a permanent manager's days in post at salary x (1 + on-costs) / working days
  a year, an interim manager's at the interim day rate; a vacant manager post costs nothing;
- the front door: ``service.triage_staff`` FTE-days (as in force each day) at the front-door
  salary plus on-costs (the triage surge of ``coping.triage_surge`` is extra effort, not pay);
- recruitment: each employee hired (not the starting staff) at the recruitment cost plus the
  welcome payment, once, when they start;
- retention: the retention payment a year, pro rata to employees' FTE-days in post;
- overheads: a share of the staff costs (employees, agency, surge, managers, front door).

The budget (``cost_total_gbp``) is their sum. Unpaid hours are a hidden cost, reported
apart: the hours valued at a permanent worker's hourly rate, salary x (1 + on-costs) /
(working days a year x hours a day). So is what missed risks cost the council later
(illustrative): each one at ``finance.missed_risk_cost``.
"""

from __future__ import annotations

import math

import pandas as pd

from simservice.config import Config, FinanceConfig, RunConfig
from simservice.model.records import ReplicationResult

#: The lines of the budget, in the order they are reported.
COST_LINES = ("employed", "agency", "surge", "managers", "front_door", "recruitment", "retention", "overheads")
#: The lines that overheads are a share of.
STAFF_LINES = ("employed", "agency", "surge", "managers", "front_door")

#: The cost KPIs, in the order summary.csv reports them, with their units.
COST_UNITS = {
    "cost_total_gbp": "£ a year",
    **{f"cost_{line}_gbp": "£ a year" for line in COST_LINES},
    "cost_per_assessment_gbp": "£",
    "cost_per_referral_gbp": "£",
    "hidden_cost_unpaid_hours_gbp": "£ a year",
    "downstream_cost_missed_risks_gbp": "£ a year (illustrative)",
}


def cost_lines(days: pd.DataFrame, hires: float, finance: FinanceConfig, run: RunConfig) -> dict[str, float]:
    """Each line of the budget, in pounds, over the working days in ``days`` (morning counts) with ``hires`` hires."""
    f, year = finance, run.days_per_year
    on_costs = 1.0 + f.on_cost_share
    employed_days = days["permanent_fte"].sum() + days["newly_qualified_fte"].sum()
    lines = {
        "employed": (
            days["permanent_fte"].sum() * f.permanent_salary
            + days["newly_qualified_fte"].sum() * f.newly_qualified_salary
        )
        * on_costs
        / year,
        "agency": days["agency_worked_fte"].sum() * f.agency_day_rate,
        "surge": days["surge_worked_fte"].sum() * f.surge_day_rate,
        "managers": days["managers_in_post"].sum() * f.manager_salary * on_costs / year
        + days["managers_interim"].sum() * f.interim_manager_day_rate,
        "front_door": days["triage_staff"].sum() * f.front_door_salary * on_costs / year,
        "recruitment": hires * (f.recruitment_cost_per_hire + f.welcome_payment),
        "retention": employed_days * f.retention_payment_per_year / year,
    }
    lines["overheads"] = f.overhead_share * sum(lines[line] for line in STAFF_LINES)
    return {line: float(lines[line]) for line in COST_LINES}


def hourly_rate(config: Config) -> float:
    """A permanent social worker's cost an hour: salary x (1 + on-costs) / (working days a year x hours a day)."""
    f = config.finance
    return f.permanent_salary * (1.0 + f.on_cost_share) / (config.run.days_per_year * config.service.hours_per_day)


def hires_between(staff: pd.DataFrame, start: float, end: float) -> int:
    """Employees hired during the run who started between ``start`` (included) and ``end`` (excluded)."""
    return int((staff["hired"] & (staff["started_day"] >= start) & (staff["started_day"] < end)).sum())


def cost_kpis(result: ReplicationResult, config: Config) -> dict[str, float]:
    """The cost KPIs of one replication over its reported years: pounds a year, and a unit cost."""
    run = config.run
    start, end = run.warmup_days, run.horizon_days
    days = result.daily[~result.daily["warmup"]]
    lines = {
        line: cost / run.years
        for line, cost in cost_lines(days, hires_between(result.staff, start, end), config.finance, run).items()
    }
    total = sum(lines.values())
    cases = result.cases
    assessments = (cases["completed_day"] >= start).sum() / run.years
    referrals = ((cases["referred_day"] >= start) & ~cases["starting_state"]).sum() / run.years
    missed = (cases["missed_risk"] & (cases["missed_day"] >= start)).sum()
    return {
        "cost_total_gbp": total,
        **{f"cost_{line}_gbp": cost for line, cost in lines.items()},
        "cost_per_assessment_gbp": total / assessments if assessments else math.nan,
        "cost_per_referral_gbp": total / referrals if referrals else math.nan,
        "hidden_cost_unpaid_hours_gbp": result.totals["unpaid_hours"] / run.years * hourly_rate(config),
        "downstream_cost_missed_risks_gbp": missed / run.years * config.finance.missed_risk_cost,
    }
