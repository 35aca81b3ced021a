"""Benchmark: one replication of the default scenario against a bare SimPy M/M/c fed as many referrals.

Run it with ``python -m simservice.bench``. The last line is the per-referral cost
of the full model relative to the bare queue, measured in the same process.
``python -m simservice.bench --sweep`` times a sweep of 20 jobs x 10 replications
serially and through the joblib launcher, and Hydra's cost per job.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

from .config import load_config
from .model import Service


def bare_mmc(arrivals: int, servers: int, utilisation: float = 0.9, seed: int = 1) -> float:
    """Seconds to push ``arrivals`` customers through a textbook SimPy M/M/c queue."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0, arrivals).tolist()
    services = rng.exponential(servers * utilisation, arrivals).tolist()
    env = simpy.Environment()
    team = simpy.Resource(env, capacity=servers)

    def customer(service):
        with team.request() as request:
            yield request
            yield env.timeout(service)

    def source():
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            env.process(customer(service))

    env.process(source())
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


#: The same scenario with the workforce dynamics, re-referrals and the long-term teams switched off.
FIXED_STAFF = ["workforce=fixed", "demand.rereferral_probability=0", "service.long_term_places=null"]


def time_model(overrides: list[str], repeats: int) -> tuple[float, int]:
    """Fastest of ``repeats`` replications (building and running), and the referrals it simulated."""
    config = load_config(overrides)
    best, referrals = float("inf"), 0
    for repeat in range(repeats):
        start = time.perf_counter()
        service = Service(config, replication=repeat)
        service.run()
        best = min(best, time.perf_counter() - start)
        referrals = len(service.cases)
    return best, referrals


def time_sweep(jobs: int, extra: list[str], launcher: str) -> float:
    """Wall-clock seconds for a sweep of ``jobs`` jobs (different seeds) through ``launcher``, with no cache."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "simservice",
            "-m",
            f"run.seed=range(1,{jobs + 1})",
            *extra,
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={Path(tmp) / 'sweep'}",
            "cache_dir=null",
        ]
        start = time.perf_counter()
        subprocess.run(command, cwd=tmp, check=True, capture_output=True)
        return time.perf_counter() - start


def sweep_benchmark(jobs: int, replications: int) -> None:
    """Serial against the joblib launcher for the same sweep, and Hydra's cost per job."""
    default = [f"run.replications={replications}"]
    serial = time_sweep(jobs, default, "basic")
    parallel = time_sweep(jobs, default, "joblib")
    cores = 2
    tiny = ["run.replications=1", "run.years=0.25", "run.warmup_years=0", "demand.referrals_per_year=1"]
    overhead = time_sweep(jobs, tiny, "basic") / jobs
    print(f"sweep: {jobs} jobs x {replications} replications of the default scenario")
    print(f"serial (basic launcher): {serial:.1f} s; joblib launcher: {parallel:.1f} s")
    print(f"speed-up {serial / parallel:.2f}x; parallel efficiency on {cores} cores: {serial / parallel / cores:.2f}")
    print(f"Hydra's cost per job (a near-empty job, serial): {overhead:.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="config overrides, as for the simservice command")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each; the fastest counts")
    parser.add_argument("--sweep", action="store_true", help="time a sweep, serial against the joblib launcher")
    parser.add_argument("--jobs", type=int, default=20, help="jobs in the timed sweep")
    parser.add_argument("--replications", type=int, default=10, help="replications in each job of the timed sweep")
    args = parser.parse_args(argv)
    if args.sweep:
        sweep_benchmark(args.jobs, args.replications)
        return
    config = load_config(args.overrides)
    model_best, referrals = time_model(args.overrides, args.repeats)
    fixed_best, fixed_referrals = time_model([*args.overrides, *FIXED_STAFF], args.repeats)
    servers = config.service.teams * config.service.workers_per_team
    bare_best = min(bare_mmc(referrals, servers, seed=repeat) for repeat in range(args.repeats))

    years = config.run.warmup_years + config.run.years
    per = referrals / model_best
    print(f"scenario: {config.service.name}, {years:g} simulated years, {referrals:,} referrals")
    print(f"simservice: {model_best:.3f} s for one replication, {per:,.0f} referrals/s")
    print(
        f"simservice, fixed staff (no workforce dynamics): {fixed_best:.3f} s, "
        f"{fixed_referrals / fixed_best:,.0f} referrals/s; the dynamics cost "
        f"{(model_best / referrals) / (fixed_best / fixed_referrals):.2f}x per referral"
    )
    print(f"bare SimPy M/M/{servers}: {bare_best:.3f} s, {referrals / bare_best:,.0f} referrals/s")
    print(f"per-referral cost vs bare SimPy: {model_best / bare_best:.2f}x")


if __name__ == "__main__":
    main()
