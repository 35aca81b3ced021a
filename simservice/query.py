"""Query a gathered sweep with SQL (DuckDB): ``python -m simservice.query SWEEP_DIR "SELECT ..."``.

The sweep's table is there as ``sweep``: one row per job and KPI, the swept settings as
columns (quote dotted names: ``"policy.caseload_cap"``).

Example::

    python -m simservice.query multirun/2026-11-21/10-00-00 \\
        "SELECT \\"policy.caseload_cap\\", mean FROM sweep WHERE kpi = 'unallocated_mean' ORDER BY 1"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd


def query(sweep: str | Path, sql: str) -> pd.DataFrame:
    """Run ``sql`` against a sweep's table (a sweep directory or its ``sweep.parquet``)."""
    path = Path(sweep)
    if path.is_dir():
        path = path / "sweep.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"no gathered sweep at {path}: run the sweep with simservice -m first")
    connection = duckdb.connect()
    try:
        connection.execute(f"CREATE VIEW sweep AS SELECT * FROM read_parquet('{path.as_posix()}')")
        return connection.execute(sql).df()
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="a sweep directory (multirun/...) or its sweep.parquet")
    parser.add_argument("sql", nargs="?", default="SELECT * FROM sweep", help="SQL over the table 'sweep'")
    args = parser.parse_args(argv)
    try:
        table = query(args.sweep, args.sql)
    except (FileNotFoundError, duckdb.Error) as error:
        print(f"simservice.query: error: {error}".splitlines()[0], file=sys.stderr)
        raise SystemExit(2) from None
    with pd.option_context("display.max_rows", 500, "display.width", 200):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
