"""The job cache: a private, checked copy of every finished job's outputs, so a sweep never runs a job twice.

An entry is keyed by the job's settings, the content of every input file, the model's
code and the versions of the libraries that draw its numbers. It holds copies (never
links) of the job's output files and a manifest of their SHA-256 checksums, is written
whole or not at all, and is verified before it is restored; an entry that fails the
check is reported, removed, and the job runs again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from simservice.config import Config
from simservice.reporting.kpis import KPI_UNITS
from simservice.reporting.outputs import FILES, OPTIONAL, clean_abandoned_staging, publish, staged, staging_prefix

MANIFEST = "manifest.json"
SUMMARY = "summary.csv"
SUMMARY_COLUMNS = ["kpi", "mean", "ci_low", "ci_high", "unit"]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def code_fingerprint() -> str:
    """A hash of the model's source and the libraries that draw its numbers (read once a process)."""
    import numpy
    import simpy

    package = PACKAGE
    digest = hashlib.sha256(f"numpy {numpy.__version__} simpy {simpy.__version__} pandas {pd.__version__}".encode())
    for path in code_files():
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


#: The simservice package: every module of it, the model's included, makes the numbers a job writes.
PACKAGE = Path(__file__).resolve().parent.parent


def code_files() -> list[Path]:
    """The package's source files, in a fixed order: what the cache key's code fingerprint reads."""
    return sorted(PACKAGE.rglob("*.py"))


def job_key(config: Config) -> str:
    """What identifies a job's results: every parameter, every input file's content, and the code.

    How many processes ran it, and whether a progress bar showed, do not change the results.
    ``run.replications=auto`` is keyed as the word with the rule's settings, never as the number it
    chose: a job asked for 17 replications and an auto job that settled on 17 are different jobs.
    """
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, jobs=1, progress=False))
    text = OmegaConf.to_yaml(OmegaConf.structured(config), sort_keys=True) + code_fingerprint()
    for path in config.input_files():
        text += f"\n{path}: {sha256(Path(path))}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Write a small JSON file whole or not at all."""
    staging = path.with_name(f"{staging_prefix()}{path.name}")
    staging.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
    os.replace(staging, path)


def warn(message: str) -> None:
    print(f"simservice: warning: {message}", file=sys.stderr)


class DamagedEntry(Exception):
    """A cache entry that cannot be trusted: the message says why."""


def _verified_files(entry: Path, key: str) -> list[str]:
    """The files of a cache entry, each checked against the manifest written when it was stored."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        files = manifest["files"]
        listed = set(files) if isinstance(files, dict) else set()
        if manifest.get("key") != key or not set(FILES) - set(OPTIONAL) <= listed <= set(FILES):
            raise DamagedEntry("its manifest does not list this job's output files")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedEntry(f"its manifest is missing or unreadable ({type(error).__name__})") from error
    for name, checksum in files.items():
        path = entry / name
        if "/" in name or name.startswith(".") or name == MANIFEST:
            raise DamagedEntry(f"its manifest names {name!r}, which is not an output file")
        try:
            info = os.lstat(path)
        except OSError as error:
            raise DamagedEntry(f"{name} is missing") from error
        if not stat.S_ISREG(info.st_mode):
            raise DamagedEntry(f"{name} is not a regular file")
        if sha256(path) != checksum:
            raise DamagedEntry(f"{name} was changed after it was stored")
    problem = summary_problem(entry / SUMMARY)
    if problem:
        raise DamagedEntry(problem)
    return [name for name in files if name != SUMMARY] + [SUMMARY]


def restore(cache_dir: Path, key: str, out_dir: Path) -> bool:
    """Copy a finished job's verified outputs into ``out_dir``; False if there are none to trust.

    A damaged entry is reported, removed, and the job runs again.
    """
    entry = cache_dir / key
    if not entry.is_dir():
        return False
    try:
        names = _verified_files(entry, key)
    except DamagedEntry as damage:
        warn(f"cache entry {entry} is damaged: {damage}; it is discarded and the job runs again")
        shutil.rmtree(entry, ignore_errors=True)
        return False
    with staged(out_dir) as staging:
        for name in names:
            shutil.copyfile(entry / name, staging / name)
        publish(staging, out_dir, names)  # summary.csv last
    return True


def store(cache_dir: Path, key: str, out_dir: Path, names: Sequence[str]) -> None:
    """Keep a private copy of a finished job's outputs with a manifest of checksums; whole or not at all."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    clean_abandoned_staging([cache_dir], depth=1)
    entry = cache_dir / key
    if entry.exists():
        try:
            _verified_files(entry, key)
            return
        except DamagedEntry:
            shutil.rmtree(entry, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(), dir=cache_dir))
    try:
        files = {}
        for name in names:
            shutil.copyfile(out_dir / name, staging / name)
            files[name] = sha256(staging / name)
        write_json(staging / MANIFEST, {"key": key, "files": files})
        os.rename(staging, entry)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def summary_problem(path: Path) -> str | None:
    """Why a job's summary.csv cannot be trusted, or None if it holds every KPI with numbers."""
    try:
        summary = pd.read_csv(path)
    except Exception as error:
        return f"{SUMMARY} is unreadable ({type(error).__name__})"
    if list(summary.columns) != SUMMARY_COLUMNS:
        return f"{SUMMARY} has the wrong columns"
    if list(summary["kpi"]) != list(KPI_UNITS):
        return f"{SUMMARY} does not list every KPI"
    if not pd.api.types.is_numeric_dtype(summary["mean"]):
        return f"{SUMMARY} has a mean that is not a number"
    return None
