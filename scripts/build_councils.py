"""Build simservice/data/councils.csv from the DfE statistics in ../shared/data.

    python scripts/build_councils.py [--shared ../shared/data] [--out simservice/data/councils.csv]

One row per area and year, for the years the workforce file covers (2017-2023): every local
authority as published that year, and England (E92000001). ``year`` is DfE's ``time_period``
in both publications: children in need in the year to 31 March of ``year``, the workforce at
30 September of ``year``. Suppressed or text cells (x, c, z, u, low, ...) are left empty.
Rows are sorted, so building twice gives the same bytes. simservice/data/README.md says what
each column is.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFORCE = "dfe_csww_indicators_2017_to_2023.csv"
REFERRALS = "dfe_cin_referrals_2013_to_2023.csv"
EPISODES = "dfe_cin_episodes_2013_to_2023.csv"
ENGLAND = ("E92000001", "England")

#: (our column, the publication's column), per file.
FROM_REFERRALS = [
    ("referrals", "Referrals"),
    ("rereferral_pct", "Re_referrals_percent"),
    ("nfa_pct", "No_Further_Action_percent"),
    ("not_in_need_pct", "Not_in_Need_percent"),
]
FROM_EPISODES = [
    ("awaiting_assessment", "Awaiting_assessment"),
    ("started_episodes", "Started_episodes"),
]
FROM_WORKFORCE = [
    ("inpost_fte", "inpost_fte"),
    ("inpost_headcount", "inpost_headcount"),
    ("starters_fte", "starters_fte"),
    ("leavers_fte", "leavers_fte"),
    ("turnover_pct", "turnover_rate_fte"),
    ("agency_fte", "agency_fte"),
    ("agency_pct", "agency_rate_fte"),
    ("vacancy_fte", "vacancy_fte"),
    ("vacancy_pct", "vacancy_rate_fte"),
    ("case_holders_fte", "case_holders_fte"),
    ("cases", "cases"),
    ("caseload", "caseload_fte"),
    ("working_days_lost", "working_days_lost_fte"),
    ("absence_pct", "absence_rate_fte"),
]
KEYS = ["code", "old_code", "name", "region", "year"]
FIGURES = [ours for ours, _ in FROM_REFERRALS + FROM_EPISODES + FROM_WORKFORCE]
COLUMNS = KEYS + FIGURES


def read(path: Path) -> list[dict[str, str]]:
    """A DfE file's rows as text; utf-8-sig drops the byte-order mark before the first header."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def number(text: str) -> float | None:
    """A published cell as a number, or None when suppressed or not a number (never zero)."""
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def areas(rows: list[dict[str, str]], years: set[str], figures: list[tuple[str, str]]) -> dict:
    """{(year, code): {key and figure columns}} for the national row and every local authority."""
    out = {}
    for row in rows:
        year = row["time_period"]
        if year not in years or row["geographic_level"] not in ("National", "Local authority"):
            continue
        if row["geographic_level"] == "National":
            assert (row["country_code"], row["country_name"]) == ENGLAND, row
            keys = {"code": ENGLAND[0], "old_code": "", "name": ENGLAND[1], "region": ""}
        else:
            keys = {
                "code": row["new_la_code"].strip(),
                "old_code": row["old_la_code"].strip(),
                "name": row["la_name"].strip(),
                "region": row["region_name"].strip(),
            }
        keys["year"] = year
        assert (year, keys["code"]) not in out, f"two rows for {keys['code']} in {year}"
        out[year, keys["code"]] = keys | {ours: number(row[theirs]) for ours, theirs in figures}
    return out


def recode(workforce: dict, cin: dict) -> list[tuple[str, str, str]]:
    """Give workforce rows the children-in-need code where the two files code one council differently.

    The workforce file gives North Yorkshire and Somerset, in every year, the codes their
    unitary councils took in April 2023 (E06000065, E06000066); the children-in-need file
    keeps the county codes (E10000023, E10000027). Same year, same old LA number and same
    name means the same council: its row takes the code the children-in-need file gives it.
    """
    by_number = {(v["year"], v["old_code"], v["name"]): k for k, v in cin.items()}
    changes = []
    for key in sorted(workforce):
        row = workforce[key]
        match = by_number.get((row["year"], row["old_code"], row["name"]))
        if match is not None and match != key and key not in cin:
            changes.append((row["year"], row["code"], match[1]))
            workforce[match] = row | {"code": match[1]}
            del workforce[key]
    return changes


def build(shared: Path) -> tuple[str, list[str]]:
    """The CSV text and notes on what was joined how."""
    workforce_rows = read(shared / WORKFORCE)
    years = {row["time_period"] for row in workforce_rows}
    workforce = areas(workforce_rows, years, FROM_WORKFORCE)
    referrals = areas(read(shared / REFERRALS), years, FROM_REFERRALS)
    episodes = areas(read(shared / EPISODES), years, FROM_EPISODES)
    assert referrals.keys() == episodes.keys(), "the two children-in-need files list different areas"
    cin = {}
    for key, row in referrals.items():
        other = episodes[key]
        assert all(row[k] == other[k] for k in KEYS), (row, other)
        cin[key] = row | {k: other[k] for k, _ in FROM_EPISODES}

    notes = [f"{year} {old} -> {new} (workforce code)" for year, old, new in recode(workforce, cin)]
    table = []
    for key in workforce.keys() | cin.keys():
        w, c = workforce.get(key), cin.get(key)
        if w and c:
            assert all(w[k] == c[k] for k in KEYS), (w, c)
        row = dict.fromkeys(COLUMNS) | (c or {}) | (w or {})
        if not (w and c):
            notes.append(f"{key[0]} {key[1]} {row['name']}: {'workforce' if w else 'children in need'} only")
        table.append(row)
    table.sort(key=lambda r: (int(r["year"]), r["code"] != ENGLAND[0], r["name"].casefold(), r["code"]))

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in table:
        writer.writerow([row[c] for c in KEYS] + [cell(row[c]) for c in FIGURES])
    return text.getvalue(), sorted(notes)


def cell(value: float | None) -> str:
    """A figure as published: 1 decimal at most (DfE's), no trailing .0, empty when missing."""
    if value is None:
        return ""
    value = round(value, 1)
    return str(int(value)) if value.is_integer() else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT / ".." / "shared" / "data", help="folder of the DfE CSVs")
    parser.add_argument("--out", type=Path, default=ROOT / "simservice" / "data" / "councils.csv")
    parser.add_argument("--quiet", action="store_true", help="do not list the areas found in one file only")
    args = parser.parse_args(argv)
    text, notes = build(args.shared)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode())
    if not args.quiet:
        print("\n".join(notes))
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows, {len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
