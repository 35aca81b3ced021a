"""The trainer's handout: the same workforce in good conditions and in bad ones, the steps between, what each
latent condition lets through, the reinforcing loop, and two children's stories -- one HTML page for managers.

The comparison's first scenario is the good conditions and its last the bad; those between add one
condition at a time. Every number on the page comes from the comparison's own runs.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Patch

from simservice.model.defences import LAYERS
from simservice.reporting.figures import new_figure
from simservice.reporting.kpis import mean_ci
from simservice.reporting.latent import EVERY_CONDITION, attribution, attribution_summary
from simservice.reporting.outputs import format_number, publish, save_figure, staged
from simservice.reporting.results import Results
from simservice.reporting.stories import LAYER_WORDS, Run, Story, markdown, pick

#: The files a handout writes, the page last.
HANDOUT_FILES = ("steps.png", "layers.png", "loop.png", "stories.png", "stories.md", "attribution.csv", "handout.html")

#: What the table of steps shows, with a heading each.
STEP_MEASURES = {
    "missed_risks_per_1000": "missed risks per 1,000 assessments",
    "serious_incidents": "serious incidents a year (illustrative)",
    "caseload_mean": "caseload",
    "stress_mean": "stress (0-1)",
    "turnover_pct": "turnover %",
    "agency_pct": "agency %",
    "absence_pct": "sickness absence %",
    "supervision_given_pct": "supervision given %",
    "children_2plus_workers_pct": "children with 2+ social workers %",
    "within_45_days_pct": "assessed within 45 days %",
}

#: A worker counts as stressed from this level of stress (0 to 1) when the loop's links are measured.
STRESSED = 0.5


@dataclass(frozen=True)
class Link:
    """One link of the reinforcing loop, and its strength as the runs measured it, in words."""

    cause: str
    effect: str
    strength: str


def _rate_ratio(staff: pd.DataFrame, events: pd.Series, days_per_year: float) -> float:
    """Events a worker-year among the stressed over those among the rest (reported days in post as exposure)."""
    stressed = staff["stress_mean"] >= STRESSED
    years = staff["days_counted"] / days_per_year
    high, low = events[stressed].sum() / years[stressed].sum(), events[~stressed].sum() / years[~stressed].sum()
    return high / low if low > 0 and years[stressed].sum() > 0 else math.nan


def loop_links(result: Results) -> list[Link]:
    """The loop's links in one scenario's runs: caseload to stress across workers, stress to sickness and leaving as
    rate ratios, and sickness and leaving back to caseloads as the children each one hands to colleagues."""
    run = result.config.run
    staff = result.staff[result.staff["days_counted"] >= 20]
    employees = staff[staff["contract"] != "agency"]
    slope = math.nan
    if len(staff) > 2 and staff["caseload_mean"].std() > 0:
        slope = float(np.polyfit(staff["caseload_mean"], staff["stress_mean"], 1, w=staff["days_counted"])[0])
    sick = _rate_ratio(employees, employees["sick_days_reported"], run.days_per_year)
    resigned = (employees["left_because"] == "resigned") & (employees["left_day"] >= run.warmup_days)
    leaving = _rate_ratio(employees, resigned.astype(float), run.days_per_year)
    transfers = result.transfers[result.transfers["day"] >= run.warmup_days]
    handed = transfers.groupby(["replication", "from_worker", "day", "reason"], observed=True).size().reset_index()
    per_sickness = handed.loc[handed["reason"] == "sickness", 0].mean()
    per_leaver = handed.loc[handed["reason"].isin(["resigned", "agency_left"]), 0].mean()

    def said(value: float, text: str) -> str:
        return "not measured" if pd.isna(value) else text.format(value)

    return [
        Link("caseload", "stress", said(slope, "{:+.3f} stress\nper extra case")),
        Link("stress", "sickness", said(sick, f"x{{:.1f}} sick days when\nstress is {STRESSED:g} or more")),
        Link("stress", "leaving", said(leaving, f"x{{:.1f}} resignations when\nstress is {STRESSED:g} or more")),
        Link("sickness", "caseload", said(per_sickness, "{:.1f} children handed\nto colleagues a sickness")),
        Link("leaving", "caseload", said(per_leaver, "{:.1f} children handed\nto colleagues a leaver")),
    ]


def steps_figure(results: dict[str, Results], title: str) -> Figure:
    """Missed risks per 1,000 assessments at each step, with 95 % intervals."""
    fig, ax = new_figure(figsize=(8, 4.2))
    names = list(results)
    means, lows, highs = zip(*(mean_ci(results[n].kpis["missed_risks_per_1000"]) for n in names), strict=True)
    x = np.arange(len(names))
    colours = ["#3a7d44" if i == 0 else "#b23a48" if i == len(names) - 1 else "#d9a441" for i in x]
    ax.bar(x, means, color=colours)
    ax.errorbar(x, means, yerr=[np.subtract(means, lows), np.subtract(highs, means)], fmt="none", color="black", lw=1)
    for i, (m, top) in enumerate(zip(means, highs, strict=True)):  # above the interval, so the two stay apart
        ax.text(i, top if top == top else m, f"{m:.1f}", ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.set_xticks(x, [n.replace("_", " ") for n in names])
    ax.set_ylabel("missed risks per 1,000 assessments")
    ax.set_title(f"{title}\nthe same children, the same people: one latent condition added at each step", fontsize=10)
    return fig


def layers_figure(results: dict[str, Results], summary: pd.DataFrame, title: str) -> Figure:
    """Left: the hole each layer showed risky children, good against bad. Right: what each condition let through."""
    fig = Figure(layout="constrained", figsize=(11, 4.6))
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.4])
    names = list(results)
    good, bad = results[names[0]].defences, results[names[-1]].defences
    width = 0.38
    x = np.arange(len(LAYERS))
    for offset, table, label, colour in (
        (-width / 2, good, names[0], "#3a7d44"),
        (width / 2, bad, names[-1], "#b23a48"),
    ):
        holes = [100 * table.loc[table["layer"] == layer, "hole"].mean() for layer in LAYERS]
        left.bar(x + offset, holes, width, label=label.replace("_", " "), color=colour)
    bases = [100 * good.loc[good["layer"] == layer, "base_hole"].mean() for layer in LAYERS]
    left.scatter(x, bases, marker="_", s=600, color="black", zorder=3, label="base hole (every condition good)")
    left.set_xticks(x, [layer.replace("_", " ") for layer in LAYERS])
    left.set_ylabel("hole a risky child met, % (mean)")
    left.set_ylim(0, 105)
    left.legend(fontsize=8, loc="upper left")
    left.set_title("the holes in each layer of defence", fontsize=10)
    rows = summary[summary["condition"] != EVERY_CONDITION].iloc[::-1]
    colours = {layer: c for layer, c in zip(LAYERS, ("#4e79a7", "#f28e2b", "#b23a48", "#76b7b2"), strict=True)}
    y = np.arange(len(rows))
    right.barh(y, rows["prevented_pct"], color=[colours[layer] for layer in rows["layer"]])
    right.errorbar(
        rows["prevented_pct"],
        y,
        xerr=[rows["prevented_pct"] - rows["ci_low"], rows["ci_high"] - rows["prevented_pct"]],
        fmt="none",
        color="black",
        lw=1,
    )
    right.set_yticks(y, [c.replace("_", " ") for c in rows["condition"]])
    right.set_xlabel("% of missed risks that would not have happened with this condition good")
    every = summary[summary["condition"] == EVERY_CONDITION]
    share = f"{every['prevented_pct'].iloc[0]:.0f} %" if len(every) else "-"
    right.set_title(
        f"in {names[-1].replace('_', ' ')}: what each condition let through (all together: {share})", fontsize=10
    )
    layers = [Patch(color=colour, label=layer.replace("_", " ")) for layer, colour in colours.items()]
    right.legend(handles=layers, fontsize=8, loc="lower right", title="layer")
    fig.suptitle(title, fontsize=11)
    return fig


def loop_figure(links: list[Link], title: str) -> Figure:
    """The reinforcing loop drawn as a diagram, each link labelled with its strength in these runs."""
    fig = Figure(figsize=(7.5, 6))
    ax = fig.subplots()
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.35, 1.35)
    ax.axis("off")
    # Two loops share the spine from caseload to stress: through sickness (right) and through leaving (left).
    where = {"caseload": (0, 1.0), "stress": (0, -1.0), "sickness": (1.1, 0), "leaving": (-1.1, 0)}
    words = {
        "caseload": "caseload\n(children per worker)",
        "stress": "stress",
        "sickness": "sickness\nabsence",
        "leaving": "leaving\n(turnover)",
    }
    for node, (x, y) in where.items():
        ax.text(x, y, words[node], ha="center", va="center", fontsize=11,
                bbox={"boxstyle": "round,pad=0.5", "fc": "#fbe9e7", "ec": "#b23a48"})  # fmt: skip
    bend = {("caseload", "stress"): 0.0, ("stress", "sickness"): 0.3, ("sickness", "caseload"): 0.3,
            ("stress", "leaving"): -0.3, ("leaving", "caseload"): -0.3}  # fmt: skip
    for link in links:
        (x0, y0), (x1, y1) = where[link.cause], where[link.effect]
        rad = bend[(link.cause, link.effect)]
        arrow = FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                mutation_scale=18, shrinkA=32, shrinkB=42, color="#444444", lw=1.6)  # fmt: skip
        ax.add_patch(arrow)
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        if rad == 0:
            ax.text(mx + 0.05, my - 0.35, link.strength, ha="left", va="center", fontsize=8.5, color="#222222")
        else:  # beside the arc's middle, on its outer side
            nx, ny = (y1 - y0), -(x1 - x0)
            ax.text(mx + rad * 1.6 * nx, my + rad * 1.6 * ny, link.strength, ha="center", va="center", fontsize=8.5,
                    color="#222222")  # fmt: skip
    for x in (-0.72, 0.72):
        ax.text(x, 0.25, "R", ha="center", va="center", fontsize=22, color="#b23a48", fontweight="bold")
    ax.set_title(f"{title}\nthe reinforcing loop, as these runs measured it", fontsize=10)
    return fig


def stories_figure(pairs: list[tuple[Story, Story]], names: tuple[str, str], title: str) -> Figure:
    """Each child's journey on a timeline of working days from referral: bad conditions above, good below."""
    fig = Figure(layout="constrained", figsize=(10, 1.0 + 1.6 * max(1, len(pairs))))
    axes = np.atleast_1d(fig.subplots(max(1, len(pairs)), 1, squeeze=False)[:, 0])
    for ax, (bad, good) in zip(axes, pairs, strict=False):
        for row, (story, colour) in enumerate(((good, "#3a7d44"), (bad, "#b23a48"))):
            f, start = story.facts, story.facts["referred_day"]
            end = f["completed_day"] if not math.isnan(f["completed_day"]) else f["decided_day"]
            ax.plot([0, end - start], [row, row], color=colour, lw=3)
            for i, worker in enumerate(f["workers"]):
                ax.plot(worker["day"] - start, row, "o", color=colour, ms=8)
                above = i % 2 == 0  # alternate above and below, so workers days apart stay readable
                ax.annotate(f"SW {i + 1}" + (" (agency)" if worker["contract"] == "agency" else ""),
                            (worker["day"] - start, row), textcoords="offset points", xytext=(0, 8 if above else -14),
                            fontsize=7, ha="center")  # fmt: skip
            outcome = "missed" if f["missed"] else f"caught: {f['caught_at']}" if f["caught_at"] else ""
            ax.annotate(outcome, (end - start, row), textcoords="offset points", xytext=(6, -3), fontsize=8,
                        color=colour, fontweight="bold")  # fmt: skip
        ax.set_ylim(-0.7, 1.7)
        ax.set_yticks([0, 1], [names[1].replace("_", " "), names[0].replace("_", " ")])
        ax.set_xlim(-2, None)
        ax.set_title(f"child referred on working day {bad.facts['referred_day']:.0f}", fontsize=9)
    axes[-1].set_xlabel("working days from referral (dots: a social worker takes the child on)")
    fig.suptitle(title, fontsize=11)
    return fig


def format_steps(results: dict[str, Results]) -> str:
    """The steps as a person reads them: missed risks with their intervals, and the conditions that made them."""
    shown = {"caseload_mean": "caseload", "stress_mean": "stress", "turnover_pct": "turnover %",
             "absence_pct": "sickness %", "supervision_given_pct": "supervision %"}  # fmt: skip
    width = max(len(name) for name in results)
    lines = [
        f"{'step':<{width}}  {'missed risks per 1,000 [95 % CI]':>33}  " + "  ".join(f"{h:>13}" for h in shown.values())
    ]
    for name, result in results.items():
        mean, low, high = mean_ci(result.kpis["missed_risks_per_1000"])
        low = max(low, 0.0)
        means = result.summary.set_index("kpi")["mean"]
        interval = f"{format_number(mean)} [{format_number(low)}, {format_number(high)}]"
        lines.append(f"{name:<{width}}  {interval:>33}  " + "  ".join(f"{format_number(means[k]):>13}" for k in shown))
    return "\n".join(lines)


def _image(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _steps_table(results: dict[str, Results]) -> str:
    head = "".join(f"<th>{html.escape(v)}</th>" for v in STEP_MEASURES.values())
    rows = []
    for name, result in results.items():
        means = result.summary.set_index("kpi")["mean"]
        cells = "".join(f"<td>{format_number(means[k])}</td>" for k in STEP_MEASURES)
        rows.append(f"<tr><th>{html.escape(name.replace('_', ' '))}</th>{cells}</tr>")
    return f"<table><tr><th>step</th>{head}</tr>{''.join(rows)}</table>"


def _story_html(pairs: list[tuple[Story, Story]], names: tuple[str, str]) -> str:
    parts = []
    for i, (bad, good) in enumerate(pairs, start=1):
        parts.append(
            f"<h3>Child {i}</h3><p><b>In {html.escape(names[0])}:</b> {_bold(bad.text)}</p>"
            f"<p><b>The same child in {html.escape(names[1])}:</b> {_bold(good.text)}</p>"
        )
    return "".join(parts) or "<p>No child missed in the bad conditions was caught in the good ones in these runs.</p>"


def _bold(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


_STYLE = (
    "body{font-family:Georgia,serif;max-width:60em;margin:2em auto;color:#222;line-height:1.45}"
    "h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;font-size:0.8em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
    "img{max-width:100%}.small{font-size:0.85em;color:#555}"
)


def write_handout(results: dict[str, Results], out_dir: Path, command: str) -> Path:
    """The handout and its figures; the page lands last, so its presence means the handout is whole."""
    names = list(results)
    good_name, bad_name = names[0], names[-1]
    bad, good = results[bad_name], results[good_name]
    service = bad.config.service.name
    run = bad.config.run
    by_replication = attribution(bad.defences, bad.cases, bad.config.risk, run.warmup_days)
    summary = attribution_summary(by_replication)
    links = loop_links(bad)
    bad_run = Run(bad.cases, bad.events, bad.defences, bad.staff)
    good_run = Run(good.cases, good.events, good.defences, good.staff)
    pairs = pick(bad_run, good_run, count=2, start=run.warmup_days) if bad.events is not None else []
    words = (bad_name.replace("_", " ") + " conditions", good_name.replace("_", " ") + " conditions")
    with staged(Path(out_dir)) as staging:
        save_figure(steps_figure(results, service), staging / "steps.png")
        save_figure(layers_figure(results, summary, service), staging / "layers.png")
        save_figure(loop_figure(links, service), staging / "loop.png")
        save_figure(stories_figure(pairs, (bad_name, good_name), service), staging / "stories.png")
        (staging / "stories.md").write_text(f"# Two children\n\n{markdown(pairs, *words)}\n")
        summary.to_csv(staging / "attribution.csv", index=False, float_format="%.4g")
        first, last = (
            results[n].summary.set_index("kpi")["mean"]["missed_risks_per_1000"] for n in (good_name, bad_name)
        )
        most = summary[summary["condition"] != EVERY_CONDITION].sort_values("prevented_pct").iloc[-1]
        page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Latent conditions: {html.escape(service)}</title><style>{_STYLE}</style></head><body>
<h1>The same people, in worse conditions, miss more</h1>
<p class="small">{html.escape(service)}: a simulated assessment service, {run.replications} runs of {run.years:g} years
for each step, the same children in every step. Command: <code>{html.escape(command)}</code></p>
<p>When a child is harmed after being known to children's social care, reviews tend to name an individual's error.
James Reason's study of organisational accidents points elsewhere: harm gets through when the holes in several
<b>layers of defence</b> line up -- the front door, the wait for a social worker, the assessment, management
oversight -- and the holes are widened by <b>latent conditions</b>: caseloads, churn of workers and agency staff,
sickness, missed supervision, deadline pressure. Here the same workforce meets the same children, first in good
conditions and then with one condition added at a time.</p>
<h2>1. Missed risks, step by step</h2>
<p>Missed risks rise from <b>{first:.0f}</b> to <b>{last:.0f} per 1,000 assessments</b> between the good and the
bad conditions: nobody in the service became less careful.</p>
<img src="{_image(staging / "steps.png")}" alt="missed risks per step">
{_steps_table(results)}
<h2>2. The layers of defence, and what each condition lets through</h2>
<p>Each risky child meets the layers in turn; a risk is missed when every layer it meets lets it through. On the
right, the same children passed the same layers again with one condition made good: in the bad conditions,
{html.escape(most["condition"].replace("_", " "))} at {LAYER_WORDS[most["layer"]]} accounts for the largest share,
{most["prevented_pct"]:.0f} % [{most["ci_low"]:.0f}, {most["ci_high"]:.0f}] of missed risks.</p>
<img src="{_image(staging / "layers.png")}" alt="layers of defence">
<h2>3. Why it gets worse on its own: the reinforcing loop</h2>
<p>More children per worker raise stress; stress brings sickness and leaving; every absence and every leaver hands
children to colleagues, whose caseloads rise. Each arrow is labelled with its strength in the runs of the
{html.escape(bad_name.replace("_", " "))} conditions: across the workers, and from every hand-over of children.</p>
<img src="{_image(staging / "loop.png")}" alt="the reinforcing loop">
<h2>4. Two children</h2>
{_story_html(pairs, words)}
<img src="{_image(staging / "stories.png")}" alt="two children's timelines">
<p class="small">Every effect of a condition on a layer's hole is an assumption of the model, set so that its
direction follows the published evidence (README, "Latent conditions"); serious incidents are illustrative. The
figures are a teaching tool, not a measurement of any service.</p>
</body></html>
"""
        (staging / "handout.html").write_text(page)
        publish(staging, Path(out_dir), list(HANDOUT_FILES))
    return Path(out_dir) / "handout.html"
