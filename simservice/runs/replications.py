"""Replications of a scenario, serial or in parallel, gathered into tidy tables; or as many as precision asks.

Each replication seeds its streams from its own number, so the results are the
same whatever ``run.jobs`` is and in whatever order the processes finish.

``run.replications=auto`` chooses the number with the replications algorithm of Hoad,
Robinson & Davies (2010): from ``run.auto_min_replications``, replications are added
until every headline KPI's 95 % half-width is within ``run.auto_half_width_share`` of its
mean at some n, and stays within it at each of the next ``look_ahead(n)`` replications;
the run keeps all n + ``look_ahead(n)`` of them. At ``run.auto_max_replications`` it stops
whatever the precision, and says which KPIs are still wider. The rule reads the
replications in order, one count at a time, so replication k is always replication k:
auto that settles on N gives exactly the results of ``run.replications=N``, serial or in
parallel (replications run ahead in parallel beyond N are discarded). Scenarios compared
together share one N: every scenario's headline KPIs must meet the target, so pairs stay paired.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

import pandas as pd
from tqdm.auto import tqdm

from simservice.config import Config, RunConfig
from simservice.model.records import ReplicationResult
from simservice.model.service import simulate
from simservice.reporting.kpis import HEADLINE_KPIS, KPI_UNITS, half_width_95, precise, replication_kpis, summarise
from simservice.reporting.results import AutoReplications, Results

#: Replications past the first precise count over which the precision must hold (Hoad, Robinson & Davies 2010).
LOOK_AHEAD = 5

Output = tuple[ReplicationResult, dict]


def _replicate(config: Config, replication: int) -> Output:
    result = simulate(config, replication)
    return result, replication_kpis(result, config.run, config)


def look_ahead(n: int) -> int:
    """Replications past ``n`` that must keep the precision: 5, or 5 % of n past 100 (Hoad et al.'s kLimit)."""
    return max(LOOK_AHEAD, LOOK_AHEAD * n // 100)


class _Pool:
    """Runs (scenario, replication) tasks in order: in this process, or on ``n_jobs`` processes kept for the run."""

    def __init__(self, n_jobs: int):
        self.parallel = self.delayed = None
        if n_jobs > 1:
            from joblib import Parallel, delayed  # only for several processes: a serial run's start-up is spared it

            self.parallel, self.delayed = Parallel(n_jobs=n_jobs, return_as="generator"), delayed

    def __enter__(self) -> _Pool:
        if self.parallel is not None:
            self.parallel.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.parallel is not None:
            self.parallel.__exit__(*exc)

    def map(self, tasks: list[tuple[Config, int]]) -> Iterator[Output]:
        if self.parallel is None:
            return (_replicate(config, r) for config, r in tasks)
        return self.parallel(self.delayed(_replicate)(config, r) for config, r in tasks)


def _gather(config: Config, outputs: list[Output], auto: AutoReplications | None = None) -> Results:
    """A scenario's replications as tidy tables; with auto, ``config.run.replications`` is the number it chose."""
    outputs = sorted(outputs, key=lambda pair: pair[0].replication)
    if auto is not None:
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, replications=len(outputs)))
    kpis = pd.DataFrame([{"replication": res.replication, **k} for res, k in outputs])
    kpis = kpis[["replication", *KPI_UNITS]]
    return Results(
        config=config,
        summary=summarise(kpis),
        kpis=kpis,
        daily=pd.concat([res.daily for res, _ in outputs], ignore_index=True),
        cases=pd.concat([res.cases for res, _ in outputs], ignore_index=True),
        staff=pd.concat([res.staff for res, _ in outputs], ignore_index=True),
        transfers=pd.concat(
            [res.transfers.assign(replication=res.replication) for res, _ in outputs], ignore_index=True
        ),
        teams=pd.concat([res.teams for res, _ in outputs], ignore_index=True),
        defences=pd.concat([res.defences for res, _ in outputs], ignore_index=True),
        events=pd.concat([res.events for res, _ in outputs], ignore_index=True) if config.run.event_log else None,
        auto=auto,
    )


def run_scenario(config: Config, progress: bool | None = None, label: str = "replications") -> Results:
    """Run every replication of a scenario (``run.replications=auto``: as many as precision asks) and gather them."""
    return run_scenarios({label: config}, progress)[label]


def run_scenarios(configs: dict[str, Config], progress: bool | None = None) -> dict[str, Results]:
    """Run scenarios in turn, each labelled by its name; with ``run.replications=auto``, together, to one shared N."""
    first = next(iter(configs.values())).run
    show = first.progress if progress is None else progress
    if first.auto:
        return _run_auto(configs, show)
    return {name: _run_fixed(config, name, show) for name, config in configs.items()}


def _run_fixed(config: Config, label: str, show: bool) -> Results:
    run = config.run
    with _Pool(run.processes(run.replications)) as pool:
        done = pool.map([(config, r) for r in range(run.replications)])
        outputs = list(tqdm(done, total=run.replications, desc=label, unit="rep", disable=not show, leave=False))
    return _gather(config, outputs)


# -- run.replications=auto ---------------------------------------------------------------------------


def _within(tables: Iterable[pd.DataFrame], n: int, share: float) -> bool:
    """True when every headline KPI of every scenario is within the target over the first ``n`` replications."""
    return all(precise(*half_width_95(table[kpi].iloc[:n]), share) for table in tables for kpi in HEADLINE_KPIS)


def auto_stop(tables: list[pd.DataFrame], run: RunConfig) -> int | None:
    """The number of replications auto settles on, given each scenario's KPIs so far; None while undecided.

    The first n (from ``auto_min_replications``) at which every headline KPI is within the target and
    stays so at each of the next ``look_ahead(n)`` counts gives n + ``look_ahead(n)``; the run stops at
    ``auto_max_replications`` whatever the precision.
    """
    ran = min(len(table) for table in tables)
    most, share = run.auto_max_replications, run.auto_half_width_share
    within = {}

    def ok(n: int) -> bool:
        if n not in within:
            within[n] = _within(tables, n, share)
        return within[n]

    for n in range(run.auto_min_replications, min(ran, most) + 1):
        if not ok(n):
            continue
        end = min(n + look_ahead(n), most)
        held = all(ok(j) for j in range(n + 1, min(end, ran) + 1))
        if held and end <= ran:
            return end
        if held:
            return None  # precise so far: the look-ahead is still to run
    return most if ran >= most else None


def _next_count(tables: list[pd.DataFrame], run: RunConfig, ran: int) -> int:
    """The fewest replications that could let auto decide: no fewer than the rule will need, so none is wasted."""
    start = ran + 1  # the earliest count the precision may hold from, and hold after
    while start - 1 >= run.auto_min_replications and _within(tables, start - 1, run.auto_half_width_share):
        start -= 1
    start = max(start, run.auto_min_replications)
    return max(ran + 1, min(start + look_ahead(start), run.auto_max_replications))


def _wider(tables: dict[str, pd.DataFrame], n: int, share: float) -> dict[str, float]:
    """Headline KPIs still wider than the target at ``n`` replications, with their half-width as % of their mean."""
    wider = {}
    for name, table in tables.items():
        for kpi in HEADLINE_KPIS:
            mean, half = half_width_95(table[kpi].iloc[:n])
            if not precise(mean, half, share):
                key = kpi if len(tables) == 1 else f"{name}: {kpi}"
                wider[key] = 100.0 * half / abs(mean) if mean else math.inf
    return wider


def _kpi_table(outputs: list[Output]) -> pd.DataFrame:
    return pd.DataFrame([k for _, k in outputs], columns=list(KPI_UNITS))


def _run_auto(configs: dict[str, Config], show: bool) -> dict[str, Results]:
    """Replications added to every scenario alike until auto's rule decides; every scenario keeps the same N."""
    run = next(iter(configs.values())).run
    n_jobs = run.processes(run.auto_max_replications * len(configs))
    step = max(1, math.ceil(n_jobs / len(configs)))  # a round gives every process a replication to run
    outputs: dict[str, list[Output]] = {name: [] for name in configs}
    label = "replications (auto)" if len(configs) == 1 else f"{', '.join(configs)} (auto)"
    bar = tqdm(total=run.auto_max_replications * len(configs), desc=label, unit="rep", disable=not show, leave=False)
    ran, target, chosen = 0, run.auto_min_replications, None
    with _Pool(n_jobs) as pool, bar:
        while chosen is None:
            tasks = [(config, r) for r in range(ran, target) for config in configs.values()]
            names = [name for _ in range(ran, target) for name in configs]
            for name, output in zip(names, pool.map(tasks), strict=True):
                outputs[name].append(output)
                bar.update()
            ran = target
            tables = [_kpi_table(outputs[name]) for name in configs]
            chosen = auto_stop(tables, run)
            if chosen is None:
                target = max(_next_count(tables, run, ran), min(ran + step, run.auto_max_replications))
    kept = {name: sorted(done, key=lambda pair: pair[0].replication)[:chosen] for name, done in outputs.items()}
    wider = _wider({name: _kpi_table(done) for name, done in kept.items()}, chosen, run.auto_half_width_share)
    auto = AutoReplications(chosen, run.auto_half_width_share, run.auto_max_replications, wider)
    return {name: _gather(config, kept[name], auto) for name, config in configs.items()}
