"""Budget options: paired with the base, one-off costs spread over the reported years, the workbook, bad options."""

from __future__ import annotations

import pandas as pd
import pytest
from commands import simservice

from simservice.app import budget_configs
from simservice.config import ConfigError
from simservice.hydra_config import compose
from simservice.runs.budget_options import BASE, MEASURES, YEARLY_COST, budget_table, format_budget, write_budget
from simservice.runs.comparison import compare

SMALL = ["run.replications=2", "run.years=1", "run.warmup_years=0.5", "run.progress=false"]
#: An option that changes nothing, and one that changes nothing but costs £120,000 once.
SAME = ["budget.same={description:nothing}", "budget.once={one_off_gbp:120000}"]


@pytest.fixture(scope="module")
def small_budget():
    overrides = [*SAME, *SMALL]
    options, configs = budget_configs(compose(overrides), overrides)
    comparison = compare(configs)
    return options, comparison, budget_table(comparison, options)


@pytest.mark.slow
def test_an_option_that_changes_nothing_differs_by_exactly_zero(small_budget):
    _, _, table = small_budget
    assert list(table["option"].unique()) == [BASE, "same", "once"]
    same = table[table["option"] == "same"]
    assert list(same["measure"]) == list(MEASURES)
    assert (same["difference"] == 0).all() and (same["diff_ci_low"] == 0).all() and (same["diff_ci_high"] == 0).all()


@pytest.mark.slow
def test_a_one_off_cost_is_spread_over_the_reported_years(small_budget):
    _, _, table = small_budget
    once = table[table["option"] == "once"].set_index("measure")
    base = table[table["option"] == BASE].set_index("measure")
    # run.years=1: the whole £120,000 falls in the one reported year; the running cost does not move.
    assert once.loc[YEARLY_COST, "difference"] == pytest.approx(120_000)
    assert once.loc[YEARLY_COST, "mean"] == pytest.approx(base.loc["cost_total_gbp", "mean"] + 120_000)
    assert once.loc["cost_total_gbp", "difference"] == 0
    assert "once" in format_budget(table)


@pytest.mark.slow
def test_one_off_over_two_years_is_half_a_year():
    overrides = ["budget.once={one_off_gbp:120000}", *SMALL, "run.years=2"]
    options, configs = budget_configs(compose(overrides), overrides)
    assert options[0].one_off_gbp == 120_000 and configs["once"].run.years == 2
    comparison = compare({name: config for name, config in configs.items()})
    table = budget_table(comparison, options).set_index(["option", "measure"])
    assert table.loc[("once", YEARLY_COST), "difference"] == pytest.approx(60_000)


def test_the_workbook_opens_with_a_sheet_per_table_and_units_in_its_headers(small_budget, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    options, comparison, _ = small_budget
    table = write_budget(comparison, options, tmp_path, "simservice budget.same=...")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budget.csv", "budget.png", "budget.xlsx"]
    assert list(pd.read_csv(tmp_path / "budget.csv").columns) == list(table.columns) == [
        "option", "measure", "mean", "ci_low", "ci_high", "difference", "diff_ci_low", "diff_ci_high", "unit",
    ]  # fmt: skip
    book = openpyxl.load_workbook(tmp_path / "budget.xlsx")
    assert book.sheetnames == ["summary", "differences", "options", "notes"]
    summary = [cell.value for cell in book["summary"][1]]
    assert "one-off cost (£)" in summary
    assert "yearly cost with one-offs spread (£ a year)" in summary
    assert "assessed within 45 days of referral (%)" in summary
    assert [row[0].value for row in book["summary"].iter_rows(min_row=2)] == [BASE, "same", "once"]
    assert [cell.value for cell in book["options"][1]] == [
        "option",
        "description",
        "one-off cost (£)",
        "setting",
        "value",
    ]
    notes = {row[0].value: row[1].value for row in book["notes"].iter_rows(min_row=2)}
    assert "price year" in notes and "sources" in notes and str(notes["finance.price_year"]) == "2019"


def test_shipped_options_are_valid_and_merge_on_the_base():
    options, configs = budget_configs(compose(["budget=all"]), ["budget=all"])
    names = [option.name for option in options]
    assert {"cut_team", "agency_cap_10", "retention_payment", "add_team", "raise_cap"} <= set(names)
    assert list(configs) == [BASE, *names]
    assert configs["agency_cap_10"].workforce.agency_max_share == 0.10
    retention = configs["retention_payment"]
    assert retention.finance.retention_payment_per_year == 3000
    assert retention.workforce.leaving_per_year_permanent == pytest.approx(
        configs[BASE].workforce.leaving_per_year_permanent * 0.85
    )
    assert [(c.month, c.setting, c.value) for c in configs["cut_team"].changes] == [(0, "service.teams", 3)]
    assert configs["cut_team"].policy.team_cut == "delete_posts"
    assert configs["raise_cap"].policy.caseload_cap == 21


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["budget=agency_cap_10", "budget.agency_cap_10.settings={workforce.agency_max_share:1.5}"],
         "budget.agency_cap_10.workforce.agency_max_share=1.5"),
        (["budget.neg={one_off_gbp:-5}"], "budget.neg.one_off_gbp=-5"),
        (["budget.typo={settings:{workforce.agency_max:0.1}}"], "budget.typo.settings='workforce.agency_max'"),
        (["budget.runs={settings:{run.seed:3}}"], "budget.runs.settings='run.seed'"),
        (["budget.extra={cost:3}"], "budget.extra.cost=3"),
        (["budget=raise_cap", "experiment=teams_4_to_3"], "budget="),
    ],
)  # fmt: skip
def test_a_bad_option_is_named(overrides, named):
    with pytest.raises(ConfigError) as error:
        budget_configs(compose(overrides), overrides)
    assert str(error.value).startswith(named)


def test_a_bad_option_on_the_command_line_is_one_line_exit_2_and_nothing_written(tmp_path):
    out = tmp_path / "run"
    done = simservice("budget.neg={one_off_gbp:-5}", *SMALL, f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "budget.neg.one_off_gbp=-5" in lines[0], done.stderr
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("budget.*"))


def test_an_unknown_option_lists_the_options(tmp_path):
    done = simservice("budget=no_such_option", *SMALL, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no_such_option" in lines[0] and "cut_team" in lines[0] and "retention_payment" in lines[0]
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("budget.*"))
