"""The packaged DfE statistics of every council: the figures DfE published, found by name or code."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from simservice import councils
from simservice.config import COUNCIL_YEARS, ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SCRIPT = ROOT / "scripts" / "build_councils.py"

#: England, as published (workforce at 30 September, children in need in the year to 31 March).
ENGLAND = {
    2019: {
        "inpost_fte": 30683.8,
        "turnover_pct": 15.0,
        "agency_pct": 15.8,
        "vacancy_pct": 16.4,
        "caseload": 16.9,
        "absence_pct": 3.1,
        "referrals": 650930,
        "rereferral_pct": 22.6,
        "nfa_pct": 8.1,
        "not_in_need_pct": 29.1,
    },
    2023: {
        "inpost_fte": 33119.1,
        "turnover_pct": 15.9,
        "agency_pct": 17.8,
        "vacancy_pct": 18.9,
        "caseload": 16.0,
        "absence_pct": 3.2,
        "referrals": 640430,
        "rereferral_pct": 22.4,
        "nfa_pct": 7.1,
        "not_in_need_pct": 29.9,
        "agency_fte": 7173.5,
        "cases": 337055,
        "case_holders_fte": 21111.4,
    },
}


@pytest.mark.parametrize("year", sorted(ENGLAND))
def test_england_matches_the_published_figures(year):
    england = councils.find("England", year)
    assert england == councils.find("E92000001", year)
    assert (england.code, england.name, england.region, england.year) == ("E92000001", "England", "", year)
    assert {k: getattr(england, k) for k in ENGLAND[year]} == ENGLAND[year]


def test_southampton_2019_by_name_and_by_code():
    by_name = councils.find("Southampton", 2019)
    assert by_name == councils.find("E06000045", 2019) == councils.find("  e06000045 ", 2019)
    assert (by_name.code, by_name.old_code, by_name.name, by_name.region) == (
        "E06000045",
        "852",
        "Southampton",
        "South East",
    )
    # Referrals in the year to March 2019 (4,840 in the year to March 2020); the workforce at September 2019.
    assert by_name.referrals == 2598 and councils.find("Southampton", 2020).referrals == 4840
    assert by_name.awaiting_assessment == 138
    assert (by_name.agency_pct, by_name.vacancy_pct, by_name.absence_pct) == (31.7, 31.4, 6.1)


def test_names_ignore_case_and_spaces():
    assert councils.find("  isle of wight ", 2019) == councils.find("Isle of Wight", 2019)
    assert councils.find("southampton", 2023).name == "Southampton"


def test_a_misspelt_council_names_the_closest():
    with pytest.raises(ConfigError, match="closest: Southampton") as error:
        councils.find("Southamton", 2019)
    assert error.value.setting == "la.name"
    assert str(error.value).startswith("la.name='Southamton': must be a council as DfE spells it or its code")


def test_a_year_without_a_row_lists_the_years_there_are():
    with pytest.raises(ConfigError, match=r"la.year=2016: must be one of 2017..2023 for Southampton"):
        councils.find("Southampton", 2016)
    # Cumberland was created in April 2023; Bournemouth merged into BCP in April 2019.
    with pytest.raises(ConfigError, match=r"la.year=2019: must be 2023 for Cumberland"):
        councils.find("Cumberland", 2019)
    with pytest.raises(ConfigError, match=r"must be one of 2017..2019 for Bournemouth"):
        councils.find("Bournemouth", 2020)
    with pytest.raises(ConfigError, match="la.year"):
        councils.find("Southampton", "2019")


def test_suppressed_figures_are_missing_not_zero():
    # Published as "c" (North Tyneside, no further action, year to March 2019) and "low"
    # (Southampton, absence at September 2022); a published 0 stays 0 (Knowsley's agency workers).
    assert councils.find("North Tyneside", 2019).nfa_pct is None
    assert councils.find("Southampton", 2022).absence_pct is None
    assert councils.find("Southampton", 2022).working_days_lost == 7
    assert councils.find("Knowsley", 2019).agency_pct == 0
    table = councils.load()
    row = table[(table["code"] == "E08000022") & (table["year"] == 2019)]
    assert math.isnan(row["nfa_pct"].item())


def test_every_council_of_a_year_is_found():
    names = councils.names(2019)
    assert 150 <= len(names) <= 160 and "Southampton" in names and "England" not in names
    for name in names:
        assert councils.find(name, 2019).year == 2019
    # Two councils called Dorset in 2019 (the county to March, the unitary council at September): by code.
    assert {"E10000009", "E06000059"} <= set(names) and "Dorset" not in names
    with pytest.raises(ConfigError, match="names 2 councils in 2019; give the code"):
        councils.find("Dorset", 2019)


def test_one_row_per_area_and_year():
    table = councils.load()
    assert not table.duplicated(["code", "year"]).any()
    assert sorted(table["year"].unique()) == councils.years() == list(range(2017, 2024))
    assert (table.groupby("year")["code"].apply(lambda c: (c == "E92000001").sum()) == 1).all()


def test_the_packaged_file_is_what_the_script_builds():
    if not SHARED.is_dir() or not SCRIPT.is_file():
        pytest.skip("the DfE files (../shared/data) or the build script are not beside this clone")
    spec = importlib.util.spec_from_file_location("build_councils", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text, _ = script.build(SHARED)
    packaged = (ROOT / "simservice" / "data" / "councils.csv").read_bytes()
    assert text.encode() == packaged


def test_the_years_a_preset_accepts_are_the_years_the_data_hold():
    assert list(COUNCIL_YEARS) == councils.years()
