"""Frozen structured configs: the settings a user can change, their types and their limits.

The values of the default scenario live in ``conf/`` (YAML, each with its source);
this module says what each setting is and what it may be, so that Hydra rejects
an unknown key or a wrong type and ``__post_init__`` rejects a value out of range.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from omegaconf import MISSING, DictConfig, OmegaConf

#: Statutory limit for a single assessment, working days from referral (Working Together).
ASSESSMENT_LIMIT_DAYS = 45

WORKLOAD_DISTRIBUTIONS = ("lognormal", "exponential")
#: When teams are cut: their workers join the remaining teams, or their posts go.
TEAM_CUTS = ("redeploy", "delete_posts")
#: The groups whose settings may change at a date within a run.
CHANGEABLE = ("service", "demand", "policy", "workforce")


class ConfigError(ValueError):
    """A user's setting is out of range: the message names the setting, the value and what is allowed."""

    def __init__(self, setting: str, value: object, allowed: str):
        self.setting, self.value, self.allowed = setting, value, allowed
        super().__init__(f"{setting}={value!r}: {allowed}")


def _require(ok: bool, setting: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(setting, value, allowed)


def _positive(setting: str, value: float) -> None:
    _require(value > 0, setting, value, "must be greater than 0")


def _non_negative(setting: str, value: float) -> None:
    _require(value >= 0, setting, value, "must be 0 or more")


def _incomplete(config: object) -> bool:
    """True while a schema is still a template with values to fill (``???``), as Hydra builds it."""
    return any(
        getattr(config, name) is MISSING or getattr(config, name) == MISSING for name in config.__dataclass_fields__
    )


def _share(setting: str, value: float) -> None:
    _require(0.0 <= value <= 1.0, setting, value, "must be a share between 0 and 1")


@dataclass(frozen=True)
class ServiceConfig:
    """The assessment service as it is staffed: teams, workers, front door and starting state."""

    name: str = MISSING
    teams: int = MISSING
    workers_per_team: int = MISSING
    team_shares: Optional[List[float]] = None
    triage_staff: Optional[float] = MISSING
    triage_per_staff_per_day: float = MISSING
    hours_per_day: float = MISSING
    casework_share: float = MISSING
    fte: float = MISSING
    productivity: float = MISSING
    initial_caseload: float = MISSING
    initial_unallocated_per_team: int = MISSING
    handover_days: float = MISSING
    long_term_places: Optional[int] = MISSING
    long_term_mean_days: float = MISSING

    def __post_init__(self) -> None:
        if _incomplete(self):
            return
        _require(self.teams >= 1, "service.teams", self.teams, "must be a whole number of at least 1")
        _require(
            self.workers_per_team >= 1,
            "service.workers_per_team",
            self.workers_per_team,
            "must be a whole number of at least 1",
        )
        if self.team_shares is not None:
            shares = list(self.team_shares)
            _require(
                len(shares) == self.teams,
                "service.team_shares",
                shares,
                f"must list one share per team ({self.teams} values) or be null for equal shares",
            )
            for share in shares:
                _share("service.team_shares", share)
            _require(abs(sum(shares) - 1.0) < 1e-6, "service.team_shares", shares, "must add up to 1")
        if self.triage_staff is not None:
            _positive("service.triage_staff", self.triage_staff)
        _positive("service.triage_per_staff_per_day", self.triage_per_staff_per_day)
        _positive("service.hours_per_day", self.hours_per_day)
        _require(
            0 < self.casework_share <= 1,
            "service.casework_share",
            self.casework_share,
            "must be a share above 0 and at most 1",
        )
        _require(0 < self.fte <= 1, "service.fte", self.fte, "must be above 0 and at most 1")
        _positive("service.productivity", self.productivity)
        _non_negative("service.initial_caseload", self.initial_caseload)
        _non_negative("service.initial_unallocated_per_team", self.initial_unallocated_per_team)
        _non_negative("service.handover_days", self.handover_days)
        if self.long_term_places is not None:
            _non_negative("service.long_term_places", self.long_term_places)
        _positive("service.long_term_mean_days", self.long_term_mean_days)

    @property
    def casework_hours_per_fte_day(self) -> float:
        """Hours a full-time worker spends on assessments a day: hours x casework share x productivity."""
        return self.hours_per_day * self.casework_share * self.productivity

    @property
    def triage_per_day(self) -> Optional[float]:
        """Referrals the front door decides a day; None when decisions are instant."""
        return None if self.triage_staff is None else self.triage_staff * self.triage_per_staff_per_day


@dataclass(frozen=True)
class ShockConfig:
    """Extra referrals a day for a window of months (a front-door bulge)."""

    start_month: int = MISSING
    months: int = MISSING
    extra_per_day: float = MISSING


@dataclass(frozen=True)
class DemandConfig:
    """Referrals: how many, when in the year, how urgent and how much work each is."""

    referrals_per_year: float = MISSING
    seasonality: List[float] = MISSING
    trend_per_year: float = MISSING
    shocks: List[ShockConfig] = field(default_factory=list)
    monthly_counts_csv: Optional[str] = None
    urgent_share: float = MISSING
    workload_distribution: str = MISSING
    hours_standard: float = MISSING
    hours_urgent: float = MISSING
    hours_cv: float = MISSING
    min_days_standard: float = MISSING
    min_days_urgent: float = MISSING
    min_days_spread: float = MISSING
    not_in_need_share: float = MISSING
    rereferral_probability: float = MISSING
    rereferral_mean_days: float = MISSING

    def __post_init__(self) -> None:
        if _incomplete(self):
            return
        _non_negative("demand.referrals_per_year", self.referrals_per_year)
        season = list(self.seasonality)
        _require(len(season) == 12, "demand.seasonality", season, "must list 12 monthly factors, January to December")
        for factor in season:
            _non_negative("demand.seasonality", factor)
        _require(sum(season) > 0, "demand.seasonality", season, "must have at least one factor above 0")
        _require(
            self.trend_per_year > -1, "demand.trend_per_year", self.trend_per_year, "must be above -1 (a share a year)"
        )
        for i, shock in enumerate(self.shocks):
            _non_negative(f"demand.shocks[{i}].start_month", shock.start_month)
            _positive(f"demand.shocks[{i}].months", shock.months)
            _require(
                shock.extra_per_day >= -0.0,
                f"demand.shocks[{i}].extra_per_day",
                shock.extra_per_day,
                "must be 0 or more",
            )
        if self.monthly_counts_csv is not None:
            _require(
                Path(self.monthly_counts_csv).is_file(),
                "demand.monthly_counts_csv",
                self.monthly_counts_csv,
                "must be the path of a CSV file with columns month,referrals",
            )
        _share("demand.urgent_share", self.urgent_share)
        _require(
            self.workload_distribution in WORKLOAD_DISTRIBUTIONS,
            "demand.workload_distribution",
            self.workload_distribution,
            f"must be one of {', '.join(WORKLOAD_DISTRIBUTIONS)}",
        )
        _positive("demand.hours_standard", self.hours_standard)
        _positive("demand.hours_urgent", self.hours_urgent)
        _positive("demand.hours_cv", self.hours_cv)
        _non_negative("demand.min_days_standard", self.min_days_standard)
        _non_negative("demand.min_days_urgent", self.min_days_urgent)
        _share("demand.min_days_spread", self.min_days_spread)
        _share("demand.not_in_need_share", self.not_in_need_share)
        _share("demand.rereferral_probability", self.rereferral_probability)
        _positive("demand.rereferral_mean_days", self.rereferral_mean_days)


@dataclass(frozen=True)
class PolicyConfig:
    """Management choices: the caseload cap, the over-cap override and the front-door threshold."""

    caseload_cap: Optional[int] = MISSING
    override_after_days: Optional[float] = MISSING
    override_ceiling: int = MISSING
    front_door_closure_share: float = MISSING
    team_cut: str = MISSING

    def __post_init__(self) -> None:
        if _incomplete(self):
            return
        if self.caseload_cap is not None:
            _require(
                self.caseload_cap >= 1,
                "policy.caseload_cap",
                self.caseload_cap,
                "must be a whole number of at least 1, or null for no cap",
            )
        if self.override_after_days is not None:
            _non_negative("policy.override_after_days", self.override_after_days)
        _require(
            self.override_ceiling >= 1,
            "policy.override_ceiling",
            self.override_ceiling,
            "must be a whole number of at least 1",
        )
        _share("policy.front_door_closure_share", self.front_door_closure_share)
        _require(
            self.team_cut in TEAM_CUTS,
            "policy.team_cut",
            self.team_cut,
            f"must be one of {', '.join(TEAM_CUTS)}",
        )


@dataclass(frozen=True)
class WorkforceConfig:
    """Who holds the posts and how that changes: leaving, vacancies, agency cover, sickness and stress."""

    # The posts at the start of the run, as shares of the establishment.
    start_agency_share: float = MISSING
    start_newly_qualified_share: float = MISSING
    start_vacant_share: float = MISSING
    # Leaving: a hazard a year by contract, raised by stress, then a notice period.
    leaving_per_year_permanent: float = MISSING
    leaving_per_year_newly_qualified: float = MISSING
    leaving_per_year_agency: float = MISSING
    stress_leaving_effect: float = MISSING
    notice_days_permanent: float = MISSING
    notice_days_agency: float = MISSING
    # Vacancies: permanent recruitment and agency cover.
    recruitment_days: float = MISSING
    recruitment_failure_share: float = MISSING
    recruits_newly_qualified_share: float = MISSING
    agency_allowed: bool = MISSING
    agency_max_share: float = MISSING
    agency_start_days: float = MISSING
    # Newly qualified social workers: a protected caseload in their first year.
    newly_qualified_days: float = MISSING
    newly_qualified_caseload_share: float = MISSING
    newly_qualified_productivity: float = MISSING
    # Case transfers.
    transfer_hours: float = MISSING
    transfer_progress_lost: float = MISSING
    # Sickness: short episodes and long stress-related ones.
    short_sickness_per_year: float = MISSING
    short_sickness_mean_days: float = MISSING
    long_sickness_per_year: float = MISSING
    long_sickness_mean_days: float = MISSING
    stress_sickness_effect: float = MISSING
    reallocate_after_days: float = MISSING
    # Stress and burnout.
    manageable_caseload: float = MISSING
    stress_from_share: float = MISSING
    stress_full_share: float = MISSING
    stress_rise_days: float = MISSING
    stress_recovery_days: float = MISSING
    stress_productivity_effect: float = MISSING
    burnout_threshold: float = MISSING

    def __post_init__(self) -> None:
        if _incomplete(self):
            return
        for name in ("start_agency_share", "start_newly_qualified_share", "start_vacant_share"):
            _share(f"workforce.{name}", getattr(self, name))
        starting = self.start_agency_share + self.start_newly_qualified_share + self.start_vacant_share
        _require(
            starting <= 1.0 + 1e-9,
            "workforce.start_agency_share",
            self.start_agency_share,
            "with start_newly_qualified_share and start_vacant_share must add up to at most 1",
        )
        for name in (
            "leaving_per_year_permanent",
            "leaving_per_year_newly_qualified",
            "leaving_per_year_agency",
            "stress_leaving_effect",
            "notice_days_permanent",
            "notice_days_agency",
            "agency_start_days",
            "newly_qualified_days",
            "transfer_hours",
            "short_sickness_per_year",
            "long_sickness_per_year",
            "stress_sickness_effect",
            "reallocate_after_days",
        ):
            _non_negative(f"workforce.{name}", getattr(self, name))
        for name in (
            "recruitment_days",
            "short_sickness_mean_days",
            "long_sickness_mean_days",
            "manageable_caseload",
            "stress_rise_days",
            "stress_recovery_days",
        ):
            _positive(f"workforce.{name}", getattr(self, name))
        _require(
            self.recruitment_failure_share < 1,
            "workforce.recruitment_failure_share",
            self.recruitment_failure_share,
            "must be a share from 0 up to, but not including, 1",
        )
        for name in (
            "recruitment_failure_share",
            "recruits_newly_qualified_share",
            "agency_max_share",
            "transfer_progress_lost",
            "stress_productivity_effect",
        ):
            _share(f"workforce.{name}", getattr(self, name))
        _require(
            0 < self.newly_qualified_caseload_share <= 1,
            "workforce.newly_qualified_caseload_share",
            self.newly_qualified_caseload_share,
            "must be a share above 0 and at most 1",
        )
        _require(
            0 < self.newly_qualified_productivity <= 1,
            "workforce.newly_qualified_productivity",
            self.newly_qualified_productivity,
            "must be above 0 and at most 1",
        )
        _non_negative("workforce.stress_from_share", self.stress_from_share)
        _require(
            self.stress_full_share > self.stress_from_share,
            "workforce.stress_full_share",
            self.stress_full_share,
            f"must be above workforce.stress_from_share ({self.stress_from_share})",
        )
        _require(
            0 < self.burnout_threshold <= 1,
            "workforce.burnout_threshold",
            self.burnout_threshold,
            "must be a stress level above 0 and at most 1",
        )


@dataclass(frozen=True)
class RunConfig:
    """How long, how often and how reproducibly to run the model."""

    replications: int = MISSING
    years: float = MISSING
    warmup_years: float = MISSING
    seed: int = MISSING
    jobs: int = MISSING
    days_per_year: int = MISSING
    start_month: int = MISSING
    progress: bool = True
    event_log: bool = False

    def __post_init__(self) -> None:
        if _incomplete(self):
            return
        _require(self.replications >= 1, "run.replications", self.replications, "must be a whole number of at least 1")
        _require(
            self.years > 0 and self.years * 12 == int(self.years * 12),
            "run.years",
            self.years,
            "must be above 0 and a whole number of months (a multiple of 1/12)",
        )
        _require(
            self.warmup_years >= 0 and self.warmup_years * 12 == int(self.warmup_years * 12),
            "run.warmup_years",
            self.warmup_years,
            "must be 0 or more and a whole number of months (a multiple of 1/12)",
        )
        _non_negative("run.seed", self.seed)
        _require(self.jobs >= 1 or self.jobs == -1, "run.jobs", self.jobs, "must be at least 1, or -1 for every core")
        _require(self.days_per_year >= 12, "run.days_per_year", self.days_per_year, "must be at least 12")
        _require(1 <= self.start_month <= 12, "run.start_month", self.start_month, "must be a month from 1 to 12")

    @property
    def days_per_month(self) -> float:
        return self.days_per_year / 12

    @property
    def warmup_days(self) -> float:
        return self.warmup_years * self.days_per_year

    @property
    def horizon_days(self) -> float:
        """Length of the whole run, warm-up included, in working days."""
        return (self.warmup_years + self.years) * self.days_per_year

    @property
    def months(self) -> int:
        """Months simulated, warm-up included."""
        return round((self.warmup_years + self.years) * 12)

    @property
    def warmup_months(self) -> int:
        return round(self.warmup_years * 12)


@dataclass(frozen=True)
class ChangeConfig:
    """A setting that takes a new value at a month of the run (month 0 is the first reported month)."""

    month: int = MISSING
    setting: str = MISSING
    value: Any = MISSING


@dataclass(frozen=True)
class Config:
    """One scenario: everything the model needs, and nothing it may change."""

    service: ServiceConfig = field(default_factory=ServiceConfig)
    demand: DemandConfig = field(default_factory=DemandConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    workforce: WorkforceConfig = field(default_factory=WorkforceConfig)
    run: RunConfig = field(default_factory=RunConfig)
    changes: List[ChangeConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        if _incomplete(self) or _incomplete(self.run):
            return
        current = self
        for i, change in sorted(enumerate(self.changes), key=lambda pair: pair[1].month):
            name = f"changes[{i}]"
            months = round(self.run.years * 12)
            _require(
                0 <= change.month < months,
                f"{name}.month",
                change.month,
                f"must be a month of the reported run, 0 to {months - 1}",
            )
            current = apply_setting(current, change.setting, change.value, name)

    @property
    def changes_in_order(self) -> list[ChangeConfig]:
        return sorted(self.changes, key=lambda c: c.month)


@dataclass(frozen=True)
class AppConfig(Config):
    """What the command composes: a scenario, plus the scenarios to compare it with and the KPI to plot."""

    scenarios: Dict[str, Any] = field(default_factory=dict)
    sweep_kpi: str = "unallocated_mean"
    cache_dir: Optional[str] = "multirun/.cache"

    def __post_init__(self) -> None:
        super().__post_init__()
        if _incomplete(self):
            return
        from .kpis import KPI_UNITS

        _require(self.sweep_kpi in KPI_UNITS, "sweep_kpi", self.sweep_kpi, "must be one of the KPIs in summary.csv")


def apply_setting(config: Config, setting: str, value: Any, name: str = "changes") -> Config:
    """A copy of ``config`` with one setting (``group.key``) changed, checked as the command line would be.

    The copy keeps no dated changes of its own.
    """
    group, _, key = str(setting).partition(".")
    _require(
        group in CHANGEABLE and key in getattr(config, group, ()).__dataclass_fields__,
        f"{name}.setting",
        setting,
        f"must name a setting of {', '.join(CHANGEABLE)} such as policy.caseload_cap",
    )
    part = getattr(config, group)
    try:
        checked = OmegaConf.merge(OmegaConf.structured(part), {key: value})
        new_part = OmegaConf.to_object(checked)
    except ConfigError as error:
        raise ConfigError(f"{name}.value", value, f"for {error.setting}: {error.allowed}") from error
    except Exception as error:  # OmegaConf's type errors
        raise ConfigError(f"{name}.value", value, f"is not a valid {setting}") from error
    # The copy is one moment's parameters: its own dated changes were checked already.
    return dataclasses.replace(config, **{group: new_part}, changes=[])


def _thaw(node: DictConfig) -> DictConfig:
    """Let Hydra merge overrides into the schema: OmegaConf marks frozen dataclasses read-only."""
    node._set_flag("readonly", None)
    for key in node:
        child = node._get_node(key)
        if OmegaConf.is_dict(child):
            _thaw(child)
    return node


def register_configs() -> None:
    """Put the schema in Hydra's ConfigStore, so every YAML in ``conf/`` is checked against it."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="simservice_schema", node=_thaw(OmegaConf.structured(AppConfig)))


def conf_dir() -> Path:
    """The folder of Hydra configs: inside the installed package, or ``conf/`` beside it in a clone."""
    packaged = Path(__file__).parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "conf"


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """Compose the configs in ``conf/`` with command-line style overrides, as the app does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def load_config(overrides: Sequence[str] = (), config_name: str = "config") -> Config:
    """The frozen parameters of a scenario: the default with ``overrides`` such as ``["service.teams=3"]``."""
    return to_config(compose(overrides, config_name))


def to_config(cfg: DictConfig) -> Config:
    """Turn a composed Hydra config into frozen parameters, checking every value's range."""
    app = OmegaConf.to_object(cfg)
    if not isinstance(app, Config):
        raise TypeError(f"expected a config composed on the simservice schema, got {type(app).__name__}")
    return model_config(app)


def model_config(app: Config) -> Config:
    """The model's parameters alone, without what only the command needs."""
    return Config(**{name: getattr(app, name) for name in Config.__dataclass_fields__})
