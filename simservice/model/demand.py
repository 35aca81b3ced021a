"""Demand: when referrals arrive and how much work each one brings.

Arrivals are a non-homogeneous Poisson process whose rate is constant within a
month: a base volume shaped by a seasonal profile, a trend and front-door
shocks, or a user's own monthly counts. Within a month, a Poisson count of
referrals falls uniformly at random, which is exactly such a process.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd

from simservice.config import Config, ConfigError, DemandConfig, RunConfig

#: The most referrals a month a file may give: three times a month of the largest ``referrals_per_year``.
MAX_PER_MONTH = 500_000


def _counts_from_csv(path: str, run: RunConfig) -> np.ndarray:
    """Referrals a month from the user's CSV, one row per reported month."""
    allowed = "must be a CSV with columns month,referrals and a count of 0 or more in every row"
    try:
        table = pd.read_csv(path)
        counts = pd.to_numeric(table["referrals"], errors="coerce").to_numpy(dtype=float)
    except (KeyError, ValueError, OSError, pd.errors.ParserError) as error:
        raise ConfigError("demand.monthly_counts_csv", path, allowed) from error
    if len(counts) == 0:
        raise ConfigError("demand.monthly_counts_csv", path, allowed)
    bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0) | (counts > MAX_PER_MONTH))
    if bad.size:
        row = int(bad[0])
        raise ConfigError(
            "demand.monthly_counts_csv",
            path,
            f"row {row + 1} has referrals={table['referrals'].iloc[row]!r}:"
            f" every row needs a count from 0 to {MAX_PER_MONTH:,}",
        )
    needed = round(run.years * 12)
    if len(counts) < needed:
        raise ConfigError(
            "demand.monthly_counts_csv",
            path,
            f"has {len(counts)} months but run.years={run.years} needs {needed}",
        )
    return counts


def monthly_rates(demand: DemandConfig, run: RunConfig) -> np.ndarray:
    """Referrals a working day in each simulated month, the warm-up months first."""
    reported = np.arange(run.months) - run.warmup_months  # 0 is the first reported month
    if demand.monthly_counts_csv is not None:
        counts = _counts_from_csv(demand.monthly_counts_csv, run)
        # A warm-up month takes the count of the same calendar month in the file's first year.
        rows = np.where(reported >= 0, reported, reported % min(12, len(counts)))
        rates = counts[rows] / run.days_per_month
    else:
        season = np.asarray(demand.seasonality, dtype=float)
        season = season / season.mean()
        calendar = (run.start_month - 1 + reported) % 12
        years_in = (reported + 0.5) / 12
        growth = (1.0 + demand.trend_per_year) ** years_in
        rates = demand.referrals_per_year / run.days_per_year * season[calendar] * growth
    for shock in demand.shocks:
        window = (reported >= shock.start_month) & (reported < shock.start_month + shock.months)
        rates = rates + np.where(window, shock.extra_per_day, 0.0)
    return rates


def scenario_rates(config: Config) -> np.ndarray:
    """Referrals a working day in each month, with the scenario's dated changes to demand from their month on."""
    rates = monthly_rates(config.demand, config.run)
    for moment in config.timeline():
        if moment.on_change == "new_demand":
            start = config.run.warmup_months + moment.month
            rates[start:] = monthly_rates(moment.config.demand, config.run)[start:]
    return rates


def referral_days(
    rates: np.ndarray, days_per_month: float, counts_rng: np.random.Generator, times_rng: np.random.Generator
) -> np.ndarray:
    """Arrival times (working days from the start) of every referral of the run, in order.

    Counts and times come from separate streams, so a change to demand from some month
    on leaves every arrival before that month where it was.
    """
    counts = counts_rng.poisson(rates * days_per_month)
    month = np.repeat(np.arange(len(rates)), counts)
    return np.sort((month + times_rng.random(month.size)) * days_per_month)


class Workload:
    """Casework hours an assessment needs, by priority (0 urgent, 1 standard)."""

    def __init__(self, demand: DemandConfig):
        means = (demand.hours_urgent, demand.hours_standard)
        self.exponential = demand.workload_distribution == "exponential"
        sigma2 = math.log(1.0 + demand.hours_cv**2)
        self.means = means
        self.sigma = math.sqrt(sigma2)
        self.mu = tuple(math.log(m) - sigma2 / 2 for m in means)

    def hours(self, priority: int, variate: float) -> float:
        """Hours for a case from one standard variate: exponential(1) or normal(0, 1) by distribution."""
        if self.exponential:
            return self.means[priority] * variate
        return math.exp(self.mu[priority] + self.sigma * variate)


class ElapsedTime:
    """Working days an assessment needs from allocation whatever the caseload: the visits and the partners' replies.

    The child is seen after an exponential wait (urgent: mean ``first_visit_days_urgent``);
    partner agencies' information comes after a log-normal wait (median by urgency,
    spread ``partner_information_cv``); once both are in, the analysis and write-up take
    ``write_up_days``. The assessment's minimum days (``min_days_*``) stay a floor.
    With every one of these 0 an assessment needs only its floor.
    """

    def __init__(self, demand: DemandConfig):
        self.visit = (demand.first_visit_days_urgent, demand.first_visit_days_standard)
        self.information = (demand.partner_information_days_urgent, demand.partner_information_days_standard)
        self.sigma = math.sqrt(math.log(1.0 + demand.partner_information_cv**2))
        self.write_up = demand.write_up_days
        self.on = any((*self.visit, *self.information, self.write_up))

    def days(self, priority: int, floor: float, visit_draw: float, information_draw: float) -> float:
        """The case's minimum elapsed days, from its own two uniforms."""
        if not self.on:
            return floor
        seen = -self.visit[priority] * math.log(visit_draw)
        replied = self.information[priority] * math.exp(self.sigma * _normal(information_draw))
        return max(floor, max(seen, replied) + self.write_up)


def _normal(u: float) -> float:
    """The standard normal quantile of a uniform (a log-normal wait from the referral's own uniform)."""
    return _NORMAL.inv_cdf(u)


_NORMAL = statistics.NormalDist()
