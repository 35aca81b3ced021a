"""A small API for notebooks: run a scenario, get tidy DataFrames back.

>>> from simservice import api
>>> results = api.run(["run.replications=2", "run.years=1", "run.warmup_years=0.5"], progress=False)
>>> list(results.summary.columns)
['kpi', 'mean', 'ci_low', 'ci_high', 'unit']
>>> int(results.kpis["replication"].max())
1
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from simservice.config import Config
from simservice.hydra_config import load_config
from simservice.reporting.outputs import claim, write_outputs
from simservice.reporting.results import Results
from simservice.runs.comparison import Comparison, write_comparison
from simservice.runs.comparison import compare as compare_configs
from simservice.runs.replications import run_scenario

__all__ = ["Comparison", "Config", "Results", "compare", "load_config", "run", "run_config"]


def run(overrides: Sequence[str] = (), progress: bool = True, out_dir: str | Path | None = None) -> Results:
    """Run the default scenario changed by command-line style ``overrides``; optionally write the output files."""
    return run_config(load_config(overrides), progress=progress, out_dir=out_dir)


def run_config(config: Config, progress: bool = True, out_dir: str | Path | None = None) -> Results:
    """Run a scenario given as frozen parameters (see ``load_config`` and ``dataclasses.replace``)."""
    _own(out_dir)
    results = run_scenario(config, progress=progress)
    if out_dir is not None:
        write_outputs(results, Path(out_dir))
    return results


def _own(out_dir: str | Path | None) -> None:
    """Take ``out_dir`` for this run before anything runs: never into another run's results."""
    if out_dir is not None and not claim(Path(out_dir), "simservice.api"):
        raise FileExistsError(f"{out_dir} holds another run's results: name a new or empty folder")


def compare(
    scenarios: dict[str, Sequence[str]],
    common: Sequence[str] = (),
    progress: bool = True,
    out_dir: str | Path | None = None,
) -> Comparison:
    """Run named scenarios (overrides each; the first is the base) with common random numbers, paired."""
    configs = {name: load_config([*common, *overrides]) for name, overrides in scenarios.items()}
    _own(out_dir)
    comparison = compare_configs(configs, progress=progress)
    if out_dir is not None:
        write_comparison(comparison, Path(out_dir))
    return comparison
