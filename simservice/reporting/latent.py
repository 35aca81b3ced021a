"""Missed risks and the latent conditions behind them: the KPIs, and attribution by counterfactual.

**Attribution.** Every layer a risky child met is kept with the conditions as the child
met them and the child's own draw (``defences.parquet``). To ask what a latent condition
let through, the same children pass the same layers again, with the same draws (common
random numbers at the level of the child), with that one condition at its good level:
a child missed in the run but caught in the counterfactual is a missed risk that would
not have happened without the condition. The share is worked out in each replication
and given with a 95 % interval across replications. It counts the direct effect at the
layers only: the knock-on effects (a child caught does not come back, so caseloads are a
little lower) are not in it; the trainer's demonstration, which re-runs whole services,
shows those.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from simservice.config import CONDITIONS, CONDITIONS_BY_LAYER, RiskConfig
from simservice.model.defences import LAYERS, hole
from simservice.reporting.kpis import mean_ci, reported_missed


def still_missed(defences: pd.DataFrame, risk: RiskConfig, good: Collection[str]) -> pd.Series:
    """For each risky child (replication, case_id): would every layer it met still have let it through,
    with the conditions ``good`` at their good level? The same draws, the same conditions otherwise."""
    if defences.empty:
        return pd.Series(dtype=bool)
    held_good = set(risk.good) | set(good)
    holes = np.zeros(len(defences))
    layers = defences["layer"].to_numpy()
    for layer in LAYERS:
        rows = layers == layer
        if rows.any():
            met = {c: defences[c].to_numpy()[rows] for c in CONDITIONS}
            holes[rows] = hole(risk, layer, met, held_good)
    through = pd.Series(defences["draw"].to_numpy() < holes, index=defences.index)
    return through.groupby([defences["replication"], defences["case_id"]]).all()


#: What the attribution asks of each condition, and of them all at once.
EVERY_CONDITION = "every_condition"


def attribution(defences: pd.DataFrame, cases: pd.DataFrame, risk: RiskConfig, start: float) -> pd.DataFrame:
    """Per replication and latent condition: the share of the missed risks that would not have happened had the
    condition been good (and of every condition at once)."""
    missed = reported_missed(cases, start).set_index(["replication", "case_id"]).index
    rows = []
    for condition in (*CONDITIONS, EVERY_CONDITION):
        good = CONDITIONS if condition == EVERY_CONDITION else (condition,)
        kept = still_missed(defences, risk, good)
        kept = kept.reindex(missed, fill_value=True)
        for replication, flags in kept.groupby(level=0):
            rows.append(
                {
                    "replication": replication,
                    "condition": condition,
                    "missed": len(flags),
                    "prevented": int((~flags).sum()),
                    "prevented_pct": 100.0 * (~flags).mean() if len(flags) else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=["replication", "condition", "missed", "prevented", "prevented_pct"])


def attribution_summary(by_replication: pd.DataFrame) -> pd.DataFrame:
    """Each condition's share of missed risks prevented had it been good: mean and 95 % interval across replications."""
    rows = []
    layer_of = {c: layer for layer, conditions in CONDITIONS_BY_LAYER.items() for c in conditions}
    for condition, group in by_replication.groupby("condition", sort=False):
        mean, low, high = mean_ci(group["prevented_pct"])
        rows.append(
            {
                "condition": condition,
                "layer": layer_of.get(condition, "all"),
                "prevented_pct": mean,
                "ci_low": max(low, 0.0),
                "ci_high": min(high, 100.0),
                "missed_risks": int(group["missed"].sum()),
                "replications": len(group),
            }
        )
    return pd.DataFrame(rows)
