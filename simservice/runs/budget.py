"""What a run will need before it starts: memory and disk, estimated from its settings and refused if too much.

The figures per referral, post and day were measured on this model (peak resident memory
and file sizes at 1x, 10x and 100x the default) and rounded up.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from simservice.config import Config, ConfigError
from simservice.model.demand import scenario_rates

#: Memory a process needs before it simulates anything (Python, numpy, pandas, SimPy, Hydra), bytes.
PROCESS_BYTES = 350e6
#: Memory each referral costs while its replication runs and in the gathered tables (measured: about
#: 1.1 kB at 10 and 100 times the default's size; doubled for the copies made while gathering), bytes.
CASE_BYTES = 2.5e3
#: Memory each day of each replication costs in the daily series, bytes.
DAY_BYTES = 1e3
#: Memory each post costs: its worker, their starting caseload and diary (measured: about 170 kB at 3 months
#: with 5,000 posts), and what each post adds every day it runs (measured: about 440 bytes), bytes.
POST_BYTES = 200e3
POST_DAY_BYTES = 600
#: Memory the event log adds per referral when ``run.event_log`` is on (measured: about 1 kB), bytes.
EVENT_BYTES = 1.5e3


def expected_referrals(config: Config) -> float:
    """Referrals a replication sees, re-referrals and the starting state included: the driver of its memory."""
    service, run = config.service, config.run
    returning = max(d.rereferral_probability for d in [config.demand, *(m.config.demand for m in config.timeline())])
    outside = float(scenario_rates(config).sum()) * run.days_per_month
    starting = service.teams * (
        service.workers_per_team * service.initial_caseload + service.initial_unallocated_per_team
    )
    return outside / (1.0 - float(returning)) + starting + (service.long_term_places or 0)


def free_memory() -> float:
    """Bytes of memory this machine can give a run now."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _per_replication(config: Config) -> float:
    """Bytes one replication holds while it runs: its referrals, its days and its staff."""
    service, run = config.service, config.run
    posts = service.teams * service.workers_per_team
    per_referral = CASE_BYTES + (EVENT_BYTES if run.event_log else 0.0)
    per_post = POST_BYTES + POST_DAY_BYTES * run.horizon_days
    return expected_referrals(config) * per_referral + run.horizon_days * DAY_BYTES + posts * per_post


def memory_needed(configs: Sequence[Config], processes: int = 1, sizes: Sequence[float] | None = None) -> float:
    """An upper estimate of peak memory, bytes: scenarios run in turn, all results kept, ``processes`` at once.

    ``run.replications=auto`` is reckoned at its most, ``run.auto_max_replications``.

    ``sizes`` are the scenarios' bytes a replication, when already worked out.
    """
    sizes = [_per_replication(c) for c in configs] if sizes is None else sizes
    parallel = max(processes, *(c.run.processes(c.run.most_replications) for c in configs))
    running = parallel * (PROCESS_BYTES + max(sizes))
    kept = processes * sum(c.run.most_replications * size for c, size in zip(configs, sizes, strict=True))
    return running + kept


def memory_check(configs: Sequence[Config], processes: int = 1) -> None:
    """Refuse, with one line naming what to change, a run that would not fit in this machine's memory."""
    sizes = [_per_replication(c) for c in configs]  # reads any counts file once
    need, free = memory_needed(configs, processes, sizes), free_memory()
    if need <= free:
        return
    run = configs[0].run
    serial = [dataclasses.replace(c, run=dataclasses.replace(c.run, jobs=1)) for c in configs]
    if processes > 1 and memory_needed(configs, 1, sizes) <= free:
        setting, value, change = "hydra.launcher.n_jobs", processes, "run fewer sweep jobs at once"
    elif memory_needed(serial, processes, sizes) <= free:
        setting, value, change = "run.jobs", run.jobs, "run fewer replications at once"
    else:
        setting, value, change = "run.replications", run.replications, "ask for fewer replications, years or referrals"
        if run.auto:
            setting, value = "run.auto_max_replications", run.auto_max_replications
    scenarios = f" over {len(configs)} scenarios" if len(configs) > 1 else ""
    raise ConfigError(
        setting,
        value,
        f"this run needs about {need / 1e9:,.1f} GB of memory{scenarios} and {free / 1e9:,.1f} GB is free: {change}",
    )


#: Disk each referral and each day of a replication take in the output files, and the figures and logs, bytes.
FILE_BYTES_PER_CASE = 150
FILE_BYTES_PER_DAY = 250
FILE_BYTES_FIXED = 2e6


def output_bytes(config: Config) -> float:
    """An upper estimate of the disk a run's files take (measured: about 76 bytes a referral in cases.parquet)."""
    run = config.run
    per_case = FILE_BYTES_PER_CASE * (2 if run.event_log else 1)  # events.parquet about as much again
    per_replication = expected_referrals(config) * per_case + run.horizon_days * FILE_BYTES_PER_DAY
    return FILE_BYTES_FIXED + run.most_replications * per_replication
