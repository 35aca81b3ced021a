"""``python -m simservice.warmup [overrides...]``: the warm-up a scenario needs, by MSER-5 on its daily series.

The scenario (the default, changed by Hydra-style overrides as the ``simservice`` command
takes them) runs with no warm-up for a long horizon; MSER-5 is applied to the mean across
replications, day by day, of unallocated work, the mean caseload and stress. The command
prints each series' truncation point and the ``run.warmup_years`` that covers them all,
rounded up to whole months, and draws ``warmup.png`` with the truncation points marked;
``warmup.csv`` holds the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from simservice.config import ConfigError, OneLineParser
from simservice.hydra_config import error_text, load_config
from simservice.reporting.outputs import claim, claim_new, publish, save_figure, staged
from simservice.reporting.warmup import WARMUP_SERIES, format_truncations, recommended_warmup, truncations
from simservice.runs.replications import run_scenario

#: Replications averaged before MSER-5 looks at the series: enough to see a transient through the noise.
REPLICATIONS = 30
#: Candidate warm-up simulated beyond the reported years: at least this, and at least twice the scenario's own.
CANDIDATE_YEARS = 2.0


def _fail(message: str, code: int = 2) -> None:
    print(f"simservice.warmup: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _arguments() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m simservice.warmup", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="settings as for the simservice command, e.g. service.teams=3")
    parser.add_argument(
        "--years",
        type=float,
        help="years to simulate with no warm-up (default: run.years + the larger of 2 and twice run.warmup_years);"
        " MSER-5 searches the first half",
    )
    parser.add_argument(
        "--replications", type=int, default=REPLICATIONS, help=f"replications to average (default {REPLICATIONS})"
    )
    parser.add_argument(
        "--out", type=Path, help="folder for warmup.png and warmup.csv (default: a new one in outputs/)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _arguments().parse_args(argv)
    try:
        config = load_config(args.overrides)
        run = config.run
        horizon = args.years if args.years is not None else run.years + max(CANDIDATE_YEARS, 2 * run.warmup_years)
        horizon = round(horizon * 12) / 12  # whole months, as run.years must be
        long_run = dataclasses.replace(run, warmup_years=0.0, years=horizon, replications=args.replications)
        config = dataclasses.replace(config, run=long_run)
    except ConfigError as error:
        _fail(str(error).replace("run.years=", "--years=").replace("run.replications=", "--replications="))
    except Exception as error:  # Hydra's own errors: an unknown setting, a malformed override
        _fail(error_text(error))
    out = args.out
    if out is None:
        stamp = datetime.now()
        out = claim_new(Path("outputs") / f"{stamp:%Y-%m-%d}" / f"{stamp:%H-%M-%S}-warmup", "simservice.warmup")
    elif not claim(out, "simservice.warmup"):
        _fail(f"--out={out}: that folder holds another run's results; name a new or empty folder")
    results = run_scenario(config, label="warm-up")
    found = truncations(results.daily)
    warmup = recommended_warmup(found, config.run)
    print(
        f"{config.service.name}: MSER-5 on the mean of {args.replications} replications, {round(horizon * 12)} months"
        f" with no warm-up (the first {round(horizon * 6)} months searched)"
    )
    print(format_truncations(found, config.run))
    months = round(warmup * 12)
    print(
        f"recommended: run.warmup_years={months / 12!r} ({months} months; the scenario has {run.warmup_months} months)"
    )
    from simservice.reporting.figures import warmup_figure  # matplotlib only when drawing

    title = f"{config.service.name}: warm-up by MSER-5 ({args.replications} replications, no warm-up)"
    with staged(out) as staging:
        table = [
            {
                "series": t.series,
                "unit": WARMUP_SERIES[t.series],
                "truncation_days": t.days,
                "truncation_months": round(t.months(config.run), 2),
                "warmup_years": t.warmup_years(config.run),
                "at_the_edge": t.at_the_edge,
            }
            for t in found
        ]
        pd.DataFrame(table).to_csv(staging / "warmup.csv", index=False)
        save_figure(warmup_figure(results.daily, found, config.run, title, run.warmup_years), staging / "warmup.png")
        publish(staging, out, ["warmup.csv", "warmup.png"])
    print(f"Figure and table in {out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        _fail("interrupted", 130)
