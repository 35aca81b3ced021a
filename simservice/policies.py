"""Policies over time: a setting that changes at a month of the run, and the reorganisation it brings.

A dated change replaces the service's parameters from that moment; the teams'
caps, the front door's capacity and the workforce's rules follow at once. A change
of ``service.teams`` cuts teams (their area and queue go to the remaining teams,
their posts are redeployed or deleted as ``policy.team_cut`` says) or opens new
ones with empty posts; ``service.workers_per_team`` adds or deletes posts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ChangeConfig, apply_setting
from .pathway import Team

if TYPE_CHECKING:
    from .model import Service


def dated_changes(service: Service, changes: list[ChangeConfig]):
    """A process: each dated change takes effect at the start of its month."""
    run = service.config.run
    for change in changes:
        yield service.env.timeout(run.warmup_days + change.month * run.days_per_month - service.env.now)
        apply_change(service, change.setting, change.value)


def apply_change(service: Service, setting: str, value: Any) -> None:
    """A setting takes a new value from now on; the teams, posts and front door follow it."""
    service.config = apply_setting(service.config, setting, value)
    group, _, key = setting.partition(".")
    config = service.config
    policy = config.policy
    service.workforce.update(config)
    pathway = service.pathway
    pathway.config = config
    if group == "demand":
        pathway.set_demand(config.demand)
    for team in pathway.teams:
        team.set_policy(policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
    if key in ("teams", "team_shares"):
        reorganise(service)
    if key == "workers_per_team":
        for team in pathway.open_teams:
            resize(service, team, config.service.workers_per_team)
    if key in ("triage_staff", "triage_per_staff_per_day"):
        pathway.front_door.set_capacity(config.service.triage_per_day)
    pathway.move_to_long_term()
    for team in pathway.open_teams:
        pathway.allocate(team)


def reorganise(service: Service) -> None:
    """Cut teams (their area, queue and posts go to the rest) or open new ones (with empty posts)."""
    config, workforce, pathway = service.config, service.workforce, service.pathway
    wanted, open_teams = config.service.teams, list(pathway.open_teams)
    cut_teams = open_teams[wanted:]
    for cut in cut_teams:
        cut.open = False
    pathway.route()
    keep = pathway.open_teams
    for cut in cut_teams:
        pathway.move_queue(cut, keep)
        for post in [p for p in workforce.active_posts if p.team == cut.id]:
            if config.policy.team_cut == "redeploy":
                smallest = min(keep, key=lambda t: (_posts_in(service, t), t.id))
                workforce.redeploy(post, smallest.id)
            else:
                workforce.delete_post(post)
    for _ in range(wanted - len(open_teams)):
        policy = config.policy
        team = Team(len(pathway.teams), policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
        team.workers = workforce.team_workers[workforce.add_team()]
        pathway.teams.append(team)
        resize(service, team, config.service.workers_per_team)
    pathway.route()


def resize(service: Service, team: Team, posts: int) -> None:
    """Add empty posts, or delete posts: empty ones first, then agency-covered, then the newest."""
    workforce = service.workforce
    mine = [post for post in workforce.active_posts if post.team == team.id]
    for _ in range(posts - len(mine)):
        workforce.add_post(team.id)
    surplus = sorted(mine, key=lambda p: (p.worker is not None, p.employee is not None, -p.id))
    for post in surplus[: max(0, len(mine) - posts)]:
        workforce.delete_post(post)


def _posts_in(service: Service, team: Team) -> int:
    return sum(1 for post in service.workforce.active_posts if post.team == team.id)
