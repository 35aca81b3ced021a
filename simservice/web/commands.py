"""The ``simservice`` commands the page runs, built from what the user chose, and checked as the command line checks.

A command is a list of overrides, exactly as a user would type them after ``simservice``: the page shows it, so
anything seen on the page can be run again on the command line, and a mistake gets the command line's one line.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from omegaconf import OmegaConf

from simservice.app import check_overrides, quoted
from simservice.config import CHANGEABLE, Config
from simservice.hydra_config import conf_dir, load_config
from simservice.runs.budget_options import BASE, BudgetOption, read_options

PROGRAM = "simservice"
#: The name of the user's scenario when the page compares it with the base (``BASE``: the same run without changes).
YOURS = "yours"
#: Every core for the replications: the results are the same on any number of processes.
EVERY_CORE = "run.jobs=-1"
#: A value the override grammar takes as it is; anything else (a comma, a quote, brackets) is quoted.
_PLAIN = re.compile(r"[\w .-]*")
#: Hydra composes in one global state: one page at a time may compose.
_HYDRA = threading.Lock()


@dataclass(frozen=True)
class Command:
    """A command the page runs: its overrides, the scenarios it runs in turn, and the file it writes last."""

    args: tuple[str, ...]
    scenarios: tuple[str, ...]
    replications: int
    last_file: str
    #: The user's scenario alone, when the command compares it with the base: the same numbers, fewer files.
    alone: tuple[str, ...] = ()

    def text(self) -> str:
        """The command as a user types it in a shell."""
        return _shell([PROGRAM, *self.args])

    def alone_text(self) -> str:
        return _shell([PROGRAM, *self.alone]) if self.alone else ""


def check(args: Sequence[str]) -> str | None:
    """The command line's one-line message for these overrides, or None when it would run them."""
    with _HYDRA:
        return check_overrides(list(args))


@cache
def base_config(council: str | None, year: int) -> Config:
    """The scenario before the user's changes: the default, or a council's preset."""
    with _HYDRA:
        return load_config(council_args(council, year))


def council_args(council: str | None, year: int) -> list[str]:
    """``la.name`` and ``la.year`` for a council's preset; nothing for the default scenario."""
    if council is None:
        return []
    return [f"la.name={_value(council)}", f"la.year={year}"]


def run_args(replications: int, years: float, warmup_years: float, base: Config) -> list[str]:
    """How long and how often to run: the replications always, the years when they differ from the base's."""
    args = [f"run.replications={replications}"]
    if years != base.run.years:
        args.append(f"run.years={years:g}")
    if warmup_years != base.run.warmup_years:
        args.append(f"run.warmup_years={warmup_years:g}")
    return args


@dataclass(frozen=True)
class Settings:
    """The main settings a planner changes, as the page shows them."""

    teams: int
    workers_per_team: int
    caseload_cap: int | None
    referrals_per_year: int
    agency_allowed: bool
    agency_max_percent: int
    standing_agency_fte: float
    coping: bool

    @classmethod
    def of(cls, config: Config) -> Settings:
        """A scenario's settings, rounded as the page's controls show them."""
        coping = config.coping
        return cls(
            teams=config.service.teams,
            workers_per_team=config.service.workers_per_team,
            caseload_cap=config.policy.caseload_cap,
            referrals_per_year=round(config.demand.referrals_per_year),
            agency_allowed=config.workforce.agency_allowed,
            agency_max_percent=round(config.workforce.agency_max_share * 100),
            standing_agency_fte=round(config.workforce.standing_agency_fte, 1),
            coping=any(getattr(coping, flag) for flag in coping_responses()),
        )


def setting_args(mine: Settings, base: Settings) -> list[str]:
    """The overrides that turn the base's settings into the user's: only those that differ."""
    args = []
    if mine.teams != base.teams:
        args.append(f"service.teams={mine.teams}")
    if mine.workers_per_team != base.workers_per_team:
        args.append(f"service.workers_per_team={mine.workers_per_team}")
    if mine.caseload_cap != base.caseload_cap:
        args.append(f"policy.caseload_cap={_literal(mine.caseload_cap)}")
    if mine.referrals_per_year != base.referrals_per_year:
        args.append(f"demand.referrals_per_year={mine.referrals_per_year}")
    if mine.agency_allowed != base.agency_allowed:
        args.append(f"workforce.agency_allowed={_literal(mine.agency_allowed)}")
    if mine.agency_allowed and mine.agency_max_percent != base.agency_max_percent:
        args.append(f"workforce.agency_max_share={mine.agency_max_percent / 100:g}")
    if mine.agency_allowed and mine.standing_agency_fte != base.standing_agency_fte:
        args.append(f"workforce.standing_agency_fte={mine.standing_agency_fte:g}")
    if mine.coping != base.coping:
        args.append("coping=default" if mine.coping else "coping=off")
    return args


@dataclass(frozen=True)
class Change:
    """A dated change as the user typed it: the setting and its value are the command line's text."""

    month: int
    setting: str
    value: str


def changes_arg(changes: Sequence[Change]) -> list[str]:
    """``changes=[{month:12,setting:service.teams,value:3}]``, or nothing without changes."""
    if not changes:
        return []
    items = ",".join(f"{{month:{c.month},setting:{c.setting},value:{c.value}}}" for c in changes)
    return [f"changes=[{items}]"]


def planner_command(common: Sequence[str], mine: Sequence[str], replications: int) -> Command:
    """The user's scenario compared with the base (``common`` alone), paired; the scenario alone if nothing differs."""
    if not mine:
        return Command((*common, EVERY_CORE), ("replications",), replications, "summary.csv")
    scenarios = f"scenarios={{{BASE}:{{}},{YOURS}:{scenario_differences(mine)}}}"
    alone = (*common, *mine, EVERY_CORE)
    return Command((*common, scenarios, EVERY_CORE), (BASE, YOURS), replications, "comparison.csv", alone=alone)


def scenario_differences(overrides: Sequence[str]) -> str:
    """Overrides (``service.teams=3``, ``coping=off``, ``changes=[...]``) as a scenario's differences: ``{...}``.

    A group chosen by name (``coping=off``) becomes the settings its file sets, so that the scenario is the same.
    """
    tree: dict[str, Any] = {}
    for override in overrides:
        key, _, value = override.partition("=")
        group, dot, setting = key.partition(".")
        if dot:
            tree.setdefault(group, {})[setting] = value
        elif group in CHANGEABLE:
            tree.setdefault(group, {}).update({k: _literal(v) for k, v in group_file(group, value).items()})
        else:
            tree[group] = value
    return _braces(tree)


def group_file(group: str, option: str) -> dict[str, Any]:
    """The settings a config file of a group sets itself (``coping/off.yaml``: every coping response off)."""
    body = OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{option}.yaml"))
    return {key: value for key, value in body.items() if key != "defaults"}


@cache
def coping_responses() -> tuple[str, ...]:
    """The coping responses that ``coping=off`` switches off."""
    return tuple(group_file("coping", "off"))


def setting_help(groups: Sequence[str] = CHANGEABLE) -> str:
    """What a setting typed on the page may name: a ``group.key`` of these groups, as on the command line."""
    return (
        f"A setting as the command line names it, group.key, of {', '.join(groups)}: for example service.teams,"
        " service.workers_per_team, policy.caseload_cap, demand.referrals_per_year, workforce.agency_allowed."
        " Every setting is in the README's table (Asking your own question)."
    )


@dataclass(frozen=True)
class OwnOption:
    """A budget option the user builds on the page: a name, a one-off cost and a few settings as typed."""

    name: str
    one_off_gbp: float
    settings: tuple[tuple[str, str], ...]

    def arg(self) -> str:
        """``budget.NAME={one_off_gbp:...,settings:{group.key:value}}``, as the README writes one."""
        one_off = int(self.one_off_gbp) if float(self.one_off_gbp).is_integer() else self.one_off_gbp
        settings = ",".join(f"{setting}:{value}" for setting, value in self.settings)
        return f"budget.{self.name}={{one_off_gbp:{one_off},settings:{{{settings}}}}}"


def budget_command(common: Sequence[str], chosen: Sequence[str], own: OwnOption | None, replications: int) -> Command:
    """The budget options chosen, and the user's own, against the base (``common``) with common random numbers."""
    args = list(common)
    if chosen:
        args.append(f"budget=[{','.join(chosen)}]")
    if own is not None:
        args.append(own.arg())
    names = (BASE, *chosen, *([own.name] if own is not None else []))
    return Command((*args, EVERY_CORE), names, replications, "budget.csv")


@cache
def budget_options() -> tuple[BudgetOption, ...]:
    """The options shipped in ``conf/budget/``, one a file (``all`` and ``study`` only select some of them)."""
    options: list[BudgetOption] = []
    for path in sorted((conf_dir() / "budget").glob("*.yaml")):
        body = OmegaConf.to_container(OmegaConf.load(path))
        if "defaults" not in body:
            options += read_options(body)
    return tuple(options)


def _shell(words: Sequence[str]) -> str:
    """Words as a shell reads them: ``'...'`` where needed, ``"..."`` around a quoted value such as a council's name."""
    quoted_words = []
    for word in words:
        plain = shlex.quote(word)
        if "'" in word and not re.search(r'["$`\\!]', word):
            plain = f'"{word}"'
        quoted_words.append(plain)
    return " ".join(quoted_words)


def _value(text: str) -> str:
    """A value as the override grammar reads it: plain words as they are, anything else quoted."""
    return text if _PLAIN.fullmatch(text) else quoted(text)


def _literal(value: Any) -> str:
    """A setting's value in the override grammar: true, false, null or the number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _braces(tree: dict[str, Any]) -> str:
    return "{" + ",".join(f"{k}:{_braces(v) if isinstance(v, dict) else v}" for k, v in tree.items()) + "}"


#: The trainer's demonstration: the experiment whose scenarios are its steps, from good conditions to bad.
DEMONSTRATION = "latent_conditions"
#: The demonstration's first step, and the scenario the trainer's own conditions are compared with.
GOOD = "good"


@cache
def demonstration_file() -> dict[str, Any]:
    """``conf/experiment/latent_conditions.yaml``: the good levels, how long to run, and the steps."""
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / "experiment" / f"{DEMONSTRATION}.yaml"))


def demonstration_command() -> Command:
    """The demonstration exactly as the README runs it: each step a scenario, the handout written last."""
    body = demonstration_file()
    return Command(
        (f"experiment={DEMONSTRATION}", EVERY_CORE), tuple(body["scenarios"]), body["run"]["replications"],
        "handout.html",
    )  # fmt: skip


@cache
def step_config(name: str) -> Config:
    """A step of the demonstration as it runs: the good conditions with the step's differences."""
    differences = demonstration_file()["scenarios"][name] or {}
    overrides = [f"{group}.{key}={_literal(value)}" for group, settings in differences.items()
                 for key, value in settings.items()]  # fmt: skip
    with _HYDRA:
        return load_config([f"experiment={DEMONSTRATION}", *overrides])


def good_args() -> list[str]:
    """The experiment's good levels as overrides (``managers.other_duties_share=0.45``), not its run or steps."""
    body = demonstration_file()
    return [
        f"{group}.{key}={_literal(value)}"
        for group, settings in body.items()
        if isinstance(settings, dict) and group not in ("run", "scenarios")
        for key, value in settings.items()
    ]


@dataclass(frozen=True)
class Conditions:
    """The latent conditions a trainer sets, in the units the page shows them."""

    workers_per_team: int
    referrals_per_year: int
    #: Employees (experienced and newly qualified alike) leaving a year, %.
    leaving_percent: int
    #: How long an agency worker stays, months on average.
    agency_months: int
    #: Short and long spells of sickness a worker a year.
    sickness: tuple[float, float]
    #: Managers' week on other duties, %: the more, the less time for supervision.
    other_duties_percent: int

    @classmethod
    def of(cls, config: Config) -> Conditions:
        """A scenario's conditions, rounded as the page's controls show them."""
        workforce = config.workforce
        return cls(
            workers_per_team=config.service.workers_per_team,
            referrals_per_year=round(config.demand.referrals_per_year),
            leaving_percent=round(workforce.leaving_per_year_permanent * 100),
            agency_months=round(12 / workforce.leaving_per_year_agency),
            sickness=(workforce.short_sickness_per_year, workforce.long_sickness_per_year),
            other_duties_percent=round(config.managers.other_duties_share * 100),
        )


def condition_args(mine: Conditions, good: Conditions) -> list[str]:
    """The overrides that turn the good conditions into the trainer's: only those that differ."""
    args = []
    if mine.workers_per_team != good.workers_per_team:
        args.append(f"service.workers_per_team={mine.workers_per_team}")
    if mine.referrals_per_year != good.referrals_per_year:
        args.append(f"demand.referrals_per_year={mine.referrals_per_year}")
    if mine.leaving_percent != good.leaving_percent:
        args += [f"workforce.leaving_per_year_{who}={mine.leaving_percent / 100:g}"
                 for who in ("permanent", "newly_qualified")]  # fmt: skip
    if mine.agency_months != good.agency_months:
        args.append(f"workforce.leaving_per_year_agency={12 / mine.agency_months:.4g}")
    if mine.sickness != good.sickness:
        short, long = mine.sickness
        args += [f"workforce.short_sickness_per_year={short:g}", f"workforce.long_sickness_per_year={long:g}"]
    if mine.other_duties_percent != good.other_duties_percent:
        args.append(f"managers.other_duties_share={mine.other_duties_percent / 100:g}")
    return args


def conditions_command(run: Sequence[str], mine: Sequence[str], replications: int) -> Command:
    """The good conditions and the trainer's (``mine``: overrides) paired, with the handout.

    ``run`` are the replications and any run setting the trainer changed; the others are the demonstration's
    (its years, its warm-up and its event log, which the children's stories are read from).
    """
    named = {arg.partition("=")[0] for arg in run}
    length = [
        f"run.{key}={_literal(value)}"
        for key, value in demonstration_file()["run"].items()
        if key not in ("replications", "jobs") and f"run.{key}" not in named
    ]  # fmt: skip (jobs: EVERY_CORE)
    scenarios = f"scenarios={{{GOOD}:{{}},{YOURS}:{scenario_differences(mine)}}}"
    args = (*run, *length, *good_args(), "handout=true", scenarios, EVERY_CORE)
    return Command(args, (GOOD, YOURS), replications, "handout.html")
