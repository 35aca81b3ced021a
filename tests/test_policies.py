"""Policies over time and scenario comparison."""

from __future__ import annotations

import pandas as pd
import pytest

from simservice.config import ConfigError
from simservice.hydra_config import load_config
from simservice.model.pathway import ALLOCATED, UNALLOCATED
from simservice.model.service import Service, simulate
from simservice.reporting.kpis import KPI_UNITS, mean_ci
from simservice.runs.comparison import compare, paired_differences, unpaired_interval

SHORT = ["run.years=2", "run.warmup_years=0.5", "run.progress=false"]
CUT = "changes=[{month:6,setting:service.teams,value:3}]"


def _change_day(config, month):
    return config.run.warmup_days + month * config.run.days_per_month


@pytest.mark.parametrize(
    "change",
    [
        "changes=[{month:6,setting:policy.caseload_cap,value:10}]",
        pytest.param(CUT, marks=pytest.mark.slow),
        pytest.param("changes=[{month:6,setting:demand.referrals_per_year,value:3700}]", marks=pytest.mark.slow),
        pytest.param("changes=[{month:6,setting:workforce.agency_allowed,value:false}]", marks=pytest.mark.slow),
    ],
)
def test_a_dated_change_leaves_everything_before_it_untouched(change):
    base = load_config(SHORT)
    changed = load_config([*SHORT, change, "policy.team_cut=delete_posts"])
    a, b = simulate(base, 3), simulate(changed, 3)
    day = _change_day(changed, 6)
    before = a.daily["day"] < day
    pd.testing.assert_frame_equal(a.daily[before], b.daily[before])
    assert not a.daily[~before].equals(b.daily[~before])
    # Every case referred before the change was referred, decided and allocated the same way.
    early_a = a.cases[a.cases.referred_day < day - 60].set_index("case_id")
    early_b = b.cases.set_index("case_id").loc[early_a.index]
    for column in ("referred_day", "priority", "workload_hours", "decided_day"):
        assert early_a[column].equals(early_b[column]), column
    allocated_early = early_a.allocated_day < day
    assert early_a.allocated_day[allocated_early].equals(early_b.allocated_day[allocated_early])


def test_cutting_a_team_with_its_posts_moves_every_open_case():
    config = load_config([*SHORT, CUT, "policy.team_cut=delete_posts"])
    service = Service(config)
    service.run()
    cut = service.teams[3]
    assert not cut.open and not cut.queue and not cut.workers
    posts = service.workforce.active_posts
    assert len(posts) == 3 * config.service.workers_per_team
    assert all(post.team != cut.id for post in posts)
    gone = [w for w in service.workers if w.gone]
    assert all(w.load == 0 for w in gone)
    deleted = [row for row in service.workforce.leavers if row[4] == "post_deleted"]
    assert len(deleted) >= 1
    census = service.census()
    for case_id in census[UNALLOCATED] + census[ALLOCATED]:
        assert service.cases[case_id].team != cut.id


def test_cutting_a_team_by_redeployment_keeps_the_workers():
    config = load_config([*SHORT, CUT, "policy.team_cut=redeploy"])
    service = Service(config)
    service.run()
    posts = service.workforce.active_posts
    assert len(posts) == config.service.teams * config.service.workers_per_team
    assert {post.team for post in posts} == {0, 1, 2}
    assert not [row for row in service.workforce.leavers if row[4] == "post_deleted"]
    for worker in service.workforce.staff_in_post():
        assert worker.team != 3
        assert all(case.team == worker.team for case in worker.caseload.values())


def test_adding_a_team_adds_posts_that_fill():
    config = load_config([*SHORT, "changes=[{month:3,setting:service.teams,value:5}]"])
    service = Service(config)
    result = service.run()
    assert len(service.teams) == 5 and service.teams[4].open
    assert sum(1 for post in service.workforce.active_posts if post.team == 4) == config.service.workers_per_team
    assert service.teams[4].workers, "the new team's posts were never filled"
    routed = result.cases[(result.cases.referred_day > _change_day(config, 4))]
    assert (routed.team == 4).mean() == pytest.approx(0.2, abs=0.05)


def test_a_demand_change_raises_referrals_from_its_month():
    config = load_config([*SHORT, "run.years=1", "changes=[{month:6,setting:demand.referrals_per_year,value:5200}]"])
    daily = simulate(config, 0).daily
    day = _change_day(config, 6)
    per_day = daily[~daily.warmup].groupby(daily["day"] >= day)["referrals"].mean()
    assert per_day[True] / per_day[False] == pytest.approx(2.0, rel=0.2)


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ("changes=[{month:6,setting:service.teams,value:0}]", "changes[0].value"),
        ("changes=[{month:99,setting:service.teams,value:3}]", "changes[0].month"),
        ("changes=[{month:1,setting:run.years,value:3}]", "changes[0].setting"),
        ("changes=[{month:1,setting:policy.caseload_cap,value:lots}]", "changes[0].value"),
    ],
)
def test_bad_dated_changes_name_the_setting(change, setting):
    with pytest.raises(ConfigError) as error:
        load_config([*SHORT, change])
    assert error.value.setting == setting


@pytest.fixture(scope="module")
def cap_comparison():
    base = load_config([*SHORT, "run.replications=6", "run.jobs=2"])
    lower = load_config([*SHORT, "run.replications=6", "run.jobs=2", "policy.caseload_cap=12"])
    return compare({"cap_18": base, "cap_12": lower}, progress=False)


def test_comparison_gives_paired_differences_with_intervals(cap_comparison):
    table = cap_comparison.differences.set_index("kpi")
    assert set(table["scenario"]) == {"cap_12"} and set(table["base"]) == {"cap_18"}
    row = table.loc["unallocated_mean"]
    assert row.significant and row.ci_low > 0
    base = cap_comparison.results["cap_18"].kpis
    lower = cap_comparison.results["cap_12"].kpis
    assert row.difference == pytest.approx((lower.unallocated_mean - base.unallocated_mean).mean())


def test_paired_intervals_are_narrower_than_unpaired(cap_comparison):
    """Common random numbers at work: pairing removes the luck both scenarios share."""
    base = cap_comparison.results["cap_18"].kpis
    lower = cap_comparison.results["cap_12"].kpis
    narrower = 0
    kpis = ["referrals", "assessments_completed", "days_to_assessment_mean", "caseload_mean", "caseload_dfe"]
    for kpi in kpis:
        _, low, high = mean_ci(lower[kpi] - base[kpi])
        unpaired_low, unpaired_high = unpaired_interval(base[kpi], lower[kpi])
        narrower += (high - low) < (unpaired_high - unpaired_low)
    assert narrower == len(kpis)


def test_paired_differences_of_a_scenario_with_itself_are_zero():
    kpis = pd.DataFrame({"replication": [0, 1, 2], **{kpi: [1.0, 2.0, 4.0] for kpi in KPI_UNITS}})
    table = paired_differences(kpis, kpis)
    assert (table["difference"] == 0).all() and not table["significant"].any()


def test_every_declared_reaction_to_a_change_exists():
    import dataclasses

    from simservice.config import _GROUPS
    from simservice.model.policies import REACTIONS

    declared = {group.ON_CHANGE for group in _GROUPS.values()} | {
        f.metadata["limits"].on_change
        for group in _GROUPS.values()
        for f in dataclasses.fields(group)
        if "limits" in f.metadata
    }
    assert declared - {""} == set(REACTIONS)
