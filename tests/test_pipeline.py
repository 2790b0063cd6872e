"""The whole chain on the bundled samples, run as Prefect flows under a test harness.

Expected values are computed by hand from the sample files (arithmetic in each test)."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import SAMPLES, published

OSTERGOTLAND = ["0509", "0512", "0513", "0560", "0561", "0562", "0563",
                "0580", "0581", "0582", "0583", "0584", "0586"]


def cell(doc: dict, **codes) -> float | None:
    """The value of one JSON-stat cell, by row-major index arithmetic over id/size."""
    index = 0
    for dim, size in zip(doc["id"], doc["size"]):
        pos = doc["dimension"][dim]["category"]["index"][codes[dim]]
        index = index * size + pos
    return doc["value"][index]


@pytest.fixture(scope="module")
def bas() -> dict:
    return json.loads((SAMPLES / "pxweb" / "TAB6260_bas_manad.json").read_text(encoding="utf-8"))


def value_row(con, indicator, region, period, sex="T"):
    rows = con.execute("SELECT value, numerator, denominator, n, coverage, status FROM marts.indicator_value "
                       "WHERE indicator_id = ? AND region_code = ? AND period = ? AND sex = ?",
                       [indicator, region, period, sex]).fetchall()
    assert len(rows) == 1, (indicator, region, period, rows)
    return rows[0]


def test_marts_cover_every_ostergotland_municipality_the_county_and_the_country(demo_home):
    con = published(demo_home)
    regions = {r[0] for r in con.execute("SELECT DISTINCT region_code FROM marts.indicator_value").fetchall()}
    assert set(OSTERGOTLAND) | {"05", "00"} <= regions
    # record-based indicators exist for all 290 municipalities, 21 counties and the country
    n = con.execute("SELECT count(DISTINCT region_code) FROM marts.indicator_value "
                    "WHERE indicator_id = 'sp_reserved_share'").fetchall()[0][0]
    assert n == 312
    # one indicator per family at least
    families = {r[0] for r in con.execute(
        "SELECT DISTINCT i.family FROM marts.indicator_value v JOIN marts.indicator i USING (indicator_id) "
        "WHERE v.value IS NOT NULL").fetchall()}
    assert families == {"labour", "procurement", "organisations"}
    assert con.execute("SELECT count(*) FROM core.organisation").fetchall()[0][0] > 2900


def test_unemployment_rate_is_unemployed_over_employed_plus_unemployed(demo_home, bas):
    con = published(demo_home)
    for region in ("0580", "05", "00"):
        unemployed = cell(bas, Region=region, Alder="20-64", Kon="1+2", ContentsCode="000004YH", Tid="2026M08")
        employed = cell(bas, Region=region, Alder="20-64", Kon="1+2", ContentsCode="000006HI", Tid="2026M08")
        value, num, den, n, coverage, status = value_row(con, "lm_unemployment_rate", region, "2026-08")
        assert num == unemployed and den == unemployed + employed
        assert value == round(Decimal(100 * unemployed) / Decimal(unemployed + employed), 1)
        assert (n, coverage, status) == (None, None, "preliminary")
    # Linköping, August 2026: 5 854 unemployed of 79 249 in the labour force → 7,4 %
    assert value_row(con, "lm_unemployment_rate", "0580", "2026-08")[:3] == (
        Decimal("7.4"), Decimal("5854"), Decimal("79249"))


def test_county_value_is_the_published_total_not_a_sum_of_municipalities(demo_home, bas):
    con = published(demo_home)
    county = cell(bas, Region="05", Alder="20-64", Kon="1+2", ContentsCode="000004YH", Tid="2026M08")
    summed = sum(cell(bas, Region=m, Alder="20-64", Kon="1+2", ContentsCode="000004YH", Tid="2026M08")
                 for m in OSTERGOTLAND)
    assert county != summed  # the sample perturbs cells, as SCB's cell-key method does
    assert value_row(con, "lm_unemployment_rate", "05", "2026-08")[1] == county


def test_suppressed_source_cell_gives_a_suppressed_value(demo_home, bas):
    con = published(demo_home)
    assert cell(bas, Region="0512", Alder="20-24", Kon="2", ContentsCode="000004YH", Tid="2026M03") is None
    value, num, den, n, coverage, status = value_row(con, "lm_youth_unemployment_rate", "0512", "2026-03", "K")
    assert (value, num, status) == (None, None, "suppressed")


def test_procurement_shares_pin_the_sample_procedures(demo_home):
    con = published(demo_home)
    # 2024: six procedures by Östergötland buyers have a competition notice; one (P05: res-ws and
    # BT-736 yes) is reserved → 1/6 = 16,7 %; BT-71 is mandatory in competition notices → coverage 1.
    assert value_row(con, "sp_reserved_share", "05", "2024") == (
        Decimal("16.7"), Decimal("1"), Decimal("6"), 6, Decimal("1"), "final")
    # Innovation: none of the six → 0 (a real zero, not missing)
    assert value_row(con, "sp_innovation_share", "05", "2024")[:4] == (Decimal("0"), Decimal("0"), Decimal("6"), 6)
    # Kinda alone has one procedure in 2024: below the minimum n of 5 → suppressed, counts kept
    assert value_row(con, "sp_reserved_share", "0513", "2024") == (
        None, Decimal("0"), Decimal("1"), 1, Decimal("1"), "suppressed")
    # Region Östergötland's 2024 procedure counts for the county, not for Linköping, where the
    # region has its office
    assert value_row(con, "sp_reserved_share", "0580", "2024")[1:4] == (Decimal("0"), Decimal("0"), 0)
    # A municipality without procedures: n = 0, no coverage, suppressed
    assert value_row(con, "sp_reserved_share", "0512", "2024") == (
        None, Decimal("0"), Decimal("0"), 0, None, "suppressed")


def test_award_shares_count_a_consortium_once_and_report_the_match_rate(demo_home):
    con = published(demo_home)
    # P04's consortium: two winners, one tender of 48 500 000 SEK counted once
    rows = con.execute("SELECT winner_name, tender_value, counts_value FROM core.award "
                       "WHERE group_size = 2 ORDER BY counts_value DESC").fetchall()
    assert [(r[1], r[2]) for r in rows] == [(Decimal("48500000.00"), True), (Decimal("48500000.00"), False)]
    assert rows[0][0] == "Östgöta Bygg AB"
    value_sum = con.execute("SELECT sum(amount) FROM marts.indicator_input WHERE indicator_id = "
                            "'sc_ideburen_award_share_value' AND region_code = '00' AND period = '2024'").fetchall()[0][0]
    assert value_row(con, "sc_ideburen_award_share_value", "00", "2024")[2] == value_sum == Decimal("112280000.00")
    # 2024: 13 awarded lots in the county, 3 won by idea-based organisations; 11 of 13 fully matched
    value, num, den, n, coverage, status = value_row(con, "sc_ideburen_award_share_lots", "05", "2024")
    assert (num, den, n, status) == (Decimal("3"), Decimal("13"), 13, "final")
    assert value == Decimal("23.1") and coverage == Decimal("0.8462")


def test_late_competition_notice_still_gives_the_award_its_procedure(demo_home):
    con = published(demo_home)
    row = con.execute("""SELECT p.first_competition_date, p.first_result_date
                         FROM core.procedure p WHERE p.first_result_date < p.first_competition_date""").fetchall()
    assert len(row) == 1
    assert str(row[0][0]) == "2025-01-20" and str(row[0][1]) == "2024-12-10"


# 12-digit personnummer/samordningsnummer: century, year, month 01–12, day 01–31 or 61–91, 4 digits
PERSONNUMMER = r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])-?\d{4}"


def test_no_personal_identity_number_reaches_the_warehouse(demo_home):
    con = published(demo_home)
    assert con.execute("SELECT count(*) FROM core.award WHERE winner_org_number IS NULL "
                       "AND winner_name IS NULL").fetchall()[0][0] == 1   # P07's natural person
    for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
        cols = [r[0] for r in con.execute(f'DESCRIBE "{schema}"."{table}"').fetchall()]
        expr = " || ' ' || ".join(f'coalesce(CAST("{c}" AS VARCHAR), \'\')' for c in cols)
        hits = con.execute(f"SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE "
                           f"regexp_matches({expr}, '{PERSONNUMMER}')").fetchall()[0][0]
        assert hits == 0, f"{schema}.{table}"


def test_published_warehouse_is_documented_and_says_demo_data(demo_home):
    con = published(demo_home)
    comment = con.execute("SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts' "
                          "AND table_name = 'indicator_value'").fetchall()[0][0]
    assert "One value per indicator" in comment
    info = con.execute("SELECT version, demo, data_note FROM meta.warehouse_info").fetchall()[0]
    assert info[1] is True and "demo data" in info[2]
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts'").fetchall()}
    assert {"v_indicator", "v_labour_market", "v_social_procurement", "v_indicator_records"} <= views
    assert con.execute("SELECT count(*) FROM marts.v_labour_market").fetchall()[0][0] > 0


def test_report_edition_is_written_from_marts(demo_home):
    index = demo_home / "report" / "index.html"
    html = index.read_text(encoding="utf-8")
    assert "Demodata" in html and 'lang="sv"' in html
    for theme in ("overview", "social_procurement", "sector_collaboration", "labour_market"):
        assert f'id="{theme}"' in html
    assert "7,4 %" in html             # Linköping's unemployment, Swedish format
    editions = list((demo_home / "report" / "editions").iterdir())
    assert len(editions) == 1
    manifest = json.loads((editions[0] / "manifest.json").read_text())
    assert manifest["demo"] is True and "labour_market" in manifest["tables"]
    csv = (editions[0] / "tables" / "labour_market.csv").read_bytes()
    assert csv.startswith("\ufeff".encode()) and b";" in csv


def test_status_manifest_lists_every_loaded_source(demo_home):
    from warehouse import manifest
    m = manifest.read(demo_home)
    assert {"pxweb", "ted", "bolagsverket", "wise", "iop", "ideburen"} <= set(m["sources"])
    assert m["sources"]["bolagsverket"]["quarantined"] == 2
    assert m["warehouse"]["demo"] is True


def test_each_municipality_is_compared_with_county_country_and_its_size_group(demo_home, bas):
    con = published(demo_home)
    # Linköping, Norrköping and Jönköping have over 50 000 inhabitants aged 20–64: group S4
    members = [r[0] for r in con.execute("SELECT region_code FROM core.municipality_group WHERE group_id = 'S4' "
                                         "ORDER BY 1").fetchall()]
    assert members == ["0580", "0581", "0680"]
    # the group value pools the members' counts: Σ unemployed / Σ labour force, August 2026
    unemployed = sum(cell(bas, Region=r, Alder="20-64", Kon="1+2", ContentsCode="000004YH", Tid="2026M08") for r in members)
    employed = sum(cell(bas, Region=r, Alder="20-64", Kon="1+2", ContentsCode="000006HI", Tid="2026M08") for r in members)
    row = con.execute("SELECT value, county_value, country_value, group_id, group_value, group_members "
                      "FROM marts.indicator_comparison WHERE indicator_id = 'lm_unemployment_rate' "
                      "AND region_code = '0580' AND period = '2026-08' AND sex = 'T'").fetchall()[0]
    assert row == (Decimal("7.4"), Decimal("8.4"), Decimal("8.1"), "S4",
                   round(Decimal(100 * unemployed) / Decimal(unemployed + employed), 1), 3)


def test_coverage_of_the_procurement_data_is_reported(demo_home):
    con = published(demo_home)
    winners = dict(con.execute("SELECT metric, records FROM marts.data_coverage WHERE year = '2024' "
                               "AND subject = 'winners'").fetchall())
    # 14 winning organisations in 2024: 12 matched, P07's natural person never stored, one unknown company
    assert winners == {"matched to an organisation": 12, "not matched": 1,
                       "natural person or withheld (not matched by design)": 1}
    # TED's 9 Swedish procedures of 2024 against Upphandlingsmyndigheten's 17 575 advertised
    row = con.execute("SELECT national_value, ted_value, ted_share_percent FROM marts.national_benchmark "
                      "WHERE year = '2024' AND measure = 'advertised_procurements'").fetchall()[0]
    assert row == (Decimal("17575.00"), 9, Decimal("0.1"))


def test_ted_coverage_sets_ted_against_every_advertised_procurement(demo_home):
    """The bundled statistics-database export holds 299 procurements of Östergötland's buyers in
    2024 (141 above the thresholds); TED holds the county's six procedures with a competition
    notice — the same six behind sp_reserved_share — so it sees 2 % of them."""
    con = published(demo_home)
    rows = con.execute("SELECT region_code, advertised, advertised_above_thresholds, ted_procedures, ted_share_percent "
                       "FROM marts.ted_coverage WHERE year = '2024' AND region_code IN ('05', '0580', '00') "
                       "ORDER BY region_code").fetchall()
    assert rows == [("00", 531, 251, 9, Decimal("1.7")), ("05", 299, 141, 6, Decimal("2.0")),
                    ("0580", 64, 31, 0, Decimal("0.0"))]
    assert value_row(con, "sp_reserved_share", "05", "2024")[2] == Decimal("6")
    assert value_row(con, "sp_reserved_share_all", "05", "2024")[2] == Decimal("299")
