"""The cheapest option that meets the targets: an Optuna study over the levers, with common random numbers.

The levers (``conf/search/NAME.yaml``) are the number of teams, posts per team, the caseload cap, agency
cover and a retention payment. Each trial is an option: the base scenario with the levers set from the
start of the run, a standing establishment (the warm-up lets it settle). Its yearly cost is the mean
``cost_total_gbp`` of replications 0..n-1 of ``run.seed``, the same replications for every trial, so that
two trials differ by their levers and not by their luck, and the objective is a deterministic function of
the levers: the same sampler seed gives the same trials. The targets are constraints on KPI means, handed
to Optuna's TPE sampler as ``constraints_func`` (not a penalty: a feasible trial is never out-ranked by an
infeasible one however cheap). The cheapest feasible trials are then run again with more replications,
beside the base, and the cheapest of those whose means meet every target is named.

Why a study driven from Python, and not Hydra's Optuna sweeper: the sweeper (hydra-optuna-sweeper 1.3)
pins Optuna below 3.0, whose TPE sampler has no ``constraints_func``; each of its trials is a Hydra job
that writes a full run's files and must return one float, where a trial here needs the cost and every
target's KPI; and the second stage (finalists re-run with more replications) is not a sweep at all.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from simservice.config import (
    Config,
    ConfigError,
    FinanceConfig,
    PolicyConfig,
    SearchConfig,
    SearchLever,
    SearchLevers,
    SearchTarget,
    ServiceConfig,
    WorkforceConfig,
    limits_of,
)
from simservice.reporting.kpis import KPI_UNITS, mean_ci
from simservice.reporting.outputs import format_number, publish, save_figure, staged
from simservice.runs.comparison import paired_differences
from simservice.runs.replications import run_scenario

#: Each lever: the setting it moves, the settings' group class, and what switching it off means (if it can be).
LEVERS: dict[str, tuple[str, type, str]] = {
    "teams": ("service.teams", ServiceConfig, ""),
    "workers_per_team": ("service.workers_per_team", ServiceConfig, ""),
    "caseload_cap": ("policy.caseload_cap", PolicyConfig, "no caseload cap"),
    "agency_max_share": ("workforce.agency_max_share", WorkforceConfig, "no agency cover"),
    "retention_payment_per_year": ("finance.retention_payment_per_year", FinanceConfig, ""),
}
assert set(LEVERS) == {f.name for f in dataclasses.fields(SearchLevers)}
#: What a search holds; the first four must be given.
REQUIRED = ("trials", "replications", "finalists", "finalist_replications")
SEARCH_KEYS = (*REQUIRED, "startup_trials", "sampler_seed", "retention_leaving_cut_per_1000", "targets", "levers")
LEVER_KEYS = tuple(f.name for f in dataclasses.fields(SearchLever))
TARGET_KEYS = ("min", "max")
#: The cost a search minimises (no one-off costs: an option is a standing establishment).
COST = "cost_total_gbp"
YEARLY_COST = "yearly_cost_gbp"
#: The outcomes every trial and finalist reports, besides the targets' KPIs.
OUTCOMES = (
    "assessed_within_45_days_of_referral_pct", "unallocated_mean", "caseload_mean", "turnover_pct", "agency_pct",
)  # fmt: skip
#: The KPI on the figure's y axis.
PLANE_KPI = "assessed_within_45_days_of_referral_pct"
#: The name of the scenario as configured, re-run beside the finalists.
BASE = "base"
#: The files a search writes; best.csv lands last (written only when finalists were re-run).
FILES = ("trials.csv", "search.png", "best.csv")

Values = dict[str, Any]  # a lever's name -> its value (None: switched off)
Evaluate = Callable[[Config], pd.DataFrame]  # a scenario -> its KPIs, one row per replication


# -- reading and checking the search ---------------------------------------------------------------------------


def read_search(tree: Mapping[str, Any]) -> SearchConfig:
    """The search as composed (``search=default`` and overrides), every key and value checked: one ``ConfigError``."""
    tree = dict(tree)
    unknown = sorted(set(tree) - set(SEARCH_KEYS))
    if unknown:
        raise ConfigError(f"search.{unknown[0]}", tree[unknown[0]], f"a search holds only {', '.join(SEARCH_KEYS)}")
    for key in REQUIRED:
        if tree.get(key) is None:
            raise ConfigError(f"search.{key}", None, "must be set: start from search=default")
    targets = {}
    for kpi, bounds in _mapping(tree.get("targets") or {}, "search.targets").items():
        where = f"search.targets.{kpi}"
        if kpi not in KPI_UNITS:
            raise ConfigError(where, bounds, "must be a KPI of summary.csv, such as unallocated_mean")
        bounds = _mapping(bounds, where, TARGET_KEYS)
        targets[str(kpi)] = SearchTarget(**bounds)
    if not targets:
        raise ConfigError("search.targets", {}, "must name at least one target, such as {unallocated_mean: {max: 20}}")
    levers = {}
    for name, body in _mapping(tree.get("levers") or {}, "search.levers", tuple(LEVERS)).items():
        if body is None:
            continue
        body = _mapping(body, f"search.levers.{name}", LEVER_KEYS)
        for key in ("low", "high"):
            if key not in body:
                raise ConfigError(f"search.levers.{name}.{key}", None, "must be set")
        also_off = body.get("also_off", False)
        if not isinstance(also_off, bool):
            raise ConfigError(f"search.levers.{name}.also_off", also_off, "must be true or false")
        levers[name] = SearchLever(**body)
    numbers = {key: tree[key] for key in SEARCH_KEYS[:-2] if key in tree}
    spec = SearchConfig(**numbers, targets=targets, levers=SearchLevers(**levers))
    for name, lever in levers.items():
        _check_lever(name, lever)
    cut, most = spec.retention_leaving_cut_per_1000, levers.get("retention_payment_per_year")
    if most is not None and cut * most.high / 1000 > 1:
        raise ConfigError(
            "search.retention_leaving_cut_per_1000",
            cut,
            f"times the highest payment ({most.high:,.0f}) / 1,000 must be at most 1 (leaving cannot fall below 0)",
        )
    return spec


def _mapping(value: Any, where: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(where, value, "must be a mapping of names to settings")
    unknown = sorted(str(k) for k in set(value) - set(keys)) if keys else []
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", value[unknown[0]], f"must be one of {', '.join(keys)}")
    return {str(k): v for k, v in value.items()}


def _check_lever(name: str, lever: SearchLever) -> None:
    """A lever's range lies within what its setting allows; a whole-number setting moves in whole steps."""
    setting, group, off = LEVERS[name]
    limits = limits_of(group, setting.partition(".")[2])
    for key in ("low", "high"):
        value = getattr(lever, key)
        if not limits.accepts(value):
            raise ConfigError(f"search.levers.{name}.{key}", value, f"for {setting}: {limits.allowed()}")
    if limits.whole and lever.step is not None and lever.step != int(lever.step):
        raise ConfigError(f"search.levers.{name}.step", lever.step, f"must be a whole number ({setting} is)")
    if lever.also_off and not off:
        raise ConfigError(
            f"search.levers.{name}.also_off", True, "only caseload_cap (no cap) and agency_max_share can be off"
        )


# -- options ---------------------------------------------------------------------------------------------------


def base_values(base: Config) -> Values:
    """The base scenario's levers."""
    return {
        "teams": base.service.teams,
        "workers_per_team": base.service.workers_per_team,
        "caseload_cap": base.policy.caseload_cap,
        "agency_max_share": base.workforce.agency_max_share if base.workforce.agency_allowed else None,
        "retention_payment_per_year": base.finance.retention_payment_per_year,
    }


def option_config(base: Config, values: Values, spec: SearchConfig, replications: int) -> Config:
    """The base scenario with the levers set from the start, run with ``replications`` of the base's seed.

    Equal teams of ``workers_per_team`` posts (``team_posts`` and ``team_shares`` null); the retention payment
    lowers permanent leaving by ``retention_leaving_cut_per_1000`` a £1,000 (an assumption, declared with it).
    """
    service, workforce = base.service, base.workforce
    if (values["teams"], values["workers_per_team"]) != (service.teams, service.workers_per_team):
        service = dataclasses.replace(
            service, teams=int(values["teams"]), workers_per_team=int(values["workers_per_team"]),
            team_posts=None, team_shares=None,
        )  # fmt: skip
    agency = values["agency_max_share"]
    payment = float(values["retention_payment_per_year"])
    extra = payment - base.finance.retention_payment_per_year
    leaving = workforce.leaving_per_year_permanent * (1 - spec.retention_leaving_cut_per_1000 * extra / 1000)
    workforce = dataclasses.replace(
        workforce,
        agency_allowed=agency is not None,
        agency_max_share=workforce.agency_max_share if agency is None else float(agency),
        leaving_per_year_permanent=max(0.0, leaving),
    )
    cap = values["caseload_cap"]
    return dataclasses.replace(
        base,
        service=service,
        policy=dataclasses.replace(base.policy, caseload_cap=None if cap is None else int(cap)),
        workforce=workforce,
        finance=dataclasses.replace(base.finance, retention_payment_per_year=payment),
        run=dataclasses.replace(base.run, replications=replications, progress=False),
    )


def extreme_configs(spec: SearchConfig, base: Config) -> list[Config]:
    """The base and the largest option the search can try, at the finalists' replications (to check memory)."""
    values = base_values(base)
    for name in ("teams", "workers_per_team"):
        lever = getattr(spec.levers, name)
        values[name] = max(values[name], int(lever.high)) if lever is not None else values[name]
    n = spec.finalist_replications
    return [option_config(base, base_values(base), spec, n), option_config(base, values, spec, n)]


def _suggest(trial, spec: SearchConfig, base: Values) -> Values:
    """One option from the sampler: each lever in its range (off, when it may be), the others as the base's."""
    values = dict(base)
    for name in LEVERS:
        lever: SearchLever | None = getattr(spec.levers, name)
        if lever is None:
            continue
        if lever.also_off and not trial.suggest_categorical(f"{name}_on", [True, False]):
            values[name] = None
            continue
        if _whole(name):
            values[name] = trial.suggest_int(name, int(lever.low), int(lever.high), step=int(lever.step or 1))
        else:
            values[name] = round(trial.suggest_float(name, lever.low, lever.high, step=lever.step), 9)
    return values


def _whole(name: str) -> bool:
    setting, group, _ = LEVERS[name]
    return limits_of(group, setting.partition(".")[2]).whole


def _params(spec: SearchConfig, values: Values) -> dict[str, Any] | None:
    """The sampler's parameters that make ``values``, or None if they lie outside the search space."""
    params: dict[str, Any] = {}
    for name in LEVERS:
        lever, value = getattr(spec.levers, name), values[name]
        if lever is None:
            continue
        if lever.also_off:
            params[f"{name}_on"] = value is not None
            if value is None:
                continue
        if value is None or not lever.low <= value <= lever.high:
            return None
        step = lever.step or (1 if _whole(name) else None)
        if step is not None and abs((value - lever.low) / step - round((value - lever.low) / step)) > 1e-9:
            return None
        params[name] = int(value) if _whole(name) else float(value)
    return params


def _key(values: Values) -> tuple:
    return tuple(values[name] for name in LEVERS)


# -- the study -------------------------------------------------------------------------------------------------


def _evaluate(config: Config) -> pd.DataFrame:
    return run_scenario(config, progress=False).kpis


def measures(spec: SearchConfig) -> dict[str, str]:
    """What each trial and finalist reports: the yearly cost, the targets' KPIs and the usual outcomes, with units."""
    kpis = dict.fromkeys([*spec.targets, *OUTCOMES])
    return {YEARLY_COST: "£ a year", **{kpi: KPI_UNITS[kpi] for kpi in kpis}}


def interval(values: pd.Series, unit: str) -> tuple[float, float, float]:
    """Mean and 95 % interval, clipped as summary.csv's are: no negatives, no share over 100 %."""
    mean, low, high = mean_ci(values.to_numpy())
    return mean, max(low, 0.0), min(high, 100.0) if unit.startswith("%") else high


def _with_cost(kpis: pd.DataFrame) -> pd.DataFrame:
    return kpis.assign(**{YEARLY_COST: kpis[COST]})


def violations(spec: SearchConfig, means: Mapping[str, float]) -> list[float]:
    """Each target's shortfall, in the KPI's units (0 or less: met): Optuna's constraint values."""
    out = []
    for kpi, target in spec.targets.items():
        value = means[kpi]
        if target.min is not None:
            out.append(target.min - value)
        if target.max is not None:
            out.append(value - target.max)
    return [v if not math.isnan(v) else math.inf for v in out]


def targets_text(spec: SearchConfig) -> str:
    parts = []
    for kpi, target in spec.targets.items():
        if target.min is not None:
            parts.append(f"{kpi} >= {target.min:g}")
        if target.max is not None:
            parts.append(f"{kpi} <= {target.max:g}")
    return ", ".join(parts)


def _meets_at_bound(spec: SearchConfig, row: Mapping[str, float]) -> bool:
    """Every target met by its 95 % interval's far bound: a min by the lower bound, a max by the upper."""
    ok = True
    for kpi, target in spec.targets.items():
        if target.min is not None:
            ok &= row[f"{kpi}_ci_low"] >= target.min
        if target.max is not None:
            ok &= row[f"{kpi}_ci_high"] <= target.max
    return bool(ok)


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """Every trial, the finalists re-run beside the base (None if no trial met the targets), and the one named."""

    spec: SearchConfig
    base: Config
    trials: pd.DataFrame
    best: pd.DataFrame | None
    named: str | None
    message: str  # why nothing was named, or ""


def _lever_columns(values: Values, config: Config) -> dict[str, Any]:
    agency = values["agency_max_share"]
    return {
        "teams": int(values["teams"]),
        "workers_per_team": int(values["workers_per_team"]),
        "posts": int(values["teams"]) * int(values["workers_per_team"]),
        "caseload_cap": values["caseload_cap"],
        "agency": agency is not None,
        "agency_max_share": agency,
        "retention_payment_per_year": float(values["retention_payment_per_year"]),
        "leaving_per_year_permanent": config.workforce.leaving_per_year_permanent,
    }


def describe(row: Mapping[str, Any]) -> str:
    """An option in words: 3 teams of 7 posts, cap 20, agency up to 25 % of posts, no retention payment."""
    cap = row["caseload_cap"]
    cap_text = "no caseload cap" if cap is None or pd.isna(cap) else f"caseload cap {int(cap)}"
    agency = "no agency cover" if not row["agency"] else f"agency cover up to {row['agency_max_share'] * 100:.0f} %"
    pay = row["retention_payment_per_year"]
    pay_text = "no retention payment" if not pay else f"a £{pay:,.0f} retention payment"
    return f"{int(row['teams'])} teams of {int(row['workers_per_team'])} posts, {cap_text}, {agency}, {pay_text}"


def search(
    spec: SearchConfig, base: Config, evaluate: Evaluate = _evaluate, progress: bool | None = None
) -> SearchOutcome:
    """Run the study, then the finalists beside the base, and name the cheapest that meets the targets."""
    import optuna

    show = base.run.progress if progress is None else progress
    units = measures(spec)
    start = base_values(base)
    cache: dict[tuple, tuple[Config, dict[str, float], dict[str, float], dict[str, float]]] = {}
    rows: list[dict[str, Any]] = []

    def objective(trial) -> float:
        values = _suggest(trial, spec, start)
        key = _key(values)
        if key not in cache:
            config = option_config(base, values, spec, spec.replications)
            kpis = _with_cost(evaluate(config))
            stats = {m: interval(kpis[m], unit) for m, unit in units.items()}
            cache[key] = (
                config,
                {m: s[0] for m, s in stats.items()},
                {m: s[1] for m, s in stats.items()},
                {m: s[2] for m, s in stats.items()},
            )
        config, means, lows, highs = cache[key]
        shortfalls = violations(spec, means)
        scaled = [v / max(abs(b), 1.0) for v, b in zip(shortfalls, _bounds(spec), strict=True)]  # comparable units
        if modern:
            for i, value in enumerate(scaled):
                trial.set_constraint(f"target_{i}", min(value, 1e12))
        else:
            trial.set_user_attr("constraints", scaled)
        row = {"trial": trial.number, **_lever_columns(values, config), "replications": spec.replications}
        row[YEARLY_COST] = means[YEARLY_COST]
        row["yearly_cost_ci_low"], row["yearly_cost_ci_high"] = lows[YEARLY_COST], highs[YEARLY_COST]
        row.update({kpi: means[kpi] for kpi in units if kpi != YEARLY_COST})
        row["feasible"] = all(v <= 0 for v in shortfalls)
        row["shortfall"] = sum(max(0.0, v) for v in scaled)
        rows.append(row)
        return means[YEARLY_COST]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna 5 takes constraints from the trial (set_constraint); 3 and 4 from the sampler's constraints_func.
    modern = hasattr(optuna.trial.Trial, "set_constraint")
    old_style = {} if modern else {"constraints_func": lambda trial: trial.user_attrs["constraints"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed, n_startup_trials=spec.startup_trials, **old_style)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        first = _params(spec, start)
        if first is not None:  # the base, when it is in the space, is trial 0: a known point to start from
            study.enqueue_trial(first)
        bar = tqdm(total=spec.trials, desc="search", unit="trial", disable=not show, leave=False)
        with bar:
            for _ in range(spec.trials):
                study.optimize(objective, n_trials=1)
                feasible = [r[YEARLY_COST] for r in rows if r["feasible"]]
                bar.set_postfix_str(f"cheapest meeting the targets £{min(feasible) / 1e6:.3f} m" if feasible else "")
                bar.update()
    trials = pd.DataFrame(rows)
    feasible = trials[trials["feasible"]].sort_values([YEARLY_COST, "trial"])
    if feasible.empty:
        nearest = trials.sort_values(["shortfall", YEARLY_COST]).iloc[0]
        reached = ", ".join(f"{kpi} {format_number(nearest[kpi])}" for kpi in spec.targets)
        return SearchOutcome(
            spec, base, trials, None, None,
            f"no option met the targets ({targets_text(spec)}) in {spec.trials} trials of {spec.replications}"
            f" replications; the nearest, trial {int(nearest['trial'])} ({describe(nearest)}), reached {reached};"
            " every trial is in trials.csv",
        )  # fmt: skip
    finalists = feasible.drop_duplicates(subset=list(_lever_names())).head(spec.finalists)
    best = _finalists(spec, base, finalists, evaluate, show)
    met = best[(best["option"] != BASE) & best["meets_targets"]]
    if met.empty:
        return SearchOutcome(
            spec, base, trials, best, None,
            f"none of the {len(finalists)} cheapest options that met the targets ({targets_text(spec)}) in"
            f" {spec.replications} replications met them with {spec.finalist_replications}; see best.csv",
        )  # fmt: skip
    named = str(met.sort_values(YEARLY_COST).iloc[0]["option"])
    best["named"] = best["option"] == named
    return SearchOutcome(spec, base, trials, best, named, "")


def _bounds(spec: SearchConfig) -> list[float]:
    return [b for t in spec.targets.values() for b in (t.min, t.max) if b is not None]


def _lever_names() -> tuple[str, ...]:
    return ("teams", "workers_per_team", "caseload_cap", "agency", "agency_max_share", "retention_payment_per_year")


def _finalists(
    spec: SearchConfig, base: Config, finalists: pd.DataFrame, evaluate: Evaluate, show: bool
) -> pd.DataFrame:
    """best.csv: the base and each finalist with ``finalist_replications``, means with 95 % intervals, paired costs."""
    units = measures(spec)
    n = spec.finalist_replications
    base_config = option_config(base, base_values(base), spec, n)
    base_config = dataclasses.replace(base, run=base_config.run)  # the scenario as configured, at n replications
    options: list[tuple[str, int | None, Values, Config]] = [(BASE, None, base_values(base), base_config)]
    for row in finalists.itertuples(index=False):
        values = dict(zip(LEVERS, _row_key(row), strict=True))
        options.append((f"trial_{row.trial}", int(row.trial), values, option_config(base, values, spec, n)))
    runs: dict[str, pd.DataFrame] = {}
    done: list[tuple[Config, str]] = []
    for name, _, _, config in tqdm(options, desc="finalists", unit="option", disable=not show, leave=False):
        same = next((earlier for ran, earlier in done if ran == config), None)  # the base, when it is a finalist
        runs[name] = runs[same] if same is not None else _with_cost(evaluate(config))
        done.append((config, name))
    base_kpis = runs[BASE]
    rows = []
    for name, trial, values, config in options:
        kpis = runs[name]
        row: dict[str, Any] = {"option": name, "trial": trial, **_lever_columns(values, config), "replications": n}
        for measure in units:
            row[measure], row[f"{measure}_ci_low"], row[f"{measure}_ci_high"] = interval(kpis[measure], units[measure])
        diff = paired_differences(base_kpis, kpis, {YEARLY_COST: units[YEARLY_COST]}).iloc[0]
        row["yearly_cost_difference_gbp"] = diff["difference"]
        row["yearly_cost_difference_ci_low"], row["yearly_cost_difference_ci_high"] = diff["ci_low"], diff["ci_high"]
        row["meets_targets"] = all(v <= 0 for v in violations(spec, row))
        row["meets_targets_at_bound"] = _meets_at_bound(spec, row)
        row["named"] = False
        rows.append(row)
    return pd.DataFrame(rows)


def _row_key(row) -> tuple:
    cap = None if pd.isna(row.caseload_cap) else int(row.caseload_cap)
    agency = float(row.agency_max_share) if row.agency else None
    return (int(row.teams), int(row.workers_per_team), cap, agency, float(row.retention_payment_per_year))


# -- files and the terminal ------------------------------------------------------------------------------------


def write_search(outcome: SearchOutcome, out_dir: Path) -> list[Path]:
    """trials.csv, search.png and (when finalists were re-run) best.csv, last: its presence means all are whole."""
    from simservice.reporting import figures  # matplotlib is loaded only when a search draws

    out_dir = Path(out_dir)
    spec, base = outcome.spec, outcome.base
    names = ["trials.csv", "search.png", *(["best.csv"] if outcome.best is not None else [])]
    with staged(out_dir) as staging:
        outcome.trials.to_csv(staging / "trials.csv", index=False, float_format="%.6g")
        title = (
            f"{base.service.name}: the cheapest option meeting the targets\n"
            f"{spec.trials} trials x {spec.replications} replications; finalists x {spec.finalist_replications}"
        )
        target = spec.targets.get(PLANE_KPI)
        lines = [b for b in ((target.min, target.max) if target else ()) if b is not None]
        fig = figures.search_plane(outcome.trials, outcome.best, title, YEARLY_COST, PLANE_KPI, lines)
        save_figure(fig, staging / "search.png")
        if outcome.best is not None:
            outcome.best.to_csv(staging / "best.csv", index=False, float_format="%.6g")
        return publish(staging, out_dir, names)


def format_search(outcome: SearchOutcome) -> str:
    """What the terminal shows: the finalists beside the base, means [95 % CI], and the option named."""
    spec, best = outcome.spec, outcome.best
    lines = [
        f"Search: {spec.trials} trials of {spec.replications} replications,"
        f" {int(outcome.trials['feasible'].sum())} met the targets ({targets_text(spec)})"
    ]
    if best is None:
        return "\n".join(lines)
    shown = [YEARLY_COST, *dict.fromkeys([*spec.targets, PLANE_KPI])]
    lines.append(f"Finalists with {spec.finalist_replications} replications: mean [95 % CI]")
    for row in best.to_dict("records"):
        mark = "named " if row["named"] else "      "
        cells = []
        for m in shown:
            scale, unit = (1e3, "£k") if m == YEARLY_COST else (1, m)
            mean, low, high = (row[m] / scale, row[f"{m}_ci_low"] / scale, row[f"{m}_ci_high"] / scale)
            cells.append(f"{unit} {format_number(mean)} [{format_number(low)}, {format_number(high)}]")
        lines.append(f"{mark}{row['option']:<10} {describe(row)}")
        lines.append(f"{'':16} {'; '.join(cells)}")
    if outcome.named is not None:
        row = best.set_index("option").loc[outcome.named]
        at_bound = row["meets_targets_at_bound"]
        bound = "and by its 95 % intervals too" if at_bound else "but not by all its 95 % intervals"
        lines.append(
            f"Named: {outcome.named}, {describe(row)}: £{row[YEARLY_COST] / 1e3:,.0f}k a year"
            f" ({format_number(row['yearly_cost_difference_gbp'] / 1e3, signed=True)}k against the base"
            f" [{format_number(row['yearly_cost_difference_ci_low'] / 1e3)},"
            f" {format_number(row['yearly_cost_difference_ci_high'] / 1e3)}]); it meets the targets by its means,"
            f" {bound}"
        )
    return "\n".join(lines)
