"""Pictures of a run, for people who would rather look than read."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simservice.config import ASSESSMENT_LIMIT_DAYS, RunConfig


def new_figure(**kwargs):
    """A figure of its own, drawn off-screen: no pyplot, so a notebook's backend is left alone."""
    fig = Figure(layout="constrained", **kwargs)
    return fig, fig.subplots()


def _band(daily: pd.DataFrame, column: str, days_per_week: int = 5) -> pd.DataFrame:
    """Weekly mean across replications, with the middle 90 % of replications."""
    weekly = daily.assign(week=daily["day"] // days_per_week).groupby(["replication", "week"])
    weeks = weekly.agg(year=("year", "first"), value=(column, "mean")).reset_index()
    by_week = weeks.groupby("week")
    return pd.DataFrame(
        {
            "year": by_week["year"].first(),
            "mean": by_week["value"].mean(),
            "low": by_week["value"].quantile(0.05),
            "high": by_week["value"].quantile(0.95),
        }
    )


def _weekly_mean(daily: pd.DataFrame, columns: list[str], days_per_week: int = 5) -> pd.DataFrame:
    """Mean across replications, week by week, of several columns."""
    weekly = daily.assign(week=daily["day"] // days_per_week)
    return weekly.groupby("week")[["year", *columns]].mean()


#: What a compared series counts, for the axis.
SERIES_UNITS = {
    "unallocated": "children waiting for a worker",
    "caseload_mean": "cases per worker at work",
}


def scenarios_over_time(
    daily: dict[str, pd.DataFrame], run: RunConfig, column: str, change_months: list[int] = (), title: str = ""
) -> Figure:
    """One line per scenario, week by week, with the middle 90 % of replications as a band; dated changes dotted."""
    fig, ax = new_figure(figsize=(9, 4.5))
    mark_changes(ax, list(change_months))
    for i, (name, table) in enumerate(daily.items()):
        band = _band(table, column)
        colour = f"C{i}"
        ax.fill_between(band["year"], band["low"], band["high"], alpha=0.18, color=colour)
        ax.plot(band["year"], band["mean"], color=colour, lw=1.3, label=name)
    if run.warmup_years > 0:
        ax.axvspan(-run.warmup_years, 0, color="0.9", zorder=0, label="warm-up")
    ax.set_xlabel("years from the start of the reported period")
    unit = SERIES_UNITS.get(column, "")
    ax.set_ylabel(f"{column.replace('_', ' ')}, weekly mean" + (f"\n({unit})" if unit else ""))
    heading = f"{column.replace('_', ' ')} by scenario: mean of replications, band: middle 90 %"
    ax.set_title(f"{title}\n{heading}" if title else heading)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False)
    return fig


def workforce_over_time(daily: pd.DataFrame, run: RunConfig, title: str, change_months: list[int] = ()) -> Figure:
    """Who holds the posts week by week, how many are off sick, and how stressed they are; dated changes dotted."""
    week = _weekly_mean(daily, ["permanent", "newly_qualified", "agency", "vacant_posts", "off_sick", "stress_mean"])
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.stackplot(
        week["year"],
        week["permanent"],
        week["newly_qualified"],
        week["agency"],
        labels=["permanent", "newly qualified", "agency (cover, standing, surge)"],
        colors=["tab:blue", "tab:cyan", "tab:orange"],
        alpha=0.8,
    )
    top.plot(week["year"], week["vacant_posts"], color="black", lw=1.2, label="posts with nobody in them")
    top.plot(week["year"], week["off_sick"], color="tab:red", lw=1.2, label="off sick")
    top.set_ylabel("workers in post (mean of replications)")
    top.set_title(title)
    top.set_ylim(0, top.get_ylim()[1] * 1.25)  # room above the staff for the legend, clear of the lines near 0
    mark_changes(top, list(change_months))
    mark_changes(bottom, list(change_months), label=False)
    top.legend(loc="upper center", frameon=True, ncols=3, fontsize="small")
    bottom.plot(week["year"], week["stress_mean"], color="tab:purple")
    bottom.set_ylabel("mean stress\n(0 none, 1 full)")
    bottom.set_ylim(0, 1)
    bottom.set_xlabel("years from the start of the reported period")
    for ax in (top, bottom):
        if run.warmup_years > 0:
            ax.axvspan(-run.warmup_years, 0, color="0.9", zorder=0)
    return fig


def unallocated_over_time(daily: pd.DataFrame, run: RunConfig, title: str, change_months: list[int] = ()) -> Figure:
    """Unallocated cases week by week: the mean of the replications and the spread between them; changes dotted."""
    band = _band(daily, "unallocated")
    fig, ax = new_figure(figsize=(9, 4.5))
    ax.fill_between(
        band["year"], band["low"], band["high"], alpha=0.25, color="tab:red", label="middle 90 % of replications"
    )
    ax.plot(band["year"], band["mean"], color="tab:red", lw=1.2, label="mean of replications")
    if run.warmup_years > 0:
        ax.axvspan(-run.warmup_years, 0, color="0.9", zorder=0, label="warm-up (not in the KPIs)")
    mark_changes(ax, list(change_months))
    ax.set_xlabel("years from the start of the reported period")
    ax.set_ylabel("unallocated cases, weekly mean\n(children waiting for a worker)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False)
    return fig


def days_to_assessment(cases: pd.DataFrame, run: RunConfig, title: str) -> Figure:
    """How long assessments took, from referral to completion, against the 45-working-day limit."""
    done = cases.loc[cases["completed_day"] >= run.warmup_days, "days_to_assessment"].to_numpy()
    fig, ax = new_figure(figsize=(9, 4.5))
    if done.size:
        top = max(float(np.percentile(done, 99.5)), ASSESSMENT_LIMIT_DAYS * 1.5)
        ax.hist(np.minimum(done, top), bins=np.linspace(0, top, 60), color="tab:blue", alpha=0.8)
        longer = int(np.sum(done > top))
        if longer:
            ax.annotate(
                f"{longer:,} longer than {top:.0f} days\ncounted in the last bar",
                xy=(top, 0),
                xytext=(-5, 40),
                textcoords="offset points",
                ha="right",
                fontsize="small",
            )
        within = 100.0 * np.mean(done <= ASSESSMENT_LIMIT_DAYS)
        ax.axvline(ASSESSMENT_LIMIT_DAYS, color="black", ls="--", lw=1.2)
        ax.text(
            ASSESSMENT_LIMIT_DAYS,
            ax.get_ylim()[1] * 0.95,
            f"  45-working-day limit\n  {within:.1f} % within it\n  (every assessment of every replication)",
            va="top",
        )
    ax.set_xlabel("working days from referral to completed assessment")
    ax.set_ylabel("assessments (all replications)")
    ax.set_title(title)
    return fig


def mark_changes(ax, change_months: list[int], label: bool = True) -> None:
    """Dated changes as dotted vertical lines at their months."""
    for i, month in enumerate(sorted(set(change_months))):
        ax.axvline(month / 12, color="0.3", ls=":", lw=1.0, label="dated change" if label and i == 0 else None)


def coping_over_time(daily: pd.DataFrame, run: RunConfig, title: str, change_months: list[int]) -> Figure:
    """How the pressure was absorbed, week by week: the backlog, and each coping response beside it."""
    columns = [
        "unallocated",
        "awaiting_triage",
        "awaiting_sign_off",
        "front_door_closure_share",
        "override_ceiling_mean",
        "caseload_team_max",
        "surge_agency",
        "unpaid_hours_per_day",
        "rushed_assessments",
        "supervision_given_pct",
    ]
    week = _weekly_mean(daily, columns)
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True).ravel()
    panels = [
        (
            "backlog (children)",
            [
                ("unallocated", "unallocated"),
                ("awaiting_triage", "at the front door"),
                ("awaiting_sign_off", "awaiting sign-off"),
            ],
        ),
        ("thresholds: share closed\nat the front door (%)", [("front_door_closure_share", None)]),
        (
            "caseload creep (cases per worker)",
            [("override_ceiling_mean", "over-cap ceiling"), ("caseload_team_max", "busiest team's mean caseload")],
        ),
        ("agency surge\n(workers above establishment)", [("surge_agency", None)]),
        ("unpaid hours a day\n(whole service)", [("unpaid_hours_per_day", None)]),
        (
            "rushed assessments a day",
            [("rushed_assessments", "rushed assessments a day"), ("supervision_given_pct", "supervision given, %")],
        ),
    ]
    for ax, (ylabel, lines) in zip(axes, panels, strict=True):
        for i, (column, label) in enumerate(lines):
            values = week[column] * (100.0 if column == "front_door_closure_share" else 1.0)
            if column == "supervision_given_pct":
                ax2 = ax.twinx()
                ax2.plot(week["year"], values, color="tab:green", lw=1.1)
                ax2.set_ylim(0, 140)  # 100 % sits below the panel's legend
                ax2.set_yticks([0, 25, 50, 75, 100])  # a share: no tick above 100 %
                ax2.set_ylabel("supervision given (%)", color="tab:green")
                ax.plot([], [], color="tab:green", lw=1.1, label=label)  # in the panel's legend
                ax.set_zorder(ax2.get_zorder() + 1)  # the legend above both lines
                ax.patch.set_visible(False)
                continue
            ax.plot(week["year"], values, color=f"C{i}", lw=1.2, label=label)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, max(ax.get_ylim()[1], 1e-9) * (1.35 if len(lines) > 1 else 1.05))  # room for the legend
        if run.warmup_years > 0:
            ax.axvspan(-run.warmup_years, 0, color="0.9", zorder=0)
        mark_changes(ax, change_months, label=False)
        if len([label for _, label in lines if label]) > 1:
            ax.legend(loc="upper left", frameon=True, framealpha=0.85, fontsize="small")
    for ax in axes[-2:]:
        ax.set_xlabel("years from the start of the reported period")
    note = "; dotted: dated changes" if change_months else ""
    fig.suptitle(f"{title}\nhow the pressure was absorbed: weekly means of replications{note}")
    return fig


def warmup_figure(daily: pd.DataFrame, found, run: RunConfig, title: str, current_warmup: float) -> Figure:
    """Each series MSER-5 looked at (the mean of replications, week by week), with its truncation point marked."""
    from simservice.reporting.warmup import WARMUP_SERIES  # the series and their units

    week = _weekly_mean(daily, list(WARMUP_SERIES), days_per_week=5)
    fig = Figure(figsize=(9, 7.5), layout="constrained")
    axes = fig.subplots(len(found), 1, sharex=True)
    for ax, truncation in zip(np.atleast_1d(axes), found, strict=True):
        ax.plot(week["year"], week[truncation.series], color="tab:blue", lw=1.0, label="mean of replications, weekly")
        cut = truncation.days / run.days_per_year
        ax.axvline(
            cut, color="tab:red", lw=1.5, label=f"MSER-5: {truncation.days} working days ({cut * 12:.1f} months)"
        )
        ax.axvline(
            current_warmup,
            color="0.3",
            ls=":",
            lw=1.2,
            label=f"the scenario's warm-up ({round(current_warmup * 12)} months)",
        )
        ax.axvspan(truncation.searched_days / run.days_per_year, week["year"].max(), color="0.93", zorder=0)
        ax.set_ylabel(WARMUP_SERIES[truncation.series].replace(", ", ",\n", 1))
        ax.set_title(truncation.series.replace("_", " "), fontsize="medium", loc="left")
        ax.legend(loc="best", frameon=True, framealpha=0.85, fontsize="small")
    np.atleast_1d(axes)[-1].set_xlabel("years from the start, with no warm-up (grey: beyond MSER-5's search)")
    fig.suptitle(title)
    return fig


def budget_plane(table: pd.DataFrame, title: str, cost: str, performance: str) -> Figure:
    """Each budget option on the cost-against-performance plane: differences from the base with 95 % paired CIs.

    ``table`` is budget.csv's; x is ``cost`` in £k a year, y is ``performance`` in percentage points.
    """
    fig, ax = new_figure(figsize=(8, 6))
    options = [o for o in table["option"].unique() if o != "base"]
    x = table[table["measure"] == cost].set_index("option")
    y = table[table["measure"] == performance].set_index("option")
    for option in options:
        xs, ys = x.loc[option], y.loc[option]
        ax.errorbar(
            xs["difference"] / 1e3,
            ys["difference"],
            xerr=[[(xs["difference"] - xs["diff_ci_low"]) / 1e3], [(xs["diff_ci_high"] - xs["difference"]) / 1e3]],
            yerr=[[ys["difference"] - ys["diff_ci_low"]], [ys["diff_ci_high"] - ys["difference"]]],
            fmt="o",
            capsize=4,
        )
    # Labels in order of cost, each a step up or down from the last, so options that land close stay readable.
    steps = [(6, 6), (6, -16), (6, 18), (6, -28)]
    for i, option in enumerate(sorted(options, key=lambda o: x.loc[o, "difference"])):
        point = (x.loc[option, "difference"] / 1e3, y.loc[option, "difference"])
        ax.annotate(option, point, xytext=steps[i % len(steps)], textcoords="offset points")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.plot([0], [0], "ks")
    ax.annotate("base", (0, 0), xytext=(6, -12), textcoords="offset points")
    ax.margins(0.25)
    for (hx, hy), text in [
        ((0.02, 0.97), "cheaper and better"),
        ((0.98, 0.97), "dearer and better"),
        ((0.02, 0.03), "cheaper and worse"),
        ((0.98, 0.03), "dearer and worse"),
    ]:
        ax.text(hx, hy, text, transform=ax.transAxes, ha="left" if hx < 0.5 else "right",
                va="top" if hy > 0.5 else "bottom", color="grey", style="italic")  # fmt: skip
    ax.set_xlabel("Yearly cost, difference from base (£k a year, one-offs spread; 95 % paired CI)")
    ax.set_ylabel("Assessed within 45 days of referral,\ndifference from base (percentage points; 95 % paired CI)")
    ax.set_title(title)
    return fig


def search_plane(
    trials: pd.DataFrame, best: pd.DataFrame | None, title: str, cost: str, performance: str, targets: list[float]
) -> Figure:
    """Every trial of a search on the cost-against-performance plane, feasible or not, with the target line(s);
    the finalists re-run (95 % intervals), the base, and the option named highlighted.

    ``trials`` is trials.csv's, ``best`` best.csv's (None when no trial met the targets).
    """
    fig, ax = new_figure(figsize=(8, 6))
    feasible = trials["feasible"].astype(bool)
    ax.scatter(trials.loc[~feasible, cost] / 1e3, trials.loc[~feasible, performance], marker="x", color="grey",
               label="trial: misses a target")  # fmt: skip
    ax.scatter(trials.loc[feasible, cost] / 1e3, trials.loc[feasible, performance], marker="o", color="tab:green",
               label="trial: meets the targets")  # fmt: skip
    for value in targets:
        ax.axhline(value, color="tab:red", ls="--", lw=1)
        ax.annotate(f"target {value:g} %", (0.01, value), xycoords=("axes fraction", "data"), xytext=(0, 3),
                    textcoords="offset points", color="tab:red")  # fmt: skip
    if best is not None:
        for i, row in enumerate(best.to_dict("records")):
            named, base = bool(row["named"]), row["option"] == "base"
            x, y = row[cost] / 1e3, row[performance]
            ax.errorbar(
                x, y,
                xerr=[[x - row[f"{cost}_ci_low"] / 1e3], [row[f"{cost}_ci_high"] / 1e3 - x]],
                yerr=[[y - row[f"{performance}_ci_low"]], [row[f"{performance}_ci_high"] - y]],
                fmt="*" if named else ("s" if base else "D"), ms=16 if named else 7, capsize=4,
                color="tab:red" if named else "black", zorder=3,
            )  # fmt: skip
            label = f"named: {row['option']}" if named else row["option"]
            ax.annotate(label, (x, y), xytext=(40, -30 - 16 * i), textcoords="offset points", fontsize="small",
                        arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6})  # fmt: skip
        ax.plot([], [], "kD", label="finalist, re-run (95 % CI)")
        ax.plot([], [], "ks", label="base, re-run (95 % CI)")
        if best["named"].any():
            ax.plot([], [], "*", color="tab:red", ms=12, label="the option named")
    ax.set_xlabel("Yearly cost (£k a year, cost_total_gbp; mean of the trial's replications)")
    ax.set_ylabel("Assessed within 45 days of referral (%)")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title)
    return fig
