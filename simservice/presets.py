"""A council's published figures turned into the settings of a scenario: ``la.name=Southampton la.year=2019``.

The method (the README's "A preset for every council" says why each step):

- **Demand** is the council's: all its referrals a year (``demand.counts_are=all``), its
  share closed at the front door with no further action, its share assessed and found not
  in need, and a chance of coming back set so that its re-referrals within 12 months come
  out as published (``back_within_a_year``: children with a plan mostly come back later).
- **The assessment service is sized to its demand**, as the default is: one post for every
  ``ACCEPTED_PER_POST`` referrals accepted at the front door (the default's, which give
  England's time to assessment), in teams of about ``POSTS_PER_TEAM``; the front door and the
  long-term teams in proportion to the referrals and the plans they bring. DfE counts every
  children's social worker, not the assessment teams alone, so the council's workforce
  enters through its rates, not its size.
- **The workforce turns over, stays vacant, engages agency and goes sick at the
  council's published rates** (``workforce_settings``), and each worker's FTE is the
  council's in-post FTE over its headcount. Agency is standing agency above the
  establishment, so that the council's agency rate is met whether DfE counted its agency
  workers as covering vacancies or not (in 2019, 23 % of England's did not).

A figure the council did not publish is England's for the year, and the scenario's name says so.
``la.name=England`` is a council of England's average size with England's rates.
"""

from __future__ import annotations

import math
from typing import Any

from simservice.config import ConfigError
from simservice.councils import ENGLAND, Council, find, names

#: Referrals accepted at the front door a year for each assessment post: the default's 2,600 referrals, of
#: which 12.7 % are closed at the door, for its 24 posts.
ACCEPTED_PER_POST = 2600 * (1 - 0.127) / 24
#: Posts in a team: DESIGN.md's teams of six.
POSTS_PER_TEAM = 6
#: Front-door (MASH) social workers for each referral a year: the default's 2 for 2,600.
TRIAGE_STAFF_PER_REFERRAL = 2 / 2600
#: Long-term places for each assessment a year leading to a plan: the default's 1,300 places for
#: its 2,600 referrals x (1 - 0.127 closed at the front door) x (1 - 0.30 not in need).
PLACES_PER_PLAN = 1300 / (2600 * (1 - 0.127) * (1 - 0.30))
#: The default's working days: a year; a closed child's mean wait to come back; from referral to a
#: completed assessment (England's median, 33); from it to the long-term team; the mean stay there.
YEAR_DAYS, RETURN_DAYS, ASSESSMENT_DAYS, HANDOVER_DAYS, LONG_TERM_DAYS = 253, 120, 33, 15, 190
#: The council's figures a preset is built from.
MEASURES = (
    "referrals",
    "nfa_pct",
    "not_in_need_pct",
    "rereferral_pct",
    "turnover_pct",
    "vacancy_pct",
    "agency_pct",
    "absence_pct",
    "inpost_fte",
    "inpost_headcount",
)
#: The figures of the council's own social workers.
WORKFORCE = ("turnover_pct", "vacancy_pct", "agency_pct", "absence_pct", "inpost_fte", "inpost_headcount")


def council_figures(name: str, year: int) -> tuple[Council, dict[str, float], list[str]]:
    """The council, its figures for the preset (England's where it has none) and which were England's."""
    council = find(name, year)
    if council.referrals is None:
        published = "its workforce alone" if council.inpost_fte is not None else "no figures"
        allowed = f"must be a council with referrals published for {year}; DfE has {published}"
        raise ConfigError("la.name", name, allowed)
    england = find(ENGLAND, year)
    figures, borrowed = {}, []
    own_workforce = bool(council.inpost_fte)  # the Isles of Scilly had none of its own in 2021-2023
    for measure in MEASURES:
        value = getattr(council, measure)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if missing or (measure in WORKFORCE and not own_workforce):
            value = getattr(england, measure)
            borrowed.append(measure)
        figures[measure] = float(value)
    if council.code == ENGLAND:  # a council of England's average size
        councils = len(names(year))
        for measure in ("referrals", "inpost_fte", "inpost_headcount"):
            figures[measure] /= councils
    return council, figures, borrowed


def back_within_a_year(closed: float, not_in_need: float) -> float:
    """Of the children who come back, the share who come back within 12 months of their last referral.

    A child closed at the front door waits only for the return; one assessed not in need
    waits for the assessment first; one with a plan for the assessment, the hand-over and
    a long-term stay (exponential), then the return (exponential): the chance the two
    exponentials fit in what is left of the year.
    """
    after_door = 1 - math.exp(-YEAR_DAYS / RETURN_DAYS)
    after_assessment = 1 - math.exp(-(YEAR_DAYS - ASSESSMENT_DAYS) / RETURN_DAYS)
    left = YEAR_DAYS - ASSESSMENT_DAYS - HANDOVER_DAYS
    a, b = LONG_TERM_DAYS, RETURN_DAYS
    after_plan = 1 - (a * math.exp(-left / a) - b * math.exp(-left / b)) / (a - b)
    return closed * after_door + (1 - closed) * (not_in_need * after_assessment + (1 - not_in_need) * after_plan)


def team_posts(accepted: float) -> list[int]:
    """Posts team by team for a year's accepted referrals: as even as can be, in teams of about ``POSTS_PER_TEAM``."""
    posts = max(1, round(accepted / ACCEPTED_PER_POST))
    teams = max(1, round(posts / POSTS_PER_TEAM))
    smaller, larger = divmod(posts, teams)
    return [smaller + 1] * larger + [smaller] * (teams - larger)


def preset(name: str, year: int) -> dict[str, Any]:
    """The settings (``group.key`` -> value) that make the scenario the council's in ``year``."""
    council, figures, borrowed = council_figures(name, year)
    referrals = figures["referrals"]
    closed, not_in_need = figures["nfa_pct"] / 100, figures["not_in_need_pct"] / 100
    posts = team_posts(referrals * (1 - closed))
    plans = referrals * (1 - closed) * (1 - not_in_need)
    label = "England's average council" if council.code == ENGLAND else council.name
    note = f"; England's {', '.join(borrowed)}" if borrowed else ""
    settings: dict[str, Any] = {
        "service.name": f"{label} {year} (DfE preset{note})",
        "service.teams": len(posts),
        "service.workers_per_team": max(posts),
        "service.team_posts": posts,
        "service.triage_staff": round(max(0.5, referrals * TRIAGE_STAFF_PER_REFERRAL), 2),
        "service.long_term_places": max(1, round(plans * PLACES_PER_PLAN)),
        "service.fte": round(min(1.0, figures["inpost_fte"] / figures["inpost_headcount"]), 3),
        "demand.referrals_per_year": round(referrals),
        "demand.counts_are": "all",
        "policy.front_door_closure_share": round(closed, 3),
        "demand.not_in_need_share": round(not_in_need, 3),
        "demand.rereferral_probability": round(
            min(0.9, figures["rereferral_pct"] / 100 / back_within_a_year(closed, not_in_need)), 3
        ),
    }
    settings.update(
        workforce_settings(
            figures["turnover_pct"],
            figures["vacancy_pct"],
            figures["agency_pct"],
            figures["absence_pct"],
            sum(posts),
            settings["service.fte"],
            referrals * (1 - closed) / (sum(posts) * ACCEPTED_PER_POST),
        )
    )
    return settings


#: The model's turnover for each unit of the factor on the leaving hazards: a base, plus the stress that vacant
#: posts and posts whose work nobody does bring to a service as loaded as the default. Fitted on 36 runs of the
#: default (30 replications x 5 years each, 2026-12-01) across the councils' published ranges.
TURNOVER_BASE, TURNOVER_PER_VACANCY, TURNOVER_PER_EMPTY = 0.137, 0.101, 0.126
#: The same base with no stress at all: the Isles of Scilly's preset of 2019 (one post for 16 referrals a year,
#: 48 replications, 2026-12-01). A service less loaded than the default's has a base between the two.
TURNOVER_BASE_UNSTRESSED = 0.127
#: Agency workers leave about once a year, more under stress (1 x (1 + the default's mean stress 0.27)), and
#: the next starts ``AGENCY_START_DAYS`` later: the share of the time a standing agency post is filled is
#: 1 / (1 + that leaving a day x those days).
AGENCY_LEAVING_PER_DAY, AGENCY_START_DAYS = 1.27 / YEAR_DAYS, 10.0
#: Absence x / (1 + x) for a factor x on the sickness rates, with x = factor x this (fitted on four seeds).
ABSENCE_PER_FACTOR = 0.040
#: The default's share of recruitment campaigns that fail, kept: the mean time to fill is then twice a campaign.
FAILED_CAMPAIGNS = 0.5


def workforce_settings(
    turnover_pct: float,
    vacancy_pct: float,
    agency_pct: float,
    absence_pct: float,
    posts: int,
    fte: float,
    load: float = 1.0,
) -> dict:
    """Workforce settings whose turnover, vacancy, agency and absence rates come out at the published ones.

    Vacancy by Little's law (vacant / filled = leavers a day x days to fill); agency as standing
    agency workers above the establishment, their FTE set so that agency / (agency + in post)
    is the council's rate, whether DfE counted them as covering vacancies or not (the vacancies
    themselves stay empty, recruited to); turnover and absence by factors on the default's
    hazards, the stress vacancies bring in proportion to the service's ``load`` (accepted referrals
    for its posts, as a share of the default's: below 1 only where even one post is more than the
    council's demand needs). The coping surge is off: the published rate already holds whatever agency the
    council engaged. Targets are clipped to what the model can do: turnover 1-100 %, vacancy
    0.5-60 %, agency 0-90 %, absence 0-15 %.
    """
    turnover = min(max(turnover_pct, 1.0), 100.0) / 100
    vacancy = min(max(vacancy_pct, 0.5), 60.0) / 100
    agency = min(max(agency_pct, 0.0), 90.0) / 100
    absence = min(max(absence_pct, 0.0), 15.0) / 100
    in_post = posts * fte * (1 - vacancy)  # the in-post FTE the vacancies leave
    agency_fte = agency / (1 - agency) * in_post
    filled = 1 / (1 + AGENCY_LEAVING_PER_DAY * AGENCY_START_DAYS)  # the share of the time a standing post is held
    empty = max(0.0, vacancy - agency_fte / (posts * fte))  # posts whose work nobody does
    stress = TURNOVER_PER_VACANCY * vacancy + TURNOVER_PER_EMPTY * empty  # at the default's load
    load = min(1.0, load)  # the stress scaled to the service's load
    base = TURNOVER_BASE_UNSTRESSED + (TURNOVER_BASE - TURNOVER_BASE_UNSTRESSED) * load
    leaving = turnover / (base + load * stress)
    fill = vacancy / (1 - vacancy) * YEAR_DAYS / turnover  # mean working days to fill a post
    sickness = absence / (1 - absence) / ABSENCE_PER_FACTOR
    settings = {
        "workforce.leaving_per_year_permanent": 0.13 * leaving,
        "workforce.leaving_per_year_newly_qualified": 0.15 * leaving,
        "workforce.recruitment_days": max(1.0, fill * (1 - FAILED_CAMPAIGNS)),
        "workforce.recruitment_failure_share": FAILED_CAMPAIGNS,
        "workforce.short_sickness_per_year": 2.0 * sickness,
        "workforce.long_sickness_per_year": 0.05 * sickness,
        "workforce.start_agency_share": 0.0,
        "workforce.start_vacant_share": vacancy,  # the warm-up starts at the council's rates
        "workforce.agency_allowed": True,
        "workforce.agency_covers_vacancies": False,  # the standing agency does the vacancies' work
        "workforce.agency_max_share": 1.0,  # a cap that does not bind (a budget option may set one)
        "workforce.agency_start_days": AGENCY_START_DAYS,
        "workforce.standing_agency_fte": agency_fte / filled,
        "coping.agency_surge": False,
    }
    return {key: value if isinstance(value, bool) else round(value, 4) for key, value in settings.items()}
