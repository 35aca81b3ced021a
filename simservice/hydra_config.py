"""Hydra glue: the configs in ``conf/`` composed on the schema, and turned into frozen parameters.

Everything Hydra- or OmegaConf-specific that the rest of the package needs lives
here, through their public APIs (and the job runner Hydra's launcher plugins use);
``config.py`` says what the settings are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import ValidationError

from simservice.config import Config, CouncilConfig, Limits, incomplete, limits_of, require, setting_limits
from simservice.presets import preset
from simservice.reporting.kpis import KPI_UNITS

_OMEGACONF_DETAIL = ("full_key:", "reference_type=", "object_type=")


@dataclass(frozen=True)
class AppConfig(Config):
    """What the command composes: a scenario, plus the scenarios or budget options to compare it with, a search for
    the cheapest option that meets the targets (``search=default``), and the KPI a sweep plots."""

    la: CouncilConfig = field(default_factory=CouncilConfig)
    scenarios: Dict[str, Any] = field(default_factory=dict)
    budget: Dict[str, Any] = field(default_factory=dict)
    search: Dict[str, Any] = field(default_factory=dict)
    # After a comparison, the trainer's handout (reporting/handout.py): the first scenario good, the last bad.
    handout: bool = False
    sweep_kpi: str = "unallocated_mean"
    cache_dir: Optional[str] = "multirun/.cache"

    def __post_init__(self) -> None:
        super().__post_init__()
        if incomplete(self):
            return
        require(self.sweep_kpi in KPI_UNITS, "sweep_kpi", self.sweep_kpi, "must be one of the KPIs in summary.csv")


def _thaw(node: DictConfig) -> DictConfig:
    """Let Hydra merge overrides into the schema: OmegaConf marks frozen dataclasses read-only."""
    OmegaConf.set_readonly(node, None)
    for key in node:
        if not OmegaConf.is_missing(node, key) and OmegaConf.is_dict(node[key]):
            _thaw(node[key])
    return node


def register_configs() -> None:
    """Put the schema in Hydra's ConfigStore, so every YAML in ``conf/`` is checked against it (once a process)."""
    from hydra.core.config_store import ConfigStore

    if "simservice_schema.yaml" in ConfigStore.instance().list("/"):
        return
    schema = _thaw(OmegaConf.structured(AppConfig))
    OmegaConf.set_struct(schema.scenarios, False)  # scenarios are named by the user: 'scenarios={a:{},b:{...}}'
    OmegaConf.set_struct(schema.budget, False)  # so are budget options (conf/budget/, or budget.NAME={...})
    OmegaConf.set_struct(schema.search, False)  # a search's settings are checked when it is read (runs/search.py)
    ConfigStore.instance().store(name="simservice_schema", node=schema)


def conf_dir() -> Path:
    """The folder of Hydra configs: inside the installed package, or ``conf/`` beside it in a clone."""
    packaged = Path(__file__).parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "conf"


def compose(overrides: Sequence[str] = (), config_name: str = "config", hydra: bool = False) -> DictConfig:
    """Compose the configs in ``conf/`` with command-line style overrides, as the app does (``hydra``: with its own)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=hydra)


def run_once(cfg: DictConfig, folder: Path, task: Callable[[DictConfig], Any], recorded: Sequence[str] = ()) -> None:
    """Run ``task`` on a composed config (with ``hydra=True``) as ``hydra.main`` runs a single job, into ``folder``.

    ``hydra.main`` would compose the config twice more; this is the job runner it (and every launcher plugin)
    uses, on the config already composed: the same folder, ``.hydra/`` files and log. ``recorded``: overrides
    the command added (its folder), recorded as Hydra records them. The caller keeps to runs with no callbacks
    to build and no verbose logging to set up (``app._hydra_main_would_run``).
    """
    from hydra.core.utils import run_job
    from hydra.experimental.callback import Callback
    from hydra.types import HydraContext, RunMode

    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.run.dir = str(folder)
        cfg.hydra.mode = RunMode.RUN
        cfg.hydra.overrides.hydra.extend([*recorded, "hydra.mode=RUN"])  # as hydra.main records them
    done = run_job(
        task_function=task,
        config=cfg,
        job_dir_key="hydra.run.dir",
        job_subdir_key=None,
        # run_job reads the callbacks alone; none to call (see above)
        hydra_context=HydraContext(config_loader=None, callbacks=Callback()),  # type: ignore[arg-type]
    )
    _ = done.return_value  # the task's error, if it failed, raised here as hydra.main raises it


def without_hydra(cfg: DictConfig) -> DictConfig:
    """A composed config without Hydra's own settings: the scenario alone."""
    scenario = cfg.copy()
    with open_dict(scenario):
        scenario.pop("hydra", None)
    return scenario


def load_config(overrides: Sequence[str] = (), config_name: str = "config") -> Config:
    """The frozen parameters of a scenario: the default with ``overrides`` such as ``["service.teams=3"]``."""
    return to_config(compose(overrides, config_name), overrides)


def named_settings(overrides: Sequence[str]) -> set[str]:
    """The settings a user named in command-line overrides (``service.teams=3`` names ``service.teams``)."""
    named = set()
    for override in overrides:
        key = str(override).partition("=")[0].strip().lstrip("+~")
        if key and not key.startswith("hydra"):
            named.add(key)
    return named


#: Settings that size the teams: naming one keeps a preset's team-by-team posts out.
SIZE = {"service.teams", "service.workers_per_team"}


def with_council(cfg: DictConfig, overrides: Sequence[str] = ()) -> DictConfig:
    """The composed config with the council preset's settings (``la.name``), except those the user named.

    The preset sits above the defaults and an experiment file, below the command line. A group the user
    chose (``coping=off``, ``workforce=fixed``) names every setting of it: the file chosen is kept whole.
    """
    council = cfg.get("la")
    if council is None or council.get("name") is None:
        return cfg
    checked = CouncilConfig(name=str(council.name), year=council.year)
    named = named_settings(overrides)
    if named & SIZE:  # the user sizes the teams: the council's team-by-team posts would override them
        named.add("service.team_posts")
    cfg = cfg.copy()
    for key, value in preset(checked.name, checked.year).items():
        if key not in named and key.partition(".")[0] not in named:
            OmegaConf.update(cfg, key, value, merge=False)
    return cfg


def to_config(cfg: DictConfig, overrides: Sequence[str] = ()) -> Config:
    """Turn a composed Hydra config into frozen parameters, checking every value's range.

    ``overrides`` are the command line's: the settings they name stay as given when a council preset is on.
    """
    app = OmegaConf.to_object(with_council(cfg, overrides))
    if not isinstance(app, Config):
        raise TypeError(f"expected a config composed on the simservice schema, got {type(app).__name__}")
    return model_config(app)


def model_config(app: Config) -> Config:
    """The model's parameters alone, without what only the command needs."""
    return Config(**{f.name: getattr(app, f.name) for f in dataclasses.fields(Config)})


def _declared_limits(cause: ValidationError) -> tuple[str, str, Limits] | None:
    """The setting a value of the wrong type was given to, how to show it, and its declared limits, if any.

    OmegaConf names the class that owns the field; an item of a list (``demand.seasonality[0]``) is
    named from the top, and takes the list's limits for each item.
    """
    if dataclasses.is_dataclass(cause.object_type) and isinstance(cause.key, str):
        limits = limits_of(cause.object_type, cause.key)
        return None if limits is None else (str(cause.full_key), str(cause.full_key), limits)
    item = re.fullmatch(r"([\w.]+)\[\d+\]", str(cause.full_key))
    if item is not None:
        limits = setting_limits(item[1])
        if limits is not None and limits.each:
            return item[1], item[0], limits
    return None


def error_text(error: BaseException, already_named: str = "") -> str:
    """The first line of what went wrong, from the innermost OmegaConf error if there is one.

    A value of the wrong type for a setting with declared limits (``service.teams=abc``) is worded by
    those limits, as a value out of range is, after the setting and value (unless the caller's message
    already names that setting).
    """
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ValidationError):
        declared = _declared_limits(cause)
        if declared is not None:
            setting, shown, limits = declared
            return limits.allowed() if setting == already_named else f"{shown}={cause.value!r}: {limits.allowed()}"
    text = str(cause) or type(cause).__name__
    text = text.split("Config search path")[0]
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(_OMEGACONF_DETAIL))
