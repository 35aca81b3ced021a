"""The finance page: budget options, shipped or built here, against the base on cost and outcomes.

Each option is a scenario of the base paired by common random numbers (``simservice budget=...``); the page
shows the cost-against-performance plane and the table, and gives the workbook a finance officer annotates.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from simservice.reporting.outputs import format_number
from simservice.runs.budget_options import BASE, LABELS, MEASURES, OPTION_GROUPS, YEARLY_COST
from simservice.web import commands, controls, jobs
from simservice.web.commands import OwnOption

TITLE = "Finance"
ICON = ":material/payments:"
ORDER = 2
PAGE = "finance"

#: The settings rows of the user's own option, each with an example.
PLACEHOLDERS = (("finance.retention_payment_per_year", "3000"), ("workforce.leaving_per_year_permanent", "0.1105"),
                ("policy.caseload_cap", "20"))  # fmt: skip
#: The measures the page's table shows, and the scale each is shown at (the yearly cost in £k).
SHOWN = {
    YEARLY_COST: ("yearly cost (£k a year)", 1e3),
    "assessed_within_45_days_of_referral_pct": (None, 1),
    "unallocated_mean": (None, 1),
    "caseload_mean": (None, 1),
    "turnover_pct": (None, 1),
    "agency_pct": (None, 1),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def render() -> None:
    """The page: the base, the options, the command, the run and its plane, table and workbook."""
    st.title("Compare budget options")
    st.write(
        "Each option is the base scenario with a few settings changed and any one-off cost; every option runs"
        " with the same random numbers as the base, so its differences in cost and outcomes are the option's."
    )
    council, year = controls.council(PAGE)
    base = commands.base_config(council, year)
    st.caption(f"Base scenario: {base.service.name}")
    shipped = {option.name: option for option in commands.budget_options()}
    chosen = st.multiselect(
        "Budget options", list(shipped), key=f"{PAGE}.options",
        format_func=lambda name: f"{name}: {shipped[name].description}", placeholder="Choose options",
    )  # fmt: skip
    own = _own_option()
    run_args, replications = controls.run_length(PAGE, base)
    command = commands.budget_command([*commands.council_args(council, year), *run_args], chosen, own, replications)
    controls.command_shown(command)
    problem = None if chosen or own else "Choose a budget option, or build your own, to compare with the base."
    job = controls.run(PAGE, command, problem)
    if job is not None:
        _results(job)


def _own_option() -> OwnOption | None:
    """An option the user builds: a name, a one-off cost and a few settings."""
    if not st.toggle("Build an option of my own", key=f"{PAGE}.own"):
        return None
    name_column, cost_column = st.columns([2, 1])
    name = name_column.text_input("Name", "mine", key=f"{PAGE}.own_name", help="Letters, digits, '_', '-' or '.'")
    one_off = cost_column.number_input("One-off cost (£)", 0, 1_000_000_000, 0, step=1000, key=f"{PAGE}.own_cost")
    settings = []
    help_text = commands.setting_help(OPTION_GROUPS)
    for row, (setting_example, value_example) in enumerate(PLACEHOLDERS):
        setting_column, value_column = st.columns([3, 2])
        setting = setting_column.text_input(
            f"Setting {row + 1}", placeholder=setting_example, key=f"{PAGE}.own_setting{row}", help=help_text
        )
        value = value_column.text_input(f"Value {row + 1}", placeholder=value_example, key=f"{PAGE}.own_value{row}")
        if setting and value.strip():
            settings.append((str(setting).strip(), value.strip()))
    return OwnOption(name.strip(), float(one_off), tuple(settings))


def _results(job: jobs.Job) -> None:
    """The cost-against-performance plane, the table, the workbook and the command."""
    table = pd.read_csv(job.folder / "budget.csv")
    st.header("Results")
    controls.how_it_ran(job)
    st.image(str(job.folder / "budget.png"), caption="Each option's cost and 45-day performance against the base",
             width=800)  # fmt: skip
    st.subheader("Each option: mean, and its difference from the base [95 % paired interval]")
    st.dataframe(budget_view(table), hide_index=True)
    controls.downloads(job, ("Download the workbook (budget.xlsx)", "budget.xlsx", XLSX))


def budget_view(table: pd.DataFrame) -> pd.DataFrame:
    """budget.csv as the page shows it: a row per option, each measure's mean and its difference from the base."""
    rows = []
    for option, measures in table.groupby("option", sort=False):
        measures = measures.set_index("measure")
        row = {"option": option}
        for measure, (label, scale) in SHOWN.items():
            r = measures.loc[measure]
            head = label or f"{LABELS[measure]} ({MEASURES[measure]})"
            row[head] = format_number(r["mean"] / scale)
            row[f"{head}: difference"] = (
                ""
                if option == BASE
                else f"{format_number(r['difference'] / scale, signed=True)}"
                f" [{format_number(r['diff_ci_low'] / scale)}, {format_number(r['diff_ci_high'] / scale)}]"
            )
        rows.append(row)
    return pd.DataFrame(rows)
