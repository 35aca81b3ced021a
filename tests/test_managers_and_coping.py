"""Team managers and coping responses: queueing theory for sign-off, directions under common random numbers,
honest measures in overload, and per-team outputs that add up to the service's."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import simpy

from simservice.hydra_config import load_config
from simservice.model.managers import Managers
from simservice.model.service import simulate
from simservice.model.streams import Streams
from simservice.reporting.kpis import _at_31_march, mean_ci
from simservice.runs.replications import run_scenario

SHORT = ["run.years=2", "run.warmup_years=0.5", "run.replications=5", "run.progress=false", "run.jobs=2"]
#: A surge of referrals from outside: about 40 % more for a year.
SURGE = ["demand.shocks=[{start_month:0,months:12,extra_per_day:4}]"]


def _paired(base, scenario, kpi):
    """Mean paired difference scenario - base and its 95 % interval."""
    return mean_ci(scenario.kpis[kpi].to_numpy() - base.kpis[kpi].to_numpy())


# -- sign-off is a queue: M/M/1 ---------------------------------------------------------------------


def _sign_off_sojourn(load: float, replication: int, customers: int = 20_000) -> float:
    """Mean days from arrival to sign-off for one manager (1 hour a day, exponential hours of mean ``1``)."""
    config = load_config(
        [
            "managers.hours_per_week=5",
            "managers.other_duties_share=0",
            "managers.sign_off_hours=1",
            "managers.supervision_hours_per_worker_month=0",
            "managers.leaving_per_year=0",
            "service.teams=1",
            "run.progress=false",
        ]
    )
    env = simpy.Environment()
    waits: list[float] = []
    arrived: dict[int, float] = {}
    pathway = SimpleNamespace(config=config, signed_off=lambda case: waits.append(env.now - arrived[case.id]))
    managers = Managers(env, config, Streams(1, replication), pathway, [[]])
    rng = np.random.default_rng(replication)

    def arrivals():
        for i in range(customers):
            yield env.timeout(rng.exponential(1.0 / load))
            case = SimpleNamespace(id=i)
            arrived[i] = env.now
            managers.posts[0].sign_off(case)

    env.process(arrivals())
    env.run()
    return float(np.mean(waits[customers // 10 :]))  # the first tenth is a warm-up


@pytest.mark.parametrize("load", [0.5, pytest.param(0.7, marks=pytest.mark.slow)])
def test_sign_off_with_one_manager_is_an_mm1_queue(load):
    """Poisson completions, exponential sign-off times, one manager: the mean time to sign-off is 1 / (mu - lambda)."""
    mean, low, high = mean_ci([_sign_off_sojourn(load, r) for r in range(8)])
    theory = 1.0 / (1.0 - load)
    assert low <= theory <= high, (mean, low, high, theory)
    assert abs(mean - theory) / theory < 0.1


# -- managers in the model --------------------------------------------------------------------------


def test_an_assessment_is_completed_when_it_is_signed_off():
    result = simulate(load_config([*SHORT[:4]]), 0)
    done = result.cases[result.cases["completed_day"].notna() & ~result.cases["starting_state"]]
    assert (done["completed_day"] >= done["assessed_day"]).all()
    assert (done["sign_off_wait"] > 0).mean() > 0.9
    unlimited = simulate(load_config([*SHORT[:4], "managers=unlimited"]), 0).cases
    unlimited = unlimited[unlimited["completed_day"].notna()]
    assert (unlimited["sign_off_wait"] == 0).all()


@pytest.fixture(scope="module")
def four_teams():
    return run_scenario(load_config([*SHORT, "coping=off"]))


@pytest.fixture(scope="module")
def three_teams():
    """The same 24 workers in three teams of eight: three managers instead of four."""
    return run_scenario(load_config([*SHORT, "coping=off", "service.teams=3", "service.workers_per_team=8"]))


@pytest.mark.slow
def test_three_managers_for_the_same_workers_give_less_supervision_longer_sign_off_and_more_stress(
    four_teams, three_teams
):
    _, _, high = _paired(four_teams, three_teams, "supervision_given_pct")
    assert high < 0
    _, low, _ = _paired(four_teams, three_teams, "sign_off_wait_mean")
    assert low > 0
    _, low, _ = _paired(four_teams, three_teams, "stress_mean")
    assert low > 0


@pytest.mark.slow
def test_per_team_outputs_add_up_to_the_service(four_teams):
    teams = four_teams.teams.groupby("replication")[["unallocated_mean", "assessments_completed"]].sum()
    kpis = four_teams.kpis.set_index("replication")
    assert np.allclose(teams["unallocated_mean"], kpis["unallocated_mean"], rtol=1e-9, atol=1e-9)
    assert np.allclose(teams["assessments_completed"], kpis["assessments_completed"], rtol=1e-9)
    # The busiest team is at least as loaded as the service on average.
    assert (kpis["caseload_team_max_mean"] >= four_teams.teams.groupby("replication")["caseload_mean"].mean()).all()


def test_per_team_establishments():
    config = load_config([*SHORT[:4], "service.team_posts=[6,6,6,4]"])
    from simservice.model.service import Service

    service = Service(config, 0)
    posts = pd.Series([post.team for post in service.workforce.active_posts]).value_counts().sort_index()
    assert posts.tolist() == [6, 6, 6, 4]


def test_a_vacant_manager_post_is_covered_by_an_interim_and_then_filled():
    config = load_config(
        [*SHORT[:4], "managers.leaving_per_year=4", "managers.notice_days=0", "managers.interim_start_days=10"]
    )
    result = simulate(config, 0)
    days = result.daily[~result.daily["warmup"]]
    assert days["managers_vacant"].max() >= 1
    assert days["managers_interim"].max() >= 1
    assert ((days["managers_in_post"] + days["managers_interim"] + days["managers_vacant"]) == 4).all()


# -- honest measures --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_referral_still_unassessed_after_45_days_counts_as_late():
    """Posts cut hard: completion-based timeliness flatters, the referral-cohort measure does not."""
    config = load_config([*SHORT[:4], "coping=off", "service.workers_per_team=3"])
    result = run_scenario(config).summary.set_index("kpi")["mean"]
    assert result["assessed_within_45_days_of_referral_pct"] < result["within_45_days_pct"] - 10


def test_awaiting_assessment_is_counted_on_the_last_day_of_march():
    run = load_config(["run.start_month=4", "run.years=2", "run.warmup_years=0", "run.progress=false"]).run
    daily = pd.DataFrame({"awaiting_assessment": np.arange(int(2 * run.days_per_year))})
    # March ends 12 months into the run (April start): the last morning before day 253, and again before 506.
    assert _at_31_march(daily, run) == pytest.approx((252 + 505) / 2)
    one = load_config(["run.start_month=4", "run.years=0.5", "run.warmup_years=0", "run.progress=false"]).run
    assert math.isnan(_at_31_march(daily, one))


# -- each coping response, alone, under a surge -----------------------------------------------------


@pytest.fixture(scope="module")
def surge_without_coping():
    return run_scenario(load_config([*SHORT, *SURGE, "coping=off"]))


#: Each response, and what it trades the backlog for (a KPI that rises).
TRADES = {
    "thresholds_rise": ["closed_at_front_door_pct", "closed_under_raised_threshold_pct"],
    "caseload_creep": ["caseload_max", "caseload_team_max_mean"],
    "agency_surge": ["surge_agency_days", "agency_pct"],
    "unpaid_hours": ["unpaid_hours"],
    "rushed_assessments": ["rushed_assessments_pct", "rushed_hours"],
}


@pytest.mark.slow
@pytest.mark.parametrize("response", list(TRADES))
def test_each_coping_response_alone_lowers_the_backlog_and_raises_what_it_trades_for(response, surge_without_coping):
    coping = run_scenario(load_config([*SHORT, *SURGE, "coping=off", f"coping.{response}=true"]))
    _, _, high = _paired(surge_without_coping, coping, "unallocated_mean")
    assert high < 0, response
    for kpi in TRADES[response]:
        _, low, _ = _paired(surge_without_coping, coping, kpi)
        assert low > 0, (response, kpi)


@pytest.mark.slow
def test_triage_surge_clears_the_front_door():
    bulge = ["demand.shocks=[{start_month:0,months:3,extra_per_day:15}]"]
    base = run_scenario(load_config([*SHORT, *bulge, "coping=off"]))
    surge = run_scenario(load_config([*SHORT, *bulge, "coping=off", "coping.triage_surge=true"]))
    _, _, high = _paired(base, surge, "awaiting_triage_mean")
    assert high < 0


@pytest.mark.slow
def test_thresholds_raised_bring_children_back():
    base = run_scenario(load_config([*SHORT, *SURGE, "coping=off"]))
    raised = run_scenario(load_config([*SHORT, *SURGE, "coping=off", "coping.thresholds_rise=true"]))
    _, low, _ = _paired(base, raised, "rereferral_pct")
    assert low > 0


@pytest.mark.slow
def test_with_coping_ten_percent_more_demand_degrades_gracefully():
    """10 % more demand: the unallocated mean rises by less than a factor of 3, and caseloads rise."""
    base = run_scenario(load_config([*SHORT, "run.replications=8"]))
    busier = run_scenario(load_config([*SHORT, "run.replications=8", "demand.referrals_per_year=2860"]))
    before = base.summary.set_index("kpi")["mean"]
    after = busier.summary.set_index("kpi")["mean"]
    assert after["unallocated_mean"] < 3 * before["unallocated_mean"]
    _, low, _ = _paired(base, busier, "caseload_mean")
    assert low > 0


# -- what the trial of the studies found ------------------------------------------------------------


def test_a_swept_config_group_keeps_its_choice_as_a_name(tmp_path):
    """``coping=default,off``: ``off`` is a config's name, not the truth value YAML would make of it."""
    from simservice.runs.sweep import _job_overrides

    for number, choice in enumerate(["default", "'off'"]):  # quoted on the command line, or not
        hydra = tmp_path / str(number) / ".hydra"
        hydra.mkdir(parents=True)
        (hydra / "overrides.yaml").write_text(
            f"- coping={choice}\n- demand.referrals_per_year=2860\n- run.event_log=off\n"
        )
    assert _job_overrides(tmp_path / "1") == {
        "coping": "off",
        "demand.referrals_per_year": 2860,
        "run.event_log": False,
    }


def test_a_sweep_and_a_printout_at_once_is_one_line(capsys):
    from simservice.app import cli

    with pytest.raises(SystemExit) as exit_:
        cli(["-m", "service.teams=3,4", "--cfg", "job"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "one of -m/--multirun, --cfg" in err


@pytest.mark.slow
def test_yearly_measures_stay_within_what_they_can_be():
    from simservice.reporting.yearly import yearly_table

    results = run_scenario(
        load_config(["run.years=2", "run.warmup_years=0.5", "run.replications=3", "run.progress=false"])
    )
    table = yearly_table(results.cases, results.daily, results.staff, results.config.run)
    assert set(table["year"]) == {1, 2}
    assert (table["ci_low"].dropna() >= 0).all()
    shares = table[table["unit"].str.startswith("%")]
    assert (shares["ci_high"].dropna() <= 100).all()
    referrals = table[table["measure"] == "referrals"]["mean"]
    assert referrals.between(2300, 2900).all()


def test_managers_given_unlimited_time_at_a_date_sign_off_what_waits_and_supervise_fully():
    config = load_config(
        [*SHORT[:4], "changes=[{month:6,setting:managers.hours_per_week,value:null}]", "run.replications=1"]
    )
    result = simulate(config, 0)
    change = config.run.warmup_days + 6 * config.run.days_per_month
    after = result.daily[result.daily["day"] > change + 1]
    assert (after["awaiting_sign_off"] == 0).all()
    months = after["supervision_given_pct"].dropna()
    assert len(months) and (months == 100).all()
    assert (result.cases["state"] != "awaiting_sign_off").all()


@pytest.mark.slow
def test_a_team_without_posts_is_pressed_by_its_queue_and_the_service_needs_a_post():
    from simservice.config import ConfigError

    result = run_scenario(load_config([*SHORT[:4], "run.replications=2", "service.team_posts=[6,6,6,0]"]))
    assert result.summary.set_index("kpi").loc["surge_agency_days", "mean"] > 0
    with pytest.raises(ConfigError, match="at least one post"):
        load_config(["service.team_posts=[0,0,0,0]"])


@pytest.mark.parametrize("value", ["2", "yes", "-1", "off"])
def test_a_true_or_false_setting_takes_only_true_or_false(value, capsys):
    from simservice.app import cli

    with pytest.raises(SystemExit) as exit_:
        cli([f"coping.agency_surge={value}"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"simservice: error: coping.agency_surge='{value}': must be true or false"
    )


def test_a_team_opened_after_managers_were_given_unlimited_time_runs():
    # Teams opened once managers' limited time had been lifted had no manager post, and allocating failed.
    config = load_config(
        [
            "run.years=0.5",
            "run.warmup_years=0",
            "run.progress=false",
            "service.teams=1",
            "changes=[{month:0,setting:managers.hours_per_week,value:null},{month:2,setting:service.teams,value:4}]",
        ]
    )
    result = simulate(config, 0)
    assert result.cases.team.max() == 3 and len(result.cases) > 0
