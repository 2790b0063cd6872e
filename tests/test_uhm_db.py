"""uhm-db: every advertised procurement from Upphandlingsmyndigheten's statistics database — the
export format, the per-procurement model, the *_all indicators, TED's coverage and the live export."""
from __future__ import annotations

import dataclasses
import io
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import openpyxl
import polars as pl
import pytest
from werkzeug import Response

from flows.ingest import ingest_snapshots, sample_files, store_files
from schemas.procurement import UhmDbProcurement
from sources import registry, uhm_db
from sources.base import FetchContext, ParseError
from sources.http import FetchError
from sources.snapshot import SnapshotStore
from transforms.build import build
from warehouse.db import connect_work

HEADER = ("År;Namn för köpare;Organisationsnummer för köpare;Delsektor för köpare;Huvudsaklig CPV-kod;"
          "Direktivstyrd;Socialt hållbar upphandling;Reserverad upphandling;Reserverat genomförande;"
          "Upphandlings-ID;Anbudsområdes-ID;Upphandlingens titel;Publiceringsdatum;Antal upphandlingar, Summa")
ROWS = [
    # two lots of one procurement: one reserved, the social flag said on one lot only
    "2024;LINKÖPINGS KOMMUN;212000-0449;Kommun;90911200 Städning;Direktivstyrd;Uppgift saknas;"
    "Reserverad upphandling;Inte reserverat genomförande;MA24001;1;Städ; lokalvård;2024-03-01;1",
    "2024;LINKÖPINGS KOMMUN;212000-0449;Kommun;90911200 Städning;Direktivstyrd;Inte socialt hållbar upphandling;"
    "Inte reserverad upphandling;Inte reserverat genomförande;MA24001;2;Städ; lokalvård;2024-03-01;1",
    "2024;REGION ÖSTERGÖTLAND;232100-0040;Region;00000000 Uppgift saknas;Inte direktivstyrd;"
    "Socialt hållbar upphandling;Inte reserverad upphandling;Reserverat genomförande;EA24002;;Boende;2024-04-02;1",
    "2024;STÅNGÅBOSTÄDER AB (EXEMPEL);5561000505;Kommunalt ägd organisation;45210000 Byggnadsarbete;False;"
    "True;False;;KA24003;;Tak;2024-05-03;1",
    "2024;FEL AB;5561000099;Annat;;;;;;KA24004;;Fel nummer;2024-05-04;1",
    "2024;LINKÖPINGS KOMMUN;2120000449;Kommun;;;;;;KA24005;;Fel datum;2024-02-30;1",
    "2024;LINKÖPINGS KOMMUN;2120000449;Kommun;;;;;;;;Utan id;2024-02-03;1",
]


# procurements of a buyer outside the county, so that three bad rows stay under the 5 % threshold
FILLER = [f"2024;STOCKHOLMS STAD;2120000142;Kommun;;Inte direktivstyrd;Uppgift saknas;Inte reserverad upphandling;"
          f"Inte reserverat genomförande;ST{i:03d};;Fyllnad;2024-06-01;1" for i in range(1, 58)]


def export(rows=ROWS, header=HEADER, sep=";") -> bytes:
    lines = [header] + rows
    if sep != ";":        # a cell holding the separator is quoted, as any CSV writer does
        lines = [ln.replace("Antal upphandlingar, Summa", '"Antal upphandlingar, Summa"').replace(";", sep)
                 for ln in lines]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def test_an_export_is_read_variable_by_variable():
    frames = uhm_db.parse(export(), "uhm-db-2024.csv")
    got = frames["uhm_db_procurement"]
    UhmDbProcurement.validate(got, lazy=True)
    assert got.select("procurement_id", "lot_id", "buyer_org_number", "buyer_subsector", "main_cpv", "directive",
                      "social", "reserved", "reserved_execution", "title", "publication_date", "year",
                      "procurements").rows() == [
        ("MA24001", "1", "2120000449", "Kommun", "90911200", True, None, True, False, "Städ; lokalvård",
         date(2024, 3, 1), 2024, 1),
        ("MA24001", "2", "2120000449", "Kommun", "90911200", True, False, False, False, "Städ; lokalvård",
         date(2024, 3, 1), 2024, 1),
        ("EA24002", None, "2321000040", "Region", None, False, True, False, True, "Boende", date(2024, 4, 2), 2024, 1),
        ("KA24003", None, "5561000505", "Kommunalt ägd organisation", "45210000", False, True, False, None, "Tak",
         date(2024, 5, 3), 2024, 1),
    ]
    assert frames["uhm_db_procurement_rejected"].rows() == [
        (5, "Organisationsnummer för köpare: check digit (Luhn) fails"),
        (6, "Publiceringsdatum is not a date"),
        (7, "Upphandlings-ID is empty")]


def test_flag_wordings():
    assert [uhm_db.flag(w) for w in ("Socialt hållbar upphandling", "Inte socialt hållbar upphandling",
                                     "Inga anbudsområden", "Inget krav", "Icke reserverad", "Ej reserverad", "Nej",
                                     "Ja", "True", "False", "1", "0", "Uppgift saknas", "Saknas", "", None, True)] == [
        True, False, False, False, False, False, False, True, True, False, True, False, None, None, None, None, True]


def test_a_semicolon_and_space_splits_cells_unless_the_row_needs_it_kept():
    """'; ' joins the values of a multi-valued cell — but a cell may also just start with a space.
    Which reading holds is decided per row by the header's width; a row that fits neither is
    rejected, never shifted."""
    header = "Upphandlings-ID;Organisationsnummer för köpare;Publiceringsdatum;Reserverad upphandling;Upphandlingens titel;Namn för köpare"
    rows = ["X1;2120000449;2024-03-01; Inte reserverad upphandling;Städ;LINKÖPINGS KOMMUN",   # a leading space
            "X2;2120000449;2024-03-01;Inte reserverad upphandling;Städ; fönsterputs;LINKÖPINGS KOMMUN",  # a joined cell
            "X3;2120000449;2024-03-01;Inte reserverad upphandling;Städ",                        # one field short
            "X4;2120000449;2024-03-01;Inte reserverad upphandling;A;B;C;D"]                      # too many either way
    frames = uhm_db.parse(export(rows, header), "x.csv")
    assert frames["uhm_db_procurement"].select("procurement_id", "reserved", "title", "buyer_name").rows() == [
        ("X1", False, "Städ", "LINKÖPINGS KOMMUN"), ("X2", False, "Städ; fönsterputs", "LINKÖPINGS KOMMUN")]
    assert frames["uhm_db_procurement_rejected"].rows() == [(3, "expected 6 fields, found 5"),
                                                            (4, "expected 6 fields, found 8")]


def test_a_title_line_with_commas_above_a_semicolon_header_is_skipped():
    data = export(ROWS[:1], "Antal upphandlingar, per upphandling, 2024\n" + HEADER)
    assert uhm_db.parse(data, "x.csv")["uhm_db_procurement"]["procurement_id"].to_list() == ["MA24001"]


def test_comma_separated_group_prefixed_and_xlsx_exports_read_the_same():
    want = uhm_db.parse(export(), "a.csv")["uhm_db_procurement"].drop("title")
    prefixed = HEADER.replace("Organisationsnummer för köpare", "Köpare.Organisationsnummer för köpare")
    rows = [r.replace("Städ; lokalvård", "Städ") for r in ROWS]
    assert uhm_db.parse(export(rows, prefixed, sep=","), "b.csv")["uhm_db_procurement"].drop("title").equals(want)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Antal upphandlingar efter upphandlings-ID"])            # a title line above the header
    sheet.append(HEADER.split(";"))
    for r in rows:
        cells = r.split(";")
        cells[0] = int(cells[0])
        cells[-1] = int(cells[-1])
        sheet.append(cells)
    buf = io.BytesIO()
    book.save(buf)
    assert uhm_db.parse(buf.getvalue(), "c.xlsx")["uhm_db_procurement"].drop("title").equals(want)


def test_an_export_without_the_needed_variables_is_a_one_line_error():
    with pytest.raises(ParseError, match="no header row with the variable 'Upphandlings-ID'"):
        uhm_db.parse(b"a;b\n1;2\n", "x.csv")
    with pytest.raises(ParseError, match=r"missing variable\(s\) Organisationsnummer för köpare, År or Publiceringsdatum"):
        uhm_db.parse("Upphandlings-ID;Namn för köpare\nX1;A\n".encode(), "x.csv")


def _home(tmp_path: Path, *files: tuple[str, bytes], fetched: list[str] | None = None) -> Path:
    home = tmp_path / "home"
    spec = registry.get("uhm-db")
    for i, (name, data) in enumerate(files):
        path = tmp_path / name
        path.write_bytes(data)
        summary = ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, [path], "captured"))
        assert summary.status == "loaded", summary.message
        if fetched:
            con = connect_work(home)
            con.execute("UPDATE meta.snapshot SET fetched_at = ?::TIMESTAMPTZ WHERE snapshot_id = ?",
                        [fetched[i], summary.snapshots[0]])
            con.close()
    con = connect_work(home)
    build(con)
    con.close()
    return home


def test_procurements_are_folded_placed_and_counted_where_their_buyers_are(tmp_path):
    # a later export of the same year (a whole year, as every export) corrects MA24001: no longer reserved
    corrected = [ROWS[0].replace("Reserverad upphandling;", "Inte reserverad upphandling;")] + ROWS[1:] + FILLER
    home = _home(tmp_path, ("first.csv", export(ROWS + FILLER)), ("second.csv", export(corrected)),
                 fetched=["2024-06-01T06:00:00+00:00", "2024-09-01T06:00:00+00:00"])
    con = connect_work(home)
    assert con.execute("SELECT procurement_id, year, lots, directive, reserved, reserved_execution, social "
                       "FROM core.national_procurement WHERE procurement_id NOT LIKE 'ST%' "
                       "ORDER BY procurement_id").fetchall() == [
        ("EA24002", "2024", 0, False, False, True, True),
        ("KA24003", "2024", 0, False, False, None, True),
        ("MA24001", "2024", 2, True, False, False, False)]
    assert con.execute("SELECT procurement_id, municipality_code, county_code, location_method, subsector "
                       "FROM core.national_procurement_buyer WHERE procurement_id NOT LIKE 'ST%' "
                       "ORDER BY procurement_id").fetchall() == [
        ("EA24002", None, "05", "name", "Region"),
        ("KA24003", None, None, "unresolved", "Kommunalt ägd organisation"),
        ("MA24001", "0580", "05", "name", "Kommun")]
    values = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT indicator_id, region_code, value, numerator, denominator, n, coverage FROM marts.indicator_value "
        "WHERE indicator_id LIKE '%_share_all' AND period = '2024' AND sex = 'T'").fetchall()}
    # the country: 60 procurements, one reserved (EA24002's reserved execution; MA24001 corrected)
    assert values[("sp_reserved_share_all", "00")] == (Decimal("1.7"), Decimal("1"), Decimal("60"), 60, Decimal("1.0000"))
    # the social flag: said for 3 of 60 (coverage 5 %), yes for 2
    assert values[("sp_social_share_all", "00")] == (Decimal("3.3"), Decimal("2"), Decimal("60"), 60, Decimal("0.0500"))
    # the county: Linköping's and the region's procurements; n = 2 < 5 → no value shown
    assert values[("sp_social_share_all", "05")] == (None, Decimal("1"), Decimal("2"), 2, Decimal("1.0000"))
    assert con.execute("SELECT region_code, advertised, advertised_above_thresholds, ted_procedures, ted_share_percent "
                       "FROM marts.ted_coverage ORDER BY region_code").fetchall() == [
        ("00", 60, 1, 0, Decimal("0.0")), ("01", 57, 0, 0, Decimal("0.0")), ("0180", 57, 0, 0, Decimal("0.0")),
        ("05", 2, 1, 0, Decimal("0.0")), ("0580", 1, 1, 0, Decimal("0.0"))]
    quarantined = con.execute("SELECT row_number, check_name FROM meta.quarantine WHERE source = 'uhm-db' "
                              "ORDER BY snapshot_id, row_number").fetchall()
    assert sorted(quarantined) == [(5, "Organisationsnummer för köpare: check digit (Luhn) fails"),
                                   (6, "Publiceringsdatum is not a date"), (7, "Upphandlings-ID is empty")]
    con.close()


def test_a_curated_buyer_places_a_municipal_company(tmp_path, monkeypatch):
    from transforms import build as build_module
    original = build_module.reference_csv

    def with_company(name: str) -> pl.DataFrame:
        frame = original(name)
        if name == "county_buyers.csv":
            frame = pl.concat([frame, pl.DataFrame([{
                "org_number": "5561000505", "name": "Stångåbostäder AB (exempel)", "municipality_code": "0580",
                "county_code": "05", "buyer_class": "municipal_company", "source": "test"}])], how="diagonal")
        return frame
    monkeypatch.setattr(build_module, "reference_csv", with_company)
    home = _home(tmp_path, ("first.csv", export(ROWS + FILLER)))
    con = connect_work(home)
    assert con.execute("SELECT municipality_code, county_code, location_method FROM core.national_procurement_buyer "
                       "WHERE procurement_id = 'KA24003'").fetchall() == [("0580", "05", "curated")]
    con.close()


def test_bundled_samples_land_with_their_one_bad_row_each(tmp_path):
    files = sample_files("uhm-db")
    assert [f.name for f in files] == ["uhm-db-2024.csv", "uhm-db-2025.csv"]
    frames = [uhm_db.parse(f.read_bytes(), f.name) for f in files]
    assert [f["uhm_db_procurement"].height for f in frames] == [531, 530]
    assert [f["uhm_db_procurement_rejected"]["reason"].to_list() for f in frames] == [
        ["Organisationsnummer för köpare: check digit (Luhn) fails"]] * 2


# --- live export ---------------------------------------------------------------------------------

def test_fetch_asks_for_one_csv_per_year_with_every_variable(httpserver, monkeypatch):
    seen = []

    def handler(request):
        query = parse_qsl(request.query_string.decode(), keep_blank_values=True)
        seen.append(query)
        year = dict(query)["year"]
        if year == "2026":
            return Response("", content_type="text/csv")           # nothing published yet this year
        return Response(export([r.replace("2024", year) for r in ROWS[:3]]), content_type="text/csv; charset=utf-8")
    httpserver.expect_request(uhm_db.EXPORT_PATH).respond_with_handler(handler)
    monkeypatch.setattr(uhm_db, "this_year", lambda: 2026)
    got = uhm_db.fetch(FetchContext(since=date(2024, 5, 1), base_url=httpserver.url_for("/")))
    assert [f.name for f in got] == ["uhm-db-2024.csv", "uhm-db-2025.csv"]
    assert [dict(q)["year"] for q in seen] == ["2024", "2025", "2026"]
    first = seen[0]
    assert [v for k, v in first if k == "param"] == uhm_db.EXPORT_VARIABLES
    assert ("distributedUnit", "Upphandlingar, Bas.Antal upphandlingar") in first
    parsed = uhm_db.parse(got[1].data, got[1].name)["uhm_db_procurement"]
    assert parsed["year"].to_list() == [2025, 2025, 2025]


def test_fetch_refuses_an_html_page_in_one_line_and_retries_a_503(httpserver, monkeypatch):
    monkeypatch.setattr("sources.http.time.sleep", lambda s: None)
    monkeypatch.setattr(uhm_db, "this_year", lambda: 2024)
    httpserver.expect_ordered_request(uhm_db.EXPORT_PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(uhm_db.EXPORT_PATH).respond_with_data(export(), content_type="text/csv")
    got = uhm_db.fetch(FetchContext(since=date(2024, 1, 1), base_url=httpserver.url_for("/")))
    assert len(got) == 1 and got[0].http_status == 200
    httpserver.clear()
    httpserver.expect_request(uhm_db.EXPORT_PATH).respond_with_data("<html>Statistikdatabasen</html>",
                                                                     content_type="text/html")
    with pytest.raises(FetchError, match=r"^uhm-db: .*expected a CSV export, got text/html") as exc:
        uhm_db.fetch(FetchContext(since=date(2024, 1, 1), base_url=httpserver.url_for("/")))
    assert "\n" not in str(exc.value)


def test_a_municipally_owned_buyer_is_placed_by_its_registered_postal_town(tmp_path):
    """No register says who owns a municipal company; the database says it is municipally owned and
    the register gives its postal town — the municipality of that name (method 'town')."""
    register = tmp_path / "scb.txt"
    columns = ["PeOrgNr", "Foretagsnamn", "Namn", "FtgStat", "JurForm", "Ng1", "PostNr", "PostOrt", "RegDatKtid"]
    register.write_bytes(("\t".join(columns) + "\r\n" + "\t".join(
        ["165561000505", "Stångåbostäder AB", "", "1", "49", "68201", "58222", "LINKÖPING", "19500101"]) + "\r\n"
        + "\t".join(["162021005471", "Kammarkollegiet", "", "1", "81", "84110", "10314", "STOCKHOLM", "19000101"])
        + "\r\n").encode("latin-1"))
    home = tmp_path / "home"
    spec = registry.get("scb-register")
    assert ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, [register], "captured")).status == "loaded"
    agency = "2024;KAMMARKOLLEGIET;2021005471;Statlig myndighet;;;;;;KK24001;;Ramavtal;2024-02-01;1"
    _home(tmp_path, ("first.csv", export(ROWS + FILLER + [agency])))
    con = connect_work(home)
    assert con.execute("SELECT municipality_code, county_code, location_method FROM core.national_procurement_buyer "
                       "WHERE procurement_id = 'KA24003'").fetchall() == [("0580", "05", "town")]
    # a state agency is not placed by its town: it counts for the country only
    assert con.execute("SELECT municipality_code, county_code, location_method FROM core.national_procurement_buyer "
                       "WHERE procurement_id = 'KK24001'").fetchall() == [(None, None, "unresolved")]
    assert con.execute("SELECT region_code FROM core.national_procurement_region "
                       "WHERE procurement_id = 'KK24001'").fetchall() == [("00",)]
    con.close()


def test_a_newer_export_of_a_year_replaces_that_year_only(tmp_path, monkeypatch):
    """Each export holds a whole year: the newest snapshot of a year replaces what older ones gave
    it (a withdrawn procurement disappears), other years stay, and superseded raw snapshots beyond
    the retention are pruned — a nightly fetch of the current year does not pile up."""
    monkeypatch.setenv("KRAFTER_KEEP_SNAPSHOTS", "1")
    spec = registry.get("uhm-db")
    home = tmp_path / "home"
    store = SnapshotStore(home)
    y2025 = [r.replace("2024", "2025").replace("MA24001", "MA25001") for r in ROWS[:2]]

    def ingest(name: str, rows: list[str], fetched: str) -> None:
        time.sleep(1.1)                  # snapshots are ordered by their store time (whole seconds)
        path = tmp_path / name
        path.write_bytes(export(rows))
        summary = ingest_snapshots(home, spec, store_files(store, spec, [path], "captured"))
        assert summary.status == "loaded", summary.message
        con = connect_work(home)
        con.execute("UPDATE meta.snapshot SET fetched_at = ?::TIMESTAMPTZ WHERE snapshot_id = ?",
                    [fetched, summary.snapshots[0]])
        con.close()

    ingest("2024-a.csv", ROWS[:4], "2025-01-10T06:00:00+00:00")
    ingest("2025-a.csv", y2025, "2025-01-10T06:00:00+00:00")
    ingest("2024-b.csv", ROWS[:2] + ROWS[3:4], "2025-02-10T06:00:00+00:00")     # EA24002 withdrawn
    con = connect_work(home)
    assert con.execute("SELECT year, procurement_id, count(*) FROM staging.uhm_db_procurement "
                       "GROUP BY ALL ORDER BY ALL").fetchall() == [
        (2024, "KA24003", 1), (2024, "MA24001", 2), (2025, "MA25001", 2)]
    build(con)
    assert con.execute("SELECT procurement_id FROM core.national_procurement ORDER BY 1").fetchall() == [
        ("KA24003",), ("MA24001",), ("MA25001",)]
    con.close()
    assert sorted(s.name for s in store.list("uhm-db")) == ["2024-b.csv", "2025-a.csv"]


def _year_rows(year: int, n: int, prefix: str, published: str | None = None) -> list[str]:
    """``n`` procurements of Stockholm published in ``year`` (an export without the År column)."""
    day = published or f"{year}-06-01"
    return [f"STOCKHOLMS STAD;2120000142;Kommun;{prefix}{i:03d};{day}" for i in range(1, n + 1)]


NO_YEAR_HEADER = "Namn för köpare;Organisationsnummer för köpare;Delsektor för köpare;Upphandlings-ID;Publiceringsdatum"


def _ingest_exports(tmp_path: Path, home: Path, exports: list[tuple[str, list[str]]], fetched: str | None = None):
    spec = registry.get("uhm-db")
    files = []
    for name, rows in exports:
        files.append(tmp_path / name)
        files[-1].write_bytes(export(rows, NO_YEAR_HEADER))
    stored = store_files(SnapshotStore(home), spec, files, "captured")
    if fetched:                                        # as if stored in the same second
        stored = [(dataclasses.replace(s, fetched_at=fetched), new) for s, new in stored]
    return ingest_snapshots(home, spec, stored)


def _years(home: Path) -> list[tuple]:
    con = connect_work(home)
    try:
        return con.execute("SELECT year, left(procurement_id, 2), count(*) FROM staging.uhm_db_procurement "
                           "GROUP BY ALL ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_a_few_rows_of_another_year_do_not_replace_that_year(tmp_path):
    home = tmp_path / "home"
    assert _ingest_exports(tmp_path, home, [("2023.csv", _year_rows(2023, 57, "AA"))]).status == "loaded"
    time.sleep(1.1)
    # the 2024 export holds one procurement published on 2023-12-29: it does not stand for 2023
    rows = _year_rows(2024, 30, "BB") + _year_rows(2023, 1, "BX", "2023-12-29")
    assert _ingest_exports(tmp_path, home, [("2024.csv", rows)]).status == "loaded"
    assert _years(home) == [(2023, "AA", 57), (2024, "BB", 30)]


def test_a_snapshot_that_failed_keeps_its_quarantine_record_and_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAFTER_KEEP_SNAPSHOTS", "1")
    home = tmp_path / "home"
    broken = tmp_path / "broken-2024.csv"
    broken.write_bytes(b"\xff\xfe" + "x".encode("utf-16-le"))             # UTF-16: refused in one line
    spec = registry.get("uhm-db")
    (tmp_path / "2023.csv").write_bytes(export(_year_rows(2023, 20, "AA"), NO_YEAR_HEADER))
    first = ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec,
                                                     [tmp_path / "2023.csv", broken], "captured"))
    assert first.status == "loaded"
    time.sleep(1.1)
    assert _ingest_exports(tmp_path, home, [("2025.csv", _year_rows(2025, 20, "CC"))]).status == "loaded"
    con = connect_work(home)
    assert con.execute("SELECT count(*) FROM meta.quarantine WHERE source = 'uhm-db' AND table_name = '(parse)'"
                       ).fetchall() == [(1,)]
    con.close()
    assert "broken-2024.csv" in [s.name for s in SnapshotStore(home).list("uhm-db")]


def test_two_exports_of_a_year_stored_in_the_same_second_keep_the_later_file(tmp_path):
    home = tmp_path / "home"
    summary = _ingest_exports(tmp_path, home, [("2024-a.csv", _year_rows(2024, 20, "AA")),
                                               ("2024-b.csv", _year_rows(2024, 25, "BB"))],
                              fetched="2025-01-01T06:00:00+00:00")
    assert summary.status == "loaded" and summary.rows == 25
    assert _years(home) == [(2024, "BB", 25)]
