"""Beyond one machine: the same sweep through the Ray and Submitit launchers gives the same table.

These need the optional extras (``pip install -e ".[ray,slurm]"``); CI runs them as a separate
step with ``pytest -m launchers``. Ray starts a local instance; Submitit's local executor runs
the jobs as it would on a SLURM cluster, without the cluster.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.launchers

SWEEP = ["-m", "policy.caseload_cap=12,18", "run.replications=2", "run.years=1", "run.warmup_years=0.5"]
LAUNCHERS = {
    "ray": (
        "hydra_plugins.hydra_ray_launcher",
        [
            "hydra/launcher=ray",
            "+hydra.launcher.ray.init.num_cpus=2",
            "+hydra.launcher.ray.init.include_dashboard=false",
        ],
    ),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", ["hydra/launcher=submitit_local"]),
}


def sweep(tmp, name, *launcher):
    done = subprocess.run(
        [sys.executable, "-m", "simservice", *SWEEP, *launcher, f"hydra.sweep.dir={tmp / name}", "cache_dir=null"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return pd.read_parquet(tmp / name / "sweep.parquet")


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_the_same_sweep_on_another_launcher_gives_the_same_table(tmp_path, launcher):
    module, overrides = LAUNCHERS[launcher]
    pytest.importorskip(module)
    local = sweep(tmp_path, "joblib")
    other = sweep(tmp_path, launcher, *overrides)
    pd.testing.assert_frame_equal(local, other)
