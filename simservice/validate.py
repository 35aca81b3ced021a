"""Every council's preset against what DfE published: ``python -m simservice.validate --year 2019``.

Runs each English council's preset (``la.name=CODE la.year=YEAR``) for a few replications
(more for a council of few posts, whose rates move more from one replication to the next),
in parallel with a progress bar, and writes into ``--out``:

- ``councils.csv``: a row per council, each measure published and modelled;
- ``measures.csv``: for each measure, whether the preset was built from it (an input) or not
  (a prediction), the councils compared, the median absolute error and the correlation;
- ``validation.png``: for each measure, model against published across the councils, with
  the identity line;
- ``report.md``: the two tables and the figure, with the command that made them.

Each council's result is kept in ``<out>/councils/`` under the key of its scenario and code,
so an interrupted validation resumes where it stopped and a finished one is not run again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from simservice.config import Config, ConfigError, OneLineParser
from simservice.councils import ENGLAND, load
from simservice.hydra_config import error_text, load_config
from simservice.runs.cache import job_key
from simservice.runs.replications import run_scenario


@dataclass(frozen=True)
class Measure:
    """A published measure and the model's own: its name, unit, DfE column, KPI, and whether the preset used it."""

    name: str
    unit: str
    published: str
    modelled: str
    used: bool


MEASURES = (
    Measure("referrals", "a year", "referrals", "referrals", True),
    Measure("no further action at referral", "%", "nfa_pct", "closed_at_front_door_pct", True),
    Measure("re-referred within 12 months", "%", "rereferral_pct", "rereferral_pct", True),
    Measure("turnover", "%", "turnover_pct", "turnover_pct", True),
    Measure("vacancy rate", "%", "vacancy_pct", "vacancy_pct", True),
    Measure("agency rate", "%", "agency_pct", "agency_pct", True),
    Measure("absence", "%", "absence_pct", "absence_pct", True),
    Measure("in-post FTE", "FTE", "inpost_fte", "inpost_fte", True),
    Measure("caseload", "cases per case-holding FTE", "caseload", "caseload_dfe", False),
    Measure("awaiting assessment at 31 March", "per 1,000 referrals", "awaiting_per_1000", "awaiting_per_1000", False),
)


def councils(year: int) -> pd.DataFrame:
    """The councils of ``year`` with both referrals and a workforce published: the ones a preset can be checked on."""
    table = load()
    rows = table[(table.year == year) & (table.code != ENGLAND)]
    return rows[(rows.referrals > 0) & (rows.inpost_fte > 0)].sort_values("code").reset_index(drop=True)


def _run(code: str, config: Config) -> dict:
    """One council's preset run: its headline KPIs (means over replications), or the one-line reason it failed."""
    try:
        results = run_scenario(config, progress=False)
    except ConfigError as error:
        return {"code": code, "error": str(error)}
    except Exception as error:  # a failure is reported beside the others, not raised
        return {"code": code, "error": error_text(error)}
    means = results.summary.set_index("kpi")["mean"]
    days = results.daily[~results.daily.warmup]
    in_post, vacant = days["in_post_fte"].mean(), days["vacant_fte"].mean()
    return {
        "code": code,
        "name": config.service.name,
        "posts": sum(config.service.team_posts or []),
        "replications": config.run.replications,
        "in_post_share": in_post / (in_post + vacant) if in_post + vacant else math.nan,
        **{kpi: float(means[kpi]) for kpi in {m.modelled for m in MEASURES} if kpi in means.index},
        "awaiting_31_march": float(means["awaiting_assessment_31_march"]),
    }


#: Posts x replications each council runs at least: a service of few posts runs more replications, so that
#: every council's vacancy and agency rates are measured about as precisely as a 24-post service's in two.
POST_REPLICATIONS = 48


def replications_for(config: Config, post_replications: int) -> Config:
    """The council's scenario with enough replications for its size (``run.replications=auto`` is left to choose)."""
    run = config.run
    if run.auto:
        return config
    posts = sum(config.service.team_posts or [config.service.workers_per_team * config.service.teams])
    wanted = max(run.replications, math.ceil(post_replications / max(1, posts)))
    return dataclasses.replace(config, run=dataclasses.replace(run, replications=wanted))


def validate(
    year: int,
    out: Path,
    overrides: Sequence[str],
    jobs: int,
    progress: bool = True,
    post_replications: int = POST_REPLICATIONS,
) -> pd.DataFrame:
    """Run every council's preset not already kept in ``out``, and return published against modelled.

    Each council's scenario is composed once, here: its key (every parameter and the code) names what is kept.
    """
    table = councils(year)
    kept = out / "councils"
    kept.mkdir(parents=True, exist_ok=True)
    overrides = [f"la.year={year}", "run.jobs=1", "run.progress=false", *overrides]
    configs = {
        code: replications_for(load_config([f"la.name={code}", *overrides]), post_replications) for code in table.code
    }
    keys = {code: job_key(config) for code, config in configs.items()}
    # The largest councils first, so the last to finish are small ones and the processes end together.
    largest = table.sort_values("referrals", ascending=False).code
    to_run = [code for code in largest if not (kept / f"{keys[code]}.json").is_file()]
    done = Parallel(n_jobs=jobs, return_as="generator_unordered")(delayed(_run)(code, configs[code]) for code in to_run)
    failed = {}
    for result in tqdm(done, total=len(to_run), desc="councils", unit="council", disable=not progress):
        if "error" in result:  # reported, not kept: the next validation tries the council again
            failed[result["code"]] = result
            continue
        path = kept / f"{keys[result['code']]}.json"
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(result))
        os.replace(partial, path)
    modelled = pd.DataFrame(
        [failed.get(code) or json.loads((kept / f"{keys[code]}.json").read_text()) for code in table.code]
    )
    return compare(table, modelled)


def compare(published: pd.DataFrame, modelled: pd.DataFrame) -> pd.DataFrame:
    """A row per council: each measure as DfE published it and as the model made it."""
    modelled = modelled.rename(columns={c: f"{c}_model" for c in modelled.columns if c != "code"})
    rows = published.merge(modelled, on="code", how="left")
    kept = ["posts", "replications", "in_post_share", "awaiting_31_march", "error", *(m.modelled for m in MEASURES)]
    for column in (f"{name}_model" for name in kept):
        if column not in rows:  # no council ran (or none failed): the column is empty
            rows[column] = math.nan if column != "error_model" else None
    rows["awaiting_per_1000"] = 1000 * rows["awaiting_assessment"] / rows["referrals"]
    rows["awaiting_per_1000_model"] = 1000 * rows["awaiting_31_march_model"] / rows["referrals_model"]
    # The model's assessment teams are a part of the council's workforce: its in-post share of its posts,
    # applied to the council's posts (in post and vacant), gives the in-post FTE it stands for.
    rows["inpost_fte_model"] = rows["in_post_share_model"] * (rows["inpost_fte"] + rows["vacancy_fte"])
    table = {"code": rows["code"], "council": rows["name"], "region": rows["region"]}
    table["posts_model"] = rows["posts_model"]
    table["replications"] = rows["replications_model"]
    table["error"] = rows.get("error_model")
    for m in MEASURES:
        table[f"{m.published}_published"] = rows[m.published]
        table[f"{m.published}_model"] = rows[f"{m.modelled}_model"]
    return pd.DataFrame(table)


def markdown(table: pd.DataFrame) -> str:
    """A table as Markdown, numbers to three significant figures."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def measure_table(rows: pd.DataFrame) -> pd.DataFrame:
    """For each measure: input or prediction, councils compared, median published, median absolute error, r."""
    out = []
    for m in MEASURES:
        pair = rows[[f"{m.published}_published", f"{m.published}_model"]].dropna()
        published, model = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
        error = np.abs(model - published)
        relative = error[published > 0] / published[published > 0]
        # Near: within 10 % of the published value (of a published 0, below 0.05).
        near = error <= np.maximum(0.10 * np.abs(published), 0.05)
        out.append(
            {
                "measure": m.name,
                "unit": m.unit,
                "kind": "input" if m.used else "prediction",
                "councils": len(pair),
                "published_median": float(np.median(published)) if len(pair) else math.nan,
                "model_median": float(np.median(model)) if len(pair) else math.nan,
                "median_absolute_error": float(np.median(error)) if len(pair) else math.nan,
                "median_relative_error_pct": 100 * float(np.median(relative)) if len(relative) else math.nan,
                "near_pct": 100 * float(np.mean(near)) if len(pair) else math.nan,
                "correlation": float(np.corrcoef(published, model)[0, 1]) if len(pair) > 2 else math.nan,
            }
        )
    return pd.DataFrame(out)


def figure(rows: pd.DataFrame, measures: pd.DataFrame, year: int, path: Path) -> None:
    """Model against published for every measure, one panel each, with the identity line."""
    import matplotlib.pyplot as plt

    columns = 4
    lines = math.ceil(len(MEASURES) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 4.0 * lines))
    for ax, m, stats in zip(axes.flat, MEASURES, measures.itertuples(), strict=False):
        pair = rows[[f"{m.published}_published", f"{m.published}_model"]].dropna()
        x, y = pair.iloc[:, 0], pair.iloc[:, 1]
        ax.scatter(x, y, s=12, alpha=0.6, color="tab:blue" if m.used else "tab:orange")
        ends = [min(x.min(), y.min()), max(x.max(), y.max())] if len(pair) else [0, 1]
        ax.plot(ends, ends, color="black", linewidth=0.8, label="model = published")
        if m.published in ("referrals", "inpost_fte"):
            ax.set_xscale("log")
            ax.set_yscale("log")
        kind = "input" if m.used else "prediction"
        ax.set_title(f"{m.name} ({kind})\nr = {stats.correlation:.2f}, median error {stats.median_absolute_error:.3g}")
        ax.set_xlabel(f"published ({m.unit})")
        ax.set_ylabel(f"model ({m.unit})")
    for ax in list(axes.flat)[len(MEASURES) :]:
        ax.axis("off")
    fig.suptitle(f"Every English council's preset against DfE's figures, {year} (blue: inputs; orange: predictions)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(rows: pd.DataFrame, measures: pd.DataFrame, year: int, command: str, minutes: float, out: Path) -> None:
    """The Markdown report: the command, the measures table, the figure and the councils that failed."""
    failed = rows[rows["error"].notna()]
    lines = [
        f"# Every council's preset against DfE's published figures, {year}",
        "",
        f"Made by `{command}` in {minutes:.1f} minutes ({len(rows)} councils).",
        "",
        "An **input** is a figure the preset was built from: the model should land on it."
        " A **prediction** was not used: it tests the model. `near_pct` is the share of councils"
        " whose model value is within 10 % of the published one.",
        "",
        markdown(measures),
        "",
        "![model against published, every council](validation.png)",
        "",
        "`councils.csv` has every council's published and modelled figures.",
    ]
    if len(failed):
        lines += ["", "Councils whose preset did not run:", ""]
        lines += [f"- {row.council or row.code}: {row.error}" for row in failed.itertuples()]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m simservice.validate",
        description="Run every English council's preset and set the model's figures beside DfE's.",
    )
    parser.add_argument("--year", type=int, default=2019, help="DfE's year (2017-2023); default 2019")
    parser.add_argument("--replications", default="2", help="replications per council, or auto; default 2")
    parser.add_argument(
        "--post-replications",
        type=int,
        default=POST_REPLICATIONS,
        help=f"a council runs at least this many posts x replications; default {POST_REPLICATIONS}",
    )
    parser.add_argument("--jobs", type=int, default=-1, help="councils run side by side (-1: every core)")
    parser.add_argument("--out", default="experiments/validation", help="where the report goes")
    parser.add_argument("overrides", nargs="*", help="settings for every council, e.g. run.years=3")
    args = parser.parse_args(argv)
    out = Path(args.out)
    overrides = [f"run.replications={args.replications}", *args.overrides]
    started = time.perf_counter()
    try:
        load_config([f"la.year={args.year}", *overrides])
        if args.post_replications < 1:
            raise ConfigError("--post-replications", args.post_replications, "must be a whole number of at least 1")
        rows = validate(args.year, out, overrides, args.jobs, post_replications=args.post_replications)
    except ConfigError as error:
        # The command's own options are named as the user typed them.
        flags = {"la.year": "--year", "run.replications": "--replications"}
        named = {str(o).partition("=")[0] for o in args.overrides}
        if error.setting in flags and error.setting not in named:
            error = ConfigError(flags[error.setting], error.value, error.allowed)
        print(f"simservice.validate: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("simservice.validate: interrupted; the councils finished so far are kept", file=sys.stderr)
        return 130
    measures = measure_table(rows)
    rows.to_csv(out / "councils.csv", index=False)
    measures.to_csv(out / "measures.csv", index=False)
    figure(rows, measures, args.year, out / "validation.png")
    command = " ".join(["python -m simservice.validate", *(argv if argv is not None else sys.argv[1:])])
    report(rows, measures, args.year, command, (time.perf_counter() - started) / 60, out)
    print(measures.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"Report in {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
