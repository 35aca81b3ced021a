"""What a replication leaves behind: the running totals, a count of every working day, and tidy tables.

The pathway keeps running totals as it moves cases (time-weighted queue and
caseloads, every wait in the queue); the model calls ``MorningCount.morning`` each
working day after the managers' review; when the run ends, ``replication_result``
turns cases, staff, transfers, the event log and the totals into the tables the
KPIs, files and figures are made from.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simservice.config import ASSESSMENT_LIMIT_DAYS, CONDITIONS
from simservice.model.defences import LAYERS
from simservice.model.managers import INTERIM, MANAGER, VACANT
from simservice.model.pathway import (
    ALLOCATED,
    AWAITING_LONG_TERM,
    AWAITING_SIGN_OFF,
    AWAITING_TRIAGE,
    REFERRED,
    STATES,
    UNALLOCATED,
    URGENT,
)
from simservice.model.workforce import AGENCY, NEWLY_QUALIFIED, PERMANENT

if TYPE_CHECKING:
    from simservice.model.service import Service

#: What the morning count records each working day.
DAILY_COLUMNS = (
    "awaiting_triage",
    "unallocated",
    "oldest_unallocated_days",
    "allocated",
    "awaiting_long_term_team",
    "long_term_children",
    "caseload_mean",
    "caseload_p90",
    "caseload_max",
    "permanent",
    "newly_qualified",
    "agency",
    "vacant_posts",
    "off_sick",
    "in_post_fte",
    "agency_fte",
    "vacant_fte",
    "case_holder_fte",
    "cases_held",
    "stress_mean",
    # Managers and how the service copes.
    "awaiting_sign_off",
    "awaiting_assessment",
    "caseload_team_max",
    "managers_in_post",
    "managers_interim",
    "managers_vacant",
    "pressure",
    "front_door_closure_share",
    "override_ceiling_mean",
    "surge_agency",
    "triage_per_day",
    "unpaid_hours_per_day",
    # What the finance model prices: FTE in post by contract, agency FTE at work (not off sick), front-door staff.
    "permanent_fte",
    "newly_qualified_fte",
    "agency_worked_fte",
    "surge_worked_fte",
    "triage_staff",
)


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication leaves behind: cases, days, worker-day caseloads, and the workforce's events."""

    replication: int
    cases: pd.DataFrame
    daily: pd.DataFrame
    caseloads: np.ndarray  # (day, caseload, stress, worker) for every worker at work and working day
    staff: pd.DataFrame  # one row per person who worked in the service
    transfers: pd.DataFrame  # one row per case transfer
    totals: dict[str, float]  # running totals over the reported years (see ``reported_totals``)
    teams: pd.DataFrame  # one row per team: its share of the service's totals
    defences: pd.DataFrame  # one row per layer of defence a risky child met (``defences_table``)
    events: pd.DataFrame | None = None  # the event log: one row per move of a case (``run.event_log``)


class MorningCount:
    """The count taken every working day, after the managers' review: the service as it stands for the day."""

    def __init__(self, service: Service, days: int):
        self.service = service
        # Python lists, made arrays with the tables: setting a list's item costs a third of an array's.
        self.daily = {name: [0.0] * days for name in DAILY_COLUMNS}
        # (day, caseload, stress, worker) of every worker at work each morning, four numbers a row: a flat
        # array of floats, not a tuple a row, as it grows by a row per worker per day (about 1.2 KiB a referral).
        self.caseloads = array("d")
        self.team_days: dict[int, list[float]] = {}  # team -> [days counted, sum of the team's mean caseload]

    def rows(self) -> np.ndarray:
        """The worker-day rows as a table of floats (day, caseload, stress, worker), sharing the count's memory."""
        return np.frombuffer(self.caseloads, dtype=float).reshape(-1, 4)

    def morning(self, day: int) -> None:
        """The morning count: queues, caseloads, who is in post, off sick, and how stressed."""
        service, daily = self.service, self.daily
        pathway = service.pathway
        now = service.env.now
        in_state = pathway.in_state
        daily["awaiting_triage"][day] = in_state[AWAITING_TRIAGE]
        daily["unallocated"][day] = in_state[UNALLOCATED]
        oldest = now
        if in_state[UNALLOCATED]:
            oldest = min(entry.referred for team in pathway.teams for entry in team.queue)
        daily["oldest_unallocated_days"][day] = now - oldest
        daily["awaiting_long_term_team"][day] = in_state[AWAITING_LONG_TERM]
        daily["long_term_children"][day] = pathway.long_term_children

        loads, allocated, stress, off_sick = [], 0, 0.0, 0
        heads = dict.fromkeys((PERMANENT, NEWLY_QUALIFIED, AGENCY), 0)
        employees_fte = agency_fte = holder_fte = 0.0
        fte_by = dict.fromkeys((PERMANENT, NEWLY_QUALIFIED, AGENCY), 0.0)
        agency_worked = surge_worked = 0.0
        cases_held = 0
        in_post = service.workforce.staff_in_post()
        record = self.caseloads.extend
        for worker in in_post:
            in_hand = len(worker.caseload)
            load = in_hand + len(worker.held)
            allocated += in_hand
            worker_stress = worker.stress_now()
            stress += worker_stress
            contract, fte, absent = worker.contract, worker.fte, worker.absent
            heads[contract] += 1
            fte_by[contract] += fte
            if contract == AGENCY:
                agency_fte += fte
                if not absent:  # an agency worker is paid for the days worked
                    if worker.surge:
                        surge_worked += fte
                    else:
                        agency_worked += fte
            else:
                employees_fte += fte
            if load:
                holder_fte += fte
                cases_held += load
            if absent:
                off_sick += 1
            else:
                loads.append(load)
                record((day, load, worker_stress, worker.id))
        if loads:
            loads.sort()
            daily["caseload_mean"][day] = sum(loads) / len(loads)
            daily["caseload_p90"][day] = percentile_sorted(loads, 0.9)
            daily["caseload_max"][day] = loads[-1]
        daily["allocated"][day] = allocated
        daily["permanent"][day] = heads[PERMANENT]
        daily["newly_qualified"][day] = heads[NEWLY_QUALIFIED]
        daily["agency"][day] = heads[AGENCY]
        vacant = without_employee = 0
        for post in service.workforce.active_posts:
            if post.worker is None:
                vacant += 1
            if post.employee is None:
                without_employee += 1
        daily["vacant_posts"][day] = vacant
        daily["vacant_fte"][day] = service.config.service.fte * without_employee
        daily["off_sick"][day] = off_sick
        daily["in_post_fte"][day] = employees_fte
        daily["agency_fte"][day] = agency_fte
        daily["permanent_fte"][day] = fte_by[PERMANENT]
        daily["newly_qualified_fte"][day] = fte_by[NEWLY_QUALIFIED]
        daily["agency_worked_fte"][day] = agency_worked
        daily["surge_worked_fte"][day] = surge_worked
        daily["triage_staff"][day] = service.config.service.triage_staff or 0.0
        daily["case_holder_fte"][day] = holder_fte
        daily["cases_held"][day] = cases_held
        daily["stress_mean"][day] = stress / len(in_post) if in_post else 0.0
        self._coping(day, in_post)

    def _coping(self, day: int, in_post) -> None:
        """Managers, team caseloads and the coping responses as they stand this morning."""
        service, daily = self.service, self.daily
        pathway, in_state = service.pathway, service.pathway.in_state
        daily["awaiting_sign_off"][day] = in_state[AWAITING_SIGN_OFF]
        daily["awaiting_assessment"][day] = in_state[UNALLOCATED] + in_state[ALLOCATED] + in_state[AWAITING_SIGN_OFF]
        team_max = 0.0
        for team in pathway.open_teams:
            at_work = [len(w.caseload) + len(w.held) for w in team.workers if not w.absent]
            if at_work:
                mean = sum(at_work) / len(at_work)
                team_max = max(team_max, mean)
                record = self.team_days.setdefault(team.id, [0, 0.0])
                record[0] += 1
                record[1] += mean
        daily["caseload_team_max"][day] = team_max
        holders = service.managers.holders()
        daily["managers_in_post"][day] = holders[MANAGER]
        daily["managers_interim"][day] = holders[INTERIM]
        daily["managers_vacant"][day] = holders[VACANT]
        coping = service.coping
        daily["pressure"][day] = coping.pressure
        daily["front_door_closure_share"][day] = pathway.closure_share
        daily["override_ceiling_mean"][day] = sum(t.ceiling for t in pathway.open_teams) / len(pathway.open_teams)
        daily["surge_agency"][day] = service.workforce.surge_workers
        daily["triage_per_day"][day] = math.nan if coping.triage_per_day is None else coping.triage_per_day
        daily["unpaid_hours_per_day"][day] = sum(w.unpaid_share * w.base_hours_per_day for w in in_post)


def replication_result(service: Service) -> ReplicationResult:
    """The run's tables, once it has finished."""
    pathway = service.pathway
    return ReplicationResult(
        service.replication,
        case_table(service),
        daily_table(service),
        service.count.rows(),
        staff_table(service),
        pd.DataFrame(pathway.transfer_log, columns=["day", "case_id", "from_worker", "to_worker", "reason"]),
        reported_totals(service),
        team_table(service),
        defences_table(service),
        None if pathway.events is None else event_table(pathway.events, service.replication),
    )


def reported_totals(service: Service) -> dict[str, float]:
    """The pathway's running totals over the reported years: the integrals and counts the KPIs need.

    ``queue_days`` is the integral of the unallocated queue over time (case-days),
    ``held_days`` that of cases on workers' caseloads; ``queue_joins`` counts cases
    joining a queue (a case sent back after a transfer joins again), and
    ``queue_waits``/``queue_wait_days`` the waits that ended, however they began.
    """
    pathway, now = service.pathway, service.env.now
    start = pathway.reported_from
    planned = given = 0.0
    for day, _, plan, gave in service.managers.supervision:
        if day > start:
            planned, given = planned + plan, given + gave
    return {
        "days": now - start,
        "queue_days": pathway.queue.area_at(now) - pathway.queue_area_before,
        "held_days": pathway.held.area_at(now) - pathway.held_area_before,
        "queue_joins": pathway.queue_joins,
        "queue_waits": pathway.queue_waits_ended,
        "queue_wait_days": pathway.queue_wait_days,
        "supervision_planned_hours": planned,
        "supervision_given_hours": given,
        "unpaid_hours": sum(worker.unpaid_hours_reported() for worker in service.workforce.staff),
    }


def team_table(service: Service) -> pd.DataFrame:
    """Each team's part of the service's totals over the reported years (teams cut during the run included)."""
    pathway, now = service.pathway, service.env.now
    start, days = pathway.reported_from, service.env.now - pathway.reported_from
    completed: dict[int, int] = {}
    for case in pathway.completed:
        if case.completed >= start:
            completed[case.team] = completed.get(case.team, 0) + 1
    planned: dict[int, float] = {}
    given: dict[int, float] = {}
    for day, team, plan, gave in service.managers.supervision:
        if day > start:
            planned[team] = planned.get(team, 0.0) + plan
            given[team] = given.get(team, 0.0) + gave
    rows = []
    for team in pathway.teams:
        counted, caseloads = service.count.team_days.get(team.id, (0, 0.0))
        rows.append(
            {
                "replication": service.replication,
                "team": team.id,
                "open_at_end": team.open,
                "unallocated_mean": (team.waiting.area_at(now) - team.waiting_before) / days if days else math.nan,
                "assessments_completed": completed.get(team.id, 0) / service.config.run.years,
                "caseload_mean": caseloads / counted if counted else math.nan,
                "supervision_given_pct": 100.0 * given[team.id] / planned[team.id]
                if planned.get(team.id)
                else math.nan,
            }
        )
    return pd.DataFrame(rows)


#: The states and reasons of the event log, as categories.
_EVENT_STATES = [REFERRED, *STATES]


def event_table(events: list, replication: int) -> pd.DataFrame:
    """The event log as a table: one row per move of a case, in the order they happened."""
    days, case_ids, sources, targets, workers, reasons = zip(*events, strict=True) if events else ((),) * 6
    return pd.DataFrame(
        {
            "replication": np.full(len(days), replication, dtype=np.int64),
            "day": np.array(days, dtype=float),
            "case_id": np.array(case_ids, dtype=np.int64),
            "from_state": pd.Categorical(sources, categories=_EVENT_STATES),
            "to_state": pd.Categorical(targets, categories=_EVENT_STATES),
            "worker": np.array(workers, dtype=np.int64),
            "reason": pd.Categorical(reasons),
        }
    )


def defences_table(service: Service) -> pd.DataFrame:
    """Every layer a risky child met: the day, its draw, the hole, whether it got through, and the conditions met."""
    passages = service.pathway.defences.passages
    columns = list(zip(*passages, strict=True)) if passages else [()] * 8
    cases, layers, days, draws, bases, holes, through, met = columns
    cases_by_id = service.cases
    table = pd.DataFrame(
        {
            "replication": np.full(len(cases), service.replication, dtype=np.int64),
            "case_id": np.array(cases, dtype=np.int64),
            "referral_key": np.array([cases_by_id[c].key for c in cases], dtype=np.uint64),
            "layer": pd.Categorical(layers, categories=list(LAYERS)),
            "day": np.array(days, dtype=float),
            "draw": np.array(draws, dtype=float),
            "base_hole": np.array(bases, dtype=float),
            "hole": np.array(holes, dtype=float),
            "through": np.array(through, dtype=bool),
        }
    )
    values = np.array(met, dtype=float).reshape(len(cases), len(CONDITIONS))
    for i, condition in enumerate(CONDITIONS):
        table[condition] = values[:, i]
    return table


def percentile_sorted(values: list[int], q: float) -> float:
    """numpy's default (linear) percentile of a sorted list, without numpy's per-call overhead."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (position - low) * (values[high] - values[low])


def case_table(service: Service) -> pd.DataFrame:
    cases = service.cases
    referred = np.array([c.referred for c in cases])
    allocated = np.array([c.allocated for c in cases])
    completed = np.array([c.completed for c in cases])
    previous = np.array([c.previous_referral for c in cases])
    days_to_assessment = completed - referred
    return pd.DataFrame(
        {
            "replication": service.replication,
            "case_id": np.array([c.id for c in cases], dtype=np.int64),
            # The same child's referral has the same key in every scenario (common random numbers).
            "referral_key": np.array([c.key for c in cases], dtype=np.uint64),
            "starting_state": np.array([c.initial for c in cases], dtype=bool),
            "referral_number": np.array([c.referral_number for c in cases], dtype=np.int64),
            "previous_referral_day": previous,
            "rereferral_within_12_months": (referred - previous) <= service.config.run.days_per_year,
            "priority": pd.Categorical(
                ["urgent" if c.priority == URGENT else "standard" for c in cases], categories=["urgent", "standard"]
            ),
            "team": pd.array([c.team for c in cases], dtype="Int64"),
            "worker": pd.array([c.worker for c in cases], dtype="Int64"),
            "workload_hours": np.array([c.hours for c in cases]),
            "referred_day": referred,
            "decided_day": np.array([c.decided for c in cases]),
            "allocated_day": allocated,
            "completed_day": completed,
            "moved_on_day": np.array([c.moved_on for c in cases]),
            # Referral to first allocation, plus every later wait back in the queue (after a transfer).
            "days_to_allocation": allocated - referred + np.array([c.waited_again for c in cases]),
            "days_to_assessment": days_to_assessment,
            "within_45_days": np.where(np.isnan(completed), np.nan, days_to_assessment <= ASSESSMENT_LIMIT_DAYS),
            "allocated_over_cap": np.array([c.over_cap for c in cases], dtype=bool),
            "assessed_day": np.array([c.assessed for c in cases]),
            "sign_off_wait": completed - np.array([c.assessed for c in cases]),
            "closed_under_raised_threshold": np.array([c.raised_threshold for c in cases], dtype=bool),
            "rushed_hours": np.array([c.rushed_hours for c in cases]),
            "transfers": np.array([c.transfers for c in cases], dtype=np.int64),
            "social_workers": np.array([c.workers for c in cases], dtype=np.int64),
            "state": pd.Categorical([c.state for c in cases]),
            "outcome": [c.outcome for c in cases],
            # Hidden risk and the layers of defence (model/defences.py).
            "risky": np.array([c.risky for c in cases], dtype=bool),
            "caught_at": pd.Categorical([c.caught_at for c in cases], categories=list(LAYERS)),
            "missed_risk": np.array([c.missed for c in cases], dtype=bool),
            "missed_day": np.array([c.missed_day for c in cases]),
            "serious_incident": np.array([c.serious_incident for c in cases], dtype=bool),
            "after_missed_risk": np.array([c.after_missed_risk for c in cases], dtype=bool),
        }
    )


def _days_at_work(service: Service) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each worker's reported working days at work, and their mean caseload and stress over them (NaN: none)."""
    rows = service.count.rows()
    rows = rows[rows[:, 0] >= service.config.run.warmup_days]
    who, n = rows[:, 3].astype(np.int64), len(service.workforce.staff)
    days = np.bincount(who, minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return days, np.bincount(who, rows[:, 1], n) / days, np.bincount(who, rows[:, 2], n) / days


def staff_table(service: Service) -> pd.DataFrame:
    days, caseloads, stress = _days_at_work(service)
    left = {worker_id: (day, reason) for day, worker_id, _, _, reason in service.workforce.leavers}
    staff = service.workforce.staff
    return pd.DataFrame(
        {
            "replication": service.replication,
            "worker": [w.id for w in staff],
            "team": [w.team for w in staff],
            "post": [w.post for w in staff],
            "contract": [w.contract for w in staff],
            "fte": [w.fte for w in staff],
            "started_day": [w.started for w in staff],
            "left_day": [left.get(w.id, (math.nan, None))[0] for w in staff],
            "left_because": [left.get(w.id, (math.nan, None))[1] for w in staff],
            "sick_days_reported": [service.workforce.sick_days(w) for w in staff],
            # An employee who joined during the run (not one of the starting staff): a hire, paid for once.
            "hired": [w.id >= service.workforce.starting_staff and w.contract != AGENCY for w in staff],
            "surge": [w.surge for w in staff],
            # Over the reported working days at work: how many, and the mean caseload and stress (the loop's links).
            "days_counted": days.astype(np.int64),
            "caseload_mean": caseloads,
            "stress_mean": stress,
        }
    )


def daily_table(service: Service) -> pd.DataFrame:
    run = service.config.run
    day = np.arange(service.days)
    edges = np.arange(service.days + 1)
    referred = [c.referred for c in service.cases if not c.initial]
    completed = [c.completed for c in service.pathway.completed]
    table = pd.DataFrame({"replication": service.replication, "day": day})
    table["year"] = (day - run.warmup_days) / run.days_per_year
    table["warmup"] = day < run.warmup_days
    table["referrals"] = np.histogram(referred, edges)[0]
    table["completed"] = np.histogram(completed, edges)[0]
    table["leavers"] = np.histogram([leaver[0] for leaver in service.workforce.leavers], edges)[0]
    table["burnout_episodes"] = np.histogram([b[0] for b in service.workforce.burnouts], edges)[0]
    table["rushed_assessments"] = np.histogram(service.pathway.rushed_days, edges)[0]
    given = np.full(service.days, np.nan)
    planned = np.zeros(service.days)
    gave = np.zeros(service.days)
    for day, _, plan, g in service.managers.supervision:
        index = min(service.days - 1, int(math.ceil(day - 1e-9)) - 1)
        planned[index] += plan
        gave[index] += g
    months = planned > 0
    given[months] = 100.0 * gave[months] / planned[months]
    # Supervision given in the month that ended on the day (the last month's share, carried forward).
    table["supervision_given_pct"] = pd.Series(given).ffill().to_numpy()
    for name in DAILY_COLUMNS:
        table[name] = np.array(service.count.daily[name], dtype=float)
    counts = [
        "awaiting_triage",
        "unallocated",
        "allocated",
        "awaiting_long_term_team",
        "long_term_children",
        "permanent",
        "newly_qualified",
        "agency",
        "vacant_posts",
        "off_sick",
        "awaiting_sign_off",
        "awaiting_assessment",
        "managers_in_post",
        "managers_interim",
        "managers_vacant",
        "surge_agency",
    ]
    return table.astype({name: "int64" for name in counts})
