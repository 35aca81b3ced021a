"""The warm-up a scenario needs, chosen by MSER-5 on its daily series rather than guessed.

MSER (the marginal standard error rule) truncates a series where what is left has the
smallest standard error of its mean: cutting more throws data away, cutting less keeps the
start-up transient. MSER-5 applies the rule to the means of batches of 5 observations
(White 1997; White, Cobb & Spratt 2000; Hoad, Robinson & Davies 2008 found it the most
reliable automatic method of the many they compared).

>>> import numpy as np
>>> mser5(np.r_[np.linspace(10.0, 0.0, 50), np.zeros(450)] + np.tile([0.1, -0.1], 250))
50
>>> mser5(np.tile([1.0, -1.0, 0.5, -0.5], 100))
0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simservice.config import RunConfig

#: Observations in a batch: MSER-5.
BATCH = 5
#: The daily series whose settling the warm-up must cover, with their units.
WARMUP_SERIES = {
    "unallocated": "cases waiting unallocated",
    "caseload_mean": "cases per worker at work",
    "stress_mean": "stress, 0 (none) to 1 (full)",
}


def mser5(series) -> int:
    """MSER-5's truncation point, in observations (White 1997; White, Cobb & Spratt 2000)."""
    x = np.asarray(series, dtype=float)
    batches = x.size // BATCH
    if batches < 2:
        return 0
    means = x[: batches * BATCH].reshape(batches, BATCH).mean(axis=1)
    # MSER(d) = sum over the batches kept of (mean - their mean)^2 / (batches kept)^2, for d < half the batches.
    kept = np.arange(batches, 0, -1, dtype=float)  # batches kept after truncating d = 0, 1, ...
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_squares = np.cumsum((means**2)[::-1])[::-1]
    squares = tail_squares - tail_sum**2 / kept  # sum of squared deviations of the batches kept
    candidates = max(1, batches // 2)
    statistic = squares[:candidates] / kept[:candidates] ** 2
    return int(np.argmin(statistic)) * BATCH


@dataclass(frozen=True)
class Truncation:
    """Where one series settles: MSER-5's truncation point and the warm-up it asks for."""

    series: str
    days: int  # working days to discard
    searched_days: int  # MSER-5 looked no further than this (half the series)

    def months(self, run: RunConfig) -> float:
        return self.days / run.days_per_month

    def warmup_years(self, run: RunConfig) -> float:
        """The truncation as ``run.warmup_years``, rounded up to whole months."""
        return math.ceil(self.days / run.days_per_month - 1e-9) / 12

    @property
    def at_the_edge(self) -> bool:
        """True when the truncation is near the end of the half searched: the series may not have settled."""
        return self.days >= 0.9 * self.searched_days


def truncations(daily: pd.DataFrame, columns=tuple(WARMUP_SERIES)) -> list[Truncation]:
    """MSER-5 on each series, averaged across replications day by day."""
    means = daily.groupby("day")[list(columns)].mean()
    searched = (len(means) // BATCH // 2) * BATCH
    return [Truncation(column, mser5(means[column].to_numpy()), searched) for column in columns]


def recommended_warmup(found: list[Truncation], run: RunConfig) -> float:
    """The warm-up that covers every series: the longest truncation, in whole months."""
    return max((t.warmup_years(run) for t in found), default=0.0)


def format_truncations(found: list[Truncation], run: RunConfig) -> str:
    """The table the warm-up command prints."""
    width = max(len("series"), *(len(t.series) for t in found))
    lines = [f"{'series':<{width}}  {'truncation (working days)':>25}  {'months':>6}  run.warmup_years"]
    for t in found:
        years = t.warmup_years(run)
        edge = "  (at the edge of the search: run longer)" if t.at_the_edge else ""
        lines.append(
            f"{t.series:<{width}}  {t.days:>25}  {t.months(run):>6.1f}  {years:.4g} ({round(years * 12)} months){edge}"
        )
    return "\n".join(lines)
