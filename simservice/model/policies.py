"""Policies over time: a setting that changes at a month of the run, and the reorganisation it brings.

A dated change replaces the service's parameters from that moment; the teams'
caps, the front door's capacity and the workforce's rules follow at once. A change
of ``service.teams`` cuts teams (their area and queue go to the remaining teams,
their posts are redeployed or deleted as ``policy.team_cut`` says) or opens new
ones with empty posts and a manager post; ``service.workers_per_team`` or
``service.team_posts`` adds or deletes posts. A cut team's manager post goes, and
its agency surge ends; a restructure can unsettle staff for a while.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simservice.config import Moment
from simservice.model.pathway import Team

if TYPE_CHECKING:
    from simservice.model.service import Service


def dated_changes(service: Service):
    """A process: each dated change takes effect at the start of its month."""
    run = service.config.run
    for moment in service.config.timeline():
        yield service.env.timeout(run.warmup_days + moment.month * run.days_per_month - service.env.now)
        adopt(service, moment)


def adopt(service: Service, moment: Moment) -> None:
    """The service runs on the new parameters from now on, and does what the changed setting declares."""
    config = service.config = moment.config
    policy = config.policy
    service.workforce.update(config)
    service.managers.update(config)
    service.coping.update(config)
    pathway = service.pathway
    pathway.config = config
    pathway.defences.risk = config.risk
    for team in pathway.teams:
        team.set_policy(policy.caseload_cap, policy.override_after_days, policy.override_ceiling)
    if moment.on_change:
        REACTIONS[moment.on_change](service)
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
        service.managers.cut(cut.id, keep[cut.id % len(keep)].id)
        for post in workforce.surge_posts(cut.id):
            workforce.end_surge(post)
        pathway.move_queue(cut, keep)
        for post in workforce.standing_posts(cut.id):  # the council keeps its standing agency
            workforce.redeploy(post, min(keep, key=lambda t: (_posts_in(service, t), t.id)).id)
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
        service.managers.add(team.id)
        resize(service, team, config.service.posts_in(team.id))
    pathway.route()
    if cut_teams or wanted > len(open_teams):
        workforce.unsettle()


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


def resize_teams(service: Service) -> None:
    """Every open team to the new number of posts."""
    for team in service.pathway.open_teams:
        resize(service, team, service.config.service.posts_in(team.id))


def staff_front_door(service: Service) -> None:
    """The front door decides at its new pace."""
    service.pathway.front_door.set_capacity(service.config.service.triage_per_day)


def new_demand(service: Service) -> None:
    """Who is referred from now on: urgency, workload and minimum days (arrivals were drawn with the change)."""
    service.pathway.set_demand(service.config.demand)


#: What a changed setting sets in motion, by the name the setting declares in ``config.py`` (``on_change``).
REACTIONS = {
    "reorganise_teams": reorganise,
    "resize_teams": resize_teams,
    "staff_front_door": staff_front_door,
    "new_demand": new_demand,
}
