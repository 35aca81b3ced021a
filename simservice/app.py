"""The ``simservice`` command: a Hydra app that runs a scenario and writes its results.

``cli()`` checks the user's overrides before Hydra runs, so that a mistake gets
one line naming the setting, the value and what is allowed, and exit code 2. It
also gives every run and sweep a folder of its own, and turns Ctrl-C, a full or
read-only disk and a run too big for this machine into one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from simservice.config import PAIRING, Config, ConfigError, OneLineParser, is_truth_setting
from simservice.hydra_config import (
    compose,
    conf_dir,
    error_text,
    register_configs,
    run_once,
    to_config,
    without_hydra,
)
from simservice.reporting.outputs import (
    OWNER,
    STAGING,
    claim,
    claim_new,
    clean_abandoned_staging,
    format_summary,
    write_outputs,
)
from simservice.runs.budget import memory_check, output_bytes
from simservice.runs.budget_options import BASE, BudgetOption, format_budget, read_options, write_budget
from simservice.runs.comparison import compare, format_differences, write_comparison
from simservice.runs.replications import run_scenario
from simservice.runs.search import extreme_configs, format_search, read_search, search, write_search
from simservice.runs.sweep import count_jobs, run_job

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Names a user gives that become folder names: letters, digits, '_', '-' and '.', not starting with '.'.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SAFE_NAME_RULE = "must be a name of letters, digits, '_', '-' or '.' (at most 64, not starting with '.'), not a path"


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    print(f"simservice: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _write_failed(out: Path, error: OSError) -> None:
    reason = error.strerror or str(error)
    _fail(f"cannot write the results into {out}: {reason}; nothing was written", EXIT_FAILED)


def run_task(cfg: DictConfig) -> None:
    """Run the composed scenario (or compare scenarios) and write the results into Hydra's output directory."""
    hydra_config = HydraConfig.get()
    out = Path(hydra_config.runtime.output_dir)
    if hydra_config.mode == RunMode.MULTIRUN:
        run_job(cfg, out)
        return
    try:
        if cfg.search:
            run_search_command(cfg, out, hydra_config.overrides.task)
            return
        if cfg.budget:
            run_budget(cfg, out, hydra_config.overrides.task)
            return
        if cfg.scenarios:
            run_comparison(cfg, out, hydra_config.overrides.task)
            return
        config = to_config(cfg, hydra_config.overrides.task)
        results = run_scenario(config)
        write_outputs(results, out)
    except ConfigError as error:
        _fail(str(error))
    except OSError as error:
        _write_failed(out, error)
    print(_heading(results.config))
    print(format_summary(results.summary))
    if results.auto is not None:
        print(results.auto.line())
    print(f"Results in {out}")


#: The command through Hydra: sweeps, the flags that only print, and the single runs it must compose itself
#: (``_hydra_main_would_run``); any other single run runs on the checks' composition (``_cli``).
main = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(run_task)


def _heading(config: Config) -> str:
    """What ran: after a run, ``run.replications`` is the number used (auto's choice included)."""
    run = config.run
    replications = "auto-chosen replications" if run.auto else f"{run.replications} replications"
    return (
        f"{config.service.name}: {replications} of {_span(run.years)}"
        f" after a warm-up of {_span(run.warmup_years)} (seed {run.seed})"
    )


def _span(years: float) -> str:
    """Years as a person says them: 5 years, 1 year, 20 months."""
    months = round(years * 12)
    if months % 12:
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{months // 12} year{'s' if months != 12 else ''}"


def scenario_configs(cfg: DictConfig, overrides: Sequence[str] = ()) -> dict[str, Config]:
    """Each named scenario: the composed config with the scenario's differences merged on top.

    Names become folders, so they must be plain names; and every scenario keeps the base's
    run settings (seed, replications, years...) so that replication k of each is paired.
    """
    base = cfg.copy()
    base.scenarios = {}
    configs: dict[str, Config] = {}
    for name, differences in cfg.scenarios.items():
        if not SAFE_NAME.fullmatch(str(name)):
            raise ConfigError("scenarios", str(name), f"a scenario's name {SAFE_NAME_RULE}")
        if differences and "scenarios" in differences:
            raise ConfigError(f"scenarios.{name}.scenarios", "...", "a scenario cannot hold scenarios of its own")
        try:
            merged = OmegaConf.merge(base, differences or {})
            mine = [f"{key}=" for key in _keys(OmegaConf.to_container(differences) if differences else {})]
            configs[str(name)] = to_config(merged, [*overrides, *mine])
        except ConfigError as error:
            raise ConfigError(f"scenarios.{name}.{error.setting}", error.value, error.allowed) from error
        except Exception as error:
            raise ConfigError(f"scenarios.{name}", OmegaConf.to_container(differences), error_text(error)) from error
        for key in PAIRING:
            first, mine = getattr(next(iter(configs.values())).run, key), getattr(configs[str(name)].run, key)
            if mine != first:
                raise ConfigError(
                    f"scenarios.{name}.run.{key}",
                    mine,
                    f"scenarios share the base's run.{key} ({first}) so that they stay paired;"
                    f" set run.{key} for all of them instead",
                )
    return configs


def _keys(tree: dict, prefix: str = "") -> list[str]:
    """The dotted settings a nested mapping sets: ``{service: {teams: 3}}`` sets ``service.teams``."""
    keys = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        keys.extend(_keys(value, f"{name}.") if isinstance(value, dict) and value else [name])
    return keys


def run_comparison(cfg: DictConfig, out: Path, overrides: Sequence[str] = ()) -> None:
    """A base and other scenarios with common random numbers: paired differences, files and figures; with
    ``handout=true``, the trainer's handout."""
    configs = scenario_configs(cfg, overrides)
    comparison = compare(configs)
    write_comparison(comparison, out)
    base = comparison.results[comparison.base]
    print(_heading(base.config))
    print(f"Scenarios: {', '.join(configs)} (base: {comparison.base})")
    if cfg.handout:  # a trainer reads the steps; every paired difference is in comparison.csv
        from simservice.reporting.handout import format_steps, write_handout  # matplotlib only when drawn

        page = write_handout(comparison.results, out, shlex.join(["simservice", *overrides]))
        print(format_steps(comparison.results))
        print(f"Handout: {page}")
    else:
        print(format_differences(comparison.differences))
    if base.auto is not None:
        print(base.auto.line() + " (every scenario)")
    print(f"Results in {out} (comparison.csv, compare_*.png, scenarios/<name>/)")


def budget_configs(cfg: DictConfig, overrides: Sequence[str] = ()) -> tuple[list[BudgetOption], dict[str, Config]]:
    """The budget options (``budget=...``) and, first, the base: each option a scenario of the base, checked.

    The base is the scenario as configured (a council preset and the command line's settings included);
    an option's settings and dated changes are merged on top, as a scenario's are.
    """
    if cfg.scenarios:
        raise ConfigError(
            "budget", list(cfg.budget), "budget options are compared with one base scenario, not with scenarios"
        )
    options = read_options(OmegaConf.to_container(cfg.budget))
    base_changes = OmegaConf.to_container(cfg.changes)
    scenarios = cfg.copy()
    scenarios.budget = {}
    scenarios.scenarios = {BASE: {}, **{option.name: option.differences(base_changes) for option in options}}
    try:
        return options, scenario_configs(scenarios, overrides)
    except ConfigError as error:
        where = "budget" + error.setting.removeprefix("scenarios")
        raise ConfigError(where, error.value, error.allowed) from error


def run_budget(cfg: DictConfig, out: Path, overrides: Sequence[str] = ()) -> None:
    """The budget options against the base with common random numbers: budget.csv, budget.xlsx and budget.png."""
    options, configs = budget_configs(cfg, overrides)
    comparison = compare(configs)
    table = write_budget(comparison, options, out, shlex.join(["simservice", *overrides]))
    print(_heading(comparison.results[BASE].config))
    print(format_budget(table))
    print(f"Results in {out} (budget.csv, budget.xlsx, budget.png)")


def search_setup(cfg: DictConfig, overrides: Sequence[str] = ()):
    """The search (``search=...``), checked, and the base scenario it starts from (a council preset included)."""
    if cfg.scenarios or cfg.budget:
        what = "scenarios" if cfg.scenarios else "budget"
        raise ConfigError(what, list(cfg[what]), "a search starts from one base scenario: not with scenarios or budget")
    spec = read_search(OmegaConf.to_container(cfg.search))
    return spec, to_config(cfg, overrides)


def run_search_command(cfg: DictConfig, out: Path, overrides: Sequence[str] = ()) -> None:
    """The cheapest option that meets the targets: trials.csv, search.png and best.csv; exit 1 if none does."""
    spec, base = search_setup(cfg, overrides)
    outcome = search(spec, base)
    write_search(outcome, out)
    print(_heading(dataclasses.replace(base, run=dataclasses.replace(base.run, replications=spec.replications))))
    print(format_search(outcome))
    if outcome.named is None:
        _fail(f"{outcome.message} ({out})", EXIT_FAILED)
    print(f"Results in {out} (trials.csv, search.png, best.csv)")


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


#: Hydra settings that would move a run's files out of its folder: simservice chooses those.
WHERE_FILES_GO = ("hydra.sweep.subdir", "hydra.output_subdir", "hydra.job.chdir", "hydra.job_logging",
                  "hydra.hydra_logging", "hydra.runtime", "hydra.mode")  # fmt: skip
FOLDERS = ("hydra.run.dir", "hydra.sweep.dir")
#: Hydra cannot set a sweep's grid from the command line (its params are unset, or keyed by dotted names);
#: it can clear an experiment's (``hydra.sweeper.params=null``).
SWEEP_PARAMS = "hydra.sweeper.params"
SWEEP_PARAMS_RULE = (
    "cannot be set on the command line, only cleared (=null); a sweep's values go on the command line"
    " (simservice -m service.teams=3,4) or in an experiment file's hydra.sweeper.params (conf/experiment/)"
)


class Refused(Exception):
    """A command that must not run: the message is the one line the user sees."""


def _values(override) -> list:
    return list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]


def _check_hydra_overrides(overrides: Sequence[str]) -> str | None:
    """The Hydra settings a user may get wrong: folders, where files go, the launcher's processes, experiments,
    and a sweep's grid (which Hydra cannot set from the command line)."""
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.get_key_element().lstrip("+~")
        if key.startswith(WHERE_FILES_GO):
            value = override.get_value_element_as_str()
            return (
                f"{key}={value}: simservice decides where files go; name a folder with hydra.run.dir or hydra.sweep.dir"
            )
        for value in _values(override):
            if key in FOLDERS and (override.is_sweep_override() or not isinstance(value, str) or not value.strip()
                                   or "${" in value):  # fmt: skip
                return f"{key}={value!r}: must be one plain folder path (no ${{...}}, no list of folders)"
            if key == "hydra.launcher.n_jobs" and not (isinstance(value, int) and (value >= 1 or value == -1)):
                return f"hydra.launcher.n_jobs={value!r}: must be a whole number of at least 1, or -1 for every core"
            if key == "experiment" and value is not None and not SAFE_NAME.fullmatch(str(value)):
                return f"experiment={value!r}: {SAFE_NAME_RULE}; the experiments are in conf/experiment/"
        grid = key == SWEEP_PARAMS and not override.is_delete() and override.value() not in (None, {})
        if grid or key.startswith(SWEEP_PARAMS + "."):
            return f"{key}: {SWEEP_PARAMS_RULE}"
    return None


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a command will do, worked out before anything runs or is written."""

    disk_bytes: float  # the files it will write, and a sweep's copies in the cache
    cache_dir: Path | None
    composed: DictConfig | None = None  # a single run's config with Hydra's settings, to run on if it may


def plan(
    overrides: Sequence[str], config_name: str = "config", config_dir: str | None = None, multirun: bool = False
) -> Plan:
    """Check every setting (every value of a sweep) and that the run fits this machine; ``Refused`` if not."""
    try:
        problem = _check_hydra_overrides(overrides)
        mine = [o for o in overrides if not o.lstrip("+~").startswith("hydra.")]
        cases = _sweep_cases(mine)
    except Exception as error:  # the override parser's own errors
        raise Refused(error_text(error)) from error
    if problem:
        raise Refused(problem)
    search = [f"hydra.searchpath=[{quoted('file://' + str(Path(config_dir).resolve()))}]"] if config_dir else []
    jobs, processes, disk, cache, run_config = 1, 1, 0.0, None, None
    # A single run keeps its Hydra settings: it is composed here once, and runs on this config (``_cli``);
    # not with a config folder, whose search path would replace the user's own hydra.searchpath. A sweep's
    # Hydra settings are composed to be checked too, but for a list of values, which Hydra refuses in its own
    # words (it does not sweep its own settings).
    theirs = [] if config_dir else [o for o in overrides if o not in mine and not (multirun and _is_sweep(o))]
    for number, case in enumerate(cases):
        _truth_only(case)
        case = [*case, *theirs]
        try:
            composed = compose([*case, *search], config_name, hydra=number == 0)
            if number == 0:
                if multirun:  # the sweep's own settings (hydra.sweeper.params) come with it
                    jobs = count_jobs(composed.hydra.sweeper.get("params"), mine)
                    processes = min(jobs, _sweep_processes(overrides))
                else:
                    run_config = composed
                composed = without_hydra(composed)
            if multirun and composed.scenarios:
                single = "a sweep runs single scenarios: compare without -m"
                raise ConfigError("scenarios", list(composed.scenarios), single)
            if multirun and composed.budget:
                single = "a sweep runs single scenarios: compare budget options without -m"
                raise ConfigError("budget", list(composed.budget), single)
            if multirun and composed.search:
                raise ConfigError("search", "...", "a sweep runs single scenarios: run a search without -m")
            if composed.search:
                spec, base = search_setup(composed, case)
                memory_check(extreme_configs(spec, base), processes)
                continue
            if composed.budget:
                configs = list(budget_configs(composed, case)[1].values())
            elif composed.scenarios:
                configs = list(scenario_configs(composed, case).values())
            else:
                configs = [to_config(composed, case)]
            memory_check(configs, processes)
        except ConfigError as error:
            raise Refused(str(error)) from error
        except Exception as error:
            if interrupted(error):
                raise KeyboardInterrupt from error
            if _fails_alone(search, config_name):
                raise Refused(f"--config-name={config_name}: {error_text(error)}") from error
            culprit = next((o for o in case if _fails_alone([o, *search], config_name)), " ".join(case))
            setting = culprit.partition("=")[0].lstrip("+~")
            raise Refused(f"{culprit}: {error_text(error, already_named=setting)}") from error
        disk = max(disk, sum(output_bytes(config) for config in configs))
        cache = Path(composed.cache_dir) if composed.cache_dir else None
    return Plan(disk * (2 * jobs if multirun else 1), cache, run_config)


def _is_sweep(override: str) -> bool:
    """Whether an override is a list or range of values (``service.teams=3,4``)."""
    return OverridesParser.create().parse_override(override).is_sweep_override()


def _truth_only(case: Sequence[str]) -> None:
    """A true-or-false setting takes true or false: not yes, on, 1 or 2, which the config library would accept."""
    for override in case:
        key, _, value = override.partition("=")
        key = key.lstrip("+~")
        if is_truth_setting(key) and value.strip().lower() not in ("true", "false"):
            raise Refused(str(ConfigError(key, value, "must be true or false")))


def check_overrides(
    overrides: Sequence[str], config_name: str = "config", config_dir: str | None = None, multirun: bool = False
) -> str | None:
    """None if the overrides make a valid scenario that fits in memory, else a one-line reason."""
    try:
        plan(overrides, config_name, config_dir, multirun)
    except Refused as refusal:
        return str(refusal)
    return None


def interrupted(error: BaseException | None) -> bool:
    """True if Ctrl-C lies behind an error (a library can turn an interruption into an error of its own)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _fails_alone(overrides: list[str], config_name: str) -> bool:
    try:
        compose(overrides, config_name)
    except Exception:
        return True
    return False


def _arguments() -> argparse.ArgumentParser:
    """The command line as Hydra reads it: overrides, and the flags that only print or pick a mode."""
    parser = OneLineParser(prog="simservice", add_help=False)
    parser.add_argument("overrides", nargs="*")
    for flag in ("--help", "-h"), ("--hydra-help",), ("--resolve",), ("--run", "-r"), ("--multirun", "-m"):
        parser.add_argument(*flag, action="store_true")
    parser.add_argument("--shell-completion", "-sc", action="store_true")
    parser.add_argument("--version", action="store_true")
    for flag in ("--cfg", "-c"), ("--package", "-p"), ("--config-path", "-cp"), ("--config-name", "-cn"):
        parser.add_argument(*flag)
    parser.add_argument("--config-dir", "-cd")
    parser.add_argument("--experimental-rerun")
    parser.add_argument("--info", "-i", nargs="?", const="all")
    return parser


def _folder_override(overrides: Sequence[str], key: str) -> Path | None:
    """The folder a user named with ``key=...`` (the last one, as Hydra takes it), if they did."""
    named = None
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.get_key_element().lstrip("+~") == key:
            named = Path(str(override.value()))
    return named


def quoted(path: Path | str) -> str:
    """A path as a Hydra override value, whatever characters it holds."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${") + "'"


def _check_space(folder: Path, needed: float) -> None:
    """Refuse a run whose files would not fit on the disk it writes to."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise Refused(
            f"{folder}: No space left for this run's files (about {needed / 1e6:,.0f} MB needed,"
            f" {free / 1e6:,.1f} MB free); free some space or write elsewhere"
        )


class OwnFolder(NamedTuple):
    """The folder a run (or sweep) has taken, and how the command names it to Hydra."""

    overrides: list[str]  # the command's overrides, naming the folder
    folder: Path  # as the overrides name it
    resolved: Path  # the same folder, resolved
    made: Path | None  # the outermost folder (resolved) that taking it made; None: it was there, empty, before


def own_folder(overrides: list[str], multirun: bool, command: str, needed: float = 0.0) -> OwnFolder:
    """Give this run (or sweep) a folder no other run has (a failure to take it leaves nothing behind)."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    named = _folder_override(overrides, key)
    _check_space(named if named is not None else Path("multirun" if multirun else "outputs"), needed)
    if named is not None:
        made = _outermost_new(named)
        try:
            taken = claim(named, command)
        except OSError:
            _give_back(named.resolve(), made)
            raise
        if not taken:
            raise Refused(
                f"{key}={named}: that folder holds another run's results; name a new or empty folder"
                " (or leave it out for a fresh one)"
            )
        return OwnFolder(overrides, named, named.resolve(), made)
    stamp = datetime.now()
    base = Path("multirun" if multirun else "outputs") / f"{stamp:%Y-%m-%d}" / f"{stamp:%H-%M-%S}"
    above = _outermost_new(base.parent)
    try:
        folder = claim_new(base, command)
    except OSError:
        _give_back(base.resolve(), above)
        raise
    return OwnFolder([*overrides, f"{key}={quoted(folder)}"], folder, folder.resolve(), above or folder.resolve())


def cli(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``simservice`` command: every way it can fail is one line and a non-zero exit."""
    # Hydra prints its own errors with a stack unless told to raise them: here they become one line.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    claimed: list[OwnFolder] = []  # the folder the command took (at most one)
    try:
        _cli(list(sys.argv[1:] if argv is None else argv), claimed)
    except Refused as refusal:
        _unclaim(claimed)
        _fail(str(refusal))
    except KeyboardInterrupt:
        _fail(
            "interrupted: results are complete only where summary.csv (a sweep: sweep.parquet) was written;"
            " a sweep's finished jobs are kept in the cache",
            EXIT_INTERRUPTED,
        )
    except BrokenPipeError:  # the reader stopped reading (simservice --cfg job | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(EXIT_FAILED) from None
    except Exception as error:
        if interrupted(error):
            _fail("interrupted", EXIT_INTERRUPTED)
        _unclaim(claimed)
        if isinstance(error, OSError) and not isinstance(error, HydraException):
            _fail(f"{error.filename or 'writing the results'}: {error.strerror or error}", EXIT_FAILED)
        if isinstance(error, HydraException | ConfigError):
            _fail(error_text(error), EXIT_USAGE)
        raise


def _unclaim(claimed: list[OwnFolder]) -> None:
    """Give back a folder this command took but wrote nothing into, and the empty folders it made to hold it."""
    for own in claimed:
        _give_back(own.resolved, own.made)


def _give_back(path: Path, made: Path | None) -> None:
    """Remove this command's claim on ``path`` (resolved), and the folders it made (``made`` and below) if empty.

    Never more: a folder is removed only while empty, and one that was there before the command is kept.
    """
    with contextlib.suppress(OSError):  # a folder someone else has just written into stays
        if path.is_dir():
            if {p.name for p in path.iterdir() if not p.name.startswith(STAGING)} - {OWNER}:
                return
            (path / OWNER).unlink(missing_ok=True)
    if made is None:
        return
    for folder in (path, *path.parents):  # outputs/<date>/, say, if this command made it
        if not folder.is_relative_to(made):
            return
        if not os.path.lexists(folder):  # not made after all (taking it failed): the folder above may have been
            continue
        try:
            folder.rmdir()
        except OSError:  # not empty, or not ours to remove: it stays, and so does everything above it
            return


def _outermost_new(folder: Path) -> Path | None:
    """The outermost of ``folder`` and the folders above it that do not exist yet, resolved (None: it exists)."""
    made = folder.resolve()
    if made.exists():
        return None
    while not made.parent.exists() and made.parent != made:
        made = made.parent
    return made


def _cli(args: list[str], claimed: list[OwnFolder]) -> None:
    parsed, unknown = _arguments().parse_known_intermixed_args(args)  # overrides after a flag are overrides too
    if unknown:
        raise Refused(f"{unknown[0]}: not an option of simservice; simservice --help lists them")
    informational = (
        parsed.help or parsed.hydra_help or parsed.cfg or parsed.info or parsed.shell_completion or parsed.version
    )
    modes = [bool(parsed.multirun), bool(parsed.cfg), bool(parsed.info), bool(parsed.shell_completion)]
    if sum(modes) > 1:
        raise Refused("use one of -m/--multirun, --cfg, --info and --shell-completion at a time")
    register_configs()
    if not informational:
        multirun = bool(parsed.multirun)
        what = plan(parsed.overrides, parsed.config_name or "config", parsed.config_dir, multirun)
        roots = [Path("outputs"), Path("multirun"), *([what.cache_dir] if what.cache_dir else [])]
        for key in FOLDERS:
            named = _folder_override(parsed.overrides, key)
            roots += [named.parent] if named is not None else []
        clean_abandoned_staging(roots)
        own = own_folder(parsed.overrides, multirun, shlex.join(["simservice", *args]), what.disk_bytes)
        claimed.append(own)
        if _hydra_main_would_run(parsed, what.composed):
            added = [o for o in own.overrides if o not in parsed.overrides]  # the folder, if the command chose it
            run_once(what.composed, own.folder, run_task, added)  # not composed again, as hydra.main would, twice
            return
        args = [a for a in args if a not in parsed.overrides] + own.overrides
    sys.argv = [sys.argv[0], *args]
    main()


#: Hydra callbacks that act on sweeps alone (conf/config.yaml): a single run need not build them.
SWEEP_CALLBACKS = {"gather_sweep"}


def _hydra_main_would_run(parsed: argparse.Namespace, composed: DictConfig | None) -> bool:
    """Whether ``hydra.main`` would run exactly the config the checks composed, with nothing more to do.

    Not so for a sweep, a flag that only prints, another config folder or rerun, a list of values without -m
    (Hydra refuses it in its own words), Hydra's verbose logging, or callbacks of the user's own: those go
    through ``hydra.main``.
    """
    if composed is None or parsed.config_path or parsed.config_dir or parsed.experimental_rerun:
        return False
    if any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(parsed.overrides)):
        return False
    return not composed.hydra.verbose and set(composed.hydra.callbacks or {}) <= SWEEP_CALLBACKS


def _sweep_processes(overrides: Sequence[str]) -> int:
    """Jobs a sweep may run at once on this machine: the launcher's ``n_jobs``, or every core."""
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.get_key_element().lstrip("+~") == "hydra.launcher.n_jobs" and not override.is_sweep_override():
            value = override.value()
            if isinstance(value, int) and value >= 1:
                return value
    return os.cpu_count() or 1


if __name__ == "__main__":
    cli()
