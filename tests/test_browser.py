"""The page in a real browser: ``simservice-app`` started as a user starts it, used in headless Chromium.

Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser download is not used).
A planner moves a slider, runs, reads the KPI table and downloads the run's files; a finance officer
compares two budget options and downloads the workbook; a trainer prepares the latent-conditions
demonstration and steps through it. Screenshots of the pages go into the test's folder, and into
``docs/`` for the README with ``SIMSERVICE_SCREENSHOTS=docs``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from simservice.reporting.outputs import format_number

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Long enough for the slowest step on a busy machine: starting the page, or a run.
WAIT_MS = 120_000
#: The trainer's demonstration: about a minute on an idle machine, longer when other work shares the cores.
DEMONSTRATION_MS = 600_000


@pytest.fixture
def browser():
    """Headless Chromium from Debian, driven by Playwright; skipped where either is missing (CI: a failure)."""
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if not CHROMIUM.is_file():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        missing("no Playwright (pip install -e '.[browser]')")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def served(tmp_path):
    """``simservice-app`` on a free port, its runs kept in the test's folder: the page's address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "simservice-app.log"
    with open(log, "w") as output:
        app = subprocess.Popen(
            [str(Path(sys.executable).with_name("simservice-app")), "--port", str(port), "--cache-dir",
             str(tmp_path / "cache")],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, app, log)
        assert log.read_text().splitlines()[0] == f"simservice-app: the page is at {url} (Ctrl-C stops it)"
        yield url
    finally:
        app.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def _wait_until_up(url: str, app: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        assert app.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the page did not start: {log.read_text()}")


def _screenshot(page, name: str, folder: Path) -> None:
    """The page as the user sees it, into the test's folder and, when asked, into docs/ for the README."""
    page.wait_for_timeout(500)  # let the figures settle
    page.screenshot(path=folder / name)
    if os.environ.get("SIMSERVICE_SCREENSHOTS") == "docs":
        from PIL import Image  # Pillow comes with matplotlib

        DOCS.mkdir(exist_ok=True)
        # 128 colours keep the text sharp at a third of the size.
        Image.open(folder / name).convert("RGB").quantize(128).save(DOCS / name, optimize=True)


def test_a_planner_and_a_finance_officer_use_the_page(browser, served, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1800}, accept_downloads=True)
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    page.goto(served)
    expect(page.get_by_role("heading", name="Plan a scenario")).to_be_visible()

    # A planner: one team fewer, then run (the default size, 5 replications, against the base).
    teams = page.get_by_role("slider", name="Teams")
    teams.focus()
    teams.press("ArrowLeft")
    expect(page.get_by_text("yours:{service:{teams:3}}")).to_be_visible()
    started = time.monotonic()  # printed, not asserted: how long depends on the machine (README, "The web page")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("heading", name="Every KPI, with its 95 % confidence interval")).to_be_visible()
    seconds = time.monotonic() - started
    print(f"the planner's run answered in {seconds:.1f} s")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    (run,) = [path for path in (tmp_path / "cache").iterdir() if not path.name.startswith(".")]
    yours = pd.read_csv(run / "scenarios" / "yours" / "summary.csv").set_index("kpi")
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(
        format_number(yours.loc["unallocated_mean", "mean"])
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the run's files (zip)").click()
    download.value.save_as(tmp_path / "run.zip")
    assert f"simservice-{run.name}/scenarios/yours/summary.csv" in zipfile.ZipFile(tmp_path / "run.zip").namelist()
    page.get_by_role("heading", name="Results").scroll_into_view_if_needed()
    _screenshot(page, "planner.png", tmp_path)

    # A finance officer: two budget options against the base.
    page.get_by_role("link", name="Finance").click()
    expect(page.get_by_role("heading", name="Compare budget options")).to_be_visible()
    options = page.get_by_role("combobox", name="Budget options")
    for name in ("agency_cap_10", "retention_payment"):
        options.click()
        options.fill(name)
        options.press("Enter")
    expect(page.get_by_text("budget=[agency_cap_10,retention_payment]")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("heading", name="Each option: mean, and its difference from the base")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the workbook (budget.xlsx)").click()
    download.value.save_as(tmp_path / "budget.xlsx")
    sheets = pd.read_excel(tmp_path / "budget.xlsx", sheet_name=None)
    assert list(sheets["summary"]["option"]) == ["base", "agency_cap_10", "retention_payment"]
    page.get_by_role("heading", name="Results").scroll_into_view_if_needed()
    _screenshot(page, "finance.png", tmp_path)


def test_a_trainer_prepares_the_demonstration_and_steps_through_it(browser, served, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1800}, accept_downloads=True)
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    page.goto(f"{served}/trainer")
    expect(page.get_by_role("heading", name="The same people, in worse conditions, miss more")).to_be_visible()

    # The demonstration runs once, with a progress bar (6 steps of 8 replications: about a minute on 2 cores).
    page.get_by_role("button", name="Prepare the demonstration").click()
    expect(page.get_by_test_id("stProgress")).to_be_visible()
    step = page.get_by_role("heading", name=re.compile(r"^Step 1 of 6"))
    expect(step).to_be_visible(timeout=DEMONSTRATION_MS)
    (run,) = [path for path in (tmp_path / "cache").iterdir() if not path.name.startswith(".")]
    assert (run / "command.txt").read_text() == "simservice experiment=latent_conditions run.jobs=-1\n"
    missed = {
        name: pd.read_csv(run / "scenarios" / name / "summary.csv")
        .set_index("kpi")
        .loc["missed_risks_per_1000", "mean"]
        for name in ("good", "turnover", "agency_churn", "overload", "sickness", "bad")
    }

    # Each step is read from the kept files (no run of its own, no progress bar); how long it takes is printed.
    seconds = []
    for number, name in enumerate(missed, start=1):
        if number > 1:
            started = time.monotonic()
            page.get_by_role("button", name="Next step").click()
            expect(page.get_by_role("heading", name=re.compile(rf"^Step {number} of 6"))).to_be_visible()
            seconds.append(time.monotonic() - started)
            expect(page.get_by_test_id("stProgress")).to_have_count(0)
        expect(page.get_by_test_id("stMetricValue").first).to_have_text(format_number(missed[name]))
    print(f"each step showed in {max(seconds):.2f} s at most")
    assert [path.name for path in (tmp_path / "cache").iterdir() if not path.name.startswith(".")] == [run.name]
    expect(page.get_by_role("heading", name="Two children")).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(3)  # layers.png, loop.png, stories.png
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the handout (handout.html)").click()
    download.value.save_as(tmp_path / "handout.html")
    assert (tmp_path / "handout.html").read_bytes() == (run / "handout.html").read_bytes()
    page.get_by_role("button", name="Previous step").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Step 5 of 6"))).to_be_visible()
    page.get_by_role("button", name="Next step").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Step 6 of 6"))).to_be_visible()
    page.get_by_role("tab", name="Step by step").scroll_into_view_if_needed()
    _screenshot(page, "trainer.png", tmp_path)

    # The trainer's own conditions: the bad ones in one click, in the command the run button runs.
    page.get_by_role("tab", name="Your own conditions").click()
    page.get_by_role("button", name="Bad conditions").click()
    expect(page.get_by_text("managers:{other_duties_share:0.65}")).to_be_visible()
