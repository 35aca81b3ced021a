"""Shared helpers: scenarios built the way a user builds them, from ``conf/`` and overrides."""

from __future__ import annotations

import compileall
import fcntl
from pathlib import Path

import pytest
from commands import SMALL_DEMONSTRATION, simservice
from hydra.core.global_hydra import GlobalHydra

from simservice import hydra_config
from simservice.hydra_config import load_config

#: A service reduced to a textbook queue: one team, instant triage, no seasonality,
#: exponential work of mean 1 hour at 1 casework hour a day (so mu = 1 a day),
#: no minimum duration, no starting caseload, no front-door closures, no override,
#: and every dynamic off: a fixed staff, managers with unlimited time (instant sign-off), no coping,
#: no re-referrals, no hand-over, unlimited long-term places.
QUEUE = [
    "workforce=fixed",
    "managers=unlimited",
    "coping=off",
    "demand.rereferral_probability=0",
    "service.handover_days=0",
    "service.long_term_places=null",
    "service.teams=1",
    "service.triage_staff=null",
    "service.hours_per_day=1",
    "service.casework_share=1",
    "service.fte=1",
    "service.productivity=1",
    "service.initial_caseload=0",
    "service.initial_unallocated_per_team=0",
    "demand.seasonality=[1,1,1,1,1,1,1,1,1,1,1,1]",
    "demand.trend_per_year=0",
    "demand.urgent_share=0",
    "demand.workload_distribution=exponential",
    "demand.hours_standard=1",
    "demand.hours_urgent=1",
    "demand.min_days_standard=0",
    "demand.min_days_urgent=0",
    "demand.min_days_spread=0",
    "demand.first_visit_days_standard=0",
    "demand.first_visit_days_urgent=0",
    "demand.partner_information_days_standard=0",
    "demand.partner_information_days_urgent=0",
    "demand.write_up_days=0",
    "demand.not_in_need_share=0.3",
    "policy.override_after_days=null",
    "policy.front_door_closure_share=0",
    "run.progress=false",
]


def queue_config(servers: int, arrivals_per_day: float, cap: int | None, *extra: str):
    """The textbook queue with ``servers`` workers and Poisson arrivals at ``arrivals_per_day``."""
    cap_value = "null" if cap is None else str(cap)
    return load_config(
        [
            *QUEUE,
            f"service.workers_per_team={servers}",
            f"demand.referrals_per_year={arrivals_per_day * 253}",
            f"policy.caseload_cap={cap_value}",
            *extra,
        ]
    )


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package once, so the processes the tests start (and pytest-xdist's workers) need not.

    Python writes the bytecode of what it imports unless told not to (``PYTHONDONTWRITEBYTECODE``, set in
    some CI images); then every command a test starts would compile the whole package again (measured:
    about 0.6 s a process on a slow machine). ``compileall`` writes it whatever that variable says.
    """
    if not hasattr(config, "workerinput"):  # the main process, before the workers start
        compileall.compile_dir(Path(hydra_config.__file__).parent, quiet=2)  # (a read-only install: no matter)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module's fixture run on one worker, so pytest-xdist computes it once, not once a worker.

    Works with ``--dist loadgroup`` (pyproject.toml); every other test goes to whichever worker is free.
    """
    for item in items:
        definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(d[-1].scope == "module" for d in definitions.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(autouse=True)
def _fresh_hydra():
    """Each test composes its own configs."""
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def small_demonstration(tmp_path_factory, worker_id) -> Path:
    """The small demonstration's folder, run once for the whole session (pytest-xdist's workers share it).

    Read it, or copy it before writing into it: the tests that use it share one folder.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base  # under xdist, the session's folder above the workers'
    folder = shared / "small-demonstration"
    with open(shared / "small-demonstration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker runs it; the others wait for its files
        if not (folder / "handout.html").is_file():
            done = simservice(*SMALL_DEMONSTRATION, f"hydra.run.dir={folder}", cwd=shared)
            assert done.returncode == 0, done.stderr[-2000:]
    return folder
