"""Children's stories: one child's journey told in plain words from a run's tables, and beside it the same child
in another run (the same referral key and replication: common random numbers make it the same child).

Every fact a story states is read from the run's files: the event log (``events.parquet``:
days, workers, transfers and their reasons), the cases (``cases.parquet``), the layers of
defence the child met (``defences.parquet``) and the staff (``staff.csv``). A worker's
caseload on a day is counted from the event log (``caseload_on``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simservice.model.pathway import ALLOCATED, AWAITING_LONG_TERM, AWAITING_SIGN_OFF
from simservice.model.streams import return_key

#: The states in which a child is on a worker's caseload.
HELD = (ALLOCATED, AWAITING_SIGN_OFF, AWAITING_LONG_TERM)

#: Why a child changed social worker, in words.
WHY_TRANSFERRED = {
    "resigned": "their social worker resigned",
    "agency_left": "their agency social worker left",
    "agency_replaced": "their agency social worker was replaced by a permanent one",
    "post_deleted": "their social worker's post was deleted",
    "sickness": "their social worker went off sick",
    "surge_ended": "the agency surge team left",
    "agency_ended": "the council ended an agency worker's engagement",
    "redeployed": "their social worker moved team",
    "team_cut": "their team was cut",
}
CONTRACTS = {"permanent": "a permanent", "newly_qualified": "a newly qualified", "agency": "an agency"}
LAYER_WORDS = {
    "front_door": "the front door",
    "waiting": "the team's check of its waiting list",
    "assessment": "the assessment",
    "oversight": "management oversight (supervision and sign-off)",
}


@dataclass(frozen=True)
class Run:
    """The tables a story is told from: one run's cases, event log, layers of defence and staff."""

    cases: pd.DataFrame
    events: pd.DataFrame
    defences: pd.DataFrame
    staff: pd.DataFrame
    days_per_week: float = 5.0


@dataclass(frozen=True)
class Story:
    """A child's journey: the facts as numbers (for checking) and the words."""

    replication: int
    case_id: int
    referral_key: int
    facts: dict
    text: str


def caseload_on(events: pd.DataFrame, worker: int, day: float) -> int:
    """Children on ``worker``'s caseload just after every move up to ``day``, counted from the event log."""
    upto = events[events["day"] <= day]
    last = upto.groupby("case_id", sort=False).tail(1)
    return int(((last["worker"] == worker) & last["to_state"].isin(HELD)).sum())


def _one(table: pd.DataFrame, replication: int, case_id: int) -> pd.DataFrame:
    return table[(table["replication"] == replication) & (table["case_id"] == case_id)]


def facts(run: Run, replication: int, case_id: int) -> dict:
    """What happened to one referral, as numbers read from the run's tables."""
    case = _one(run.cases, replication, case_id).iloc[0]
    moves = _one(run.events, replication, case_id).sort_values("day", kind="stable")
    staff = run.staff[run.staff["replication"] == replication].set_index("worker")
    passed = _one(run.defences, replication, case_id)
    workers = []
    because = ""
    for move in moves.itertuples():
        if move.reason in WHY_TRANSFERRED:
            because = move.reason  # the child may wait in the queue before the next worker
        if move.worker >= 0 and (not workers or workers[-1]["worker"] != move.worker):
            who = staff.loc[move.worker]
            workers.append(
                {
                    "worker": int(move.worker),
                    "day": float(move.day),
                    "contract": who["contract"],
                    "days_in_post": float(move.day - who["started_day"]),
                    "because": because,
                }
            )
    found = {
        "referred_day": float(case["referred_day"]),
        "urgent": case["priority"] == "urgent",
        "decided_day": float(case["decided_day"]),
        "closed_at_front_door": case["state"] == "closed_at_front_door",
        "days_to_allocation": float(case["days_to_allocation"]),
        "workers": workers,
        "assessed_day": float(case["assessed_day"]),
        "completed_day": float(case["completed_day"]),
        "rushed_hours": float(case["rushed_hours"]),
        "risky": bool(case["risky"]),
        "missed": bool(case["missed_risk"]),
        "caught_at": None if pd.isna(case["caught_at"]) else str(case["caught_at"]),
        "serious_incident": bool(case["serious_incident"]),
        "layers": {row.layer: row for row in passed.itertuples()},
    }
    if not math.isnan(found["assessed_day"]):
        held = moves[(moves["day"] <= found["assessed_day"]) & (moves["worker"] >= 0)]
        assessor = int(held["worker"].iloc[-1])  # who held the child when the assessment was done
        found["assessor"] = assessor
        found["assessor_contract"] = staff.loc[assessor, "contract"]
        found["caseload_at_assessment"] = caseload_on(
            _one_replication(run.events, replication), assessor, found["assessed_day"]
        )
    next_key = np.uint64(return_key(int(case["referral_key"])))
    again = run.cases[(run.cases["replication"] == replication) & (run.cases["referral_key"] == next_key)]
    found["came_back_day"] = float(again["referred_day"].iloc[0]) if len(again) else math.nan
    return found


def _one_replication(table: pd.DataFrame, replication: int) -> pd.DataFrame:
    return table[table["replication"] == replication]


def _day(day: float, per_week: float) -> str:
    return f"day {day:,.0f} (week {int(day // per_week) + 1})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def words(found: dict, per_week: float = 5.0) -> list[str]:
    """The facts as sentences a manager reads: when, how long, who, in what conditions, and how it ended."""
    lines = [f"Referred on {_day(found['referred_day'], per_week)}, {'urgent' if found['urgent'] else 'standard'}."]
    decision = found["decided_day"] - found["referred_day"]
    if found["closed_at_front_door"]:
        passage = found["layers"].get("front_door")
        raised = passage is not None and passage.raised_threshold > 0
        lines.append(
            f"The front door decided after {decision:.0f} working days and closed the referral"
            + (", under a threshold raised because of the backlog." if raised else ".")
        )
    else:
        if decision >= 1:
            lines.append(f"The front door took {decision:.0f} working days to decide.")
        if found["days_to_allocation"] >= 1:  # (NaN: never allocated)
            lines.append(f"Waited {_plural(round(found['days_to_allocation']), 'working day')} unallocated in all.")
    for i, worker in enumerate(found["workers"]):
        who = f"{CONTRACTS.get(worker['contract'], 'a')} social worker (#{worker['worker']})"
        weeks = worker["days_in_post"] / per_week
        tenure = (
            "in their first week in the post"
            if weeks < 1
            else f"{_plural(int(weeks), 'week')} in the post"
            if weeks < 52
            else "more than a year in the post"
        )
        if i == 0:
            lines.append(f"Allocated on {_day(worker['day'], per_week)} to {who}, {tenure}.")
        else:
            why = WHY_TRANSFERRED.get(worker["because"], worker["because"].replace("_", " "))
            lines.append(f"On {_day(worker['day'], per_week)} {why}: the child's next was {who}, {tenure}.")
    if len(found["workers"]) > 1:
        lines.append(f"In all, {_plural(len(found['workers']), 'social worker')} before the assessment was done.")
    if "assessor" in found:
        assessment = found["layers"].get("assessment")
        stress = "" if assessment is None else f", stress {assessment.stress:.2f} on a scale of 0 to 1"
        held = found["caseload_at_assessment"]
        lines.append(
            f"Assessed on {_day(found['assessed_day'], per_week)} by social worker #{found['assessor']}, who held "
            f"{held} {'child' if held == 1 else 'children'}{stress}."
        )
        if found["rushed_hours"] > 0:
            lines.append(f"The assessment was rushed near its deadline: {found['rushed_hours']:.1f} hours cut.")
        oversight = found["layers"].get("oversight")
        if oversight is not None:
            missed = oversight.supervision_missed
            supervision = "no supervision" if missed >= 0.99 else f"{100 * missed:.0f} % of supervision missed"
            given = supervision if missed > 0 else "supervision given"
            lines.append(
                f"Signed off on {_day(found['completed_day'], per_week)} with {oversight.sign_off_pressure:.0f} other "
                f"assessments waiting for the manager; {given} the month before."
            )
    if found["missed"]:
        lines.append("**The risk was missed**: every layer the child met let it through, and the case was closed.")
        if not math.isnan(found["came_back_day"]):
            gap = found["came_back_day"] - (
                found["completed_day"] if not found["closed_at_front_door"] else found["decided_day"]
            )
            lines.append(f"The child was referred again {gap:.0f} working days later, as urgent.")
        if found["serious_incident"]:
            lines.append("A serious incident followed (illustrative).")
    elif found["caught_at"]:
        lines.append(f"**The risk was caught** by {LAYER_WORDS[found['caught_at']]}.")
    return lines


def tell(run: Run, replication: int, case_id: int) -> Story:
    """One child's story from a run's tables."""
    found = facts(run, replication, case_id)
    key = int(_one(run.cases, replication, case_id)["referral_key"].iloc[0])
    return Story(replication, case_id, key, found, " ".join(words(found, run.days_per_week)))


def same_child(run: Run, story: Story) -> int | None:
    """The case in ``run`` that is the same referral of the same child (same key, same replication), if there is one."""
    match = run.cases[
        (run.cases["replication"] == story.replication) & (run.cases["referral_key"] == np.uint64(story.referral_key))
    ]
    return None if match.empty else int(match["case_id"].iloc[0])


def pick(bad: Run, good: Run, count: int = 2, start: float = 0.0) -> list[tuple[Story, Story]]:
    """Children whose risk was missed in ``bad`` and caught in ``good``: assessed ones, most social workers first."""
    cases = bad.cases
    first = cases["referral_number"] == 1  # a first referral: the same child on the same day in both runs
    missed = cases[first & cases["missed_risk"] & (cases["referred_day"] >= start) & cases["assessed_day"].notna()]
    missed = missed.sort_values(["social_workers", "rushed_hours", "referral_key"], ascending=[False, False, True])
    caught = good.cases[good.cases["risky"] & ~good.cases["missed_risk"]]
    caught_keys = set(zip(caught["replication"], caught["referral_key"].astype(np.uint64), strict=True))
    pairs = []
    for row in missed.itertuples():
        if (row.replication, np.uint64(row.referral_key)) not in caught_keys:
            continue
        story = tell(bad, row.replication, row.case_id)
        twin = same_child(good, story)
        if twin is not None:
            pairs.append((story, tell(good, row.replication, twin)))
        if len(pairs) == count:
            break
    return pairs


def markdown(pairs: list[tuple[Story, Story]], bad_name: str, good_name: str) -> str:
    """The stories as Markdown: each child in the bad conditions, then the same child in the good ones."""
    parts = []
    for i, (bad, good) in enumerate(pairs, start=1):
        parts.append(
            f"### Child {i}\n\n**In {bad_name}:** {bad.text}\n\n**The same child in {good_name}:** {good.text}\n"
        )
    return "\n".join(parts)
