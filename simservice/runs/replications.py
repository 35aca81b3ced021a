"""Replications of a scenario, serial or in parallel, gathered into tidy tables.

Each replication seeds its streams from its own number, so the results are the
same whatever ``run.jobs`` is and in whatever order the processes finish.
"""

from __future__ import annotations

import os

import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from simservice.config import Config
from simservice.model.records import ReplicationResult
from simservice.model.service import simulate
from simservice.reporting.kpis import KPI_UNITS, replication_kpis, summarise
from simservice.reporting.results import Results


def _replicate(config: Config, replication: int) -> tuple[ReplicationResult, dict]:
    result = simulate(config, replication)
    return result, replication_kpis(result, config.run)


def workers_for(jobs: int, replications: int) -> int:
    """Processes to use: ``jobs`` (-1: every core), never more than there are replications."""
    cores = os.cpu_count() or 1
    return max(1, min(replications, cores if jobs == -1 else jobs))


def run_scenario(config: Config, progress: bool | None = None, label: str = "replications") -> Results:
    """Run every replication of a scenario and gather the results."""
    run = config.run
    show = run.progress if progress is None else progress
    n_jobs = workers_for(run.jobs, run.replications)
    if n_jobs == 1:
        done = (_replicate(config, r) for r in range(run.replications))
    else:
        done = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_replicate)(config, r) for r in range(run.replications)
        )
    outputs = list(tqdm(done, total=run.replications, desc=label, unit="rep", disable=not show, leave=False))
    outputs.sort(key=lambda pair: pair[0].replication)
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
        events=pd.concat([res.events for res, _ in outputs], ignore_index=True) if run.event_log else None,
    )
