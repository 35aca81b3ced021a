"""The project's commands as a user types them, for the tests that run them in a process of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: The trainer's demonstration made small: each step 2 replications of a year (after the experiment's warm-up).
SMALL_DEMONSTRATION = (
    "experiment=latent_conditions",
    "run.replications=2",
    "run.years=1",
    "run.progress=false",
    "run.jobs=1",  # the tests already use every core
)


def simservice(*args: str, cwd: Path, module: str = "simservice", **kwargs) -> subprocess.CompletedProcess:
    """``python -m simservice ARGS`` (or another module) in ``cwd``, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=600, **kwargs
    )
