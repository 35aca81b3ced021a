"""A scenario's results as tidy tables: what the files, the figures and the API hand on."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from simservice.config import Config


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
    events: pd.DataFrame | None = None  # the event log, with run.event_log=true
