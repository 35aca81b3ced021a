"""The page's runs: each command in a process of its own, its files kept on disk under a key of its exact settings.

The key is the command's overrides and a stamp of what else makes its numbers (the package's code, its
settings files and council data, the libraries' versions), so the same settings run once and are then read
back in any session, and after the page is restarted. A run writes into a hidden folder that becomes the
entry only when the command has finished, so an entry is always whole. One run of a key goes at a time: a
second click, or another session asking for the same settings, follows the run already going.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from simservice.app import quoted
from simservice.hydra_config import conf_dir
from simservice.reporting.outputs import OWNER
from simservice.runs.cache import PACKAGE, code_fingerprint
from simservice.web.commands import Command

#: Where the runs are kept, when set; else ``$XDG_CACHE_HOME/simservice/app`` (``~/.cache/simservice/app``).
CACHE_ENV = "SIMSERVICE_APP_CACHE"
#: Runs kept: past this, the least recently used are removed (a run of the default size takes about 20 MB).
KEEP = 50
#: A run's folder while its command runs: ``.running-<key>-<pid of the page>``.
RUNNING = ".running-"
#: A replication's progress as the command prints it (tqdm): ``base:  40%|####      | 2/5 [...]``.
_PROGRESS = re.compile(r"(?P<name>[\w.-]+):\s+\d+%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)")
ERROR = "simservice: error: "

_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """The folder of kept runs."""
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simservice" / "app"


@cache
def stamp() -> str:
    """What besides the overrides makes a run's numbers and files: code, settings files, council data, libraries."""
    digest = hashlib.sha256(code_fingerprint().encode())
    for path in [*sorted(conf_dir().rglob("*.yaml")), *sorted((PACKAGE / "data").glob("*.csv"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def key_of(command: Command) -> str:
    """The name of a command's entry in the cache."""
    return hashlib.sha256("\n".join([stamp(), *command.args]).encode()).hexdigest()[:20]


@dataclass
class Job:
    """One command's run: where its files are, how far it has got and how it ended."""

    command: Command
    key: str
    folder: Path
    state: str = "running"  # running, done or failed
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    scenario: str = ""
    finished: list[str] = field(default_factory=list)
    replications_done: int = 0

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def done(self) -> bool:
        return self.state == "done" and self.folder.is_dir()

    def fraction(self) -> float:
        """The share of every scenario's replications finished."""
        total = len(self.command.scenarios) * self.command.replications
        return min(1.0, (len(self.finished) * self.command.replications + self.replications_done) / total)

    def progress_text(self) -> str:
        """What the run is doing, in words."""
        if not self.scenario:
            return "Checking the settings and starting the run..."
        count = len(self.command.scenarios)
        which = f" {self.scenario} ({len(self.finished) + 1} of {count})" if count > 1 else ""
        return (
            f"Running scenario{which}: {self.replications_done} of {self.command.replications} replications done"
            f" ({time.monotonic() - self.started:.0f} s)"
        )


def start(command: Command) -> Job:
    """Run a command, or follow the run of the same settings already going, or take its kept files."""
    key = key_of(command)
    folder = cache_dir() / key
    with _lock:
        job = _jobs.get(key)
        if job is not None and (job.running or job.done):
            return job
        if (folder / command.last_file).is_file():
            os.utime(folder)  # recently used: kept longest
            _jobs[key] = Job(command, key, folder, state="done")
            return _jobs[key]
        job = _jobs[key] = Job(command, key, folder)
        _launch(job)
        return job


def find(command: Command) -> Job | None:
    """The run of a command going, finished or failed, or its kept files; None (nothing is started) if none."""
    key = key_of(command)
    with _lock:
        job = _jobs.get(key)
    if job is not None and (job.running or job.done):
        return job
    if (cache_dir() / key / command.last_file).is_file():
        return start(command)
    return job if job is not None and job.state == "failed" else None


def get(key: str | None) -> Job | None:
    """The run of this key that this page started or read, if any."""
    return _jobs.get(key) if key else None


def _launch(job: Job) -> None:
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root)
    staging = root / f"{RUNNING}{job.key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    printed = staging.with_name(staging.name + ".txt")
    with open(printed, "wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "simservice", *job.command.args, f"hydra.run.dir={quoted(staging)}"],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env={**os.environ, "MPLBACKEND": "Agg"},
        )
    threading.Thread(target=_follow, args=(job, process, staging, printed), daemon=True).start()


def _follow(job: Job, process: subprocess.Popen, staging: Path, printed: Path) -> None:
    """Read the command's progress as it prints it; when it ends, make its folder the entry, or keep its error."""
    last_lines: list[str] = []
    for piece in _pieces(process.stderr):
        match = _PROGRESS.search(piece)
        if match is None:
            last_lines = [*last_lines[-20:], piece]
        elif match["name"] != job.scenario:
            if job.scenario:
                job.finished.append(job.scenario)
            job.scenario, job.replications_done = match["name"], int(match["done"])
        else:
            job.replications_done = int(match["done"])
    code = process.wait()
    job.seconds = time.monotonic() - job.started
    if code == 0 and (staging / job.command.last_file).is_file():
        (staging / "command.txt").write_text(job.command.text() + "\n")
        os.replace(printed, staging / "terminal.txt")
        if job.folder.exists():  # another page finished the same settings first
            shutil.rmtree(staging, ignore_errors=True)
        else:
            os.replace(staging, job.folder)
        job.state = "done"
        prune()
        return
    errors = [line for line in last_lines if line.startswith(ERROR)]
    job.error = (errors or last_lines or [f"the run stopped with exit code {code}"])[-1].removeprefix(ERROR)
    job.state = "failed"
    shutil.rmtree(staging, ignore_errors=True)
    printed.unlink(missing_ok=True)


def _pieces(stream) -> Iterator[str]:
    """The command's error stream, piece by piece as its lines and progress bars (``\\r``) come."""
    buffer = b""
    while chunk := stream.read1(4096):
        buffer += chunk
        *pieces, buffer = re.split(rb"[\r\n]", buffer)
        for piece in pieces:
            if piece.strip():
                yield piece.decode(errors="replace").strip()
    if buffer.strip():
        yield buffer.decode(errors="replace").strip()


def _remove_abandoned(root: Path) -> None:
    """Remove the unfinished runs of pages that no longer run (stopped mid-run)."""
    for path in root.glob(f"{RUNNING}*"):
        pid = path.name.removesuffix(".txt").rpartition("-")[2]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def prune(keep: int = KEEP) -> None:
    """Keep the ``keep`` most recently used runs; remove the rest."""
    entries = [path for path in cache_dir().iterdir() if path.is_dir() and not path.name.startswith(".")]
    for path in sorted(entries, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
        shutil.rmtree(path, ignore_errors=True)


def zip_of(folder: Path) -> bytes:
    """A run's files as one zip, in a folder named after the run."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != OWNER:
                archive.write(path, f"simservice-{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()
