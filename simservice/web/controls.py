"""What every page shares: the council, how long and how often to run, and the run button with its progress.

Widgets are keyed ``<page>.<what>``, so each page keeps its own choices while the user moves between pages.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from simservice import councils
from simservice.config import Config
from simservice.reporting.outputs import format_number
from simservice.web import commands, jobs
from simservice.web.commands import Command

DEFAULT = "The default scenario (a Southampton-like council, 2018-19)"
#: The year of a council's figures the page starts at (as ``la.year`` does).
FIRST_YEAR = 2019
#: How often the progress bar looks at the run, seconds.
POLL = 0.5


def council(page: str, on_change: Callable[[], None] | None = None) -> tuple[str | None, int]:
    """The council whose published figures build the scenario (``la.name``, ``la.year``), or the default."""
    years = councils.years()
    left, right = st.columns([3, 1])
    year = right.selectbox(
        "Year of its figures", years, index=years.index(FIRST_YEAR), key=f"{page}.year", on_change=on_change
    )
    chosen = left.selectbox(
        "Council",
        [DEFAULT, *councils.names(year)],
        key=f"{page}.council",
        on_change=on_change,
        help="A council's referrals, workforce rates and the assessment teams sized to them, from DfE's figures",
    )
    return (None if chosen == DEFAULT else chosen), year


def run_length(page: str, base: Config, replications: int = 5) -> tuple[list[str], int]:
    """How many replications (``replications`` at first) and how many years: their overrides, and the replications."""
    with st.expander("How long and how often to run"):
        left, middle, right = st.columns(3)
        replications = left.slider(
            "Replications", 2, 30, replications, key=f"{page}.replications",
            help="Runs of the same scenario with different luck: more give narrower intervals and take longer",
        )  # fmt: skip
        years = middle.slider("Reported years", 1, 10, round(base.run.years), key=f"{page}.years")
        warmup = right.select_slider(
            "Warm-up years", [0.0, 0.5, 1.0, 1.5, 2.0], base.run.warmup_years, key=f"{page}.warmup",
            help="Simulated first and not reported, so the service has settled",
        )  # fmt: skip
    return commands.run_args(replications, years, warmup, base), replications


def command_shown(command: Command) -> None:
    """The command the run button runs, to copy into a shell."""
    st.caption("The run button runs this command (the same results on the command line):")
    st.code(command.text(), language="bash", wrap_lines=True)


def run(page: str, command: Command, problem: str | None = None) -> jobs.Job | None:
    """The run button, the progress of the run and its one-line error; the finished run once there is one.

    ``problem`` is a reason of the page's own not to run. While a run is going the button is off and a click
    starts nothing; the same settings run before are read back from the cache at once.
    """
    state = st.session_state
    job = jobs.get(state.get(f"{page}.job"))
    running = job is not None and job.running
    if st.button("Run", type="primary", disabled=running, key=f"{page}.run") and not running:
        message = state[f"{page}.message"] = problem or commands.check(command.alone or command.args)
        if message is None:
            state[f"{page}.job"] = jobs.start(command).key
            st.rerun()  # draws the button off, and the progress bar
        else:
            state[f"{page}.job"] = job = None
    if state.get(f"{page}.message"):
        st.error(state[f"{page}.message"], icon=":material/error:")
        return None
    if job is None:
        return None
    if job.running:
        progress(job.key)
        return None
    if job.state == "failed":
        st.error(job.error, icon=":material/error:")
        return None
    if not job.done:
        st.info("These results have been cleared from the cache: run again.")
        return None
    return job


@st.fragment(run_every=POLL)
def progress(key: str) -> None:
    """The progress bar, redrawn alone while the run goes; the whole page again when it ends."""
    job = jobs.get(key)
    if job is None or not job.running:
        st.rerun()
    st.progress(job.fraction(), text=job.progress_text())


def how_it_ran(job: jobs.Job) -> None:
    """How many replications, and how long it took (or that the cache had it)."""
    how = f"ran in {job.seconds:.0f} s" if job.seconds else "read back from the cache (the same settings ran before)"
    st.caption(f"{job.command.replications} replications of each scenario, {how}.")


def kpi_table(summary: pd.DataFrame) -> pd.DataFrame:
    """summary.csv as a person reads it: each KPI's mean and 95 % interval, rounded as the command line prints."""
    return pd.DataFrame(
        {
            "KPI": summary["kpi"],
            "mean": summary["mean"].map(format_number),
            "95 % CI": [f"{format_number(low)} to {format_number(high)}" for low, high in _ends(summary)],
            "unit": summary["unit"],
        }
    )


def difference_table(differences: pd.DataFrame) -> pd.DataFrame:
    """comparison.csv as a person reads it: base, yours, the paired difference and its interval."""
    return pd.DataFrame(
        {
            "KPI": differences["kpi"],
            "base": differences["base_mean"].map(format_number),
            "yours": differences["scenario_mean"].map(format_number),
            "difference": differences["difference"].map(lambda x: format_number(x, signed=True)),
            "95 % CI": [f"{format_number(low)} to {format_number(high)}" for low, high in _ends(differences)],
            "significant": differences["significant"].map({True: "yes", False: ""}),
            "unit": differences["unit"],
        }
    )


def _ends(table: pd.DataFrame) -> zip:
    return zip(table["ci_low"], table["ci_high"], strict=True)


def downloads(job: jobs.Job, *extra: tuple[str, str, str]) -> None:
    """The run's files as a zip (and ``extra`` files of it: label, file name, MIME type), and its commands."""
    buttons = st.container(horizontal=True)
    buttons.download_button(
        "Download the run's files (zip)",
        data=lambda: jobs.zip_of(job.folder),
        file_name=f"simservice-{job.key}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        key=f"download.{job.key}",
    )
    for label, name, mime in extra:
        buttons.download_button(
            label, data=(job.folder / name).read_bytes(), file_name=name, mime=mime, on_click="ignore",
            icon=":material/download:", key=f"download.{job.key}.{name}",
        )  # fmt: skip
    st.caption("On the command line, the same results:")
    st.code(job.command.text(), language="bash", wrap_lines=True)
    if job.command.alone:
        st.caption("Your scenario alone (the same numbers as in the comparison, without the base):")
        st.code(job.command.alone_text(), language="bash", wrap_lines=True)
