"""A scenario's results as tidy tables: what the files, the figures and the API hand on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from simservice.config import Config


@dataclass(frozen=True)
class AutoReplications:
    """How ``run.replications=auto`` ended: the number it chose, and any headline KPI still wider than its target."""

    replications: int
    share: float  # the target: each headline KPI's 95 % half-width within this share of its mean
    at_most: int  # run.auto_max_replications
    wider: dict[str, float] = field(default_factory=dict)  # KPI (scenario: KPI) -> its half-width, % of its mean

    def line(self) -> str:
        """One line for the printed summary: never silent about a KPI that is still too wide."""
        target = f"±{100 * self.share:g} % of its mean"
        if not self.wider:
            return f"auto: {self.replications} replications, every headline KPI within {target}"
        wider = ", ".join(f"{kpi} (±{pct:.1f} %)" for kpi, pct in self.wider.items())
        return (
            f"auto: {self.replications} replications, the most run.auto_max_replications allows;"
            f" still wider than {target}: {wider}"
        )


@dataclass(frozen=True)
class Results:
    """A scenario's results: the summary table, KPIs by replication, the daily series, every case and every worker."""

    config: Config
    summary: pd.DataFrame
    kpis: pd.DataFrame
    daily: pd.DataFrame
    cases: pd.DataFrame
    staff: pd.DataFrame
    transfers: pd.DataFrame
    teams: pd.DataFrame
    defences: pd.DataFrame  # every layer of defence a risky child met
    events: pd.DataFrame | None = None  # the event log, with run.event_log=true
    auto: AutoReplications | None = None  # how run.replications=auto chose the number (config.run has it)
