"""The cost model: every pound comes from what a run did, priced at the rates of the finance group."""

from __future__ import annotations

import dataclasses

import pytest
from commands import simservice

from simservice.config import ConfigError
from simservice.hydra_config import load_config
from simservice.reporting.costs import COST_LINES, cost_kpis, hourly_rate
from simservice.runs.replications import run_scenario

TINY = ["run.years=1", "run.warmup_years=0.5", "run.replications=2", "service.teams=1", "run.progress=false"]
FIXED = [*TINY, "workforce=fixed", "coping=off"]
LINES = [f"cost_{line}_gbp" for line in COST_LINES]


@pytest.fixture(scope="module")
def busy():
    """The default service cut to one team: turnover, agency cover, surges and unpaid hours all happen."""
    return run_scenario(load_config(TINY))


def _posts(config) -> int:
    return sum(config.service.posts_in(team) for team in range(config.service.teams))


def _costs(results, config):
    """Each replication's cost KPIs, priced with ``config`` (the same run: finance does not change the model)."""
    return [cost_kpis(_result(results, r), config) for r in range(config.run.replications)]


def _result(results, r):
    from simservice.model.records import ReplicationResult

    return ReplicationResult(
        r,
        results.cases[results.cases.replication == r],
        results.daily[results.daily.replication == r],
        None,
        results.staff[results.staff.replication == r],
        results.transfers,
        {"unpaid_hours": _unpaid_hours(results, r)},
        results.teams,
        results.defences[results.defences.replication == r],
    )


def _unpaid_hours(results, r):
    """The reported unpaid hours of a replication, from its KPI (hours a year)."""
    return results.kpis.set_index("replication").loc[r, "unpaid_hours"] * results.config.run.years


def test_a_fixed_staff_costs_posts_times_pay_by_hand():
    config = load_config([*FIXED, "managers=unlimited"])
    results = run_scenario(config)
    f, s = config.finance, config.service
    employed = _posts(config) * s.fte * f.permanent_salary * (1 + f.on_cost_share)
    front_door = s.triage_staff * f.front_door_salary * (1 + f.on_cost_share)
    by_hand = (employed + front_door) * (1 + f.overhead_share)
    summary = results.summary.set_index("kpi")["mean"]
    assert summary["cost_employed_gbp"] == pytest.approx(employed, abs=1)
    assert summary["cost_front_door_gbp"] == pytest.approx(front_door, abs=1)
    assert summary["cost_total_gbp"] == pytest.approx(by_hand, abs=1)
    for line in ("agency", "surge", "managers", "recruitment", "retention"):
        assert summary[f"cost_{line}_gbp"] == 0
    assert (results.kpis["cost_total_gbp"] == results.kpis["cost_total_gbp"].iloc[0]).all()  # no randomness in it


def test_a_manager_in_post_costs_a_salary_a_year():
    config = load_config([*FIXED, "managers.leaving_per_year=0"])
    summary = run_scenario(config).summary.set_index("kpi")["mean"]
    f = config.finance
    in_post = config.service.teams * f.manager_salary * (1 + f.on_cost_share)
    assert summary["cost_managers_gbp"] == pytest.approx(in_post, abs=1)


def test_an_interim_manager_costs_the_day_rate_and_a_vacant_post_nothing():
    f = load_config([]).finance
    interim = load_config([*FIXED, "managers.leaving_per_year=50", "managers.leaving_per_year_interim=0"])
    results = run_scenario(interim)
    days = results.daily[~results.daily.warmup]
    expected = (
        days.managers_in_post.sum() * f.manager_salary * (1 + f.on_cost_share) / interim.run.days_per_year
        + days.managers_interim.sum() * f.interim_manager_day_rate
    ) / (interim.run.years * interim.run.replications)
    assert days.managers_interim.sum() > 0 and days.managers_vacant.sum() > 0  # vacant days cost nothing
    assert results.summary.set_index("kpi").loc["cost_managers_gbp", "mean"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_agency_is_paid_for_days_worked_and_costs_nothing_without_agency(busy):
    days = busy.daily[~busy.daily.warmup]
    rate, years = busy.config.finance.agency_day_rate, busy.config.run.years * busy.config.run.replications
    agency = busy.summary.set_index("kpi").loc["cost_agency_gbp", "mean"]
    assert agency == pytest.approx(days.agency_worked_fte.sum() * rate / years, rel=1e-9)
    assert days.agency_worked_fte.sum() + days.surge_worked_fte.sum() <= days.agency_fte.sum() + 1e-9
    assert agency > 0
    none = run_scenario(load_config([*TINY, "workforce.agency_allowed=false", "workforce.start_agency_share=0"]))
    assert none.summary.set_index("kpi").loc["cost_agency_gbp", "mean"] == 0


def test_surge_days_are_priced_at_the_surge_rate(busy):
    days = busy.daily[~busy.daily.warmup]
    f, years = busy.config.finance, busy.config.run.years * busy.config.run.replications
    assert days.surge_agency.sum() > 0
    surge = busy.summary.set_index("kpi").loc["cost_surge_gbp", "mean"]
    assert surge == pytest.approx(days.surge_worked_fte.sum() * f.surge_day_rate / years, rel=1e-9)


@pytest.mark.parametrize(
    ("rate", "line"),
    [
        ("permanent_salary", "employed"),
        ("newly_qualified_salary", "employed"),
        ("agency_day_rate", "agency"),
        ("surge_day_rate", "surge"),
        ("manager_salary", "managers"),
        ("interim_manager_day_rate", "managers"),
        ("front_door_salary", "front_door"),
        ("recruitment_cost_per_hire", "recruitment"),
        ("welcome_payment", "recruitment"),
        ("retention_payment_per_year", "retention"),
    ],
)
def test_doubling_a_rate_doubles_its_line_and_nothing_else(busy, rate, line):
    base = dataclasses.replace(
        busy.config.finance, overhead_share=0.0, welcome_payment=1000.0, retention_payment_per_year=500.0
    )
    one = dataclasses.replace(busy.config, finance=base)
    two = dataclasses.replace(busy.config, finance=dataclasses.replace(base, **{rate: 2 * getattr(base, rate)}))
    others = dataclasses.replace(base, **{rate: 0.0})
    zero = dataclasses.replace(busy.config, finance=others)
    its, priced = f"cost_{line}_gbp", 0.0
    for a, b, c in zip(_costs(busy, one), _costs(busy, two), _costs(busy, zero), strict=True):
        # The rate's own part of its line doubles; the line's other parts, and every other line, stay.
        assert b[its] - c[its] == pytest.approx(2 * (a[its] - c[its]), rel=1e-12)
        priced += a[its] - c[its]
        for other in LINES:
            if other != its:
                assert b[other] == a[other]
    assert priced > 0


def test_overheads_are_a_share_of_the_staff_costs_and_the_split_adds_up(busy):
    f = busy.config.finance
    for row in busy.kpis.to_dict("records"):
        staff = sum(row[f"cost_{line}_gbp"] for line in ("employed", "agency", "surge", "managers", "front_door"))
        assert row["cost_overheads_gbp"] == pytest.approx(f.overhead_share * staff, rel=1e-12)
        assert sum(row[line] for line in LINES) == pytest.approx(row["cost_total_gbp"], rel=1e-12)
        assert row["cost_per_assessment_gbp"] == pytest.approx(
            row["cost_total_gbp"] / row["assessments_completed"], rel=1e-9
        )
        assert row["cost_per_referral_gbp"] == pytest.approx(row["cost_total_gbp"] / row["referrals"], rel=1e-9)


def test_every_hire_is_paid_for_once(busy):
    run, f = busy.config.run, busy.config.finance
    staff = busy.staff
    for r, row in busy.kpis.set_index("replication").iterrows():
        mine = staff[staff.replication == r]
        hires = mine[mine.hired & (mine.started_day >= run.warmup_days)]
        assert (hires.contract != "agency").all() and hires.worker.is_unique
        assert row["cost_recruitment_gbp"] == pytest.approx(len(hires) * f.recruitment_cost_per_hire / run.years)
    assert busy.summary.set_index("kpi").loc["cost_recruitment_gbp", "mean"] > 0


def test_unpaid_hours_are_a_hidden_cost_at_the_hourly_rate(busy):
    rate = hourly_rate(busy.config)
    assert rate == pytest.approx(35444 * 1.28 / (253 * 7.4))
    kpis = busy.kpis
    assert (kpis["unpaid_hours"] > 0).all()
    assert kpis["hidden_cost_unpaid_hours_gbp"].to_numpy() == pytest.approx(kpis["unpaid_hours"].to_numpy() * rate)


def test_costs_are_the_same_serial_or_in_parallel(busy):
    parallel = run_scenario(load_config([*TINY, "run.jobs=2"]))
    costs = [kpi for kpi in busy.kpis.columns if "cost" in kpi]
    assert parallel.kpis[costs].equals(busy.kpis[costs])


def test_a_negative_rate_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="finance.agency_day_rate"):
        load_config(["finance.agency_day_rate=-5"])
    done = simservice(*TINY, "finance.agency_day_rate=-5", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "finance.agency_day_rate" in lines[0] and "-5" in lines[0], done.stderr
    assert not (tmp_path / "summary.csv").exists()


def test_missed_risks_are_priced_apart_from_the_budget(busy):
    """Each missed risk of the reported years at finance.missed_risk_cost, and the budget does not move with it."""
    config = busy.config
    dear = dataclasses.replace(config, finance=dataclasses.replace(config.finance, missed_risk_cost=50_000.0))
    for r, (a, b) in enumerate(zip(_costs(busy, config), _costs(busy, dear), strict=True)):
        cases = busy.cases[busy.cases.replication == r]
        missed = (cases.missed_risk & (cases.missed_day >= config.run.warmup_days)).sum()
        assert missed > 0
        assert b["downstream_cost_missed_risks_gbp"] == pytest.approx(missed / config.run.years * 50_000.0)
        assert b["cost_total_gbp"] == a["cost_total_gbp"]
