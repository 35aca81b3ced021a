"""The DfE statistics of every English council, 2017-2023, as packaged in ``simservice/data/councils.csv``.

One row per area and year: every local authority as DfE published it that year, and England.
``year`` is DfE's: children in need in the year to 31 March of ``year``, the workforce at
30 September of ``year``. Suppressed figures are missing (nan in the table, None in a
``Council``), never zero. ``simservice/data/README.md`` says what each column is and where
it comes from; ``scripts/build_councils.py`` builds the file.

>>> southampton = find(" southampton ", 2019)
>>> southampton.code, southampton.referrals, southampton.agency_pct
('E06000045', 2598, 31.7)
>>> find("E06000045", 2019) == southampton
True
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import numbers
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from simservice.config import ConfigError

ENGLAND = "E92000001"
TEXT = ("code", "old_code", "name", "region")
#: Figures that are counts of children, referrals, cases, days or people: whole numbers.
COUNTS = ("referrals", "awaiting_assessment", "started_episodes", "inpost_headcount", "cases")


@dataclass(frozen=True)
class Council:
    """One area's figures for one year; a figure DfE did not publish (suppressed, or none) is None."""

    code: str  # new_la_code, e.g. E06000045; England is E92000001
    old_code: str  # the three-digit LA number, e.g. 852; empty for England
    name: str  # as DfE spells it
    region: str  # empty for England
    year: int
    # Children in need, the year to 31 March of `year`.
    referrals: int | None
    rereferral_pct: float | None  # re-referred within 12 months of a previous referral
    nfa_pct: float | None  # no further action at referral
    not_in_need_pct: float | None  # assessed and found not to be in need
    awaiting_assessment: int | None  # at 31 March
    started_episodes: int | None
    # The social work workforce at 30 September of `year` (FTE unless named headcount).
    inpost_fte: float | None
    inpost_headcount: int | None
    starters_fte: float | None
    leavers_fte: float | None
    turnover_pct: float | None
    agency_fte: float | None
    agency_pct: float | None
    vacancy_fte: float | None
    vacancy_pct: float | None
    case_holders_fte: float | None
    cases: int | None
    caseload: float | None  # cases per case-holder FTE
    working_days_lost: float | None
    absence_pct: float | None


FIELDS = tuple(f.name for f in dataclasses.fields(Council))
CHILDREN_IN_NEED = FIELDS[FIELDS.index("referrals") : FIELDS.index("inpost_fte")]
WORKFORCE = FIELDS[FIELDS.index("inpost_fte") :]


@functools.cache
def _table() -> pd.DataFrame:
    source = resources.files("simservice").joinpath("data", "councils.csv")
    with source.open("rb") as f:
        table = pd.read_csv(f, dtype={c: str for c in TEXT}, keep_default_na=False, na_values=[""])
    table[list(TEXT)] = table[list(TEXT)].fillna("")
    assert tuple(table.columns) == FIELDS, "councils.csv does not have the columns of Council"
    return table


def load() -> pd.DataFrame:
    """The whole table: one row per area and year, figures as floats with nan where missing (a copy)."""
    return _table().copy()


def years() -> list[int]:
    """The years the table covers."""
    return sorted(int(y) for y in _table()["year"].unique())


def find(name: str, year: int) -> Council:
    """The area called ``name`` (as DfE spells it, any case, or its code, or "England") in ``year``.

    Raises ConfigError (setting ``la.name``) for a name or code the table does not know, or a
    name two councils share that year (give the code), and (setting ``la.year``) for a year
    the area has no row for.
    """
    table = _table()
    rows = table[_matches(table, name)]
    if rows.empty:
        raise ConfigError("la.name", name, _unknown(name))
    label = rows["name"].iloc[-1]
    if isinstance(year, bool) or not isinstance(year, numbers.Real) or year not in set(rows["year"]):
        have = sorted(set(rows["year"]))
        allowed = f"must be {have[0]}" if len(have) == 1 else f"must be one of {_spans(have)}"
        raise ConfigError("la.year", year, f"{allowed} for {label}")
    rows = rows[rows["year"] == year]
    if len(rows) > 1:
        codes = ", ".join(f"{row['code']} ({_holds(row)})" for row in rows.to_dict("records"))
        raise ConfigError("la.name", name, f"names {len(rows)} councils in {int(year)}; give the code: {codes}")
    row = rows.iloc[0]
    return Council(**{f: _value(f, row[f]) for f in FIELDS})


def names(year: int) -> list[str]:
    """Every council with a row in ``year``, each as ``find`` takes it (England left out).

    A council is named as DfE spells it, or by its code where two councils that year share a
    name (Dorset in 2019: the county to March, the new unitary council at September).
    """
    table = _table()
    if isinstance(year, bool) or not isinstance(year, numbers.Real) or year not in set(table["year"]):
        raise ConfigError("la.year", year, f"must be one of {_spans(years())}")
    rows = table[(table["year"] == year) & (table["code"] != ENGLAND)]
    shared = rows["name"].str.casefold().duplicated(keep=False)
    return sorted(rows["name"].where(~shared, rows["code"]), key=str.casefold)


def _matches(table: pd.DataFrame, name: object) -> pd.Series:
    if not isinstance(name, str):
        return pd.Series(False, index=table.index)
    key = _plain(name)
    by_code = table["code"].str.casefold() == key
    if by_code.any():
        return by_code
    return table["name"].map(_plain) == key


def _plain(name: str) -> str:
    """A name as compared: any case, spaces around and between words ignored."""
    return " ".join(name.split()).casefold()


def _unknown(name: object) -> str:
    text = "must be a council as DfE spells it or its code, e.g. Southampton or E06000045"
    if isinstance(name, str):
        spelled = {_plain(n): n for n in sorted(_table()["name"].unique())}
        close = difflib.get_close_matches(_plain(name), list(spelled), n=3)
        if close:
            text += "; closest: " + ", ".join(spelled[c] for c in close)
    return text


def _holds(row: dict) -> str:
    """Which publications a row has figures from."""
    parts = [
        ("children in need to March", CHILDREN_IN_NEED),
        ("workforce at September", WORKFORCE),
    ]
    held = [label for label, columns in parts if any(pd.notna(row[c]) for c in columns)]
    return " and ".join(held) if held else "no figures"


def _spans(values: list[int]) -> str:
    """Years as runs: 2017..2019, 2021..2023, or a lone 2023."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _value(field: str, value: object) -> object:
    if field in TEXT:
        return str(value)
    if field == "year":
        return int(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value) if field in COUNTS else float(value)
