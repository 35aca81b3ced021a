"""The trainer's page: the latent-conditions demonstration as a guided walk, and the trainer's own conditions.

Step by step: the demonstration (``simservice experiment=latent_conditions``) runs once and is kept; each
step is then read from its files -- what the step adds, missed risks at every step so far, the step's key
numbers and, at the last, the layers of defence, the reinforcing loop and two children's stories.
Your own conditions: sliders set the latent conditions, and a run compares the good conditions with them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
import yaml

from simservice.reporting.outputs import format_number
from simservice.web import commands, controls, jobs
from simservice.web.commands import GOOD, YOURS, Conditions

TITLE = "Trainer"
ICON = ":material/school:"
ORDER = 3
PAGE = "trainer"

#: What each of the demonstration's steps adds, for managers: a short name and a sentence.
STEPS = {
    "good": ("good conditions", "A settled workforce with time to think: employees rarely leave, agency workers stay"
             " for years, few are off sick, and managers have time to supervise."),
    "turnover": ("+ turnover", "Experienced employees leave and are replaced, often by newly qualified workers:"
                 " children change social worker, and the new workers are still learning the job."),
    "agency_churn": ("+ agency churn", "Empty posts are covered by agency workers who move on within months: more"
                     " changes of worker, more people in their first weeks in the team."),
    "overload": ("+ overload", "A post short in every team: the same children shared among fewer workers, so"
                 " caseloads and stress rise."),
    "sickness": ("+ sickness", "Twice the usual sickness: colleagues' children are handed on during every long"
                 " absence, and those who stay carry more."),
    "bad": ("+ cut supervision", "Managers' other duties crowd out supervision and a careful sign-off, so the last"
            " layer of defence thins. With this, all five conditions are bad."),
}  # fmt: skip
#: The settings a step changes, as the page names them, and how it shows a value.
WATCHED: dict[str, tuple[str, Any]] = {
    "service.workers_per_team": ("posts per team", lambda v: f"{v:g}"),
    "demand.referrals_per_year": ("referrals a year", lambda v: f"{v:,.0f}"),
    "workforce.leaving_per_year_permanent": ("employees leaving a year", lambda v: f"{100 * v:g} %"),
    "workforce.leaving_per_year_newly_qualified": ("newly qualified leaving a year", lambda v: f"{100 * v:g} %"),
    "workforce.leaving_per_year_agency": ("an agency worker stays", lambda v: f"{12 / v:.2g} months"),
    "workforce.short_sickness_per_year": ("short sickness spells a worker a year", lambda v: f"{v:g}"),
    "workforce.long_sickness_per_year": ("long sickness spells a worker a year", lambda v: f"{v:g}"),
    "managers.other_duties_share": ("managers' week on other duties", lambda v: f"{100 * v:g} %"),
}
#: The key numbers of a step: their label, and whether a rise is good news.
KEY_NUMBERS = {
    "missed_risks_per_1000": ("Missed risks per 1,000 assessments", False),
    "serious_incidents": ("Serious incidents a year (illustrative)", False),
    "caseload_mean": ("Caseload (children a worker)", False),
    "stress_mean": ("Stress (0 to 1)", False),
    "turnover_pct": ("Turnover (%)", False),
    "agency_pct": ("Agency workers (%)", False),
    "absence_pct": ("Sickness absence (%)", False),
    "supervision_given_pct": ("Supervision given (%)", True),
}
MISSED = "missed_risks_per_1000"
#: The bars' colours: the good conditions, the steps between, the bad conditions (as the handout draws them).
GREEN, AMBER, RED = "#3a7d44", "#d9a441", "#b23a48"
#: The condition sliders, by key: reset to the good or the bad levels by the buttons.
SLIDERS = ("workers_per_team", "referrals_per_year", "leaving_percent", "agency_months", "sickness",
           "other_duties_percent")  # fmt: skip
HTML = "text/html"


def render() -> None:
    """The page: the demonstration step by step, and the trainer's own conditions, each on a tab."""
    st.title("The same people, in worse conditions, miss more")
    st.write(
        "James Reason's layers of defence: harm gets through when the holes in several layers line up, and latent"
        " conditions -- caseloads, churn, sickness, missed supervision -- widen the holes. Here the same workforce"
        " meets the same children, first in good conditions and then with one condition added at a time."
    )
    steps, yours = st.tabs(["Step by step", "Your own conditions"])
    with steps:
        job = _demonstration(commands.demonstration_command())
        if job is not None:
            _steps(job)
    with yours:
        _own_conditions()


def _key(name: str) -> str:
    return f"{PAGE}.{name}"


# --- Step by step ---------------------------------------------------------------------------------------------


def _demonstration(command: commands.Command) -> jobs.Job | None:
    """The demonstration's run once it has finished; until then, the button that starts it and its progress."""
    job = jobs.find(command)
    if job is not None and job.done:
        return job
    if job is not None and job.running:
        st.caption("The demonstration is being prepared, once for every session after:")
        controls.progress(job.key)
        return None
    st.info(
        f"The demonstration runs once -- {len(command.scenarios)} steps of {command.replications} replications,"
        " about half a minute on 2 cores -- and is then kept, for every session and after a restart, so each step"
        " shows at once. Prepare it before the room arrives.",
        icon=":material/hourglass_top:",
    )
    if job is not None and job.state == "failed":
        st.error(job.error, icon=":material/error:")
    controls.command_shown(command)
    if st.button("Prepare the demonstration", type="primary", key=_key("prepare")):
        jobs.start(command)
        st.rerun()
    return None


def _steps(job: jobs.Job) -> None:
    """One step of the demonstration: what it adds, missed risks so far, its key numbers; at the last, the why."""
    names = list(job.command.scenarios)
    summaries = _summaries(str(job.folder), tuple(names))
    settings = _settings(str(job.folder), tuple(names))
    state = st.session_state
    if state.get(_key("step")) not in names:
        state[_key("step")] = names[0]
    st.select_slider("Step", names, key=_key("step"), format_func=_step_name,
                     help="Each step keeps the conditions of the steps before it and adds one")  # fmt: skip
    back, forward, _ = st.columns([1, 1, 6])
    back.button("Previous step", key=_key("previous"), on_click=_move, args=(names, -1),
                disabled=state[_key("step")] == names[0], icon=":material/arrow_back:")  # fmt: skip
    forward.button("Next step", key=_key("next"), on_click=_move, args=(names, 1),
                   disabled=state[_key("step")] == names[-1], icon=":material/arrow_forward:")  # fmt: skip
    step = state[_key("step")]
    at = names.index(step)
    words, chart = st.columns([2, 3])
    with words:
        st.subheader(f"Step {at + 1} of {len(names)}: {_step_name(step)}")
        st.write(STEPS.get(step, ("", ""))[1])
        changed = _changes(settings[names[at - 1]], settings[step]) if at else _changes(settings[step], None)
        st.markdown("\n".join(f"- {line}" for line in changed))
        missed = summaries[step].loc[MISSED]
        text = (
            f"**{format_number(missed['mean'])} missed risks per 1,000 assessments** (95 % interval {_interval(missed)}"
        )
        if at:
            before = summaries[names[at - 1]].loc[MISSED, "mean"]
            first = summaries[names[0]].loc[MISSED, "mean"]
            text += (f"): {format_number(missed['mean'] - before, signed=True)} on the step before,"
                     f" {format_number(missed['mean'] - first, signed=True)} on good conditions.")  # fmt: skip
        else:
            text += ")."
        st.markdown(text)
    with chart:
        rows = _rows(summaries, names[: at + 1])
        top = max(summary.loc[MISSED, "ci_high"] for summary in summaries.values())
        st.altair_chart(missed_chart(rows, [_step_name(n) for n in names], top), width="stretch")
    st.caption(
        f"The same children and the same people in every step: {_run_words(settings[names[0]])}. The numbers of"
        " the step, with their change on the step before:"
    )
    _key_numbers(summaries[step], summaries[names[at - 1]] if at else None, "on the step before")
    if step == names[-1]:
        _why(job.folder, "In the bad conditions, all five together")
    else:
        st.info("The last step adds the layers of defence, the reinforcing loop and two children's stories.",
                icon=":material/arrow_forward:")  # fmt: skip
    controls.downloads(job, ("Download the handout (handout.html)", "handout.html", HTML))


def _move(names: list[str], by: int) -> None:
    """The step before or after the one shown."""
    state = st.session_state
    state[_key("step")] = names[min(max(names.index(state[_key("step")]) + by, 0), len(names) - 1)]


def _step_name(name: str) -> str:
    return STEPS.get(name, (name.replace("_", " "), ""))[0]


@lru_cache(maxsize=20)
def _summaries(folder: str, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Each scenario's summary.csv, by KPI: a kept run's files never change, so the page reads them once."""
    return {name: pd.read_csv(Path(folder) / "scenarios" / name / "summary.csv").set_index("kpi") for name in names}


@lru_cache(maxsize=20)
def _settings(folder: str, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each scenario's settings as it ran (scenario.yaml), flattened to ``group.key``."""
    settings = {}
    for name in names:
        tree = yaml.safe_load((Path(folder) / "scenarios" / name / "scenario.yaml").read_text())
        settings[name] = {f"{group}.{key}": value for group, values in tree.items() if isinstance(values, dict)
                          for key, value in values.items()}  # fmt: skip
    return settings


def _changes(before: dict[str, Any], after: dict[str, Any] | None) -> list[str]:
    """The watched settings that differ, in words: ``posts per team: 6 -> 5``; with no ``after``, their values."""
    lines = []
    for setting, (label, shown) in WATCHED.items():
        if after is None:
            lines.append(f"{label}: {shown(before[setting])}")
        elif before[setting] != after[setting]:
            lines.append(f"{label}: {shown(before[setting])} → **{shown(after[setting])}**")
    return lines or ["no change in the conditions this page watches"]


def _run_words(settings: dict[str, Any]) -> str:
    """How the steps ran: ``8 replications of 2 years each, after a warm-up of 1 year``."""

    def years(value: float) -> str:
        return f"{value:g} year{'' if value == 1 else 's'}"

    return (
        f"{settings['run.replications']} replications of {years(settings['run.years'])} each, after a warm-up of"
        f" {years(settings['run.warmup_years'])}"
    )


def _interval(row: pd.Series) -> str:
    return f"{format_number(max(row['ci_low'], 0.0))} to {format_number(row['ci_high'])}"


def _rows(summaries: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Missed risks of these scenarios, with their intervals (never below 0) and the colour of each bar."""
    last = list(summaries)[-1]
    return pd.DataFrame(
        {
            "step": _step_name(name),
            "mean": summaries[name].loc[MISSED, "mean"],
            "low": max(summaries[name].loc[MISSED, "ci_low"], 0.0),
            "high": summaries[name].loc[MISSED, "ci_high"],
            "colour": GREEN if name == GOOD else RED if name in (last, YOURS) else AMBER,
        }
        for name in names
    )


def missed_chart(rows: pd.DataFrame, order: list[str], top: float) -> alt.Chart:
    """Missed risks per 1,000 assessments as bars with their 95 % intervals, every step's place on the axis."""
    x = alt.X("step:N", sort=order, scale=alt.Scale(domain=order), title=None, axis=alt.Axis(labelAngle=0))
    y = alt.Y("mean:Q", scale=alt.Scale(domain=[0, 1.1 * top]), title="missed risks per 1,000 assessments")
    base = alt.Chart(rows).encode(x=x)
    bars = base.mark_bar().encode(
        y=y,
        color=alt.Color("colour:N", scale=None),
        tooltip=[alt.Tooltip("step:N"), alt.Tooltip("mean:Q", format=".1f"), alt.Tooltip("low:Q", format=".1f"),
                 alt.Tooltip("high:Q", format=".1f")],
    )  # fmt: skip
    intervals = base.mark_rule(color="black").encode(y="low:Q", y2="high:Q")
    labels = base.mark_text(dy=-8, fontWeight="bold").encode(y="high:Q", text=alt.Text("mean:Q", format=".1f"))
    return (bars + intervals + labels).properties(height=320, title="Missed risks per 1,000 assessments [95 %]")


def _key_numbers(now: pd.DataFrame, before: pd.DataFrame | None, against: str) -> None:
    """The step's key numbers, four a row, each with its change on ``before``."""
    items = list(KEY_NUMBERS.items())
    for start in range(0, len(items), 4):
        for column, (kpi, (label, rise_is_good)) in zip(st.columns(4), items[start : start + 4], strict=True):
            delta = None if before is None else now.loc[kpi, "mean"] - before.loc[kpi, "mean"]
            column.metric(
                label, format_number(now.loc[kpi, "mean"]),
                None if delta is None else format_number(delta, signed=True),
                delta_color="normal" if rise_is_good else "inverse", delta_description=against,
            )  # fmt: skip


def _why(folder: Path, where: str) -> None:
    """The handout's explanations: the layers of defence, the reinforcing loop and the two children."""
    st.subheader("The layers of defence, and what each condition lets through")
    st.write(
        "Each risky child meets the layers in turn; a risk is missed when every layer it meets lets it through."
        " Right: the same children passed the same layers again with one condition made good."
    )
    st.image(str(folder / "layers.png"), caption=f"{where}: each layer's holes, and what each condition let through")
    st.subheader("Why it gets worse on its own: the reinforcing loop")
    loop, words = st.columns([3, 2])
    loop.image(str(folder / "loop.png"), caption="Each link as these runs measured it")
    words.write(
        "More children per worker raise stress; stress brings sickness and leaving; every absence and every leaver"
        " hands children to colleagues, whose caseloads rise. Nobody in the service became less careful."
    )
    st.subheader("Two children")
    stories = (folder / "stories.md").read_text().split("\n", 1)[-1]  # without its title
    st.markdown(stories.replace("### ", "#### ").strip() or "No child whose risk was missed here was caught in good"
                " conditions in these runs: more replications find some.")  # fmt: skip
    st.image(str(folder / "stories.png"), caption="Each child's journey, in working days from referral")


# --- Your own conditions --------------------------------------------------------------------------------------


def _own_conditions() -> None:
    """The condition sliders, the run against the good conditions, and its results."""
    st.write(
        "Set the latent conditions yourself. The run compares the demonstration's good conditions with yours: the"
        " same children and the same people, with common random numbers, so a difference is your conditions'."
    )
    good_config = commands.step_config(GOOD)
    good = Conditions.of(good_config)
    bad = Conditions.of(commands.step_config(commands.demonstration_command().scenarios[-1]))
    levels = _sickness_levels(good, bad)
    for name in SLIDERS:
        st.session_state.setdefault(_key(name), _slider_value(good, name, levels))
    presets = st.container(horizontal=True)
    presets.button("Good conditions", key=_key("set_good"), on_click=_set, args=(good, levels), icon=":material/undo:")
    presets.button("Bad conditions", key=_key("set_bad"), on_click=_set, args=(bad, levels),
                   help="The demonstration's last step")  # fmt: skip
    mine = _sliders(good, bad, levels)
    extra = _extra_setting()
    run_args, replications = controls.run_length(_key("yours"), good_config, good_config.run.replications)
    overrides = [*commands.condition_args(mine, good), *extra]
    command = commands.conditions_command(run_args, overrides, replications)
    controls.command_shown(command)
    problem = None if overrides else "Your conditions are the good ones: move a slider first."
    job = controls.run(PAGE, command, problem)
    if job is not None:
        _own_results(job)


def _sickness_levels(good: Conditions, bad: Conditions) -> list[tuple[float, float]]:
    """Spells of sickness a year (short, long): good, England's usual, bad, the halfway points and one beyond."""
    workforce = commands.base_config(None, controls.FIRST_YEAR).workforce
    usual = (workforce.short_sickness_per_year, workforce.long_sickness_per_year)

    def between(a: tuple[float, float], b: tuple[float, float], share: float) -> tuple[float, float]:
        return tuple(round(x + share * (y - x), 4) for x, y in zip(a, b, strict=True))

    return [good.sickness, between(good.sickness, usual, 0.5), usual, between(usual, bad.sickness, 0.5),
            bad.sickness, between(usual, bad.sickness, 2.0)]  # fmt: skip


def _sick_days(level: tuple[float, float]) -> float:
    """Sick days a worker a year before stress adds any: spells times their mean length."""
    workforce = commands.step_config(GOOD).workforce
    return level[0] * workforce.short_sickness_mean_days + level[1] * workforce.long_sickness_mean_days


def _slider_value(conditions: Conditions, name: str, levels: list[tuple[float, float]]) -> Any:
    """A condition as its slider holds it: the sickness slider holds the level's place in ``levels``."""
    value = getattr(conditions, name)
    return levels.index(value) if name == "sickness" else value


def _set(conditions: Conditions, levels: list[tuple[float, float]]) -> None:
    for name in SLIDERS:
        st.session_state[_key(name)] = _slider_value(conditions, name, levels)


def _sliders(good: Conditions, bad: Conditions, levels: list[tuple[float, float]]) -> Conditions:
    """A slider for each latent condition; each says the good and the bad level of the demonstration."""
    names = {good.sickness: "good", levels[2]: "England's usual", bad.sickness: "bad"}

    def sickness_words(place: int) -> str:
        level = levels[place]
        return f"{_sick_days(level):.0f} days" + (f" ({names[level]})" if level in names else "")

    def levels_help(what: str, good_value: Any, bad_value: Any) -> str:
        return f"{what} Good conditions: {good_value}; bad: {bad_value}."

    caseload, churn, care = st.columns(3)
    with caseload:
        st.subheader("Caseload")
        workers = st.slider(
            "Posts per team", 3, 9, key=_key("workers_per_team"),
            help=levels_help("Fewer posts: the same children among fewer workers.", good.workers_per_team,
                             bad.workers_per_team),
        )  # fmt: skip
        referrals = st.slider(
            "Referrals a year", 1800, 4000, step=100, key=_key("referrals_per_year"),
            help=f"More children for the same posts. Good conditions: {good.referrals_per_year:,}",
        )  # fmt: skip
    with churn:
        st.subheader("Turnover and agency churn")
        leaving = st.slider(
            "Employees leaving a year (%)", 0, 40, key=_key("leaving_percent"),
            help=levels_help("Experienced and newly qualified employees alike, before stress adds to it.",
                             f"{good.leaving_percent} %", f"{bad.leaving_percent} % (25 % newly qualified)"),
        )  # fmt: skip
        months = st.slider(
            "Months an agency worker stays", 2, 36, key=_key("agency_months"),
            help=levels_help("On average.", good.agency_months, bad.agency_months),
        )  # fmt: skip
    with care:
        st.subheader("Sickness and supervision")
        sickness = st.select_slider(
            "Sick days a worker a year", range(len(levels)), key=_key("sickness"), format_func=sickness_words,
            help="Short and long spells of sickness, before stress adds to them (England: about 8 days a year)",
        )  # fmt: skip
        duties = st.slider(
            "Managers' week on other duties (%)", 20, 85, step=5, key=_key("other_duties_percent"),
            help=levels_help("The more, the less time for supervision and a careful sign-off.",
                             f"{good.other_duties_percent} %", f"{bad.other_duties_percent} %"),
        )  # fmt: skip
    return Conditions(workers, referrals, leaving, months, levels[sickness], duties)


def _extra_setting() -> list[str]:
    """One more setting of the trainer's conditions, as the command line names it (checked when run)."""
    with st.expander("One more setting"):
        st.caption("Any setting as the command line names it, for your conditions only: policy.caseload_cap=20.")
        setting_column, value_column = st.columns([3, 2])
        setting = setting_column.text_input("Setting", placeholder="policy.caseload_cap", key=_key("extra_setting"),
                                            help=commands.setting_help())  # fmt: skip
        value = value_column.text_input("Value", placeholder="20", key=_key("extra_value"))
    setting, value = str(setting).strip(), str(value).strip()
    return [f"{setting}={value}"] if setting and value else []


def _own_results(job: jobs.Job) -> None:
    """Good conditions against yours: missed risks, the paired differences, the why, and the handout."""
    names = list(job.command.scenarios)
    summaries = _summaries(str(job.folder), tuple(names))
    settings = _settings(str(job.folder), tuple(names))
    differences = pd.read_csv(job.folder / "comparison.csv").set_index("kpi")
    st.header("Results")
    controls.how_it_ran(job)
    words, chart = st.columns([2, 3])
    with words:
        st.subheader("Your conditions against the good ones")
        st.markdown("\n".join(f"- {line}" for line in _changes(settings[GOOD], settings[YOURS])))
        missed = differences.loc[MISSED]
        significant = "" if missed["significant"] else " (an interval that includes 0: no clear difference)"
        st.markdown(
            f"**{format_number(missed['scenario_mean'])} missed risks per 1,000 assessments** against"
            f" {format_number(missed['base_mean'])} in good conditions: a paired difference of"
            f" **{format_number(missed['difference'], signed=True)}** (95 % interval"
            f" {format_number(missed['ci_low'], signed=True)} to {format_number(missed['ci_high'], signed=True)})"
            f"{significant}."
        )
    with chart:
        top = max(summary.loc[MISSED, "ci_high"] for summary in summaries.values())
        order = [_step_name(GOOD), "yours"]
        rows = _rows(summaries, names).assign(step=order)
        st.altair_chart(missed_chart(rows, order, top), width="stretch")
    st.caption("Your conditions' numbers, with their change from the good conditions:")
    _key_numbers(summaries[YOURS], summaries[GOOD], "against good conditions")
    _why(job.folder, "In your conditions")
    controls.downloads(job, ("Download the handout (handout.html)", "handout.html", HTML))
