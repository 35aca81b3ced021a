"""``python -m simservice.story BAD_RUN GOOD_RUN``: children whose risk was missed in one run and caught in another.

Each argument is a run's folder, written with ``run.event_log=true`` (a comparison's
``scenarios/<name>/`` folders are runs too, and share their children: common random
numbers). The command picks children missed in the first run and caught in the second,
prints each one's journey in both, and writes ``stories.md`` and ``stories.png`` into the
first run's folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from simservice.config import OneLineParser
from simservice.reporting.outputs import publish, save_figure, staged
from simservice.reporting.stories import Run, markdown, pick

#: What a run's folder must hold for its children's stories.
NEEDED = ("cases.parquet", "events.parquet", "defences.parquet", "staff.csv", "scenario.yaml")


def _fail(message: str, code: int = 2) -> None:
    print(f"simservice.story: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def read_run(folder: Path) -> tuple[Run, float]:
    """A run's tables, and the day its reported years began; one line and exit 2 if the folder cannot tell stories."""
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        hint = " (run it with run.event_log=true)" if "events.parquet" in missing else ""
        _fail(f"{folder}: no {', '.join(missing)}: not a run's folder{hint}")
    import yaml

    scenario = yaml.safe_load((folder / "scenario.yaml").read_text())
    run = scenario["run"]
    tables = Run(
        pd.read_parquet(folder / "cases.parquet"),
        pd.read_parquet(folder / "events.parquet"),
        pd.read_parquet(folder / "defences.parquet"),
        pd.read_csv(folder / "staff.csv"),
    )
    return tables, run["warmup_years"] * run["days_per_year"]


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m simservice.story", description=__doc__.splitlines()[0])
    parser.add_argument("bad", type=Path, help="the run where risks were missed (its folder)")
    parser.add_argument("good", type=Path, help="the run with the same children in better conditions (its folder)")
    parser.add_argument("--count", type=int, default=2, help="how many children (default 2)")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 50:
        _fail(f"--count={args.count}: must be a whole number from 1 to 50")
    bad, start = read_run(args.bad)
    good, _ = read_run(args.good)
    pairs = pick(bad, good, args.count, start=start)
    if not pairs:
        _fail(f"{args.bad}: no child missed there was caught in {args.good}", 1)
    from simservice.reporting.handout import stories_figure  # matplotlib only when drawing

    names = (args.bad.name, args.good.name)
    text = f"# Children whose risk was missed\n\n{markdown(pairs, *names)}\n"
    with staged(args.bad) as staging:
        (staging / "stories.md").write_text(text)
        save_figure(stories_figure(pairs, names, "the same children in two runs"), staging / "stories.png")
        publish(staging, args.bad, ["stories.png", "stories.md"])
    print(text)
    print(f"Written: {args.bad / 'stories.md'}, {args.bad / 'stories.png'}")


if __name__ == "__main__":
    main()
