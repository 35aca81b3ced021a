"""Frozen structured configs: the settings a user can change, their types, their limits and what they mean.

The values of the default scenario live in ``conf/`` (YAML, each with its source).
Each setting here is declared once, with its limits beside it (``setting(...)``);
one checker (``check_limits``) turns those declarations into the one-line errors a
user sees, and ``__post_init__`` adds the few checks that relate two settings.
Every number has a finite range, upper bounds included, so that no setting can
ask the model for more memory or time than a run can have.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Sequence

from omegaconf import MISSING, OmegaConf

#: Statutory limit for a single assessment, working days from referral (Working Together).
ASSESSMENT_LIMIT_DAYS = 45

WORKLOAD_DISTRIBUTIONS = ("lognormal", "exponential")
#: The years of the councils' published figures shipped with the package (simservice/data/councils.csv).
COUNCIL_YEARS = tuple(range(2017, 2024))
#: What a count of referrals counts: all of them, re-referrals included (as DfE publishes), or those from outside.
COUNTS_ARE = ("all", "new")
#: When teams are cut: their workers join the remaining teams, or their posts go.
TEAM_CUTS = ("redeploy", "delete_posts")
#: The groups whose settings may change at a date within a run.
CHANGEABLE = ("service", "demand", "policy", "workforce", "managers", "coping", "risk")
#: What slips first when a manager's time runs short.
FIRST_TO_SLIP = ("supervision", "sign_off")
#: The latent conditions that widen the holes in the layers of defence (``model/defences.py``), by layer.
CONDITIONS_BY_LAYER = {
    "front_door": ("triage_backlog", "raised_threshold"),
    "waiting": ("days_unallocated",),
    "assessment": ("caseload", "stress", "new_worker", "worker_changes", "rushed"),
    "oversight": ("supervision_missed", "sign_off_pressure"),
}
CONDITIONS = tuple(c for conditions in CONDITIONS_BY_LAYER.values() for c in conditions)
#: A century of working days: the longest span any delay or duration may be set to (longer than any career).
CENTURY_DAYS = 25_300


class OneLineParser(argparse.ArgumentParser):
    """A command's options: a mistyped one is one line naming it and exit code 2, as a mistyped setting is."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


class ConfigError(ValueError):
    """A user's setting is out of range: the message names the setting, the value and what is allowed."""

    def __init__(self, setting: str, value: object, allowed: str):
        self.setting, self.value, self.allowed = setting, value, allowed
        super().__init__(f"{setting}={value!r}: {allowed}")

    def __reduce__(self):
        """Cross process boundaries intact, so a parallel run reports the same one line."""
        value = self.value
        try:
            pickle.dumps(value)
        except Exception:
            value = repr(value)
        return (ConfigError, (self.setting, value, self.allowed))


@dataclass(frozen=True)
class Limits:
    """What a setting may be: a number in a range (ends included unless open), a whole number, a choice, or null."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    nullable: bool = False
    choices: tuple[str, ...] = ()
    each: bool = False  # the limits apply to every item of a list
    input_file: bool = False  # a path whose content is part of the scenario
    on_change: str = ""  # what the running service does when a dated change sets it (see model/policies.py)
    rule: str = ""  # the rule in words where no range or choice says it (checked in check_together)
    words: tuple[str, ...] = ()  # words a number's place may also take (run.replications=auto)

    def allowed(self) -> str:
        """The rule in words, for error messages and the README."""
        if self.rule:
            text = self.rule
        elif self.choices:
            text = f"must be one of {', '.join(self.choices)}"
        elif self.low is None:
            text = "must be a path" if self.input_file else "must be true or false"
        else:
            kind = "a whole number" if self.whole else "a number"
            low, high = _number(self.low), _number(self.high)
            if self.low_open:
                text = f"must be {kind} above {low} and at most {high}"
            elif self.high_open:
                text = f"must be {kind} from {low} up to, but not including, {high}"
            else:
                text = f"must be {kind} from {low} to {high}"
            if self.each:
                text = text.replace("must be", "each must be")
        text += "".join(f" or {word}" for word in self.words)
        return text + (", or null" if self.nullable else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, str) and value in self.words:
            return True
        if self.choices:
            return value in self.choices
        if self.low is None:
            return True
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.whole and value != int(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _number(x: float) -> str:
    """A limit as a person reads it: 2,000,000 rather than 2e+06."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def setting(
    low: float | None = None,
    high: float | None = None,
    *,
    default: Any = MISSING,
    low_open: bool = False,
    high_open: bool = False,
    whole: bool = False,
    nullable: bool = False,
    choices: Sequence[str] = (),
    each: bool = False,
    input_file: bool = False,
    on_change: str = "",
    rule: str = "",
    words: Sequence[str] = (),
) -> Any:
    """A config field with its limits, and what a change of it during a run sets in motion, declared beside it."""
    limits = Limits(
        low, high, low_open, high_open, whole, nullable, tuple(choices), each, input_file, on_change, rule, tuple(words)
    )
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"limits": limits})
    return field(default=default, metadata={"limits": limits})


def share(**kwargs: Any) -> Any:
    """A share between 0 and 1."""
    return setting(0, 1, **kwargs)


def limits_of(config_class: type, name: str) -> Limits | None:
    """The declared limits of one field, if it has any."""
    for f in dataclasses.fields(config_class):
        if f.name == name:
            return f.metadata.get("limits")
    return None


def check_limits(config: Any, prefix: str) -> None:
    """Raise ``ConfigError`` for the first field of ``config`` outside its declared limits."""
    for f in dataclasses.fields(config):
        limits = f.metadata.get("limits")
        if limits is None:
            continue
        value = getattr(config, f.name)
        values = list(value) if limits.each and value is not None else [value]
        if not all(limits.accepts(v) for v in values):
            raise ConfigError(f"{prefix}.{f.name}", _plain(value), limits.allowed())


def _plain(value: Any) -> Any:
    """A value as the user typed it (OmegaConf's list nodes print as lists)."""
    return list(value) if isinstance(value, list | tuple) or OmegaConf.is_list(value) else value


def require(ok: bool, setting: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(setting, value, allowed)


def incomplete(config: object) -> bool:
    """True while a schema is still a template with values to fill (``???``), as Hydra builds it."""
    return any(
        getattr(config, f.name) is MISSING or getattr(config, f.name) == MISSING for f in dataclasses.fields(config)
    )


class Checked:
    """A group of settings that checks itself against its declared limits when it is made."""

    GROUP: ClassVar[str] = ""
    #: What the running service does when any setting of the group changes, unless the setting says otherwise.
    ON_CHANGE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if incomplete(self):
            return
        check_limits(self, self.GROUP)
        self.check_together()

    def check_together(self) -> None:
        """Rules that relate two or more settings of the group."""


@dataclass(frozen=True)
class ServiceConfig(Checked):
    """The assessment service as it is staffed: teams, workers, front door and starting state."""

    GROUP = "service"

    name: str = MISSING
    teams: int = setting(1, 500, whole=True, on_change="reorganise_teams")
    workers_per_team: int = setting(1, 100, whole=True, on_change="resize_teams")
    team_posts: Optional[List[int]] = setting(
        0, 100, default=None, nullable=True, each=True, whole=True, on_change="resize_teams"
    )
    team_shares: Optional[List[float]] = setting(
        0, 1, default=None, nullable=True, each=True, on_change="reorganise_teams"
    )
    triage_staff: Optional[float] = setting(0, 10_000, low_open=True, nullable=True, on_change="staff_front_door")
    triage_per_staff_per_day: float = setting(0, 1_000, low_open=True, on_change="staff_front_door")
    hours_per_day: float = setting(0, 24, low_open=True)
    casework_share: float = share(low_open=True)
    fte: float = share(low_open=True)
    productivity: float = setting(0, 10, low_open=True)
    initial_caseload: float = setting(0, 1_000)
    initial_unallocated_per_team: int = setting(0, 100_000, whole=True)
    handover_days: float = setting(0, CENTURY_DAYS)
    long_term_places: Optional[int] = setting(0, 1_000_000, whole=True, nullable=True)
    long_term_mean_days: float = setting(0, CENTURY_DAYS, low_open=True)

    def check_together(self) -> None:
        if self.team_shares is not None:
            shares = list(self.team_shares)
            require(
                len(shares) == self.teams,
                "service.team_shares",
                shares,
                f"must list one share per team ({self.teams} values) or be null for equal shares",
            )
            require(abs(sum(shares) - 1.0) < 1e-6, "service.team_shares", shares, "must add up to 1")
        if self.team_posts is not None:
            posts = list(self.team_posts)
            require(
                len(posts) >= self.teams,
                "service.team_posts",
                posts,
                f"must list the posts of each of the {self.teams} teams, or be null for workers_per_team each",
            )
            require(sum(posts[: self.teams]) >= 1, "service.team_posts", posts, "must give the teams at least one post")

    def posts_in(self, team: int) -> int:
        """The establishment of one team: its entry of ``team_posts`` (a team past the list: ``workers_per_team``)."""
        if self.team_posts is None or team >= len(self.team_posts):
            return self.workers_per_team
        return int(self.team_posts[team])

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

    start_month: int = setting(0, 600, whole=True)
    months: int = setting(1, 600, whole=True)
    extra_per_day: float = setting(0, 10_000)


@dataclass(frozen=True)
class DemandConfig(Checked):
    """Referrals: how many, when in the year, how urgent and how much work each is."""

    GROUP = "demand"
    ON_CHANGE = "new_demand"

    referrals_per_year: float = setting(0, 2_000_000)
    counts_are: str = setting(choices=COUNTS_ARE, default="all")
    seasonality: List[float] = setting(0, 100, each=True)
    trend_per_year: float = setting(-1, 1, low_open=True)
    shocks: List[ShockConfig] = field(default_factory=list)
    monthly_counts_csv: Optional[str] = setting(default=None, nullable=True, input_file=True)
    urgent_share: float = share()
    workload_distribution: str = setting(choices=WORKLOAD_DISTRIBUTIONS)
    hours_standard: float = setting(0, 1_000, low_open=True)
    hours_urgent: float = setting(0, 1_000, low_open=True)
    hours_cv: float = setting(0, 10, low_open=True)
    min_days_standard: float = setting(0, 1_000)
    min_days_urgent: float = setting(0, 1_000)
    min_days_spread: float = share()
    # The elapsed time an assessment needs besides its casework hours, from allocation: seeing the child
    # (exponential), information from partner agencies (log-normal), then the analysis and write-up.
    first_visit_days_standard: float = setting(0, 1_000, default=0.0)
    first_visit_days_urgent: float = setting(0, 1_000, default=0.0)
    partner_information_days_standard: float = setting(0, 1_000, default=0.0)
    partner_information_days_urgent: float = setting(0, 1_000, default=0.0)
    partner_information_cv: float = setting(0, 10, default=0.0)
    write_up_days: float = setting(0, 1_000, default=0.0)
    not_in_need_share: float = share()
    rereferral_probability: float = setting(0, 0.95)
    rereferral_mean_days: float = setting(0, CENTURY_DAYS, low_open=True)

    def check_together(self) -> None:
        season = list(self.seasonality)
        require(len(season) == 12, "demand.seasonality", season, "must list 12 monthly factors, January to December")
        require(sum(season) > 0, "demand.seasonality", season, "must have at least one factor above 0")
        for i, shock in enumerate(self.shocks):
            check_limits(shock, f"demand.shocks[{i}]")
        if self.monthly_counts_csv is not None:
            require(
                Path(self.monthly_counts_csv).is_file(),
                "demand.monthly_counts_csv",
                self.monthly_counts_csv,
                "must be the path of a CSV file with columns month,referrals",
            )


@dataclass(frozen=True)
class PolicyConfig(Checked):
    """Management choices: the caseload cap, the over-cap override and the front-door threshold."""

    GROUP = "policy"

    caseload_cap: Optional[int] = setting(1, 1_000, whole=True, nullable=True)
    override_after_days: Optional[float] = setting(0, CENTURY_DAYS, nullable=True)
    override_ceiling: int = setting(1, 1_000, whole=True)
    front_door_closure_share: float = share()
    team_cut: str = setting(choices=TEAM_CUTS)


#: Leaving and sickness: at most this many episodes a year per worker.
_PER_YEAR = 100


@dataclass(frozen=True)
class WorkforceConfig(Checked):
    """Who holds the posts and how that changes: leaving, vacancies, agency cover, sickness and stress."""

    GROUP = "workforce"

    # The posts at the start of the run, as shares of the establishment.
    start_agency_share: float = share()
    start_newly_qualified_share: float = share()
    start_vacant_share: float = share()
    # Leaving: a hazard a year by contract, raised by stress, then a notice period.
    leaving_per_year_permanent: float = setting(0, _PER_YEAR)
    leaving_per_year_newly_qualified: float = setting(0, _PER_YEAR)
    leaving_per_year_agency: float = setting(0, _PER_YEAR)
    stress_leaving_effect: float = setting(0, 100)
    notice_days_permanent: float = setting(0, CENTURY_DAYS)
    notice_days_agency: float = setting(0, CENTURY_DAYS)
    # Vacancies: permanent recruitment and agency cover.
    recruitment_days: float = setting(0, CENTURY_DAYS, low_open=True)
    recruitment_failure_share: float = share(high_open=True)
    recruits_newly_qualified_share: float = share()
    agency_allowed: bool = setting()
    agency_covers_vacancies: bool = setting(default=True)
    agency_max_share: float = share()
    agency_start_days: float = setting(0, CENTURY_DAYS)
    # Standing agency: workers above the establishment the council keeps engaged, their FTE in all.
    standing_agency_fte: float = setting(0, 100_000, default=0.0)
    # Newly qualified social workers: a protected caseload in their first year.
    newly_qualified_days: float = setting(0, CENTURY_DAYS)
    newly_qualified_caseload_share: float = share(low_open=True)
    newly_qualified_productivity: float = share(low_open=True)
    # Case transfers.
    transfer_hours: float = setting(0, 1_000)
    transfer_progress_lost: float = share()
    # Sickness: short episodes and long stress-related ones.
    short_sickness_per_year: float = setting(0, _PER_YEAR)
    short_sickness_mean_days: float = setting(0, CENTURY_DAYS, low_open=True)
    long_sickness_per_year: float = setting(0, _PER_YEAR)
    long_sickness_mean_days: float = setting(0, CENTURY_DAYS, low_open=True)
    stress_sickness_effect: float = setting(0, 100)
    reallocate_after_days: float = setting(0, CENTURY_DAYS)
    # Stress and burnout.
    manageable_caseload: float = setting(0, 1_000, low_open=True)
    stress_from_share: float = setting(0, 10)
    stress_full_share: float = setting(0, 10, low_open=True)
    stress_rise_days: float = setting(0, CENTURY_DAYS, low_open=True)
    stress_recovery_days: float = setting(0, CENTURY_DAYS, low_open=True)
    stress_productivity_effect: float = share()
    burnout_threshold: float = share(low_open=True)
    # A restructure (teams cut or opened) unsettles staff: leaving is raised for a while.
    restructure_leaving_effect: float = setting(0, 100, default=0.0)
    restructure_unsettled_days: float = setting(0, CENTURY_DAYS, default=0.0)

    def check_together(self) -> None:
        starting = self.start_agency_share + self.start_newly_qualified_share + self.start_vacant_share
        require(
            starting <= 1.0 + 1e-9,
            "workforce.start_agency_share",
            self.start_agency_share,
            "with start_newly_qualified_share and start_vacant_share must add up to at most 1",
        )
        require(
            self.stress_full_share > self.stress_from_share,
            "workforce.stress_full_share",
            self.stress_full_share,
            f"must be above workforce.stress_from_share ({self.stress_from_share})",
        )


@dataclass(frozen=True)
class ManagersConfig(Checked):
    """Team managers: a post per team, and a week shared between allocation, sign-off, supervision and the rest."""

    GROUP = "managers"

    # null: managers have unlimited time (sign-off instant, supervision always given): the model without managers.
    hours_per_week: Optional[float] = setting(0, 168, low_open=True, nullable=True)
    other_duties_share: float = share(high_open=True)
    allocation_hours: float = setting(0, 100)
    sign_off_hours: float = setting(0, 100, low_open=True)
    supervision_hours_per_worker_month: float = setting(0, 100)
    first_to_slip: str = setting(choices=FIRST_TO_SLIP)
    missed_supervision_stress: float = share()
    # The manager post: leaving, notice, recruitment, interim cover, and what a team gets with nobody in post.
    leaving_per_year: float = setting(0, _PER_YEAR)
    notice_days: float = setting(0, CENTURY_DAYS)
    recruitment_days: float = setting(0, CENTURY_DAYS, low_open=True)
    interim_allowed: bool = setting()
    interim_start_days: float = setting(0, CENTURY_DAYS)
    leaving_per_year_interim: float = setting(0, _PER_YEAR)
    vacant_cover_share: float = share()

    @property
    def unlimited(self) -> bool:
        return self.hours_per_week is None


@dataclass(frozen=True)
class CopingConfig(Checked):
    """How a service under pressure copes; each response can be switched off.

    Pressure is the unallocated backlog per post of the establishment above ``pressure_from_per_post``.
    """

    GROUP = "coping"

    pressure_from_per_post: float = setting(0, 1_000)
    # Thresholds rise: more referrals closed at the front door, and those children come back more often.
    thresholds_rise: bool = setting()
    threshold_rise_per_pressure: float = share()
    threshold_max_extra: float = share()
    raised_threshold_rereferral: float = setting(0, 0.95)
    # Caseload creep: over the cap sooner (the override's wait shortens) and further (the ceiling rises, to a hard
    # maximum) as the team's pressure grows.
    caseload_creep: bool = setting()
    creep_cases_per_pressure: float = setting(0, 1_000)
    creep_sooner_per_pressure: float = setting(0, 1_000, default=0.0)
    creep_max_caseload: int = setting(1, 1_000, whole=True)
    # Agency surge: a team's sustained backlog brings agency workers above establishment for a while.
    agency_surge: bool = setting()
    surge_trigger_pressure: float = setting(0, 1_000)
    surge_after_days: float = setting(0, CENTURY_DAYS)
    surge_workers_per_team: int = setting(0, 100, whole=True)
    surge_days: float = setting(0, CENTURY_DAYS, low_open=True)
    # Unpaid hours: above a manageable caseload workers work longer, at a cost in stress.
    unpaid_hours: bool = setting()
    unpaid_share_per_case_over: float = setting(0, 10)
    unpaid_max_share: float = share()
    unpaid_stress: float = setting(0, 10)
    # Rushed assessments: near the deadline with a high caseload, hours are cut short.
    rushed_assessments: bool = setting()
    rush_days_before_deadline: float = setting(0, 1_000)
    rush_from_caseload_share: float = setting(0, 10)
    rush_hours_cut_share: float = share(high_open=True)
    # Triage capacity: the front door works harder when its backlog grows.
    triage_surge: bool = setting()
    triage_surge_trigger_days: float = setting(0, 1_000)
    triage_surge_share: float = setting(0, 10)


@dataclass(frozen=True)
class RiskConfig(Checked):
    """Hidden risk and the layers of defence: each layer's base hole, and how much each latent condition widens it.

    A layer's hole is ``base x (1 + the sum of effect x condition)``, at most 1; a condition held at its
    good level (``good``) adds nothing. Every size here is an assumption (conf/risk/default.yaml).
    """

    GROUP = "risk"

    # Of the children an assessment would find in need of a plan, the share at risk of significant harm.
    risky_share_urgent: float = share()
    risky_share_standard: float = share()
    # The front door: a risky referral it would close goes on only if its risk is recognised.
    front_door_hole: float = share()
    per_triage_backlog_day: float = setting(0, 100)
    # Waiting unallocated: the team's check of its waiting list misses the risk.
    waiting_hole: float = share()
    per_day_unallocated: float = setting(0, 100)
    # The assessment: the worker misses the risk.
    assessment_hole: float = share()
    per_case_over_manageable: float = setting(0, 100)
    per_stress: float = setting(0, 100)
    new_worker: float = setting(0, 100)
    new_agency_days: float = setting(0, CENTURY_DAYS)
    per_worker_change: float = setting(0, 100)
    per_rushed_share: float = setting(0, 100)
    # Management oversight: supervision and sign-off miss it.
    oversight_hole: float = share()
    per_supervision_missed: float = setting(0, 100)
    per_sign_off_waiting: float = setting(0, 100)
    # A missed risk: the child comes back sooner and urgent; sometimes after a serious incident (illustrative).
    missed_return_probability: float = share()
    missed_return_mean_days: float = setting(0, CENTURY_DAYS, low_open=True)
    serious_incident_probability: float = share()
    # Conditions held at their good level: they widen no hole (attribution, the trainer's demonstration).
    good: List[str] = setting(default=[], choices=CONDITIONS, each=True)


#: The most a rate may be, in pounds: far above any salary or day rate, finite so that no typo passes unseen.
_POUNDS = 1_000_000


@dataclass(frozen=True)
class FinanceConfig(Checked):
    """What the service costs: pay, day rates, hires and overheads, in pounds at ``price_year``.

    The costs come from what a run did (``reporting/costs.py``): FTE-days in post by contract,
    agency FTE-days worked, surge FTE-days worked, manager posts by holder, hires; the rates here price them.
    """

    GROUP = "finance"

    # The year the rates are stated in (a label: the figures are not inflated or deflated by the model).
    price_year: int = setting(2000, 2100, whole=True)
    # Employees: a year's basic salary for a full-time post, plus the employer's on-costs (National Insurance, pension).
    permanent_salary: float = setting(0, _POUNDS)
    newly_qualified_salary: float = setting(0, _POUNDS)
    on_cost_share: float = setting(0, 10)
    # Team managers: a permanent manager's salary (plus on-costs); an interim manager's day rate (days in post).
    manager_salary: float = setting(0, _POUNDS)
    interim_manager_day_rate: float = setting(0, _POUNDS)
    # Agency cover for a post, and a surge (managed team) worker above the establishment: pounds a day worked.
    agency_day_rate: float = setting(0, _POUNDS)
    surge_day_rate: float = setting(0, _POUNDS)
    # The front door's triage staff (service.triage_staff): a salary a FTE, plus on-costs.
    front_door_salary: float = setting(0, _POUNDS)
    # Each employee hired during the run: the cost of recruiting them, and any welcome payment.
    recruitment_cost_per_hire: float = setting(0, _POUNDS)
    welcome_payment: float = setting(0, _POUNDS, default=0.0)
    # Paid to every employed social worker a year (pro rata to their FTE-days in post).
    retention_payment_per_year: float = setting(0, _POUNDS, default=0.0)
    # Accommodation, IT, HR, finance and management above the team: a share of the staff costs.
    overhead_share: float = setting(0, 10)
    # What one missed risk costs the council later (illustrative, reported apart from the budget).
    missed_risk_cost: float = setting(0, _POUNDS, default=10780.0)


@dataclass(frozen=True)
class CouncilConfig(Checked):
    """A council whose published figures build the scenario (``simservice/presets.py``); null: the settings alone."""

    GROUP = "la"

    name: Optional[str] = setting(
        default=None, nullable=True, rule="must be a council as DfE spells it, or its code (E06000045), or England"
    )
    year: int = setting(default=2019, rule=f"must be one of {COUNCIL_YEARS[0]} to {COUNCIL_YEARS[-1]}")

    def check_together(self) -> None:
        require(self.year in COUNCIL_YEARS, "la.year", self.year, limits_of(CouncilConfig, "year").allowed())


#: The biggest number a search's lever range or target bound may name: finite, so that no typo passes unseen.
_SEARCH_MOST = 1_000_000_000


@dataclass(frozen=True)
class SearchLever:
    """A lever's range in a search (``conf/search/``): from ``low`` to ``high`` in steps of ``step`` (null: any value).

    ``also_off``: also try the lever switched off (the caseload cap: no cap; agency cover: none at all).
    Set ``low`` = ``high`` to hold a lever still.
    """

    low: float = setting(0, _SEARCH_MOST)
    high: float = setting(0, _SEARCH_MOST)
    step: Optional[float] = setting(0, _SEARCH_MOST, low_open=True, default=None, nullable=True)
    also_off: bool = setting(default=False)


@dataclass(frozen=True)
class SearchLevers:
    """What a search may change: teams, posts per team, the caseload cap, agency cover and a retention payment."""

    # None: the lever is not searched (it keeps the base's value).
    teams: Optional[SearchLever] = None
    workers_per_team: Optional[SearchLever] = None
    caseload_cap: Optional[SearchLever] = None
    agency_max_share: Optional[SearchLever] = None
    retention_payment_per_year: Optional[SearchLever] = None


@dataclass(frozen=True)
class SearchTarget:
    """A target on one KPI of summary.csv: its mean at least ``min``, at most ``max`` (null: no bound that side)."""

    min: Optional[float] = setting(0, _SEARCH_MOST, default=None, nullable=True)
    max: Optional[float] = setting(0, _SEARCH_MOST, default=None, nullable=True)


@dataclass(frozen=True)
class SearchConfig(Checked):
    """The cheapest option that meets the targets (``simservice search=default``): the search's own settings.

    Built by ``runs/search.py`` from the composed ``search`` mapping (every key checked there, every value here).

    Every trial runs replications 0 to ``replications`` - 1 of the same seed (common random numbers); the
    cheapest ``finalists`` that meet the targets are run again with ``finalist_replications`` before one is named.
    """

    GROUP = "search"

    trials: int = setting(1, 10_000, whole=True)
    replications: int = setting(1, 1_000, whole=True)
    finalists: int = setting(1, 100, whole=True)
    finalist_replications: int = setting(2, 10_000, whole=True)
    # Trials sampled at random before the TPE sampler models the rest; the sampler's seed.
    startup_trials: int = setting(0, 10_000, whole=True, default=10)
    sampler_seed: int = setting(0, 2**32 - 1, whole=True, default=0)
    # The assumed effect of the retention payment: permanent leaving falls by this share per £1,000 a year.
    retention_leaving_cut_per_1000: float = share(default=0.0)
    targets: Dict[str, SearchTarget] = field(default_factory=dict)
    levers: SearchLevers = field(default_factory=SearchLevers)

    def check_together(self) -> None:
        for name in [f.name for f in dataclasses.fields(SearchLevers)]:
            lever = getattr(self.levers, name)
            if lever is None:
                continue
            check_limits(lever, f"search.levers.{name}")
            require(
                lever.high >= lever.low,
                f"search.levers.{name}.high",
                lever.high,
                f"must be at least search.levers.{name}.low ({_number(lever.low)})",
            )
        for kpi, target in self.targets.items():
            where = f"search.targets.{kpi}"
            check_limits(target, where)
            require(
                target.min is not None or target.max is not None,
                where,
                {"min": target.min, "max": target.max},
                "must give a min, a max or both",
            )
            if target.min is not None and target.max is not None:
                at_least = f"must be at least its min ({target.min})"
                require(target.max >= target.min, f"{where}.max", target.max, at_least)


#: Settings of ``run`` that make replication k of two scenarios the same draw, and the rule that chooses how
#: many replications they share (``replications=auto``); scenarios may not change them.
PAIRING = (
    "seed",
    "replications",
    "years",
    "warmup_years",
    "days_per_year",
    "start_month",
    "auto_half_width_share",
    "auto_min_replications",
    "auto_max_replications",
)
#: ``run.replications=auto``: replications are added until every headline KPI is precise enough.
AUTO = "auto"


@dataclass(frozen=True)
class RunConfig(Checked):
    """How long, how often and how reproducibly to run the model."""

    GROUP = "run"

    # A whole number, or auto (typed Any so that the word reaches the check below, which says what is allowed).
    replications: Any = setting(1, 10_000, whole=True, words=(AUTO,))
    # replications=auto: each headline KPI's 95 % half-width within this share of its mean, between these numbers.
    auto_half_width_share: float = setting(0, 1, low_open=True, default=0.05)
    auto_min_replications: int = setting(3, 10_000, whole=True, default=5)
    auto_max_replications: int = setting(3, 10_000, whole=True, default=100)
    years: float = setting(0, 50, low_open=True)
    warmup_years: float = setting(0, 20)
    seed: int = setting(0, 2**63 - 1, whole=True)
    jobs: int = setting(-1, 256, whole=True)
    days_per_year: int = setting(12, 366, whole=True)
    start_month: int = setting(1, 12, whole=True)
    progress: bool = setting(default=True)
    event_log: bool = setting(default=False)

    def check_together(self) -> None:
        for name in ("years", "warmup_years"):
            value = getattr(self, name)
            require(
                abs(value * 12 - round(value * 12)) < 1e-9,
                f"run.{name}",
                value,
                "must be a whole number of months (a multiple of 1/12)",
            )
        require(self.jobs != 0, "run.jobs", self.jobs, "must be at least 1, or -1 for every core")
        require(
            self.auto_max_replications >= self.auto_min_replications,
            "run.auto_max_replications",
            self.auto_max_replications,
            f"must be at least run.auto_min_replications ({self.auto_min_replications})",
        )
        if isinstance(self.replications, float):  # 10.0 from the command line: the whole number it is
            object.__setattr__(self, "replications", int(self.replications))

    @property
    def auto(self) -> bool:
        """True when the number of replications is chosen by the run (``run.replications=auto``)."""
        return self.replications == AUTO

    @property
    def most_replications(self) -> int:
        """The most replications this run can make: the number asked for, or auto's maximum."""
        return self.auto_max_replications if self.auto else int(self.replications)

    def processes(self, tasks: int) -> int:
        """Processes to run ``tasks`` tasks on: ``jobs`` (-1: every core), never more than there are tasks."""
        cores = os.cpu_count() or 1
        return max(1, min(tasks, cores if self.jobs == -1 else self.jobs))

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

    # Its range depends on the run's length, so it is checked with the run (``Config.timeline``).
    month: int = setting(rule="must be a month of the reported run, a whole number from 0 (its first month)")
    setting: str = MISSING
    value: Any = MISSING


@dataclass(frozen=True)
class Moment:
    """A dated change as the run meets it: its month, the setting, what it sets in motion, the parameters after it."""

    month: int
    setting: str
    on_change: str
    config: Config


def on_change(setting: str) -> str:
    """What the running service does when ``setting`` changes: its own declaration, else its group's."""
    group, _, key = setting.partition(".")
    group_class = _GROUPS[group]
    limits = limits_of(group_class, key)
    return (limits.on_change if limits is not None else "") or group_class.ON_CHANGE


@dataclass(frozen=True)
class Config:
    """One scenario: everything the model needs, and nothing it may change."""

    service: ServiceConfig = field(default_factory=ServiceConfig)
    demand: DemandConfig = field(default_factory=DemandConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    workforce: WorkforceConfig = field(default_factory=WorkforceConfig)
    managers: ManagersConfig = field(default_factory=ManagersConfig)
    coping: CopingConfig = field(default_factory=CopingConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    finance: FinanceConfig = field(default_factory=FinanceConfig)
    run: RunConfig = field(default_factory=RunConfig)
    changes: List[ChangeConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        if incomplete(self) or incomplete(self.run):
            return
        self.timeline()  # every dated change checked, as the command line would be

    def timeline(self) -> list[Moment]:
        """The scenario's dated changes in month order, each with the parameters in force from its month on.

        The one place a dated change is interpreted: demand, the running service and the checks all read it.
        """
        moments, current = [], self
        months = round(self.run.years * 12)
        for i, change in sorted(enumerate(self.changes), key=lambda pair: pair[1].month):
            name = f"changes[{i}]"
            require(
                isinstance(change.month, int) and 0 <= change.month < months,
                f"{name}.month",
                change.month,
                f"must be a month of the reported run, 0 to {months - 1}",
            )
            current = apply_setting(current, change.setting, change.value, name)
            moments.append(Moment(change.month, change.setting, on_change(change.setting), current))
        return moments

    def input_files(self) -> list[str]:
        """Every file the scenario reads, its dated changes included: their content is part of the scenario."""
        paths = []
        for group in CHANGEABLE:
            part = getattr(self, group)
            for f in dataclasses.fields(part):
                limits = f.metadata.get("limits")
                if limits is not None and limits.input_file and getattr(part, f.name) is not None:
                    paths.append(str(getattr(part, f.name)))
        for change in self.changes:
            group, _, key = str(change.setting).partition(".")
            limits = limits_of(type(getattr(self, group)), key) if group in CHANGEABLE else None
            if limits is not None and limits.input_file and change.value is not None:
                paths.append(str(change.value))
        return paths


_GROUPS: dict[str, type] = {
    "service": ServiceConfig,
    "demand": DemandConfig,
    "policy": PolicyConfig,
    "workforce": WorkforceConfig,
    "managers": ManagersConfig,
    "coping": CopingConfig,
    "risk": RiskConfig,
}


#: Every group a ``group.key`` setting of a scenario names, by its name.
_SETTING_GROUPS: dict[str, type] = {**_GROUPS, "finance": FinanceConfig, "run": RunConfig}


def setting_limits(setting: str) -> Limits | None:
    """The declared limits of a ``group.key`` setting (``service.teams``), if it has any."""
    group, _, key = setting.partition(".")
    group_class = _SETTING_GROUPS.get(group)
    return None if group_class is None else limits_of(group_class, key)


def is_truth_setting(setting: str) -> bool:
    """True for a setting that is true or false (``coping.agency_surge``), so ``yes`` or ``2`` can be refused."""
    group, _, key = setting.partition(".")
    group_class = _SETTING_GROUPS.get(group)
    if group_class is None:
        return False
    return any(f.name == key and f.type in ("bool", bool) for f in dataclasses.fields(group_class))


def limits_table() -> str:
    """Every setting with a declared range, as the Markdown table the README shows."""
    rows = ["| setting | allowed |", "|---|---|"]
    groups = [CouncilConfig, ServiceConfig, DemandConfig, PolicyConfig, WorkforceConfig, ManagersConfig, CopingConfig]
    groups += [RiskConfig]
    groups += [FinanceConfig, RunConfig]
    for group in groups:
        for f in dataclasses.fields(group):
            limits = f.metadata.get("limits")
            if limits is not None:
                rows.append(f"| `{group.GROUP}.{f.name}` | {limits.allowed().replace('must be ', '')} |")
    for f in dataclasses.fields(ShockConfig):
        rows.append(f"| `demand.shocks[i].{f.name}` | {f.metadata['limits'].allowed().replace('must be ', '')} |")
    return "\n".join(rows)


def apply_setting(config: Config, setting: str, value: Any, name: str = "changes") -> Config:
    """A copy of ``config`` with one setting (``group.key``) changed, checked as the command line would be.

    The copy keeps no dated changes of its own.
    """
    group, _, key = str(setting).partition(".")
    require(
        group in CHANGEABLE and key in {f.name for f in dataclasses.fields(getattr(config, group))},
        f"{name}.setting",
        setting,
        f"must name a setting of {', '.join(CHANGEABLE)} such as policy.caseload_cap",
    )
    part = getattr(config, group)
    if is_truth_setting(setting) and not isinstance(value, bool):  # not yes, on or 1, as on the command line
        raise ConfigError(f"{name}.value", value, f"for {setting}: must be true or false")
    try:
        checked = OmegaConf.merge(OmegaConf.structured(part), {key: value})
        new_part = OmegaConf.to_object(checked)
    except ConfigError as error:
        raise ConfigError(f"{name}.value", value, f"for {error.setting}: {error.allowed}") from error
    except Exception as error:  # OmegaConf's type errors: worded by the setting's limits where it declares them
        limits = setting_limits(setting)
        allowed = f"for {setting}: {limits.allowed()}" if limits is not None else f"is not a valid {setting}"
        raise ConfigError(f"{name}.value", value, allowed) from error
    # The copy is one moment's parameters: its own dated changes were checked already.
    return dataclasses.replace(config, **{group: new_part}, changes=[])
