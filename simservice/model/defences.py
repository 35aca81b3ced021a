"""Hidden risk and the layers of defence: how wide each layer's hole is, given the latent conditions a child meets.

James Reason's model of organisational accidents: harm gets through when the holes
in several layers of defence line up, and the holes are widened by latent conditions
long before anyone makes the "error" an inquiry later names. Some children carry a
hidden risk of significant harm. Such a child meets, in turn,

- the **front door**, which must recognise the risk in a referral it would close;
- **waiting** unallocated, where the team's look at its waiting list may catch it;
- the **assessment**, by the worker who holds the child when it is done;
- management **oversight**: supervision and sign-off.

At each layer the child is caught unless its draw falls in the layer's hole, whose
size is ``base x (1 + sum of effect x condition)``, at most 1. A **missed risk** is a
risky child who passes every layer they meet through a hole. A condition named in
``risk.good`` adds nothing, so with every condition good each layer keeps its base hole.

Every passage is kept (``Passage``) with the conditions as the child met them, so the
same children can be passed through the same layers again with one condition made
good (``reporting/latent.py``): the holes here are the one place their size is worked out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

import numpy as np

from simservice.config import CONDITIONS, CONDITIONS_BY_LAYER, RiskConfig

LAYERS = tuple(CONDITIONS_BY_LAYER)
FRONT_DOOR, WAITING, ASSESSMENT, OVERSIGHT = LAYERS
RAISED_THRESHOLD = "raised_threshold"


def base_hole(risk: RiskConfig, layer: str) -> float:
    """A layer's hole with every condition good."""
    return getattr(risk, f"{layer}_hole")


def effects(risk: RiskConfig) -> dict[str, float]:
    """How much one unit of each condition widens its layer's hole (a share of the base hole)."""
    return {
        "triage_backlog": risk.per_triage_backlog_day,
        RAISED_THRESHOLD: 0.0,  # acts on whether the front door closes the child at all (``hole``)
        "days_unallocated": risk.per_day_unallocated,
        "caseload": risk.per_case_over_manageable,
        "stress": risk.per_stress,
        "new_worker": risk.new_worker,
        "worker_changes": risk.per_worker_change,
        "rushed": risk.per_rushed_share,
        "supervision_missed": risk.per_supervision_missed,
        "sign_off_pressure": risk.per_sign_off_waiting,
    }


def hole(risk: RiskConfig, layer: str, met: Mapping, good: Collection[str], widening: Mapping | None = None):
    """The hole a child met at ``layer`` given the conditions ``met`` (numbers, or arrays for many children).

    A risky child the front door closed only because thresholds had risen would have gone on with the
    condition ``raised_threshold`` good: at the front door that child meets no hole. (``widening``:
    ``effects(risk)``, worked out once by a caller that asks often.)
    """
    widening = effects(risk) if widening is None else widening
    extra = sum(widening[c] * met[c] for c in CONDITIONS_BY_LAYER[layer] if c not in good)
    size = base_hole(risk, layer) * (1.0 + extra)
    if not isinstance(met[CONDITIONS_BY_LAYER[layer][0]], np.ndarray):  # one child, as the model asks: plain numbers
        return 0.0 if layer == FRONT_DOOR and RAISED_THRESHOLD in good and met[RAISED_THRESHOLD] > 0 else min(1.0, size)
    size = np.minimum(1.0, size) * np.ones(len(met[CONDITIONS_BY_LAYER[layer][0]]))  # (every condition good: a number)
    if layer == FRONT_DOOR and RAISED_THRESHOLD in good:
        size = np.where(np.asarray(met[RAISED_THRESHOLD]) > 0, 0.0, size)
    return size


class Passage(NamedTuple):
    """A risky child at one layer: the day, the draw, the hole it met, whether it got through, and the conditions."""

    case: int
    layer: str
    day: float
    draw: float
    base: float  # the layer's hole with every condition good
    hole: float
    through: bool
    conditions: tuple[float, ...]  # in the order of config.CONDITIONS; 0 where the layer does not read one


class Defences:
    """The layers of defence of one replication: the holes each risky child meets, and every passage kept."""

    def __init__(self, risk: RiskConfig):
        self.risk = risk  # (a dated change replaces it)
        self.passages: list[Passage] = []
        self._effects, self._risk_of_effects = effects(risk), risk

    def risky_share(self, urgent: bool) -> float:
        return self.risk.risky_share_urgent if urgent else self.risk.risky_share_standard

    def through(self, case: int, layer: str, day: float, draw: float, met: dict[str, float]) -> bool:
        """The child meets the layer: True if it gets through unnoticed (its draw falls in the hole)."""
        risk = self.risk
        if risk is not self._risk_of_effects:
            self._effects, self._risk_of_effects = effects(risk), risk
        size = hole(risk, layer, met, risk.good, self._effects)
        through = draw < size
        conditions = tuple(float(met.get(c, 0.0)) for c in CONDITIONS)
        self.passages.append(Passage(case, layer, day, draw, base_hole(self.risk, layer), size, through, conditions))
        return through
