"""How a service under pressure copes: the responses that shrink the visible backlog and hide its cost.

Each morning, before the managers look at their queues, the service reads its
pressure -- unallocated children per post of the establishment (filled or not,
surge posts apart) above ``coping.pressure_from_per_post`` -- and responds as
``coping`` allows:

- **thresholds rise**: the front door closes a larger share of referrals;
- **caseload creep**: each team's manager allocates over the cap sooner, and further, as its pressure grows;
- **agency surge**: a team under sustained pressure gets agency workers above its establishment;
- **triage surge**: the front door decides more a day while its backlog is long.

Two responses act where the work is done, not here: **unpaid hours** (a worker
above a manageable caseload works longer, ``Worker.feel``) and **rushed
assessments** (hours cut short near the deadline, ``Pathway.near_deadlines``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simservice.config import Config, CopingConfig
from simservice.model.pathway import UNALLOCATED

if TYPE_CHECKING:
    from simservice.model.service import Service


class Coping:
    """The service's daily responses to pressure, and what they stand at today."""

    def __init__(self, service: Service, config: Config):
        self.service = service
        self.triage_per_day = config.service.triage_per_day  # the front door's pace today
        self.update(config)
        self.pressure = 0.0  # the service's, this morning
        self._pressed_since: dict[int, float] = {}  # team -> first day of its current run of surge pressure

    def update(self, config: Config) -> None:
        """New settings from a dated change."""
        self.config: CopingConfig = config.coping
        self.base_closure = config.policy.front_door_closure_share
        self.base_triage = config.service.triage_per_day
        if self.triage_per_day != self.base_triage:
            self.service.pathway.front_door.set_capacity(self.base_triage)  # a triage surge ends with the change
        self.triage_per_day = self.base_triage
        if not self.config.thresholds_rise:
            self.service.pathway.closure_share = self.base_closure

    def morning(self) -> None:
        """Read the pressure and respond, before the managers' review."""
        c = self.config
        service = self.service
        pathway, workforce = service.pathway, service.workforce
        posts: dict[int, int] = {}
        for post in workforce.active_posts:
            posts[post.team] = posts.get(post.team, 0) + 1
        total = sum(posts.values())
        self.pressure = max(0.0, pathway.in_state[UNALLOCATED] / total - c.pressure_from_per_post) if total else 0.0
        if not (c.thresholds_rise or c.caseload_creep or c.agency_surge or c.triage_surge):
            return  # (the pressure is still read: timeseries.csv shows it with coping off)
        if c.thresholds_rise:
            extra = min(c.threshold_max_extra, c.threshold_rise_per_pressure * self.pressure)
            pathway.closure_share = min(1.0, self.base_closure + extra)
        now = service.env.now
        for team in pathway.open_teams:
            mine = posts.get(team.id, 0)  # a team with no posts is pressed by every child it has waiting
            pressure = max(0.0, len(team.queue) / max(mine, 1) - c.pressure_from_per_post)
            if c.caseload_creep:
                ceiling = min(c.creep_max_caseload, team.base_ceiling + c.creep_cases_per_pressure * pressure)
                team.ceiling = max(team.base_ceiling, ceiling)
                if team.base_override_after is not None:
                    team.override_after = team.base_override_after / (1.0 + c.creep_sooner_per_pressure * pressure)
            if c.agency_surge:
                self._surge(team.id, pressure, now)
        if c.triage_surge and self.base_triage is not None:
            waiting = len(pathway.front_door.queue)
            pressed = waiting > c.triage_surge_trigger_days * self.base_triage
            wanted = self.base_triage * (1.0 + c.triage_surge_share) if pressed else self.base_triage
            if wanted != self.triage_per_day:
                self.triage_per_day = wanted
                pathway.front_door.set_capacity(wanted)

    def _surge(self, team: int, pressure: float, now: float) -> None:
        """A team pressed for long enough, with no surge on, gets agency workers above its establishment."""
        c, workforce = self.config, self.service.workforce
        if pressure < c.surge_trigger_pressure:
            self._pressed_since.pop(team, None)
            return
        since = self._pressed_since.setdefault(team, now)
        if now - since >= c.surge_after_days and not workforce.surge_posts(team):
            for _ in range(c.surge_workers_per_team):
                workforce.add_surge(team, c.surge_days)
            self._pressed_since.pop(team, None)
