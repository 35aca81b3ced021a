"""A preset for every council: ``la.name`` and ``la.year`` build the scenario from DfE's figures."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest

from simservice import presets
from simservice.config import ConfigError
from simservice.councils import find, names
from simservice.hydra_config import load_config
from simservice.runs.replications import run_scenario
from simservice.validate import councils as checkable

SHORT = ["run.replications=1", "run.years=1", "run.warmup_years=0.5", "run.progress=false"]


def test_a_preset_builds_the_service_from_the_council_s_figures():
    config = load_config(["la.name=Southampton", "la.year=2019"])
    southampton = find("Southampton", 2019)
    assert config.demand.referrals_per_year == southampton.referrals == 2598
    assert config.demand.counts_are == "all"
    assert config.policy.front_door_closure_share == pytest.approx(southampton.nfa_pct / 100)
    assert config.demand.not_in_need_share == pytest.approx(southampton.not_in_need_pct / 100)
    assert config.service.fte == pytest.approx(southampton.inpost_fte / southampton.inpost_headcount, abs=1e-3)
    # Sized to its demand as the default is: 2,598 referrals, 12.7 % closed at the door, need its 24 posts.
    assert config.service.team_posts == [6, 6, 6, 6]
    assert config.service.name.startswith("Southampton 2019")


def test_the_name_may_be_a_code_any_case_or_have_spaces():
    by_name = load_config(["la.name=southampton"])
    by_code = load_config(["la.name=E06000045"])
    assert by_name == by_code
    wight = load_config(["la.name=Isle of Wight"])
    assert wight.demand.referrals_per_year == find("Isle of Wight", 2019).referrals


def test_the_command_line_wins_over_the_preset():
    config = load_config(["la.name=Southampton", "service.teams=3", "demand.referrals_per_year=3000"])
    assert config.service.teams == 3 and config.demand.referrals_per_year == 3000
    # Naming the teams keeps the council's team-by-team posts out.
    assert config.service.team_posts is None


def test_a_group_chosen_on_the_command_line_is_kept_whole_over_the_preset():
    # Southampton's preset turns the agency surge on; coping=off asks for every coping response off.
    assert load_config(["la.name=Southampton"]).coping.agency_surge
    off = load_config(["la.name=Southampton", "coping=off"]).coping
    assert not (off.agency_surge or off.thresholds_rise or off.caseload_creep or off.unpaid_hours)
    fixed = load_config(["la.name=Southampton", "workforce=fixed"])
    assert fixed.workforce == load_config(["workforce=fixed"]).workforce
    assert fixed.demand.referrals_per_year == 2598  # the rest of the preset still applies


def test_an_unknown_council_lists_the_closest_names():
    with pytest.raises(ConfigError, match="la.name='Southamton'.*closest: Southampton"):
        load_config(["la.name=Southamton"])


def test_a_year_without_figures_is_refused():
    with pytest.raises(ConfigError, match="la.year=2016: must be one of 2017 to 2023"):
        load_config(["la.name=Southampton", "la.year=2016"])


def test_a_council_without_referrals_is_refused():
    with pytest.raises(ConfigError, match="la.name=.*referrals published"):
        load_config(["la.name=E06000059", "la.year=2019"])  # the new Dorset: a workforce only, in 2019


def test_england_is_a_council_of_england_s_average_size():
    config = load_config(["la.name=England", "la.year=2019"])
    england = find("England", 2019)
    assert config.demand.referrals_per_year == round(england.referrals / len(names(2019)))
    assert "England" in config.service.name


def test_a_missing_figure_is_england_s_and_the_name_says_so():
    council, figures, borrowed = presets.council_figures("North Tyneside", 2019)
    assert council.nfa_pct is None and borrowed == ["nfa_pct"]
    assert figures["nfa_pct"] == find("England", 2019).nfa_pct
    assert "England's nfa_pct" in load_config(["la.name=North Tyneside"]).service.name


@pytest.mark.parametrize("accepted", [16, 900, 2270, 7000, 18408])
def test_posts_follow_the_accepted_referrals_in_teams_of_about_six(accepted):
    posts = presets.team_posts(accepted)
    assert sum(posts) == max(1, round(accepted / presets.ACCEPTED_PER_POST))
    assert max(posts) - min(posts) <= 1 and max(posts) <= presets.POSTS_PER_TEAM + 3


@pytest.mark.parametrize("year", [2017, 2019, 2023])
def test_every_council_s_preset_is_within_every_setting_s_limits(year):
    base = load_config(SHORT)
    for code in checkable(year).code:
        groups = defaultdict(dict)
        for setting, value in presets.preset(code, year).items():
            group, _, key = setting.partition(".")
            groups[group][key] = value
        # Each group made again with the preset's values checks every limit, and the rules joining settings.
        made = {group: dataclasses.replace(getattr(base, group), **values) for group, values in groups.items()}
        assert made["demand"].referrals_per_year == find(code, year).referrals


def test_a_preset_runs_and_refers_what_the_council_published():
    results = run_scenario(load_config(["la.name=Hartlepool", *SHORT]))
    published = find("Hartlepool", 2019).referrals
    assert results.summary.set_index("kpi").loc["referrals", "mean"] == pytest.approx(published, rel=0.1)


def test_a_council_that_fails_is_reported_and_tried_again_next_time(tmp_path, monkeypatch):
    from simservice import validate

    two = checkable(2019).head(2)
    tried = []
    monkeypatch.setattr(validate, "councils", lambda year: two)
    monkeypatch.setattr(validate, "_run", lambda code, config: tried.append(code) or {"code": code, "error": "boom"})
    for _ in range(2):
        rows = validate.validate(2019, tmp_path, SHORT, jobs=1, progress=False)
        assert list(rows["error"]) == ["boom", "boom"]
    assert len(tried) == 4 and not list((tmp_path / "councils").glob("*.json"))


@pytest.mark.slow
def test_every_council_s_preset_runs_and_lands_its_inputs(tmp_path):
    """Each council of 2019, one replication: referrals, in-post FTE and agency rate near DfE's (``validate``)."""
    from simservice.validate import measure_table, validate

    rows = validate(2019, tmp_path, ["run.replications=1"], jobs=2, progress=False)
    assert rows["error"].isna().all(), rows.loc[rows["error"].notna(), ["council", "error"]]
    table = measure_table(rows).set_index("measure")
    assert table.loc["referrals", "near_pct"] >= 95
    assert table.loc["in-post FTE", "median_relative_error_pct"] <= 10, table.loc["in-post FTE"]
    # A rate, and one replication of a small service is noisy: within 3 points at the median, and following DfE's.
    agency = table.loc["agency rate"]
    assert agency["median_absolute_error"] <= 3 and agency["correlation"] >= 0.8, agency
