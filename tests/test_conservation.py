"""Conservation: every referral is somewhere, exactly once, at every moment of a run."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simservice.config import load_config
from simservice.model import Service
from simservice.pathway import STATES


@st.composite
def small_services(draw):
    """Random small services: any mix of teams, caps, triage, overrides, bulges and starting states."""
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
        "run.years=0.25",
        f"run.warmup_years={draw(st.sampled_from([0, 0.25]))}",
        f"run.seed={draw(st.integers(0, 1000))}",
    ]
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
        for worker in service.workers:
            assert all(service.cases[i].worker == worker.id for i in worker.caseload)
        checks.append(len(held))
        yield service.env.timeout(every)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_services())
def test_every_referral_is_somewhere_exactly_once(scenario):
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
    # The daily record counts what the census counts.
    assert result.daily["unallocated"].iloc[-1] <= len(service.cases)
