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
    # A preset turns the agency surge off (its agency is standing agency); coping=default asks for it on.
    assert not load_config(["la.name=Southampton"]).coping.agency_surge
    chosen = load_config(["la.name=Southampton", "coping=default"]).coping
    assert chosen == load_config(["coping=default"]).coping and chosen.agency_surge
    fixed = load_config(["la.name=Southampton", "workforce=fixed"])
    assert fixed.workforce == load_config(["workforce=fixed"]).workforce
    assert fixed.demand.referrals_per_year == 2598  # the rest of the preset still applies


@pytest.mark.parametrize("agency_pct", [0.0, 2.5, 13.4, 31.7, 48.6])
@pytest.mark.parametrize("vacancy_pct", [0.0, 13.8, 40.3])
def test_standing_agency_gives_the_council_s_agency_rate_when_the_vacancies_are_its_own(agency_pct, vacancy_pct):
    posts, fte = 24, 0.93
    settings = presets.workforce_settings(15.0, vacancy_pct, agency_pct, 3.0, posts, fte)
    in_post = posts * fte * (1 - max(vacancy_pct, 0.5) / 100)
    filled = 1 / (1 + presets.AGENCY_LEAVING_PER_DAY * settings["workforce.agency_start_days"])
    agency = settings["workforce.standing_agency_fte"] * filled
    assert 100 * agency / (agency + in_post) == pytest.approx(agency_pct, abs=0.01)
    assert not (settings["workforce.agency_covers_vacancies"] or settings["coping.agency_surge"])


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


@pytest.mark.parametrize(
    "year", [pytest.param(2017, marks=pytest.mark.slow), 2019, pytest.param(2023, marks=pytest.mark.slow)]
)
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
    """Each council of 2019, as the validation report runs it: referrals, in-post FTE and agency within 10 % of DfE."""
    from simservice.validate import measure_table, validate

    rows = validate(2019, tmp_path, ["run.replications=2"], jobs=2, progress=False)
    assert rows["error"].isna().all(), rows.loc[rows["error"].notna(), ["council", "error"]]
    table = measure_table(rows).set_index("measure")
    for measure, published in (
        ("referrals", "referrals"),
        ("in-post FTE", "inpost_fte"),
        ("agency rate", "agency_pct"),
    ):
        far = rows[
            (rows[f"{published}_model"] - rows[f"{published}_published"]).abs() > 0.1 * rows[f"{published}_published"]
        ]
        assert table.loc[measure, "near_pct"] == 100, far[["council", f"{published}_published", f"{published}_model"]]


def test_a_council_of_few_posts_runs_more_replications_in_the_validation():
    from simservice.validate import replications_for

    def replications(name: str, run: str = "run.replications=2") -> int:
        return replications_for(load_config([f"la.name={name}", run]), 48).run.replications

    assert sum(load_config(["la.name=Rutland"]).service.team_posts) == 4 and replications("Rutland") == 12
    assert replications("Kent") == 2  # 48 posts or more: as asked
    assert replications_for(load_config(["la.name=Rutland", "run.replications=auto"]), 48).run.auto


def test_the_validation_refuses_a_bad_option_in_one_line(tmp_path, capsys):
    from simservice.validate import main

    assert main(["--post-replications", "0", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "simservice.validate: error: --post-replications=0: must be a whole number of at least 1"
    with pytest.raises(SystemExit) as exit_:
        main(["--post-replications", "many", "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error == "python -m simservice.validate: error: argument --post-replications: invalid int value: 'many'"
    assert not (tmp_path / "out").exists()
