"""Benchmark: the model against bare SimPy, at growing sizes, and the cost of the event log.

``python -m simservice.bench`` times one replication of the default scenario (and the same
with a fixed staff, with the event log, and without managers and coping) and a bare
SimPy M/M/c queue fed the model's own arrival times, in interleaved blocks (so drift on
a shared machine moves both alike), in CPU time; the last line is the per-referral cost
of the model relative to the bare queue. ``--scale`` runs 1x, 10x and 100x the default
(teams, posts, triage and long-term places scaled with demand), each in a process of its
own, and prints CPU seconds and peak memory per referral, with bare SimPy on the same
arrivals at each size for comparison; its last line compares the per-referral cost at
100x with 1x. ``--sweep`` times a sweep of 20 jobs x 10
replications serially and through the joblib launcher.
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy
from tqdm.auto import tqdm

from simservice.config import OneLineParser
from simservice.hydra_config import load_config
from simservice.model.service import Service


def bare_mmc(arrivals: np.ndarray, servers: int, utilisation: float = 0.9, seed: int = 1) -> float:
    """CPU seconds to push customers arriving at ``arrivals`` through a textbook SimPy M/M/c queue."""
    rng = np.random.default_rng(seed)
    days = arrivals.tolist()
    mean_service = servers * utilisation * (arrivals[-1] - arrivals[0]) / max(1, len(days) - 1)
    services = rng.exponential(mean_service, len(days)).tolist()
    env = simpy.Environment()
    team = simpy.Resource(env, capacity=servers)

    def customer(service):
        with team.request() as request:
            yield request
            yield env.timeout(service)

    def source():
        for day, service in zip(days, services, strict=True):
            yield env.timeout(day - env.now)
            env.process(customer(service))

    env.process(source())
    gc.collect()
    start = time.process_time()
    env.run()
    return time.process_time() - start


#: The same scenario with the workforce dynamics, re-referrals and the long-term teams switched off.
FIXED_STAFF = ["workforce=fixed", "demand.rereferral_probability=0", "service.long_term_places=null"]
#: The same scenario without team managers' limited time and without coping responses.
WITHOUT_MANAGERS = ["managers=unlimited", "coping=off"]


def time_replication(config, replication: int) -> tuple[float, int, np.ndarray]:
    """CPU seconds to build and run one replication (its tables included), its referrals and arrival times.

    Each timed block starts from a clean heap, with nothing of the block before still alive.
    """
    gc.collect()
    start = time.process_time()
    service = Service(config, replication)
    service.run()
    seconds = time.process_time() - start
    return seconds, len(service.cases), service._arrivals


def model_benchmark(overrides: list[str], repeats: int) -> None:
    """The model, fixed staff, the event log and bare SimPy, timed in interleaved blocks; the best of each."""
    config = load_config(overrides)
    fixed = load_config([*overrides, *FIXED_STAFF])
    logged = load_config([*overrides, "run.event_log=true"])
    plain = load_config([*overrides, *WITHOUT_MANAGERS])
    servers = config.service.teams * config.service.workers_per_team
    best = {"model": np.inf, "fixed": np.inf, "logged": np.inf, "plain": np.inf, "bare": np.inf}
    per = dict(best)
    for repeat in tqdm(range(repeats), desc="timed blocks", unit="block"):
        seconds, referrals, arrivals = time_replication(config, repeat)
        per["model"] = min(per["model"], seconds / referrals)
        best["model"] = min(best["model"], seconds)
        seconds, fixed_referrals, _ = time_replication(fixed, repeat)
        per["fixed"] = min(per["fixed"], seconds / fixed_referrals)
        best["fixed"] = min(best["fixed"], seconds)
        seconds, _, _ = time_replication(logged, repeat)
        per["logged"] = min(per["logged"], seconds / referrals)
        seconds, plain_referrals, _ = time_replication(plain, repeat)
        per["plain"] = min(per["plain"], seconds / plain_referrals)
        bare = bare_mmc(arrivals, servers, seed=repeat)
        per["bare"] = min(per["bare"], bare / len(arrivals))
        best["bare"] = min(best["bare"], bare)
    years = config.run.warmup_years + config.run.years
    print(f"scenario: {config.service.name}, {years:g} simulated years, {referrals:,} referrals (CPU time)")
    print(f"simservice: {best['model']:.3f} s for one replication, {per['model'] * 1e6:.1f} us a referral")
    print(
        f"simservice, fixed staff (no workforce dynamics): {best['fixed']:.3f} s, {per['fixed'] * 1e6:.1f} us a "
        f"referral; the dynamics cost {per['model'] / per['fixed']:.2f}x per referral"
    )
    print(f"with run.event_log=true: {per['logged'] / per['model']:.2f}x the cost of a run without")
    print(
        f"without managers' limited time and coping ({' '.join(WITHOUT_MANAGERS)}): {per['plain'] * 1e6:.1f} us a "
        f"referral; managers and coping cost {per['model'] / per['plain']:.2f}x per referral"
    )
    print(f"bare SimPy M/M/{servers}, the model's arrival times: {best['bare']:.3f} s, {per['bare'] * 1e6:.1f} us")
    print(f"per-referral cost vs bare SimPy: {per['model'] / per['bare']:.2f}x")


def scaled(factor: int) -> list[str]:
    """The default scenario ``factor`` times over: demand, teams, triage and long-term places."""
    config = load_config()
    service, demand = config.service, config.demand
    overrides = [
        f"demand.referrals_per_year={demand.referrals_per_year * factor}",
        f"service.teams={service.teams * factor}",
        "run.replications=1",
    ]
    if service.triage_staff is not None:
        overrides.append(f"service.triage_staff={service.triage_staff * factor}")
    if service.long_term_places is not None:
        overrides.append(f"service.long_term_places={service.long_term_places * factor}")
    return overrides


def one_size(factor: int) -> None:
    """One replication at a size, then bare SimPy on its arrivals (for --scale).

    Prints: referrals, CPU seconds, peak memory in bytes, then the bare queue's customers and CPU seconds.
    """
    config = load_config(scaled(factor))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes
    seconds, referrals, arrivals = time_replication(config, 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    bare = bare_mmc(arrivals, config.service.teams * config.service.workers_per_team)
    print(referrals, seconds, peak - before, len(arrivals), bare)


#: A size whose first run takes longer than this (CPU seconds) is not run again in later rounds.
ONCE_OVER_SECONDS = 60.0


def scale_benchmark(factors: list[int], repeats: int) -> None:
    """Each size in a fresh process, so peak memory is its own; per-referral CPU and memory side by side.

    The sizes are run in interleaved rounds and the fastest round of each counts; a size
    whose first run took over a minute of CPU is run once.
    """
    best: dict[int, tuple[int, float, float]] = {}
    bare: dict[int, float] = {}  # bare SimPy's CPU a customer, on the same arrivals
    with tqdm(total=repeats * len(factors), desc="sizes", unit="run") as bar:
        for round_ in range(repeats):
            for factor in factors:
                if round_ and best[factor][1] > ONCE_OVER_SECONDS:
                    continue
                bar.set_postfix_str(f"{factor}x")
                done = subprocess.run(
                    [sys.executable, "-m", "simservice.bench", "--one-size", str(factor)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                referrals, seconds, peak, customers, bare_seconds = done.stdout.split()
                if factor not in best or float(seconds) < best[factor][1]:
                    best[factor] = (int(referrals), float(seconds), float(peak))
                bare[factor] = min(bare.get(factor, math.inf), float(bare_seconds) / int(customers))
                if not round_ and float(seconds) > ONCE_OVER_SECONDS:  # not again: the bar counts it once
                    bar.total -= repeats - 1
                bar.update()
    for factor in factors:
        referrals, seconds, peak = best[factor]
        print(
            f"{factor:>4}x: {referrals:>10,} referrals, {seconds:8.1f} s CPU, {seconds / referrals * 1e6:6.1f} us "
            f"and {peak / referrals / 1024:6.2f} KiB peak memory a referral (above the interpreter's); "
            f"bare SimPy {bare[factor] * 1e6:6.1f} us a customer"
        )
    first, last = factors[0], factors[-1]
    growth = bare[last] / bare[first]
    print(f"bare SimPy M/M/c on the same arrivals, cost a customer at {last}x vs {first}x: {growth:.2f}x")
    cost = {factor: best[factor][1] / best[factor][0] for factor in factors}
    print(f"per-referral cost at {last}x vs {first}x: {cost[last] / cost[first]:.2f}x")


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


def sweep_benchmark(jobs: int, replications: int | str) -> None:
    """Serial against the joblib launcher for the same sweep, and Hydra's cost per job."""
    default = [f"run.replications={replications}"]
    tiny = ["run.replications=1", "run.years=0.25", "run.warmup_years=0", "demand.referrals_per_year=1"]
    sweeps = {"serial": (default, "basic"), "joblib": (default, "joblib"), "near-empty": (tiny, "basic")}
    took = {name: time_sweep(jobs, *sweeps[name]) for name in tqdm(sweeps, desc="sweeps", unit="sweep")}
    serial, parallel, overhead = took["serial"], took["joblib"], took["near-empty"] / jobs
    cores = 2
    print(f"sweep: {jobs} jobs x {replications} replications of the default scenario")
    print(f"serial (basic launcher): {serial:.1f} s; joblib launcher: {parallel:.1f} s")
    print(f"speed-up {serial / parallel:.2f}x; parallel efficiency on {cores} cores: {serial / parallel / cores:.2f}")
    print(f"Hydra's cost per job (a near-empty job, serial): {overhead:.2f} s")


def _replications(text: str) -> int | str:
    """--replications: a whole number, or auto."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number or auto") from None


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m simservice.bench", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="config overrides, as for the simservice command")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed blocks; the best of each counts")
    parser.add_argument("--scale", action="store_true", help="1x, 10x and 100x the default: cost per referral")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100], help="sizes for --scale")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sweep", action="store_true", help="time a sweep, serial against the joblib launcher")
    parser.add_argument("--jobs", type=int, default=20, help="jobs in the timed sweep")
    parser.add_argument(
        "--replications",
        type=_replications,
        default=10,
        help="replications in each job of the timed sweep: a number, or auto (each job chooses its own)",
    )
    args = parser.parse_args(argv)
    if args.one_size:
        one_size(args.one_size)
    elif args.scale:
        scale_benchmark(args.factors, args.repeats)
    elif args.sweep:
        sweep_benchmark(args.jobs, args.replications)
    else:
        model_benchmark(args.overrides, args.repeats)


if __name__ == "__main__":
    main()
