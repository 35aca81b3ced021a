"""The ``simservice`` command: a Hydra app that runs a scenario and writes its results.

``cli()`` checks the user's overrides before Hydra runs, so that a mistake gets
one line naming the setting, the value and what is allowed, and exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from .config import ConfigError, compose, conf_dir, register_configs, to_config
from .outputs import format_summary, write_outputs
from .runner import run_scenario

_OMEGACONF_DETAIL = ("full_key:", "reference_type=", "object_type=")
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

register_configs()


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    print(f"simservice: error: {message}", file=sys.stderr)
    raise SystemExit(code)


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> None:
    """Run the composed scenario's replications and write the results into Hydra's output directory."""
    try:
        config = to_config(cfg)
        results = run_scenario(config)
    except ConfigError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted: no results were written", EXIT_INTERRUPTED)
    out = Path(HydraConfig.get().runtime.output_dir)
    write_outputs(results, out)
    run = config.run
    print(
        f"{config.service.name}: {run.replications} replications of {run.years:g} years"
        f" after a {run.warmup_years:g}-year warm-up (seed {run.seed})"
    )
    print(format_summary(results.summary))
    print(f"Results in {out}")


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
            to_config(compose(case, config_name))
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

    try:
        parsed = get_args_parser().parse_args(args)
    except SystemExit:
        raise
    informational = parsed.help or parsed.hydra_help or parsed.cfg or parsed.info or parsed.shell_completion
    if not informational:
        problem = check_overrides(parsed.overrides, parsed.config_name or "config")
        if problem:
            _fail(problem)
    sys.argv = [sys.argv[0], *args]
    main()


if __name__ == "__main__":
    cli()
