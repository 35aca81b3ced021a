"""Configuration: the promised override names, frozen parameters, and range checks."""

from __future__ import annotations

import dataclasses

import pytest

from simservice.config import ConfigError
from simservice.hydra_config import load_config
from simservice.model.service import Service

PROMISED = {
    "service.teams": 3,
    "service.workers_per_team": 7,
    "policy.caseload_cap": 15,
    "demand.referrals_per_year": 3100.0,
    "run.replications": 4,
    "run.years": 2.0,
    "run.warmup_years": 0.5,
    "run.seed": 11,
    "run.jobs": 2,
}


@pytest.mark.parametrize(("name", "value"), list(PROMISED.items()))
def test_promised_override_names_work(name, value):
    config = load_config([f"{name}={value}"])
    group, key = name.split(".")
    assert getattr(getattr(config, group), key) == value


def test_default_scenario_is_southampton_like():
    config = load_config()
    assert config.service.teams == 4
    # Referrals from outside plus re-referrals make Southampton's ~2,600 (checked in test_backtest.py).
    assert 1500 <= config.demand.referrals_per_year <= 2700
    assert config.run.replications >= 5 and config.run.years >= 3 and config.run.warmup_years > 0


def test_parameters_are_frozen_and_the_model_does_not_change_them():
    config = load_config(["run.years=0.5", "run.warmup_years=0"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.policy.caseload_cap = 3
    before = repr(config)
    Service(config).run()
    assert repr(config) == before


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ("service.team_shares=[0.5,0.5]", "service.team_shares"),
        ("service.team_shares=[0.5,0.2,0.2,0.2]", "service.team_shares"),
        ("demand.seasonality=[1,1,1]", "demand.seasonality"),
        ("demand.workload_distribution=gamma", "demand.workload_distribution"),
        ("run.years=0.1", "run.years"),
        ("run.jobs=0", "run.jobs"),
        ("service.casework_share=0", "service.casework_share"),
        ("workforce.stress_full_share=0.5", "workforce.stress_full_share"),
        ("workforce.recruitment_failure_share=1", "workforce.recruitment_failure_share"),
        ("policy.team_cut=close", "policy.team_cut"),
    ],
)
def test_out_of_range_values_name_the_setting(override, setting):
    with pytest.raises(ConfigError) as error:
        load_config([override])
    assert error.value.setting == setting
    assert str(error.value).startswith(setting)


def test_team_shares_route_the_area():
    config = load_config(
        [
            "service.teams=2",
            "service.team_shares=[0.8,0.2]",
            "run.years=1",
            "run.warmup_years=0",
            "policy.caseload_cap=null",
        ]
    )
    cases = Service(config).run().cases
    routed = cases[cases.team.notna() & ~cases.starting_state]
    assert (routed.team == 0).mean() == pytest.approx(0.8, abs=0.03)


def test_the_readme_states_every_settings_limits():
    from pathlib import Path

    from simservice.config import limits_table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert limits_table() in readme, "README's table of limits is stale: paste simservice.config.limits_table()"
