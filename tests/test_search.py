"""The cheapest option that meets the targets: reproducible trials, a named option that meets them, bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from commands import simservice

from simservice.app import check_overrides, search_setup
from simservice.config import ConfigError
from simservice.hydra_config import compose
from simservice.runs.search import BASE, search

TINY = ["run.years=1", "run.warmup_years=0.5", "run.progress=false"]
#: A few trials of two replications, one finalist of three.
FEW = ["search=default", "search.trials=3", "search.replications=2", "search.startup_trials=2",
       "search.finalists=1", "search.finalist_replications=3"]  # fmt: skip


def setup(*overrides: str):
    overrides = [*FEW, *TINY, *overrides]
    return search_setup(compose(overrides), overrides)


def fake_evaluate(config) -> pd.DataFrame:
    """An instant stand-in for the model: cost and outcomes that follow the levers, noise by replication."""
    n = config.run.replications
    posts = config.service.teams * config.service.workers_per_team
    cap = config.policy.caseload_cap or 30
    rows = []
    for r in range(n):
        noise = (r % 3 - 1) * 0.5
        rows.append(
            {
                "cost_total_gbp": 60_000 * posts + 40 * config.finance.retention_payment_per_year * posts,
                "assessed_within_45_days_of_referral_pct": 60 + posts + cap / 10 + noise,
                "unallocated_mean": max(0.0, 40 - posts + noise),
                "caseload_mean": 15.0,
                "turnover_pct": 15.0,
                "agency_pct": 10.0 if config.workforce.agency_allowed else 0.0,
            }
        )
    return pd.DataFrame(rows)


def test_the_same_sampler_seed_gives_the_same_trials():
    spec, base = setup("search.trials=12", "search.startup_trials=4")
    first = search(spec, base, evaluate=fake_evaluate, progress=False)
    again = search(spec, base, evaluate=fake_evaluate, progress=False)
    pd.testing.assert_frame_equal(first.trials, again.trials)
    assert first.named == again.named
    other = search(*setup("search.trials=12", "search.startup_trials=4", "search.sampler_seed=7"),
                   evaluate=fake_evaluate, progress=False)  # fmt: skip
    assert not first.trials.equals(other.trials)
    # The base, inside the space, is trial 0.
    assert first.trials.iloc[0][["teams", "workers_per_team", "caseload_cap"]].tolist() == [4, 6, 18]


def test_the_named_option_is_the_cheapest_finalist_that_meets_the_targets():
    spec, base = setup("search.trials=12", "search.startup_trials=4", "search.finalists=3")
    outcome = search(spec, base, evaluate=fake_evaluate, progress=False)
    best = outcome.best.set_index("option")
    named = best.loc[outcome.named]
    assert named["named"] and named["meets_targets"]
    assert named["assessed_within_45_days_of_referral_pct"] >= 85 and named["unallocated_mean"] <= 20
    others = best[(best.index != BASE) & best["meets_targets"]]
    assert named["yearly_cost_gbp"] == others["yearly_cost_gbp"].min()
    assert best.index[0] == BASE and best["named"].sum() == 1


@pytest.mark.slow
def test_a_search_on_the_model_names_an_option_and_writes_its_files_whole(tmp_path):
    out = tmp_path / "run"
    done = simservice(*FEW, *TINY, f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {"trials.csv", "search.png", "best.csv"} <= {p.name for p in out.iterdir()}
    trials, best = pd.read_csv(out / "trials.csv"), pd.read_csv(out / "best.csv")
    assert len(trials) == 3 and trials["replications"].eq(2).all()
    named = best[best["named"]]
    assert len(named) == 1 and named["meets_targets"].all()
    assert (named["assessed_within_45_days_of_referral_pct"] >= 85).all() and (named["unallocated_mean"] <= 20).all()
    assert {"yearly_cost_gbp_ci_low", "yearly_cost_difference_ci_high", "meets_targets_at_bound"} <= set(best.columns)
    assert "Named: " in done.stdout


@pytest.mark.slow
def test_a_target_nothing_can_meet_is_said_in_one_line_exits_1_and_names_nothing(tmp_path):
    out = tmp_path / "run"
    impossible = [
        "search.targets.unallocated_mean={max:0}",
        "search.targets.assessed_within_45_days_of_referral_pct={min:100}",
    ]
    done = simservice(*FEW, *TINY, "search.trials=2", "search.replications=1", *impossible, f"hydra.run.dir={out}",
                      cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no option met the targets" in lines[0], done.stderr
    assert "Named" not in done.stdout
    # Every trial is kept, to see how near they came; best.csv, which names an option, is not written.
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["search.png", "simservice.log",
                                                                                    "trials.csv"]  # fmt: skip
    assert not pd.read_csv(out / "trials.csv")["feasible"].any()


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("search.targets.no_such_kpi={min:3}", "search.targets.no_such_kpi="),
        ("search.targets.unallocated_mean={max:-1}", "search.targets.unallocated_mean.max=-1"),
        ("search.targets.unallocated_mean={min:30,max:20}", "search.targets.unallocated_mean.max=20"),
        ("search.levers.teams={low:0,high:4}", "search.levers.teams.low=0"),
        ("search.levers.teams={low:5,high:4}", "search.levers.teams.high=4"),
        ("search.levers.retention_payment_per_year.also_off=true", "search.levers.retention_payment_per_year.also_off"),
        ("search.trails=3", "search.trails=3"),
        ("search.finalist_replications=1", "search.finalist_replications=1"),
    ],
)  # fmt: skip
def test_bad_search_settings_are_named(override, named):
    with pytest.raises(ConfigError) as error:
        setup(override)
    assert str(error.value).startswith(named)


def test_a_search_with_budget_options_or_in_a_sweep_is_refused():
    assert check_overrides(["search=default", "budget=raise_cap"]).startswith("budget=")
    assert check_overrides(["search=default", "service.teams=3,4"], multirun=True).startswith("search=")


def test_a_target_on_an_unknown_kpi_is_one_line_exit_2_and_nothing_written(tmp_path):
    out = tmp_path / "run"
    done = simservice(*FEW, *TINY, "search.targets.waiting={max:3}", f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "search.targets.waiting=" in lines[0] and "KPI" in lines[0], done.stderr
    assert not out.exists() or not any(out.iterdir())
