"""Team managers: a post per team, whose finite week goes on allocation, sign-off, supervision and the rest.

A manager signs off completed assessments in the order they arrive (an assessment
counts as completed when signed off), decides allocations, and owes each worker
supervision every month. Time for these is the week less other duties; when it
runs short, what ``managers.first_to_slip`` names gives way: supervision (sign-off
runs at full pace and supervision gets what is left of the month), or sign-off
(supervision is booked first and sign-off runs on what is left). A worker who
misses supervision carries more stress. The post itself can fall vacant: an
interim covers it after a while, and a team with nobody gets a share of a
manager's time from elsewhere.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import simpy

from simservice.config import Config, ManagersConfig
from simservice.model.clock import Alarm, call_in
from simservice.model.streams import Streams

if TYPE_CHECKING:
    from simservice.model.pathway import Case, Pathway
    from simservice.model.workforce import Worker

#: Who holds a manager post.
MANAGER, INTERIM, VACANT = "manager", "interim", "vacant"
#: Working days in a week.
WEEK_DAYS = 5


class Manager:
    """One team's manager post: who holds it, the sign-off queue, and the month's time account."""

    def __init__(self, env: simpy.Environment, team: int, managers: Managers):
        self.env = env
        self.team = team
        self.managers = managers
        streams = managers.streams
        self.sign_off_times = streams.exponential(f"team{team}/sign_off")
        self.leaving_times = streams.exponential(f"team{team}/manager_leaving")
        self.recruitment = streams.uniform(f"team{team}/manager_recruitment")
        self.holder = MANAGER
        self.open = True
        self.tenure = 0  # bumped when the holder changes, so a stale leaving timer does nothing
        self.recruiting = False
        self.queue: deque[Case] = deque()  # completed assessments waiting for sign-off, in order
        self._busy = False  # signing one off now
        self._signing = 0.0  # the hours of the sign-off in hand
        # The month's account, in hours.
        self.sign_off_hours = 0.0
        self.allocations = 0
        self._start_tenure()

    # -- the post ----------------------------------------------------------------------------------
    @property
    def presence(self) -> float:
        """Share of a manager's time the team has: the manager or an interim in post, or cover from elsewhere."""
        return self.managers.config.vacant_cover_share if self.holder == VACANT else 1.0

    def hours_per_day(self) -> float:
        """Hours a working day for allocation, sign-off and supervision."""
        m = self.managers.config
        return (m.hours_per_week or 0.0) / WEEK_DAYS * (1.0 - m.other_duties_share) * self.presence

    def _start_tenure(self) -> None:
        """A new holder (or none): the leaving hazard of the holder runs from now."""
        self.tenure += 1
        m = self.managers.config
        rate = m.leaving_per_year if self.holder == MANAGER else m.leaving_per_year_interim
        if self.holder == VACANT or rate <= 0 or not self.open:
            return
        tenure = self.tenure
        gap = self.leaving_times.next() / rate * self.managers.days_per_year
        self.env.timeout(gap).callbacks.append(lambda _event: self._resigns(tenure))

    def _resigns(self, tenure: int) -> None:
        if tenure != self.tenure or not self.open:
            return
        notice = self.managers.config.notice_days if self.holder == MANAGER else 0.0
        self.env.timeout(notice).callbacks.append(lambda _event: self._leaves(tenure))

    def _leaves(self, tenure: int) -> None:
        if tenure != self.tenure or not self.open:
            return
        self.managers.leavers.append((self.env.now, self.team, self.holder))
        was = self.holder
        self.holder = VACANT
        self._start_tenure()
        if was == MANAGER or not self.recruiting:
            self._recruit()
        self._ask_for_interim()

    def _recruit(self) -> None:
        """A campaign for a permanent manager: about ``recruitment_days`` (plus or minus half)."""
        if self.recruiting:
            return
        self.recruiting = True
        days = self.managers.config.recruitment_days * (0.5 + self.recruitment.next())
        self.env.timeout(days).callbacks.append(lambda _event: self._recruited())

    def _recruited(self) -> None:
        self.recruiting = False
        if not self.open:
            return
        if self.holder == INTERIM:
            self.managers.leavers.append((self.env.now, self.team, "interim_replaced"))
        self.holder = MANAGER
        self._start_tenure()
        self._nudge()

    def _ask_for_interim(self) -> None:
        m = self.managers.config
        if not m.interim_allowed:
            return
        tenure = self.tenure
        self.env.timeout(m.interim_start_days).callbacks.append(lambda _event: self._interim_starts(tenure))

    def _interim_starts(self, tenure: int) -> None:
        if tenure != self.tenure or self.holder != VACANT or not self.open:
            return
        self.holder = INTERIM
        self._start_tenure()
        self._nudge()

    def close(self) -> None:
        """The team is cut: the post goes."""
        self.open = False
        self.tenure += 1
        self.holder = VACANT

    # -- sign-off ----------------------------------------------------------------------------------
    def sign_off(self, case: Case) -> None:
        """A completed assessment waits for the manager's sign-off, in order."""
        self.queue.append(case)
        self._nudge()

    def _nudge(self) -> None:
        """Start on the oldest assessment if the manager is free and has time for sign-off."""
        if self._busy or not self.queue:
            return
        rate = self.sign_off_rate()
        if rate <= 0:
            return  # until someone is in post again
        self._busy = True
        self._signing = hours = self.managers.config.sign_off_hours * self.sign_off_times.next()
        call_in(self.env, hours / rate, self._signed)

    def _signed(self, _alarm: Alarm) -> None:
        """The oldest assessment is signed off, at the pace the manager's time allowed when it was begun."""
        self._busy = False
        self.sign_off_hours += self._signing
        if self.queue:
            self.managers.pathway.signed_off(self.queue.popleft())
        self._nudge()

    def sign_off_rate(self) -> float:
        """Hours a day for sign-off: all the manager's time, or what supervision leaves when sign-off slips first."""
        m = self.managers.config
        # hours_per_day() written out, as every sign-off asks
        presence = m.vacant_cover_share if self.holder == VACANT else 1.0
        hours = (m.hours_per_week or 0.0) / WEEK_DAYS * (1.0 - m.other_duties_share) * presence
        if m.first_to_slip == "sign_off":
            workers = len(self.managers.team_workers(self.team))
            hours -= m.supervision_hours_per_worker_month * workers / self.managers.days_per_month
        return max(0.0, hours)

    def take_queue(self, other: Manager) -> None:
        """A cut team's assessments awaiting sign-off go to this manager."""
        self.queue.extend(other.queue)
        other.queue.clear()
        self._nudge()

    # -- the month's account -----------------------------------------------------------------------
    def close_month(self) -> tuple[float, float]:
        """Supervision planned and given this month; the account starts again."""
        m, managers = self.managers.config, self.managers
        workers = [w for w in managers.team_workers(self.team) if not w.absent]
        planned = m.supervision_hours_per_worker_month * len(workers)
        available = self.hours_per_day() * managers.days_per_month
        if m.first_to_slip == "supervision":
            left = available - self.sign_off_hours - m.allocation_hours * self.allocations
        else:
            left = available - m.allocation_hours * self.allocations
        given = min(planned, max(0.0, left))
        self.sign_off_hours, self.allocations = 0.0, 0
        missed = 1.0 - given / planned if planned > 0 else 0.0
        for worker in workers:
            worker.supervised(missed, m.missed_supervision_stress * missed)
        return planned, given


class Managers:
    """Every team's manager post, and the monthly supervision round that books their time."""

    def __init__(self, env: simpy.Environment, config: Config, streams: Streams, pathway: Pathway, team_workers):
        self.env = env
        self.config: ManagersConfig = config.managers
        self.streams = streams
        self.pathway = pathway
        self._team_workers = team_workers  # the workforce's lists, by team
        self.days_per_year = config.run.days_per_year
        self.days_per_month = config.run.days_per_month
        self.leavers: list[tuple[float, int, str]] = []  # (day, team, holder)
        self.supervision: list[tuple[float, int, float, float]] = []  # (day, team, planned hours, given)
        self.posts: list[Manager] = []
        if not self.unlimited:
            self._start()

    def _start(self) -> None:
        """Every team gets its manager post, and the monthly round begins."""
        for team in range(len(self._team_workers)):
            self.add(team)
        self.env.process(self._months())

    @property
    def unlimited(self) -> bool:
        """Managers with unlimited time: sign-off is instant and supervision is always given."""
        return self.config.unlimited

    def team_workers(self, team: int) -> list[Worker]:
        return self._team_workers[team]

    def add(self, team: int) -> Manager | None:
        """A manager post for a team (none while managers have unlimited time, unless they had less before)."""
        if self.unlimited and not self.posts:
            return None
        manager = Manager(self.env, team, self)
        self.posts.append(manager)
        return manager

    def update(self, config: Config) -> None:
        """New settings from a dated change (managers' time and the post's rules)."""
        was_unlimited, self.config = self.unlimited, config.managers
        if was_unlimited and not self.unlimited and not self.posts:
            self._start()
            for team in self.pathway.teams:
                if not team.open:
                    self.posts[team.id].close()
        if self.unlimited:  # time without limit from now: what waits is signed off at once
            for manager in self.posts:
                while manager.queue:
                    self.pathway.signed_off(manager.queue.popleft())
        for manager in self.posts:
            manager._nudge()

    def cut(self, team: int, successor: int) -> None:
        """A cut team's manager post goes; its assessments awaiting sign-off go to the successor's manager."""
        if self.unlimited or team >= len(self.posts):
            return
        self.posts[team].close()
        self.posts[successor].take_queue(self.posts[team])

    def for_team(self, team: int, open_teams) -> Manager:
        """The manager who signs off a team's work: its own, or, for a cut team, its successor's."""
        manager = self.posts[team]
        if not manager.open:
            manager = self.posts[open_teams[team % len(open_teams)].id]
        return manager

    def allocated(self, team: int) -> None:
        """An allocation decision took the manager's time."""
        if self.posts:
            self.posts[team].allocations += 1

    def holders(self) -> dict[str, int]:
        counts = dict.fromkeys((MANAGER, INTERIM, VACANT), 0)
        for manager in self.posts:
            if manager.open:
                counts[manager.holder] += 1
        return counts

    def _months(self):
        """At the end of each month, each manager's supervision is given from what is left of their time."""
        env = self.env
        start, months = env.now, math.ceil(self.pathway.config.run.horizon_days / self.days_per_month)
        for month in range(1, months + 1):
            yield env.timeout(start + month * self.days_per_month - env.now)
            for manager in self.posts:
                if manager.open:
                    planned, given = self._supervise_fully(manager) if self.unlimited else manager.close_month()
                    self.supervision.append((env.now, manager.team, planned, given))

    def _supervise_fully(self, manager: Manager) -> tuple[float, float]:
        """With unlimited time, every worker's supervision is given."""
        workers = [w for w in self.team_workers(manager.team) if not w.absent]
        for worker in workers:
            worker.supervised(0.0, 0.0)
        manager.sign_off_hours, manager.allocations = 0.0, 0
        planned = self.config.supervision_hours_per_worker_month * len(workers)
        return planned, planned
