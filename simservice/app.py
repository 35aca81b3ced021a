"""The ``simservice`` command: a Hydra app that runs a scenario and writes its results.

``cli()`` checks the user's overrides before Hydra runs, so that a mistake gets
one line naming the setting, the value and what is allowed, and exit code 2.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .compare import compare, format_differences, write_comparison
from .config import Config, ConfigError, compose, conf_dir, register_configs, to_config
from .outputs import format_summary, write_outputs
from .runner import run_scenario
from .sweep import FAILED, job_key, restore, store

_OMEGACONF_DETAIL = ("full_key:", "reference_type=", "object_type=")
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

register_configs()


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    print(f"simservice: error: {message}", file=sys.stderr)
    raise SystemExit(code)


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> None:
    """Run the composed scenario (or compare scenarios) and write the results into Hydra's output directory."""
    hydra_config = HydraConfig.get()
    out = Path(hydra_config.runtime.output_dir)
    if hydra_config.mode == RunMode.MULTIRUN:
        sweep_job(cfg, out)
        return
    try:
        if cfg.scenarios:
            run_comparison(cfg, out)
            return
        config = to_config(cfg)
        results = run_scenario(config)
        write_outputs(results, out)
    except ConfigError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted: no results were written", EXIT_INTERRUPTED)
    print(_heading(config))
    print(format_summary(results.summary))
    print(f"Results in {out}")


def _heading(config: Config) -> str:
    run = config.run
    return (
        f"{config.service.name}: {run.replications} replications of {run.years:g} years"
        f" after a {run.warmup_years:g}-year warm-up (seed {run.seed})"
    )


def scenario_configs(cfg: DictConfig) -> dict[str, Config]:
    """Each named scenario: the composed config with the scenario's differences merged on top."""
    base = cfg.copy()
    base.scenarios = {}
    configs = {}
    for name, differences in cfg.scenarios.items():
        try:
            merged = OmegaConf.merge(base, differences or {})
        except Exception as error:
            raise ConfigError(f"scenarios.{name}", OmegaConf.to_container(differences), _error_text(error)) from error
        configs[str(name)] = to_config(merged)
    return configs


def run_comparison(cfg: DictConfig, out: Path) -> None:
    """A base and other scenarios with common random numbers: paired differences, files and figures."""
    configs = scenario_configs(cfg)
    comparison = compare(configs)
    write_comparison(comparison, out)
    base = next(iter(configs.values()))
    print(_heading(base))
    print(f"Scenarios: {', '.join(configs)} (base: {comparison.base})")
    print(format_differences(comparison.differences))
    print(f"Results in {out} (comparison.csv, compare_*.png, scenarios/<name>/)")


def sweep_job(cfg: DictConfig, out: Path) -> None:
    """One job of a sweep: restored from the cache if it ran before; a failure is written down, not raised."""
    try:
        if cfg.scenarios:
            raise ConfigError("scenarios", list(cfg.scenarios), "a sweep runs single scenarios: compare without -m")
        config = to_config(cfg)
        # One level of parallelism: the launcher runs jobs side by side, replications run in turn.
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, jobs=1, progress=False))
        cache = Path(cfg.cache_dir) if cfg.cache_dir else None
        key = job_key(config)
        if cache is not None and restore(cache, key, out):
            print(f"{out.name}: restored from {cache / key}")
            return
        written = write_outputs(run_scenario(config), out)
        if cache is not None:
            store(cache, key, out, [path.name for path in written])
        print(f"{out.name}: done")
    except Exception as error:  # recorded for the gathered table; the other jobs go on
        message = _error_text(error) if not isinstance(error, ConfigError) else str(error)
        (out / FAILED).write_text(f"{type(error).__name__}: {message}\n")
        print(f"simservice: job {out.name} failed: {message}", file=sys.stderr)


def _error_text(error: BaseException) -> str:
    """The first line of what went wrong, from the innermost OmegaConf error if there is one."""
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause) or type(cause).__name__
    text = text.split("Config search path")[0]
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(_OMEGACONF_DETAIL))


def _sweep_cases(overrides: list[str]) -> list[list[str]]:
    """Override lists that together try every value of every sweep (``a=1,2``) at least once."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    first = [
        f"{o.get_key_element()}={next(o.sweep_string_iterator())}" if o.is_sweep_override() else o.input_line
        for o in parsed
    ]
    cases = [first]
    for i, o in enumerate(parsed):
        if o.is_sweep_override():
            for value in list(o.sweep_string_iterator())[1:]:
                cases.append([*first[:i], f"{o.get_key_element()}={value}", *first[i + 1 :]])
    return cases


def check_overrides(overrides: Sequence[str], config_name: str = "config") -> str | None:
    """None if the overrides make a valid scenario, else a one-line reason naming the setting and value."""
    mine = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    try:
        cases = _sweep_cases(mine)
    except Exception as error:  # the override parser's own errors
        return _error_text(error)
    for case in cases:
        try:
            composed = compose(case, config_name)
            scenario_configs(composed) if composed.scenarios else to_config(composed)
        except ConfigError as error:
            return str(error)
        except Exception as error:
            culprit = next((o for o in case if _fails_alone(o, config_name)), " ".join(case))
            return f"{culprit}: {_error_text(error)}"
    return None


def _fails_alone(override: str, config_name: str) -> bool:
    try:
        compose([override], config_name)
    except Exception:
        return True
    return False


def cli(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``simservice`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    from hydra._internal.utils import get_args_parser

    parsed = get_args_parser().parse_args(args)
    informational = parsed.help or parsed.hydra_help or parsed.cfg or parsed.info or parsed.shell_completion
    if not informational:
        problem = check_overrides(parsed.overrides, parsed.config_name or "config")
        if problem:
            _fail(problem)
    sys.argv = [sys.argv[0], *args]
    main()


if __name__ == "__main__":
    cli()
