"""The web page through Streamlit's AppTest: every control, a run of each page, the cache, and bad input's one line.

The runs are tiny (2 replications of a year after half a year's warm-up); each is a real ``simservice``
command in a process of its own, kept in a temporary cache folder.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import socket
import sys
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from commands import SMALL_DEMONSTRATION, simservice
from streamlit.testing.v1 import AppTest

from simservice.reporting.outputs import format_number
from simservice.web import commands, jobs, serve, views

HOME = str(Path(jobs.__file__).with_name("home.py"))
PLANNER = "from simservice.web.views import planner\nplanner.render()"
FINANCE = "from simservice.web.views import finance\nfinance.render()"
TRAINER = "from simservice.web.views import trainer\ntrainer.render()"
#: The demonstration made small, as the page would run it: the small demonstration's folder is its files.
SMALL = commands.Command(
    (*SMALL_DEMONSTRATION, "run.jobs=-1"), commands.demonstration_command().scenarios, 2, "handout.html"
)
#: Controls a test touches, by kind: a control added to a page without a test fails ``test_every_control...``.
KINDS = ("slider", "select_slider", "toggle", "selectbox", "multiselect", "number_input", "text_input", "button")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Each test keeps its runs in a folder of its own and starts with no runs known."""
    monkeypatch.setenv(jobs.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(jobs, "_jobs", {})
    return tmp_path / "cache"


def page(script: str) -> AppTest:
    return AppTest.from_string(script, default_timeout=60).run()


def tiny(at: AppTest, page_name: str) -> AppTest:
    """The quickest run: 2 replications of a year after half a year's warm-up."""
    at.slider(key=f"{page_name}.replications").set_value(2)
    at.slider(key=f"{page_name}.years").set_value(1)
    at.select_slider(key=f"{page_name}.warmup").set_value(0.5)
    return at.run()


def _setter(at, touched: set):
    """Set a control by its key, note it as touched, and rerun the page."""

    def set_(kind: str, key: str, value) -> None:
        getattr(at, kind)(key=key).set_value(value)
        touched.add(key)
        at.run()

    return set_


def shown_command(at: AppTest) -> str:
    return at.code[0].value


def finish(at: AppTest, timeout: float = 120) -> AppTest:
    """Redraw the page as the browser would until the run has its results or its error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(h.value == "Results" for h in at.header) or at.error:
            return at
        time.sleep(0.3)
        at.run()
    raise AssertionError("the run did not finish")


def keys(at: AppTest) -> set[str]:
    return {widget.key for kind in KINDS for widget in getattr(at, kind)}


def test_each_view_module_is_a_page_and_the_first_opens():
    assert [view.TITLE for view in views.pages()] == ["Planner", "Finance", "Trainer"]
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Plan a scenario"


def test_every_planner_control_changes_the_command():
    at = page(PLANNER)
    assert not at.exception
    assert shown_command(at) == "simservice run.replications=5 run.jobs=-1"  # the default: nothing to compare
    touched = set()

    set_ = _setter(at, touched)

    set_("slider", "planner.teams", 3)
    set_("slider", "planner.workers_per_team", 5)
    set_("number_input", "planner.referrals_per_year", 3100)
    set_("slider", "planner.caseload_cap", 15)
    set_("slider", "planner.agency_max_percent", 10)
    set_("number_input", "planner.standing_agency_fte", 2.5)
    set_("toggle", "planner.coping", False)
    set_("slider", "planner.replications", 3)
    set_("slider", "planner.years", 2)
    set_("select_slider", "planner.warmup", 0.5)
    shown = shown_command(at)
    assert shown.startswith("simservice run.replications=3 run.years=2 run.warmup_years=0.5 'scenarios={base:{},")
    assert "yours:{service:{teams:3,workers_per_team:5},policy:{caseload_cap:15}," in shown
    assert "demand:{referrals_per_year:3100},workforce:{agency_max_share:0.1,standing_agency_fte:2.5}," in shown
    assert "coping:{thresholds_rise:false,caseload_creep:false,agency_surge:false," in shown

    set_("toggle", "planner.capped", False)
    set_("toggle", "planner.agency_allowed", False)
    assert "policy:{caseload_cap:null}" in shown_command(at)
    assert "workforce:{agency_allowed:false}" in shown_command(at)

    set_("number_input", "planner.change_month", 6)
    set_("text_input", "planner.change_setting", "service.teams")
    set_("text_input", "planner.change_value", "2")
    at.button(key="planner.add_change").click().run()
    touched.add("planner.add_change")
    assert "changes:[{month:6,setting:service.teams,value:2}]" in shown_command(at)
    at.button(key="planner.clear_changes").click().run()
    touched.add("planner.clear_changes")
    assert "changes" not in shown_command(at)

    # Another council: every setting starts again at its values, and the command names it.
    set_("selectbox", "planner.year", 2018)
    set_("selectbox", "planner.council", "Isle of Wight")
    wight = commands.base_config("Isle of Wight", 2018)
    assert at.slider(key="planner.teams").value == wight.service.teams
    # The council's agency is its standing agency, shown where the planner can change it.
    standing = at.number_input(key="planner.standing_agency_fte").value
    assert standing == round(wight.workforce.standing_agency_fte, 1) > 0
    assert at.toggle(key="planner.capped").value and at.toggle(key="planner.coping").value
    assert shown_command(at).startswith("simservice 'la.name=Isle of Wight' la.year=2018 run.replications=3")
    assert keys(at) - touched == {"planner.run"}  # the run button: test_a_planner_run...


@pytest.mark.slow
def test_a_planner_run_shows_kpis_figures_the_comparison_files_and_commands(cache, monkeypatch):
    started = []
    popen = jobs.subprocess.Popen
    monkeypatch.setattr(jobs.subprocess, "Popen", lambda *a, **k: started.append(a) or popen(*a, **k))
    at = tiny(page(PLANNER), "planner")
    at.slider(key="planner.teams").set_value(3).run()
    at.button(key="planner.run").click().run()
    assert at.button(key="planner.run").disabled  # no second click while it runs
    # Another session asking for the same settings meanwhile follows the same run.
    meanwhile = tiny(page(PLANNER), "planner")
    meanwhile.slider(key="planner.teams").set_value(3).run()
    meanwhile.button(key="planner.run").click().run()
    finish(at)
    finish(meanwhile)
    assert len(started) == 1 and not at.exception and not at.error
    assert meanwhile.session_state["planner.job"] == at.session_state["planner.job"]

    job = jobs.get(at.session_state["planner.job"])
    yours = pd.read_csv(job.folder / "scenarios" / "yours" / "summary.csv").set_index("kpi")
    assert at.metric[0].label == "Children waiting unallocated"
    assert at.metric[0].value == format_number(yours.loc["unallocated_mean", "mean"])
    assert "against the base" in at.metric[0].delta
    kpis, differences = at.dataframe
    assert list(kpis.value.columns) == ["KPI", "mean", "95 % CI", "unit"] and len(kpis.value) == len(yours)
    assert set(differences.value["KPI"]) == set(yours.index)
    assert len(at.get("image")) == 3  # unallocated.png, coping.png, compare_unallocated.png
    shown = [code.value for code in at.code]
    assert shown[1] == job.command.text()
    assert shown[2] == "simservice run.replications=2 run.years=1 run.warmup_years=0.5 service.teams=3 run.jobs=-1"
    assert at.get("download_button")[0].label == "Download the run's files (zip)"
    names = zipfile.ZipFile(io.BytesIO(jobs.zip_of(job.folder))).namelist()
    assert f"simservice-{job.key}/scenarios/yours/summary.csv" in names
    assert f"simservice-{job.key}/command.txt" in names

    # After a restart of the page, a session with the same settings reads the run back at once, and runs nothing.
    jobs._jobs.clear()
    again = tiny(page(PLANNER), "planner")
    again.slider(key="planner.teams").set_value(3).run()
    again.button(key="planner.run").click().run()
    assert any(h.value == "Results" for h in again.header) and len(started) == 1
    assert any("read back from the cache" in caption.value for caption in again.caption)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("service.foo", "3"), pytest.param("policy.caseload_cap", "0", marks=pytest.mark.slow)],
    ids=["unknown", "out_of_range"],
)
def test_a_bad_dated_change_gets_the_command_line_s_one_line(tmp_path, setting, value):
    at = page(PLANNER)
    at.number_input(key="planner.change_month").set_value(3)
    at.text_input(key="planner.change_setting").set_value(setting)
    at.text_input(key="planner.change_value").set_value(value)
    at.run().button(key="planner.add_change").click().run()
    cli = simservice(f"changes=[{{month:3,setting:{setting},value:{value}}}]", cwd=tmp_path)
    assert cli.returncode == 2
    assert [e.value for e in at.error] == [cli.stderr.strip().removeprefix("simservice: error: ")]
    assert not at.exception and "changes" not in shown_command(at)


@pytest.mark.slow
def test_a_change_that_a_shorter_run_leaves_out_is_refused_when_run(tmp_path):
    at = page(PLANNER)
    at.text_input(key="planner.change_setting").set_value("service.teams")
    at.text_input(key="planner.change_value").set_value("3")
    at.run().button(key="planner.add_change").click().run()  # month 12 of 5 years: fine
    at.slider(key="planner.years").set_value(1).run()
    at.button(key="planner.run").click().run()
    cli = simservice("run.years=1", "changes=[{month:12,setting:service.teams,value:3}]", cwd=tmp_path)
    assert [e.value for e in at.error] == [cli.stderr.strip().removeprefix("simservice: error: ")]
    assert "changes[0].month=12" in at.error[0].value and at.session_state["planner.job"] is None


def test_every_finance_control_changes_the_command():
    at = page(FINANCE)
    assert not at.exception
    at.button(key="finance.run").click().run()
    assert at.error[0].value.startswith("Choose a budget option")
    shipped = [option.name for option in commands.budget_options()]
    assert {"cut_team", "add_team", "agency_cap_10", "retention_payment", "welcome_payment", "raise_cap"} <= set(
        shipped
    )
    at.multiselect(key="finance.options").set_value(["raise_cap", "agency_cap_10"]).run()
    assert "budget=[raise_cap,agency_cap_10]" in shown_command(at)
    at.toggle(key="finance.own").set_value(True).run()
    at.text_input(key="finance.own_name").set_value("bonus")
    at.number_input(key="finance.own_cost").set_value(50000)
    at.text_input(key="finance.own_setting0").set_value("finance.retention_payment_per_year")
    at.text_input(key="finance.own_value0").set_value("1000")
    at.text_input(key="finance.own_setting1").set_value("workforce.leaving_per_year_permanent")
    at.text_input(key="finance.own_value1").set_value("0.12")
    at.text_input(key="finance.own_setting2").set_value("policy.caseload_cap")
    at.text_input(key="finance.own_value2").set_value("20")
    at.slider(key="finance.replications").set_value(4)
    at.slider(key="finance.years").set_value(3)
    at.select_slider(key="finance.warmup").set_value(1.5)
    at.selectbox(key="finance.year").set_value(2020)
    at.selectbox(key="finance.council").set_value("Portsmouth")
    at.run()
    assert shown_command(at) == (
        "simservice la.name=Portsmouth la.year=2020 run.replications=4 run.years=3 run.warmup_years=1.5"
        " 'budget=[raise_cap,agency_cap_10]' 'budget.bonus={one_off_gbp:50000,settings:{finance.retention_payment_"
        "per_year:1000,workforce.leaving_per_year_permanent:0.12,policy.caseload_cap:20}}' run.jobs=-1"
    )
    assert keys(at) == {
        "finance.year", "finance.council", "finance.options", "finance.own", "finance.own_name", "finance.own_cost",
        *(f"finance.own_{what}{row}" for what in ("setting", "value") for row in range(3)),
        "finance.replications", "finance.years", "finance.warmup", "finance.run",
    }  # fmt: skip


def test_a_bad_own_option_gets_the_command_line_s_one_line(tmp_path):
    at = page(FINANCE)
    at.toggle(key="finance.own").set_value(True).run()
    at.text_input(key="finance.own_setting0").set_value("policy.caseload_cap")
    at.text_input(key="finance.own_value0").set_value("0")
    at.run().button(key="finance.run").click().run()
    cli = simservice("budget.mine={one_off_gbp:0,settings:{policy.caseload_cap:0}}", cwd=tmp_path)
    assert cli.returncode == 2
    assert [e.value for e in at.error] == [cli.stderr.strip().removeprefix("simservice: error: ")]


@pytest.mark.slow
def test_a_finance_run_shows_the_plane_the_table_and_the_workbook():
    at = tiny(page(FINANCE), "finance")
    at.multiselect(key="finance.options").set_value(["raise_cap"])
    at.toggle(key="finance.own").set_value(True).run()
    at.number_input(key="finance.own_cost").set_value(20000)
    at.text_input(key="finance.own_setting0").set_value("finance.retention_payment_per_year")
    at.text_input(key="finance.own_value0").set_value("1000")
    at.run().button(key="finance.run").click().run()
    finish(at)
    assert not at.exception and not at.error
    job = jobs.get(at.session_state["finance.job"])
    table = pd.read_csv(job.folder / "budget.csv")
    view = at.dataframe[0].value
    assert list(view["option"]) == ["base", "raise_cap", "mine"] == list(table["option"].unique())
    yearly = table[(table.option == "mine") & (table.measure == "yearly_cost_gbp")].iloc[0]
    assert view.loc[2, "yearly cost (£k a year)"] == format_number(yearly["mean"] / 1e3)
    assert len(at.get("image")) == 1  # budget.png
    buttons = [button.label for button in at.get("download_button")]
    assert buttons == ["Download the run's files (zip)", "Download the workbook (budget.xlsx)"]
    assert set(pd.read_excel(job.folder / "budget.xlsx", sheet_name=None)) == {
        "summary",
        "differences",
        "options",
        "notes",
    }


def _steps_shown(at: AppTest) -> bool:
    return any(slider.key == "trainer.step" for slider in at.select_slider)


class _Demonstration:
    """The demonstration's process as ``subprocess.Popen`` shows it, without its minute of work: it prints the first
    step's progress and, when the test lets it finish, leaves the small demonstration's files and ends with 0 (or
    prints ``error`` and ends with 2). A real command through the page: the planner's test, and the browser's.
    """

    def __init__(self, args: list[str], made: Path, finish: threading.Event, error: str = ""):
        self.folder = Path(args[-1].removeprefix("hydra.run.dir=").strip("'"))
        self.made, self.finish, self.error, self.code = made, finish, error, 2 if error else 0
        self.stderr = self
        self.printed = [b"good:  50%|#####     | 1/2 [00:01<00:01, 1.0rep/s]\r"]

    def read1(self, size: int) -> bytes:
        if self.printed:
            return self.printed.pop()
        assert self.finish.wait(60)
        line, self.error = (f"simservice: error: {self.error}\n" if self.error else ""), ""
        return line.encode()

    def wait(self) -> int:
        if self.code == 0:
            shutil.copytree(self.made, self.folder)
        return self.code


def _pretend(monkeypatch, made: Path, error: str = "") -> tuple[list, threading.Event]:
    """The small demonstration as the page's demonstration, its process pretended: what it started, and its end."""
    started, finish = [], threading.Event()
    monkeypatch.setattr(
        jobs.subprocess, "Popen", lambda *a, **k: started.append(a) or _Demonstration(a[0], made, finish, error)
    )
    monkeypatch.setattr(commands, "demonstration_command", lambda: SMALL)
    return started, finish


@pytest.mark.slow
def test_the_demonstration_is_prepared_once_then_each_step_is_read_from_its_files(
    cache, monkeypatch, small_demonstration
):
    started, finish = _pretend(monkeypatch, small_demonstration)
    at = page(TRAINER)
    assert not at.exception and not _steps_shown(at) and not started  # nothing runs until asked
    assert at.code[0].value == f"simservice {' '.join(SMALL.args)}"
    at.button(key="trainer.prepare").click().run()
    assert len(started) == 1 and not _steps_shown(at)
    assert any("being prepared" in caption.value for caption in at.caption)
    # Another session meanwhile follows the same run: no button to start another.
    meanwhile = page(TRAINER)
    assert not any(button.key == "trainer.prepare" for button in meanwhile.button) and len(started) == 1
    finish.set()
    deadline = time.monotonic() + 60
    while not _steps_shown(at) and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    assert _steps_shown(at) and not at.exception and not at.error

    # Each step read from the run's files: nothing runs again.
    job = jobs.find(SMALL)
    names = list(SMALL.scenarios)
    summaries = {n: pd.read_csv(job.folder / "scenarios" / n / "summary.csv").set_index("kpi") for n in names}
    assert at.select_slider(key="trainer.step").value == "good" and at.button(key="trainer.previous").disabled
    for at_step, name in enumerate(names):
        if at_step:
            at.button(key="trainer.next").click().run()
            assert len(started) == 1, "a step started a run of its own"  # read from the kept files, not re-run
        assert at.select_slider(key="trainer.step").value == name
        assert at.subheader[0].value.startswith(f"Step {at_step + 1} of 6: ")
        missed = at.metric[0]
        assert missed.label == "Missed risks per 1,000 assessments"
        assert missed.value == format_number(summaries[name].loc["missed_risks_per_1000", "mean"])
        assert at.metric[7].value == format_number(summaries[name].loc["supervision_given_pct", "mean"])
        if at_step:
            change = (summaries[n].loc["missed_risks_per_1000", "mean"] for n in (name, names[at_step - 1]))
            assert missed.delta == format_number(next(change) - next(change), signed=True)
        assert len(at.get("vega_lite_chart")) == 1
        assert len(at.get("image")) == (3 if name == names[-1] else 0)  # layers.png, loop.png, stories.png
    assert not any("posts per team" in m.value for m in at.markdown)  # the last step changes supervision only
    assert any("managers' week on other duties: 45 % → **65 %**" in m.value for m in at.markdown)
    told = "### Child 1" in (job.folder / "stories.md").read_text()
    assert any("#### Child 1" in m.value for m in at.markdown) == told
    assert at.button(key="trainer.next").disabled
    at.button(key="trainer.previous").click().run()
    assert at.select_slider(key="trainer.step").value == names[-2]
    at.select_slider(key="trainer.step").set_value("turnover").run()
    assert any("employees leaving a year: 6 % → **22 %**" in m.value for m in at.markdown)
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Download the run's files (zip)", "Download the handout (handout.html)"]

    # After a restart of the page, a new session finds the kept run and shows the steps at once: nothing runs.
    jobs._jobs.clear()
    again = page(TRAINER)
    assert _steps_shown(again) and len(started) == 1 and not again.exception


@pytest.mark.slow
def test_a_demonstration_that_fails_says_why_and_can_be_prepared_again(cache, monkeypatch, small_demonstration):
    error = "run.years=0: must be a number above 0 and at most 50"
    started, finish = _pretend(monkeypatch, small_demonstration, error)
    at = page(TRAINER)
    at.button(key="trainer.prepare").click().run()
    finish.set()
    deadline = time.monotonic() + 60
    while not at.error and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    assert [e.value for e in at.error] == [error] and not _steps_shown(at)
    assert not (cache / jobs.key_of(SMALL)).exists()
    at.button(key="trainer.prepare").click().run()
    assert len(started) == 2


def test_every_trainer_control_changes_the_command():
    at = page(TRAINER)
    assert not at.exception
    good = ("simservice run.replications=8 run.years=2 run.warmup_years=1 run.event_log=true"
            " workforce.leaving_per_year_permanent=0.06 workforce.leaving_per_year_newly_qualified=0.06"
            " workforce.leaving_per_year_agency=0.5 workforce.short_sickness_per_year=1.0"
            " workforce.long_sickness_per_year=0.02 managers.other_duties_share=0.45 handout=true")  # fmt: skip
    assert shown_command(at) == "simservice experiment=latent_conditions run.jobs=-1"  # the demonstration's
    assert at.code[1].value == f"{good} 'scenarios={{good:{{}},yours:{{}}}}' run.jobs=-1"
    at.button(key="trainer.run").click().run()
    assert [e.value for e in at.error] == ["Your conditions are the good ones: move a slider first."]
    touched = {"trainer.run"}

    set_ = _setter(at, touched)

    set_("slider", "trainer.workers_per_team", 5)
    set_("slider", "trainer.referrals_per_year", 3000)
    set_("slider", "trainer.leaving_percent", 20)
    set_("slider", "trainer.agency_months", 6)
    set_("select_slider", "trainer.sickness", 2)  # England's usual
    set_("slider", "trainer.other_duties_percent", 70)
    set_("text_input", "trainer.extra_setting", "policy.caseload_cap")
    set_("text_input", "trainer.extra_value", "20")
    set_("slider", "trainer.yours.replications", 3)
    set_("slider", "trainer.yours.years", 1)
    set_("select_slider", "trainer.yours.warmup", 0.5)
    assert at.code[1].value == (
        good.replace("replications=8 run.years=2 run.warmup_years=1", "replications=3 run.years=1 run.warmup_years=0.5")
        + " 'scenarios={good:{},yours:{service:{workers_per_team:5},demand:{referrals_per_year:3000},workforce:"
        "{leaving_per_year_permanent:0.2,leaving_per_year_newly_qualified:0.2,leaving_per_year_agency:2,"
        "short_sickness_per_year:2,long_sickness_per_year:0.05},managers:{other_duties_share:0.7},"
        "policy:{caseload_cap:20}}}' run.jobs=-1"
    )
    assert at.select_slider(key="trainer.sickness").format_func(2) == "7 days (England's usual)"

    # The buttons set every condition to the demonstration's bad levels, or back to the good ones.
    at.button(key="trainer.set_bad").click().run()
    touched.add("trainer.set_bad")
    bad = commands.Conditions.of(commands.step_config("bad"))
    assert (at.slider(key="trainer.workers_per_team").value, at.slider(key="trainer.other_duties_percent").value) == (
        bad.workers_per_team,
        bad.other_duties_percent,
    )
    assert "yours:{service:{workers_per_team:5},workforce:{leaving_per_year_permanent:0.22," in at.code[1].value
    assert "sickness_per_year:3,long_sickness_per_year:0.12},managers:{other_duties_share:0.65}" in at.code[1].value
    at.button(key="trainer.set_good").click().run()
    touched.add("trainer.set_good")
    assert "yours:{policy:{caseload_cap:20}}" in at.code[1].value
    assert keys(at) - touched == {"trainer.prepare"}  # test_the_demonstration_is_prepared...


@pytest.mark.slow
def test_a_trainer_s_own_conditions_run_against_the_good_ones(cache):
    at = tiny(page(TRAINER), "trainer.yours")
    at.slider(key="trainer.workers_per_team").set_value(4).run()
    at.button(key="trainer.run").click().run()
    finish(at)
    assert not at.exception and not at.error
    job = jobs.get(at.session_state["trainer.job"])
    differences = pd.read_csv(job.folder / "comparison.csv").set_index("kpi")
    missed = differences.loc["missed_risks_per_1000"]
    yours = pd.read_csv(job.folder / "scenarios" / "yours" / "summary.csv").set_index("kpi")
    assert at.metric[0].value == format_number(yours.loc["missed_risks_per_1000", "mean"])
    assert at.metric[0].delta == format_number(missed["difference"], signed=True)
    assert any(
        f"a paired difference of **{format_number(missed['difference'], signed=True)}**" in m.value for m in at.markdown
    )
    assert any("posts per team: 6 → **4**" in m.value for m in at.markdown)
    assert len(at.get("image")) == 3 and len(at.get("vega_lite_chart")) == 1
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Download the run's files (zip)", "Download the handout (handout.html)"]
    assert (job.folder / "handout.html").read_text().count("data:image/png;base64,") == 4


@pytest.mark.parametrize(
    ("setting", "value"),
    [pytest.param("service.foo", "3", marks=pytest.mark.slow), ("policy.caseload_cap", "0")],
    ids=["unknown", "out_of_range"],
)
def test_a_bad_setting_of_the_trainer_s_own_gets_the_command_line_s_one_line(tmp_path, setting, value):
    at = page(TRAINER)
    at.text_input(key="trainer.extra_setting").set_value(setting)
    at.text_input(key="trainer.extra_value").set_value(value)
    at.run().button(key="trainer.run").click().run()
    cli = simservice(*shlex.split(at.code[1].value)[1:], cwd=tmp_path)
    assert cli.returncode == 2
    assert [e.value for e in at.error] == [cli.stderr.strip().removeprefix("simservice: error: ")]
    assert at.session_state["trainer.job"] is None and not at.exception


def test_only_the_settings_that_differ_from_the_base_are_named():
    base = commands.Settings.of(commands.base_config(None, 2019))
    assert commands.setting_args(base, base) == []
    mine = commands.Settings(3, 5, None, 3100, False, 10, 0.0, False)
    assert commands.setting_args(mine, base) == [
        "service.teams=3",
        "service.workers_per_team=5",
        "policy.caseload_cap=null",
        "demand.referrals_per_year=3100",
        "workforce.agency_allowed=false",
        "coping=off",
    ]
    command = commands.planner_command(["run.replications=2"], commands.setting_args(mine, base), 2)
    assert command.alone_text() == (
        "simservice run.replications=2 service.teams=3 service.workers_per_team=5 policy.caseload_cap=null"
        " demand.referrals_per_year=3100 workforce.agency_allowed=false coping=off run.jobs=-1"
    )
    # The comparison's scenario is the same scenario as the command alone.
    assert commands.check(command.args) is None
    from simservice.app import scenario_configs
    from simservice.hydra_config import compose, load_config

    with commands._HYDRA:
        composed = scenario_configs(compose(list(command.args)), list(command.args))
        assert composed["yours"] == load_config(list(command.alone))
        assert composed["base"] == load_config(["run.replications=2", "run.jobs=-1"])


def test_a_council_s_name_is_quoted_where_the_command_line_needs_it():
    assert commands.council_args("Isle of Wight", 2019) == ["la.name=Isle of Wight", "la.year=2019"]
    hull = commands.council_args("Kingston upon Hull, City of", 2019)
    assert hull[0] == "la.name='Kingston upon Hull, City of'"
    assert commands.check(hull) is None
    shown = commands.planner_command(hull, [], 5).text()
    assert shown == "simservice \"la.name='Kingston upon Hull, City of'\" la.year=2019 run.jobs=-1"
    assert shlex.split(shown)[1:] == [*hull, "run.jobs=-1"]


class _Finished:
    """A command that has printed ``stderr`` and ended with ``code``, as ``subprocess.Popen`` shows it."""

    def __init__(self, stderr: bytes, code: int):
        self.stderr, self.code = io.BytesIO(stderr), code

    def wait(self) -> int:
        return self.code


def _followed(cache: Path, stderr: bytes, code: int, last_file: str | None) -> jobs.Job:
    command = commands.Command(("run.replications=2",), ("base", "yours"), 2, "comparison.csv")
    staging, printed = cache / ".running-k-1", cache / ".running-k-1.txt"
    staging.mkdir(parents=True)
    printed.write_text("the KPI table\n")
    if last_file:
        (staging / last_file).write_text("done\n")
    job = jobs.Job(command, "k", cache / "k")
    jobs._follow(job, _Finished(stderr, code), staging, printed)
    assert not staging.exists() and not printed.exists()
    return job


def test_progress_is_read_from_the_command_s_bars(cache):
    bars = (
        b"\rbase:   0%|          | 0/2 [00:00<?, ?rep/s]\rbase:  50%|\xe2\x96\x88\xe2\x96\x88     | 1/2 [00:01<00:01]"
        b"\r          \r\ryours:   0%|          | 0/2 [00:00<?, ?rep/s]\ryours:  50%|\xe2\x96\x88     | 1/2 [00:01]\r"
    )
    job = _followed(cache, bars, 0, "comparison.csv")
    assert (job.finished, job.scenario, job.replications_done) == (["base"], "yours", 1)
    assert job.fraction() == 0.75 and job.done
    assert (job.folder / "terminal.txt").read_text() == "the KPI table\n"
    assert (job.folder / "command.txt").read_text() == "simservice run.replications=2\n"


def test_a_command_that_fails_leaves_its_one_line_and_no_files(cache):
    job = _followed(cache, b"simservice: error: run.years=0: must be a number above 0 and at most 50\n", 2, None)
    assert job.state == "failed" and job.error == "run.years=0: must be a number above 0 and at most 50"
    assert not job.folder.exists()
    crashed = _followed(cache, b"Traceback (most recent call last):\n  ...\nMemoryError: out of memory\n", 1, None)
    assert crashed.error == "MemoryError: out of memory"  # the last line, never the stack


def test_the_cache_keeps_the_runs_used_last_and_drops_abandoned_ones(cache):
    for age, name in enumerate(["new", "middle", "old"]):
        (cache / name).mkdir(parents=True)
        stamp = time.time() - 100 * age
        os.utime(cache / name, (stamp, stamp))
    jobs.prune(keep=2)
    assert sorted(p.name for p in cache.iterdir()) == ["middle", "new"]
    (cache / f".running-k-{os.getpid()}").mkdir()
    (cache / ".running-k-999999999").mkdir()  # a page that no longer runs
    (cache / ".running-k-999999999.txt").write_text("")
    jobs._remove_abandoned(cache)
    assert sorted(p.name for p in cache.iterdir()) == [f".running-k-{os.getpid()}", "middle", "new"]


def test_a_key_is_the_exact_command():
    one = commands.Command(("service.teams=3",), ("replications",), 2, "summary.csv")
    assert jobs.key_of(one) == jobs.key_of(commands.Command(("service.teams=3",), ("replications",), 2, "summary.csv"))
    assert jobs.key_of(one) != jobs.key_of(commands.Command(("service.teams=4",), ("replications",), 2, "summary.csv"))


@pytest.mark.parametrize("port", ["0", "70000"])
def test_simservice_app_refuses_a_port_that_is_no_port_in_one_line(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        serve.main(["--port", port])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"simservice-app: error: --port {port}: must be a port from 1 to 65535\n"


def test_simservice_app_refuses_a_port_in_use_in_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_:
            serve.main(["--port", str(port)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"simservice-app: error: --port {port}: cannot serve on 127.0.0.1:{port}")
        and err.count("\n") == 1
    )


def test_simservice_app_without_streamlit_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "streamlit.web", None)  # as if the app extra were not installed
    with pytest.raises(SystemExit) as exit_:
        serve.main([])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(
        "simservice-app: error: the page needs Streamlit: pip install -e '.[app]'"
    )
