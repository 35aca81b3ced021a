"""The workforce: leaving, transfers, agency cover, sickness, stress and the reinforcing loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simservice.hydra_config import load_config
from simservice.model.service import Service, simulate
from simservice.model.workforce import NEWLY_QUALIFIED, PERMANENT, Worker
from simservice.reporting.kpis import mean_ci
from simservice.runs.replications import run_scenario

SHORT = ["run.years=3", "run.warmup_years=0.5", "run.progress=false", "run.jobs=2"]


@pytest.mark.slow
def test_turnover_matches_the_configured_hazard_without_stress():
    config = load_config(
        [
            *SHORT,
            "run.years=5",
            "run.replications=40",
            "demand.referrals_per_year=200",  # leaving does not depend on demand here: few referrals, a fast run
            "workforce.stress_leaving_effect=0",
            "workforce.leaving_per_year_permanent=0.15",
            "workforce.leaving_per_year_newly_qualified=0.15",
            "workforce.notice_days_permanent=0",
        ]
    )
    row = run_scenario(config).summary.set_index("kpi").loc["turnover_pct"]
    assert row.ci_low <= 15.0 <= row.ci_high, row.to_dict()
    assert row.ci_high - row.ci_low < 6


@pytest.mark.slow
def test_more_stress_effect_means_more_turnover():
    base = run_scenario(load_config([*SHORT, "run.replications=6"]))
    stressed = run_scenario(load_config([*SHORT, "run.replications=6", "workforce.stress_leaving_effect=4"]))
    _, low, _ = mean_ci(stressed.kpis["turnover_pct"] - base.kpis["turnover_pct"])
    assert low > 0


@pytest.fixture(scope="module")
def churning():
    """A short run with heavy churn, so that every kind of move happens many times."""
    config = load_config(
        [
            "run.years=1",
            "run.warmup_years=0",
            "workforce.leaving_per_year_permanent=1.0",
            "workforce.leaving_per_year_agency=2.0",
            "workforce.long_sickness_per_year=0.5",
            "workforce.recruitment_days=40",
        ]
    )
    handed_over = []
    original = Worker.hand_over

    def recording(worker):
        in_hand, held = original(worker)
        handed_over.append((worker.env.now, worker.id, sorted(c.id for c in in_hand + held)))
        return in_hand, held

    Worker.hand_over = recording
    try:
        service = Service(config, replication=1)
        result = service.run()
    finally:
        Worker.hand_over = original
    return service, result, handed_over


def test_every_leavers_cases_are_transferred_exactly_once(churning):
    service, result, handed_over = churning
    log = result.transfers
    assert len(handed_over) > 20 and len(log) > 100
    for day, worker, case_ids in handed_over:
        moved = log[(log.day == day) & (log.from_worker == worker)]
        assert sorted(moved.case_id) == case_ids
    # No case moved twice in one hand-over, and nobody left holding anything.
    assert not log.duplicated(["day", "case_id", "from_worker"]).any()
    gone = [w for w in service.workers if w.gone]
    assert gone and all(w.load == 0 for w in gone)


def test_transfer_counts_in_case_records_equal_the_transfer_events(churning):
    _, result, _ = churning
    assert result.cases["transfers"].sum() == len(result.transfers)
    per_case = result.transfers.groupby("case_id").size()
    recorded = result.cases.set_index("case_id")["transfers"]
    assert (recorded.loc[per_case.index] == per_case).all()
    # A transfer to a colleague adds a social worker to the child's count.
    assert (result.cases["social_workers"] >= result.cases["transfers"].clip(upper=1)).all()


def test_agency_cover_leaves_when_the_permanent_recruit_starts(churning):
    _, result, _ = churning
    staff = result.staff
    replaced = staff[staff.left_because == "agency_replaced"]
    assert len(replaced) > 0
    log = result.transfers
    for agency in replaced.itertuples():
        assert agency.contract == "agency"
        recruit = staff[(staff.post == agency.post) & (staff.started_day == agency.left_day)]
        assert len(recruit) == 1 and recruit.contract.iloc[0] != "agency"
        # The agency worker's cases moved that day, none were left with them.
        moved = log[(log.from_worker == agency.worker) & (log.day == agency.left_day)]
        assert (moved.reason == "agency_replaced").all()


def test_long_sickness_moves_cases(churning):
    """Cases move for sickness only from someone off at least ``reallocate_after_days`` (FTE-weighted days)."""
    service, result, _ = churning
    sick_moves = result.transfers[result.transfers.reason == "sickness"]
    assert sick_moves.from_worker.nunique() >= 3
    staff = result.staff.set_index("worker")
    after = service.config.workforce.reallocate_after_days
    for worker in sick_moves.from_worker.unique():
        assert staff.loc[worker, "sick_days_reported"] >= after * staff.loc[worker, "fte"] - 1e-9


def test_sick_workers_keep_their_cases_until_the_threshold():
    config = load_config(
        [
            "run.years=1",
            "run.warmup_years=0",
            "run.progress=false",
            "workforce.long_sickness_per_year=0.5",
            "workforce.reallocate_after_days=25300",
        ]
    )
    result = simulate(config, 1)
    assert result.staff.sick_days_reported.sum() > 100
    assert not (result.transfers.reason == "sickness").any()


def test_daily_workforce_counts_agree_with_the_staff_records(churning):
    _, result, _ = churning
    staff, daily = result.staff, result.daily.set_index("day")
    for day in range(5, len(daily), 37):
        there = staff[(staff.started_day <= day) & ~(staff.left_day <= day)]
        assert daily.loc[day, "agency"] == (there.contract == "agency").sum()
        in_post = daily.loc[day, ["permanent", "newly_qualified", "agency"]].sum()
        assert in_post == len(there)


def test_sickness_days_are_concentrated_in_few_people():
    config = load_config(["run.replications=1", "run.progress=false"])
    staff = simulate(config, 0).staff
    days = np.sort(staff["sick_days_reported"].to_numpy())[::-1]
    worked = staff[~(staff.left_day < config.run.warmup_days)]
    top = math.ceil(0.2 * len(worked))
    assert days[:top].sum() > 0.5 * days.sum()


@pytest.mark.slow
def test_reinforcing_loop_more_demand_more_stress_sickness_leaving_and_waiting():
    """Common random numbers, paired differences: each step of the loop is significant (coping off, which damps it)."""
    base = run_scenario(load_config([*SHORT, "coping=off", "run.replications=10"]))
    busier = run_scenario(load_config([*SHORT, "coping=off", "run.replications=10", "demand.referrals_per_year=3214"]))
    for kpi in ("stress_mean", "sickness_days_per_fte", "turnover_pct", "days_to_assessment_mean"):
        _, low, _ = mean_ci(busier.kpis[kpi] - base.kpis[kpi])
        assert low > 0, kpi


@pytest.mark.slow
def test_full_long_term_teams_keep_children_on_assessment_caseloads():
    open_door = run_scenario(load_config([*SHORT, "run.replications=4", "service.long_term_places=null"]))
    full = run_scenario(load_config([*SHORT, "run.replications=4", "service.long_term_places=1000"]))
    for kpi in ("caseload_mean", "caseload_dfe"):
        _, low, _ = mean_ci(full.kpis[kpi] - open_door.kpis[kpi])
        assert low > 0, kpi
    waiting = full.daily[~full.daily.warmup]["awaiting_long_term_team"].mean()
    assert waiting > open_door.daily[~open_door.daily.warmup]["awaiting_long_term_team"].mean()


OUTSIDE = [*SHORT, "demand.referrals_per_year=1820", "demand.counts_are=new"]


@pytest.mark.slow
def test_rereferrals_follow_their_probability():
    # Referrals from outside stay at the default's while the probability changes.
    # (Missed risks come back whatever the probability: here they do not.)
    none = run_scenario(
        load_config(
            [*OUTSIDE, "run.replications=2", "demand.rereferral_probability=0", "risk.missed_return_probability=0"]
        )
    )
    assert none.summary.set_index("kpi").loc["rereferral_pct", "mean"] == 0
    assert (none.cases.referral_number == 1).all()
    some = run_scenario(load_config([*OUTSIDE, "run.replications=2", "demand.rereferral_probability=0.3"]))
    more = run_scenario(load_config([*OUTSIDE, "run.replications=2", "demand.rereferral_probability=0.5"]))
    s, m = (r.summary.set_index("kpi").loc["rereferral_pct", "mean"] for r in (some, more))
    assert 0 < s < m
    again = some.cases[some.cases.referral_number > 1]
    assert len(again) > 100
    # A child comes back after an earlier referral, never before it.
    assert (again.previous_referral_day < again.referred_day).all()
    within = (again.referred_day - again.previous_referral_day) <= 253
    assert (within == again.rereferral_within_12_months).all()


def test_newly_qualified_have_protected_caseloads():
    """In their first year the newly qualified are allocated no more than their share of the cap."""
    config = load_config(
        [
            "run.years=0.25",
            "run.warmup_years=0",
            "workforce=fixed",
            "coping=off",
            "workforce.start_newly_qualified_share=1",
            "workforce.newly_qualified_days=25300",
            "demand.referrals_per_year=5000",
            "service.handover_days=0",
            "service.long_term_places=null",
            "policy.override_after_days=null",
        ]
    )
    service = Service(config)
    result = service.run()
    protected = config.policy.caseload_cap * config.workforce.newly_qualified_caseload_share
    assert all(w.contract == "newly_qualified" for w in service.workforce.staff_in_post())
    assert result.caseloads[:, 1].max() <= math.ceil(protected)
    assert result.daily["unallocated"].max() > 0  # the protection did bite


@pytest.fixture(scope="module")
def standing():
    """A year with 3.5 FTE of standing agency, no agency cover for empty posts, and agency workers who leave often."""
    config = load_config(
        [
            "run.years=1",
            "run.warmup_years=0",
            "run.progress=false",
            "service.fte=1.0",
            "workforce.start_agency_share=0",
            "workforce.agency_covers_vacancies=false",
            "workforce.standing_agency_fte=3.5",
            "workforce.leaving_per_year_agency=4.0",
            "coping.agency_surge=false",
        ]
    )
    service = Service(config, replication=2)
    return service, service.run()


def test_standing_agency_is_held_at_its_fte_above_the_establishment(standing):
    service, result = standing
    agency = result.staff[result.staff.contract == "agency"]
    # 3.5 FTE shared by 4 workers; their posts are above the 24 of the establishment and are never recruited to.
    assert np.allclose(agency.fte, 3.5 / 4)
    posts = set(agency.post)
    assert len(posts) == 4 and min(posts) >= 24
    assert len(service.workforce.active_posts) == 24
    daily = result.daily
    assert daily.agency_fte.max() == pytest.approx(3.5)
    # Filled but for the start delay after each of about 16 leavings a year: 1 / (1 + 16 x 10 / (4 x 253)) of the time.
    assert 0.8 * 3.5 < daily.agency_fte.mean() < 0.9 * 3.5
    assert (daily.vacant_posts <= 24).all()


def test_a_standing_agency_worker_who_leaves_is_replaced_by_agency_after_the_start_delay(standing):
    service, result = standing
    staff = result.staff
    left = staff[(staff.contract == "agency") & (staff.left_because == "agency_left")]
    assert len(left) >= 5
    delay = service.config.workforce.agency_start_days
    for leaver in left.itertuples():
        after = staff[(staff.post == leaver.post) & (staff.started_day > leaver.started_day)]
        if leaver.left_day + delay < len(result.daily):
            assert after.started_day.min() == pytest.approx(leaver.left_day + delay)
            assert (after.contract == "agency").all()
        # Their children were handed on, none kept.
        moved = result.transfers[(result.transfers.from_worker == leaver.worker)]
        assert (moved.reason == "agency_left").all()


def test_a_part_time_standing_agency_worker_holds_a_caseload_in_proportion():
    config = load_config(["run.progress=false", "service.fte=0.9", "workforce.standing_agency_fte=0.3"])
    workforce = Service(config, replication=0).workforce
    (worker,) = [w for w in workforce.staff_in_post() if w.post >= 24]
    assert worker.contract == "agency" and worker.fte == pytest.approx(0.3)
    assert worker.cap_share == pytest.approx(0.3 / 0.9)


def test_a_dated_change_ends_standing_agency_and_hands_their_children_on():
    config = load_config(
        [
            "run.years=1",
            "run.warmup_years=0",
            "run.progress=false",
            "workforce.start_agency_share=0",
            "workforce.agency_covers_vacancies=false",
            "workforce.standing_agency_fte=4",
            "workforce.leaving_per_year_agency=0",
            "coping.agency_surge=false",
            "changes=[{month:6,setting:workforce.standing_agency_fte,value:1}]",
        ]
    )
    result = simulate(config, 0)
    ended = result.staff[result.staff.left_because == "agency_ended"]
    # Five workers held 4 FTE at the service's 0.93; one FTE needs two of them: the three newest are ended.
    assert len(ended) == 3 and ended.left_day.nunique() == 1
    assert ended.left_day.iloc[0] == pytest.approx(config.run.days_per_year / 2, abs=2)
    moved = result.transfers[result.transfers.from_worker.isin(ended.worker)]
    assert len(moved) > 0 and (moved.reason == "agency_ended").all()
    # The two kept share the one FTE from the change on.
    assert result.daily.agency_fte.iloc[-1] == pytest.approx(1.0)
    kept = result.staff[(result.staff.contract == "agency") & result.staff.left_because.isna()]
    assert len(kept) == 2 and np.allclose(kept.fte, 0.5)


def test_standing_agency_in_a_cut_team_moves_to_a_team_that_stays():
    config = load_config(
        [
            "run.years=1",
            "run.warmup_years=0",
            "run.progress=false",
            "service.fte=1.0",
            "workforce.start_agency_share=0",
            "workforce.start_vacant_share=0",
            "workforce.standing_agency_fte=4",  # four workers, one in each team: no team has an empty post
            "workforce.leaving_per_year_agency=0",
            "changes=[{month:3,setting:service.teams,value:3}]",
        ]
    )
    service = Service(config, replication=0)
    standing = [post for team in range(4) for post in service.workforce.standing_posts(team)]
    assert sorted(post.team for post in standing) == [0, 1, 2, 3]
    result = service.run()
    assert sorted(post.team for post in standing) != [0, 1, 2, 3] and all(post.team < 3 for post in standing)
    assert all(post.agency is not None for post in standing)
    assert not (result.staff.left_because == "agency_ended").any()


def test_a_standing_agency_worker_starts_in_the_team_with_most_empty_posts(standing):
    service, result = standing
    workforce = service.workforce
    # Empty posts in every team now; a worker starting would go where the most are, net of the standing agency.
    empty = {team: 0 for team in range(4)}
    for post in workforce.active_posts:
        empty[post.team] += post.worker is None
    for team in range(4):
        empty[team] -= sum(p.agency is not None for p in workforce.standing_posts(team))
    assert workforce._team_with_most_gaps() == max(empty, key=lambda t: (empty[t], -t))
    # At the start nobody's post was empty: the four went one to a team.
    first = result.staff[(result.staff.contract == "agency") & (result.staff.started_day == 0)]
    assert sorted(first.team) == [0, 1, 2, 3]


def test_the_agency_share_caps_standing_agency_and_cover_together():
    config = load_config(
        [
            "run.years=1",
            "run.warmup_years=0",
            "run.progress=false",
            "service.fte=1.0",
            "workforce.start_agency_share=0.125",  # three of the 24 posts covered at the start
            "workforce.agency_max_share=0.2",  # at most 4.8 agency workers
            "workforce.standing_agency_fte=4",
            "coping.agency_surge=false",
        ]
    )
    result = simulate(config, 0)
    assert result.daily.agency.max() == 5 and (result.daily.agency <= 5).all()
    standing = result.staff[(result.staff.contract == "agency") & (result.staff.post >= 24)]
    # Two start at once (three covering posts, then a fourth and a fifth under 4.8), the rest as room is made.
    assert (standing.started_day == 0).sum() == 2 and len(standing) > 2


def _full_pace(worker: Worker, hours_per_fte_day: float, newly_qualified_productivity: float) -> float:
    share = newly_qualified_productivity if worker.contract == NEWLY_QUALIFIED else 1.0
    return worker.fte * hours_per_fte_day * share


def test_without_stress_slowing_or_unpaid_hours_a_worker_s_pace_follows_experience():
    """With nothing else moving the pace, a worker past their first year works at full pace (not a recruit's)."""
    config = load_config([*SHORT, "workforce.stress_productivity_effect=0", "coping.unpaid_hours=false"])
    service = Service(config, 0)
    service.env.run(until=2 * 261)
    in_post = [w for w in service.workforce.staff_in_post() if not w.absent]
    experienced = [w for w in in_post if w.contract == PERMANENT and w.started > 0]  # recruited as newly qualified
    assert experienced, "no recruit finished their first year: the check would pass without looking"
    hours = config.service.casework_hours_per_fte_day
    for worker in in_post:
        assert worker.hours_per_day == pytest.approx(
            _full_pace(worker, hours, config.workforce.newly_qualified_productivity)
        ), worker.contract


def test_a_dated_change_of_casework_hours_changes_every_worker_s_pace_without_stress_slowing():
    config = load_config(
        [*SHORT, "workforce=fixed", "coping=off", "changes=[{month:3,setting:service.productivity,value:0.5}]"]
    )
    service = Service(config, 0)
    service.env.run(until=config.run.warmup_days + 4 * config.run.days_per_month)  # a month after the change
    hours = config.service.casework_hours_per_fte_day * 0.5 / config.service.productivity
    for worker in service.workforce.staff_in_post():
        if not worker.absent:
            assert worker.hours_per_day == pytest.approx(
                _full_pace(worker, hours, config.workforce.newly_qualified_productivity)
            )
