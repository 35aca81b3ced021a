"""The planner's page: a council's main settings and dated changes, run against the same council without them.

The base is the council's scenario (or the default) with the same run settings; the user's scenario changes
the settings that differ from it, and both run with common random numbers, so the differences are the changes'.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from simservice.reporting.outputs import format_number
from simservice.web import commands, controls, jobs
from simservice.web.commands import YOURS, Change, Settings

TITLE = "Planner"
ICON = ":material/tune:"
ORDER = 1
PAGE = "planner"

#: The headline KPIs shown large: their label, the scale they are shown at, and whether a rise is good news.
HEADLINE = {
    "unallocated_mean": ("Children waiting unallocated", 1, False),
    "assessed_within_45_days_of_referral_pct": ("Assessed within 45 days of referral (%)", 1, True),
    "caseload_mean": ("Caseload per worker", 1, False),
    "cost_total_gbp": ("Cost a year (£k)", 1e3, False),
}
#: The controls that hold the council's values until the user moves them: reset when the council changes.
SETTINGS = ("teams", "workers_per_team", "referrals_per_year", "capped", "caseload_cap", "agency_allowed",
            "agency_max_percent", "standing_agency_fte", "coping")  # fmt: skip
#: A cap for a council whose preset has none, when the user turns the cap on.
USUAL_CAP = 18


def render() -> None:
    """The page, top to bottom: the council, its settings, dated changes, the command, the run and its results."""
    st.title("Plan a scenario")
    st.write(
        "Start from a council's published figures (or the default), change the main settings and add dated"
        " changes; the run compares your scenario with the same council without your changes."
    )
    council, year = controls.council(PAGE, on_change=_forget_settings)
    base = commands.base_config(council, year)
    st.caption(f"Base scenario: {base.service.name}")
    start = Settings.of(base)
    mine = _settings(start)
    run_args, replications = controls.run_length(PAGE, base)
    common = [*commands.council_args(council, year), *run_args]
    changes = _dated_changes(common)
    command = commands.planner_command(
        common, [*commands.setting_args(mine, start), *commands.changes_arg(changes)], replications
    )
    controls.command_shown(command)
    job = controls.run(PAGE, command)
    if job is not None:
        _results(job)


def _key(name: str) -> str:
    return f"{PAGE}.{name}"


def _forget_settings() -> None:
    """A new council: its own values in every control."""
    for name in SETTINGS:
        st.session_state.pop(_key(name), None)


def _settings(start: Settings) -> Settings:
    """The main settings' controls, starting at the base's values."""
    first = {**vars(start), "capped": start.caseload_cap is not None, "caseload_cap": start.caseload_cap or USUAL_CAP}
    for name in SETTINGS:
        st.session_state.setdefault(_key(name), first[name])
    teams_column, demand_column, agency_column = st.columns(3)
    with teams_column:
        st.subheader("Teams and posts")
        teams = st.slider("Teams", 1, max(12, 2 * start.teams), key=_key("teams"))
        workers = st.slider(
            "Posts per team", 1, max(12, 2 * start.workers_per_team), key=_key("workers_per_team"),
            help="Moving either slider makes every team this size (a council's teams may differ by a post)",
        )  # fmt: skip
    with demand_column:
        st.subheader("Demand and caseloads")
        referrals = st.number_input(
            "Referrals a year", 0, 2_000_000, step=100, key=_key("referrals_per_year"),
            help="All referrals, re-referrals included, as DfE publishes them",
        )  # fmt: skip
        capped = st.toggle("Cap caseloads", key=_key("capped"))
        cap = st.slider("Caseload cap (children a worker)", 5, 60, key=_key("caseload_cap"), disabled=not capped)
    with agency_column:
        st.subheader("Agency and coping")
        agency = st.toggle(
            "Agency allowed", key=_key("agency_allowed"),
            help="Off: no agency worker starts, neither cover for an empty post nor standing agency",
        )  # fmt: skip
        share = st.slider(
            "Agency at most (% of posts)", 0, 100, key=_key("agency_max_percent"),
            disabled=not agency,
        )  # fmt: skip
        standing = st.number_input(
            "Standing agency (FTE above the posts)", 0.0, 100_000.0, step=0.5, key=_key("standing_agency_fte"),
            disabled=not agency,
            help="Agency workers the council keeps above its establishment, replaced when they leave;"
            " a council's preset holds its published agency rate here",
        )  # fmt: skip
        coping = st.toggle(
            "Coping responses", key=_key("coping"),
            help="Under pressure the front door closes more, caseloads creep over the cap, agency surges,"
            " workers work unpaid hours and rush assessments, and triage speeds up",
        )  # fmt: skip
    return Settings(teams, workers, cap if capped else None, int(referrals), agency, share, float(standing), coping)


def _dated_changes(common: list[str]) -> list[Change]:
    """Settings that take a new value from a month of the run: added one at a time, each checked when added."""
    changes: list[Change] = st.session_state.setdefault(_key("changes"), [])
    with st.expander("Dated changes", expanded=bool(changes)):
        st.caption("A setting takes a new value from a month of the reported run (month 0 is the first).")
        month_column, setting_column, value_column = st.columns([1, 3, 2])
        month = month_column.number_input("Month", 0, 600, 12, key=_key("change_month"))
        setting = setting_column.text_input(
            "Setting", placeholder="service.teams", key=_key("change_setting"), help=commands.setting_help()
        )
        value = value_column.text_input("Value", placeholder="3", key=_key("change_value"))
        add_column, clear_column = st.columns(2)
        if add_column.button("Add the change", key=_key("add_change"), disabled=not (setting and value.strip())):
            change = Change(int(month), str(setting).strip(), value.strip())
            message = commands.check([*common, *commands.changes_arg([*changes, change])])
            if message:
                st.error(message, icon=":material/error:")
            else:
                changes.append(change)
        if changes:
            st.table(pd.DataFrame([vars(c) for c in changes]))
            if clear_column.button("Remove the changes", key=_key("clear_changes")):
                changes.clear()
                st.rerun()
    return list(changes)


def _results(job: jobs.Job) -> None:
    """The run's KPIs with their intervals, its figures, the comparison with the base, its files and commands."""
    compared = job.command.last_file == "comparison.csv"
    yours = job.folder / "scenarios" / YOURS if compared else job.folder
    summary = pd.read_csv(yours / "summary.csv")
    differences = pd.read_csv(job.folder / "comparison.csv") if compared else None
    st.header("Results")
    controls.how_it_ran(job)
    _headline(summary, differences)
    unallocated, coping = st.columns(2)
    unallocated.image(str(yours / "unallocated.png"), caption="Children waiting unallocated, week by week")
    coping.image(str(yours / "coping.png"), caption="How the service absorbed the pressure")
    st.subheader("Every KPI, with its 95 % confidence interval")
    st.dataframe(controls.kpi_table(summary), hide_index=True)
    if differences is None:
        st.info("Your settings are the base scenario's, so there is nothing to compare: change a setting first.")
    else:
        st.subheader("Against the base scenario")
        st.caption(
            "Both ran with common random numbers: replication k of each saw the same referrals and life events,"
            " so a difference is your changes', with its paired 95 % interval (significant: it excludes 0)."
        )
        figure, table = st.columns([2, 3])
        figure.image(str(job.folder / "compare_unallocated.png"), caption="Children waiting unallocated, both")
        table.dataframe(controls.difference_table(differences), hide_index=True)
    controls.downloads(job)


def _headline(summary: pd.DataFrame, differences: pd.DataFrame | None) -> None:
    """The KPIs a planner looks at first, each with its change from the base."""
    means = summary.set_index("kpi")["mean"]
    changed = differences.set_index("kpi")["difference"] if differences is not None else None
    for column, (kpi, (label, scale, rise_is_good)) in zip(st.columns(len(HEADLINE)), HEADLINE.items(), strict=True):
        delta = None if changed is None else f"{format_number(changed[kpi] / scale, signed=True)} against the base"
        colour = "normal" if rise_is_good else "inverse"
        column.metric(label, format_number(means[kpi] / scale), delta, delta_color=colour)
