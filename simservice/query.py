"""Query a gathered sweep with SQL (DuckDB): ``python -m simservice.query SWEEP_DIR "SELECT ..."``.

The sweep's table is there as ``sweep``: one row per job and KPI, the swept settings as
columns (quote dotted names: ``"policy.caseload_cap"``). The table is loaded into a
private, read-only database and the SQL runs with DuckDB's file and network access
switched off: it can read the table and nothing else, and can change nothing.

Example::

    python -m simservice.query multirun/2026-11-21/10-00-00 \\
        "SELECT \\"policy.caseload_cap\\", mean FROM sweep WHERE kpi = 'unallocated_mean' ORDER BY 1"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from simservice.config import OneLineParser

#: The SQL runs with no file, network or extension access, and cannot turn it back on.
LOCKED = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def query(sweep: str | Path, sql: str) -> pd.DataFrame:
    """Run ``sql`` against a sweep's table (a sweep directory or its ``sweep.parquet``), read-only."""
    path = Path(sweep)
    if path.is_dir():
        path = path / "sweep.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"no gathered sweep at {path}: run the sweep with simservice -m first")
    table = pd.read_parquet(path)
    with tempfile.TemporaryDirectory(prefix="simservice-query-") as folder:
        database = str(Path(folder) / "sweep.duckdb")
        with duckdb.connect(database) as loading:
            loading.register("loaded", table)
            loading.execute("CREATE TABLE sweep AS SELECT * FROM loaded")
        with duckdb.connect(database, read_only=True, config=LOCKED) as connection:
            answer = connection.execute(sql)
            if answer is None or answer.description is None:
                raise ValueError("the SQL returned no table: ask with SELECT ... FROM sweep")
            return answer.df()


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m simservice.query", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="a sweep directory (multirun/...) or its sweep.parquet")
    parser.add_argument("sql", nargs="?", default="SELECT * FROM sweep", help="SQL over the table 'sweep'")
    args = parser.parse_args(argv)
    try:
        table = query(args.sweep, args.sql)
    except (OSError, ValueError, duckdb.Error) as error:
        print(f"simservice.query: error: {error}".splitlines()[0], file=sys.stderr)
        raise SystemExit(2) from None
    with pd.option_context("display.max_rows", 500, "display.width", 200):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
