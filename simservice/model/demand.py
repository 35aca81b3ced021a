"""Demand: when referrals arrive and how much work each one brings.

Arrivals are a non-homogeneous Poisson process whose rate is constant within a
month: a base volume shaped by a seasonal profile, a trend and front-door
shocks, or a user's own monthly counts. Within a month, a Poisson count of
referrals falls uniformly at random, which is exactly such a process.
"""

from __future__ import annotations

import functools
import math
import os
import re
import statistics

import numpy as np
import pandas as pd

from simservice.config import Config, ConfigError, DemandConfig, RunConfig

#: The most referrals a month a file may give: three times a month of the largest ``referrals_per_year``.
MAX_PER_MONTH = 500_000


def _counts_from_csv(path: str, run: RunConfig) -> np.ndarray:
    """Referrals a month from the user's CSV, read once while the file is unchanged (a run asks several times)."""
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    return _read_counts(path, stamp, run.start_month, run.years)


@functools.lru_cache(maxsize=16)
def _read_counts(path: str, stamp: tuple[int, int] | None, start_month: int, years: float) -> np.ndarray:
    """Referrals a month from the user's CSV: a row per month (``YYYY-MM``), complete, in order, from the run's start.

    Any fault names the file, the row (as a spreadsheet numbers it, the header being row 1) and what is wrong.
    """

    def fault(problem: str) -> ConfigError:
        return ConfigError("demand.monthly_counts_csv", path, problem)

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as error:
        raise fault("is empty: it needs a header row month,referrals and a row per month") from error
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise fault(f"cannot be read as a CSV ({str(error).splitlines()[0]})") from error
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("month", "referrals") if c not in table.columns]
    if missing:
        raise fault(f"has no {' or '.join(missing)} column: the header must be month,referrals")
    if table.empty:
        raise fault("has a header but no months")
    counts, months = np.empty(len(table)), []
    for i, (month, referrals) in enumerate(zip(table["month"], table["referrals"], strict=True)):
        row = f"row {i + 2}"
        found = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", month)
        if found is None or not 1 <= int(found[2]) <= 12:
            raise fault(f"{row} has month={month!r}: a month is written YYYY-MM, e.g. 2024-04")
        months.append(int(found[1]) * 12 + int(found[2]) - 1)
        try:
            count = float(referrals)
        except ValueError:
            count = math.nan
        if not (math.isfinite(count) and count == round(count) and 0 <= count <= MAX_PER_MONTH):
            raise fault(f"{row} has referrals={referrals!r}: a count is a whole number from 0 to {MAX_PER_MONTH:,}")
        counts[i] = count
        if i and months[i] != months[i - 1] + 1:
            previous = table["month"].iloc[i - 1].strip()
            problem = "repeats" if months[i] == months[i - 1] else "does not follow"
            raise fault(f"{row} has month={month.strip()!r}, which {problem} {previous!r}: one row a month, in order")
    first = months[0] % 12 + 1
    if first != start_month:
        raise fault(
            f"starts in {table['month'].iloc[0].strip()} but the reported period starts in month {start_month}"
            f" (run.start_month): start the file in that month or set run.start_month={first}"
        )
    needed = round(years * 12)
    if len(counts) < needed:
        raise fault(f"has {len(counts)} months but run.years={years:g} needs {needed}")
    counts.setflags(write=False)  # shared by every caller while cached
    return counts


def outside_share(demand: DemandConfig, counted: np.ndarray | float) -> np.ndarray | float:
    """Referrals from outside within a count: all of it (``counts_are=new``) or the count less its re-referrals.

    In a steady state every referral closes once and a share ``rereferral_probability``
    of closures come back, so re-referrals are that share of all referrals.
    """
    if demand.counts_are == "new":
        return counted
    return counted - counted * demand.rereferral_probability


def monthly_rates(demand: DemandConfig, run: RunConfig) -> np.ndarray:
    """Referrals from outside a working day in each simulated month, the warm-up months first."""
    reported = np.arange(run.months) - run.warmup_months  # 0 is the first reported month
    if demand.monthly_counts_csv is not None:
        counts = _counts_from_csv(demand.monthly_counts_csv, run)
        # A warm-up month takes the count of the same calendar month in the file's first year.
        rows = np.where(reported >= 0, reported, reported % min(12, len(counts)))
        rates = outside_share(demand, counts[rows]) / run.days_per_month
    else:
        season = np.asarray(demand.seasonality, dtype=float)
        season = season / season.mean()
        calendar = (run.start_month - 1 + reported) % 12
        years_in = (reported + 0.5) / 12
        growth = (1.0 + demand.trend_per_year) ** years_in
        rates = outside_share(demand, demand.referrals_per_year) / run.days_per_year * season[calendar] * growth
    for shock in demand.shocks:
        window = (reported >= shock.start_month) & (reported < shock.start_month + shock.months)
        rates = rates + np.where(window, shock.extra_per_day, 0.0)
    return rates


def scenario_rates(config: Config) -> np.ndarray:
    """Referrals from outside a working day in each month, with the dated changes to demand from their month on."""
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
