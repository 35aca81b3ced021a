"""Conservation: every referral is somewhere, exactly once, at every moment of a run."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simservice.hydra_config import load_config
from simservice.model.pathway import STATES
from simservice.model.service import Service


@st.composite
def small_services(draw):
    """Random small services: teams, caps, triage, overrides, bulges, starting states and workforce churn."""
    teams = draw(st.integers(1, 3))
    cap = draw(st.one_of(st.none(), st.integers(1, 6)))
    overrides = [
        f"service.teams={teams}",
        f"service.workers_per_team={draw(st.integers(1, 3))}",
        f"service.triage_staff={draw(st.sampled_from(['null', '0.5', '1', '2']))}",
        f"service.initial_caseload={draw(st.floats(0, 6))}",
        f"service.initial_unallocated_per_team={draw(st.integers(0, 4))}",
        f"demand.referrals_per_year={draw(st.floats(0, 3000))}",
        f"demand.urgent_share={draw(st.floats(0, 1))}",
        f"demand.workload_distribution={draw(st.sampled_from(['lognormal', 'exponential']))}",
        f"demand.min_days_standard={draw(st.floats(0, 15))}",
        f"demand.min_days_urgent={draw(st.floats(0, 10))}",
        f"policy.caseload_cap={'null' if cap is None else cap}",
        f"policy.override_after_days={draw(st.sampled_from(['null', '0', '3', '10']))}",
        f"policy.override_ceiling={draw(st.integers(1, 10))}",
        f"policy.front_door_closure_share={draw(st.floats(0, 1))}",
        # The workforce and what follows assessment, often at extreme rates so every move happens.
        f"workforce.start_agency_share={draw(st.sampled_from([0, 0.2, 0.5]))}",
        f"workforce.start_newly_qualified_share={draw(st.sampled_from([0, 0.2, 0.4]))}",
        f"workforce.start_vacant_share={draw(st.sampled_from([0, 0.1]))}",
        f"workforce.leaving_per_year_permanent={draw(st.sampled_from([0, 0.15, 3]))}",
        f"workforce.leaving_per_year_agency={draw(st.sampled_from([0, 1, 6]))}",
        f"workforce.recruitment_days={draw(st.sampled_from([5, 40, 120]))}",
        f"workforce.agency_allowed={draw(st.booleans())}",
        f"workforce.agency_start_days={draw(st.sampled_from([0, 3, 10]))}",
        f"workforce.short_sickness_per_year={draw(st.sampled_from([0, 2, 20]))}",
        f"workforce.long_sickness_per_year={draw(st.sampled_from([0, 0.05, 2]))}",
        f"workforce.reallocate_after_days={draw(st.sampled_from([0, 2, 10]))}",
        f"workforce.newly_qualified_days={draw(st.sampled_from([5, 253]))}",
        f"service.handover_days={draw(st.sampled_from([0, 3, 25]))}",
        f"service.long_term_places={draw(st.sampled_from(['null', '0', '5', '50']))}",
        f"service.long_term_mean_days={draw(st.sampled_from([5, 60]))}",
        f"demand.rereferral_probability={draw(st.sampled_from([0, 0.3, 0.9]))}",
        f"demand.rereferral_mean_days={draw(st.sampled_from([2, 30]))}",
        "run.years=0.25",
        f"run.warmup_years={draw(st.sampled_from([0, 0.25]))}",
        f"run.seed={draw(st.integers(0, 1000))}",
        # Managers (sign-off, supervision, vacant posts) and every coping response, at rates that make them act.
        f"managers.hours_per_week={draw(st.sampled_from(['null', '2', '37']))}",
        f"managers.sign_off_hours={draw(st.sampled_from([0.1, 0.75, 5]))}",
        f"managers.first_to_slip={draw(st.sampled_from(['supervision', 'sign_off']))}",
        f"managers.leaving_per_year={draw(st.sampled_from([0, 0.15, 10]))}",
        f"managers.interim_allowed={draw(st.booleans())}",
        f"managers.vacant_cover_share={draw(st.sampled_from([0, 0.3]))}",
        f"coping.pressure_from_per_post={draw(st.sampled_from([0, 1]))}",
        f"coping.thresholds_rise={draw(st.booleans())}",
        f"coping.caseload_creep={draw(st.booleans())}",
        f"coping.agency_surge={draw(st.booleans())}",
        f"coping.surge_after_days={draw(st.sampled_from([0, 5]))}",
        f"coping.surge_days={draw(st.sampled_from([3, 30]))}",
        f"coping.unpaid_hours={draw(st.booleans())}",
        f"coping.rushed_assessments={draw(st.booleans())}",
        f"coping.rush_days_before_deadline={draw(st.sampled_from([5, 45]))}",
        f"coping.rush_from_caseload_share={draw(st.sampled_from([0, 1]))}",
        f"coping.triage_surge={draw(st.booleans())}",
        f"workforce.restructure_leaving_effect={draw(st.sampled_from([0, 5]))}",
        f"workforce.restructure_unsettled_days={draw(st.sampled_from([0, 20]))}",
    ]
    # Dated changes: teams cut or added, posts added or deleted, caps and triage moved, mid-run.
    changes = []
    for _ in range(draw(st.integers(0, 3))):
        month = draw(st.integers(0, 2))
        setting, value = draw(
            st.sampled_from(
                [
                    ("service.teams", 1),
                    ("service.teams", 2),
                    ("service.teams", 4),
                    ("service.workers_per_team", 1),
                    ("service.workers_per_team", 4),
                    ("policy.caseload_cap", 2),
                    ("policy.caseload_cap", "null"),
                    ("service.triage_staff", "null"),
                    ("service.triage_staff", 0.5),
                    ("service.long_term_places", 0),
                    ("workforce.agency_allowed", False),
                    ("demand.referrals_per_year", 5000),
                    ("managers.hours_per_week", 1),
                    ("managers.hours_per_week", "null"),
                    ("coping.agency_surge", False),
                    ("coping.thresholds_rise", True),
                    ("service.team_posts", "[2,0,3,1]"),
                ]
            )
        )
        changes.append(f"{{month:{month},setting:{setting},value:{value}}}")
    if changes:
        overrides.append(f"changes=[{','.join(changes)}]")
        overrides.append(f"policy.team_cut={draw(st.sampled_from(['redeploy', 'delete_posts']))}")
    if draw(st.booleans()):
        start, months, extra = draw(st.integers(0, 3)), draw(st.integers(1, 3)), draw(st.floats(0, 20))
        overrides.append(f"demand.shocks=[{{start_month:{start},months:{months},extra_per_day:{extra}}}]")
    return load_config(overrides), draw(st.floats(0.05, 2.0))


def audit(service: Service, every: float, checks: list):
    """A process that looks at where every referral is, at times that fall anywhere in the day."""
    while True:
        census = service.census()
        held = [case_id for ids in census.values() for case_id in ids]
        # No case in two places ...
        assert len(held) == len(set(held)), "a case is in two places"
        # ... and every referral so far in one of them.
        assert sorted(held) == list(range(len(service.cases))), "a referral is missing"
        assert set(census) == set(STATES)
        for state, ids in census.items():
            assert all(service.cases[i].state == state for i in ids), state
            # The pathway's running totals agree with a recount of the places.
            assert service.pathway.in_state[state] == len(ids), state
        assert service.pathway.queue.count == len(census["unallocated"])
        # Each team's count of its queue agrees with the queue, and they add up to the service's.
        assert all(team.waiting.count == len(team.queue) for team in service.teams)
        assert sum(team.waiting.count for team in service.teams) == service.pathway.queue.count
        # Surge workers are agency workers above the establishment, and the count of them is right.
        surge = [w for w in service.workforce.staff_in_post() if w.surge]
        assert all(w.contract == "agency" for w in surge) and len(surge) == service.workforce.surge_workers
        in_post = {worker.id for worker in service.workforce.staff_in_post()}
        for worker in service.workers:
            assert all(service.cases[i].worker == worker.id for i in worker.caseload)
            # An assessed child (awaiting sign-off or a long-term team) is held by at most one worker, who says so.
            for case_id, case in worker.held.items():
                assert case_id in census["awaiting_long_term_team"] + census["awaiting_sign_off"]
                assert case.worker == worker.id
            if worker.id not in in_post:
                assert worker.load == 0, "someone who left still holds cases"
        held = [case_id for worker in service.workers for case_id in worker.held]
        assert len(held) == len(set(held))
        checks.append(len(held))
        yield service.env.timeout(every)


def _every_referral_is_somewhere_exactly_once(scenario) -> None:
    config, every = scenario
    service = Service(config, replication=0)
    checks: list[int] = []
    service.env.process(audit(service, every, checks))
    result = service.run()
    assert checks, "the audit never ran"
    # The case records agree with the census at the end.
    final = service.census()
    records = result.cases.set_index("case_id")["state"].astype(str)
    for state, ids in final.items():
        assert (records.loc[ids] == state).all(), state


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_services())
def test_every_referral_is_somewhere_exactly_once(scenario):
    _every_referral_is_somewhere_exactly_once(scenario)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_services())
def test_every_referral_is_somewhere_exactly_once_in_many_more_services(scenario):
    _every_referral_is_somewhere_exactly_once(scenario)
