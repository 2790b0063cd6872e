"""Hostile rows inside readable files: schema drift, invalid organisation numbers, duplicate keys
and absurd values. Bad rows are quarantined (or rejected at parse) with a reason, the good rows land
(counted exactly), and nothing is counted twice."""
from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from flows.ingest import ingest_snapshots, store_files
from hostile_corpus import (PERSONNUMMER, as_json, bolagsverket_text, jsonstat_doc, one_line,
                            prepared)
from sources import bolagsverket, registry
from sources.base import ParseError
from sources.snapshot import SnapshotStore
from transforms.build import build
from warehouse.db import connect_work

WISE_HEADER = "org_number,name,source,date"
GOOD_WISE = ["769600-0103,Vägen ek. för.,curated,2026-01-15",
             "769600-0111,Socialt Företag ek. för.,curated,2026-01-15",
             "769600-0129,Återbruk ek. för.,curated,2026-01-15"]


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def quarantine_reasons(prep) -> list[tuple[int, str, str | None]]:
    """(row number, check or reason, value) of every quarantined row of a prepared snapshot."""
    out = [(r["row_number"], r["check_name"], r["value"])
           for v in prep.tables.values() for r in v.quarantine.to_dicts()]
    if prep.rejected is not None:
        out += [(r.get("row_number"), r["reason"], None) for r in prep.rejected.to_dicts()]
    return sorted(out, key=lambda t: (t[0] or 0, t[1]))


# --- schema drift ----------------------------------------------------------------------------

def test_curated_list_with_a_new_column_still_lands_every_row():
    prep = prepared("wise", csv_bytes(WISE_HEADER + ",comment", *(g + ",note" for g in GOOD_WISE)), "wise.csv")
    assert prep.error is None
    assert prep.tables["wise_enterprise"].good.height == 3 and prep.quarantined == 0


@pytest.mark.parametrize("source_id, header, missing", [
    ("wise", "org_number,name,source", "date"),
    ("iop", "municipality_code,partner_org_number,area,start", "end"),
], ids=["wise", "iop"])
def test_curated_list_with_a_missing_column_is_one_line_error(source_id, header, missing):
    module = registry.get(source_id).load()
    with pytest.raises(ParseError) as err:
        module.parse(csv_bytes(header, "0580,7696000103,x,2024-01-01"), "list.csv")
    msg = one_line(str(err.value))
    assert msg.startswith(f"missing column(s) {missing};") and f"found {header}" in msg


@pytest.mark.parametrize("source_id, header, renamed", [
    ("wise", "orgnr,name,source,date", "org_number"),
    ("iop", "municipality_code,partner_orgnr,area,start,end", "partner_org_number"),
], ids=["wise", "iop"])
def test_curated_list_with_a_renamed_column_is_one_line_error(source_id, header, renamed):
    module = registry.get(source_id).load()
    with pytest.raises(ParseError) as err:
        module.parse(csv_bytes(header, "7696000103,x,y,2024-01-01"), "list.csv")
    assert one_line(str(err.value)).startswith(f"missing column(s) {renamed};")


def _bolagsverket_with_header(edit) -> bytes:
    lines = bolagsverket_text().decode("utf-8-sig").splitlines()
    return "\n".join([edit(lines[0]), *lines[1:]]).encode("utf-8")


@pytest.mark.parametrize("edit, reason", [
    (lambda h: h + ';"kommunkod"', "header has 12 columns, expected 11 (format changed?)"),
    (lambda h: h.rsplit(";", 1)[0], "header has 10 columns, expected 11 (format changed?)"),
    (lambda h: h.replace('"organisationsnamn"', '"foretagsnamn"'),
     "header column 4 is 'foretagsnamn', expected 'organisationsnamn' (format changed?)"),
    (lambda h: h.replace('"avregistreringsdatum"', '"X"').replace('"registreringsdatum"', '"avregistreringsdatum"')
     .replace('"X"', '"registreringsdatum"'),
     "header column 6 is 'registreringsdatum', expected 'avregistreringsdatum' (format changed?)"),
], ids=["new-column", "missing-column", "renamed-column", "swapped-columns"])
def test_bolagsverket_header_drift_is_one_line_error(edit, reason):
    with pytest.raises(ParseError) as err:
        bolagsverket.parse(_bolagsverket_with_header(edit), "bolagsverket_bulkfil.txt")
    assert one_line(str(err.value)) == reason


def test_bolagsverket_header_in_other_case_is_accepted():
    frames = bolagsverket.parse(_bolagsverket_with_header(str.upper), "bolagsverket_bulkfil.txt")
    assert frames["bolagsverket_organisation"].height > 0


def test_ftgstat_without_its_event_column_is_one_line_error():
    with pytest.raises(ParseError) as err:
        registry.get("ftgstat").load().parse(csv_bytes("ar,manad,SATELAN,SATEKOMMUN,AB", "2025,1,5,80,3"), "f.csv")
    assert one_line(str(err.value)).startswith("missing column(s) handelse;")


# --- invalid organisation numbers ------------------------------------------------------------

def test_invalid_org_numbers_in_a_curated_list_are_quarantined_and_the_rest_lands():
    bad = ["769600-0104,Fel kontrollsiffra,curated,2026-01-15",        # Luhn fails
           "76960010,För kort,curated,2026-01-15",                       # 8 digits
           "76960001031,För lång,curated,2026-01-15",                    # 11 digits
           "ABC123,Bokstäver,curated,2026-01-15",
           f"{PERSONNUMMER},Anna Andersson,curated,2026-01-15",          # 12-digit personnummer
           "800101-1234,Bo Berg,curated,2026-01-15"]                     # 10-digit personnummer
    prep = prepared("wise", csv_bytes(WISE_HEADER, *GOOD_WISE, *bad), "wise.csv")
    v = prep.tables["wise_enterprise"]
    assert v.good.height == 3 and sorted(v.good["org_number"]) == ["7696000103", "7696000111", "7696000129"]
    assert [(r, c) for r, c, _ in quarantine_reasons(prep)] == [(4, "valid_org_number"), (5, "valid_org_number"),
                                                                (6, "valid_org_number"), (7, "valid_org_number")]
    # personal identity numbers are removed and only counted: in no frame, in no quarantine value
    assert prep.extra["wise_sole_traders"]["count"].to_list() == [2]
    everything = str([f.to_dicts() for f in (v.good, v.quarantine)])
    assert "19800101" not in everything and "8001011234" not in everything and "Anna" not in everything
    assert all("<" in (val or "<") for _, _, val in quarantine_reasons(prep) if val and val[0].isdigit())


def test_invalid_partner_org_number_in_iop_is_quarantined_and_the_rest_lands():
    rows = ["0580,8024000146,arbetsintegration,2023-01-01,", "0581,8024000147,fritid,2022-06-01,",
            f"0583,{PERSONNUMMER},arbetsträning,2021-01-01,2024-12-31", "0562,7696000129,återbruk,2024-03-01,"]
    prep = prepared("iop", csv_bytes("municipality_code,partner_org_number,area,start,end", *rows), "iop.csv")
    assert prep.tables["iop_agreement"].good.height == 2
    assert [(r, c) for r, c, _ in quarantine_reasons(prep)] == [(2, "valid_org_number")]
    assert prep.extra["iop_sole_traders"]["count"].to_list() == [1]


def test_bolagsverket_rows_with_bad_check_digits_are_quarantined_and_the_rest_lands():
    lines = bolagsverket_text().decode("utf-8-sig").splitlines()
    header, data = lines[0], [ln for ln in lines[1:] if "$ORGNR-IDORG" in ln][:20]
    baseline = prepared("bolagsverket", "\n".join([header, *data]).encode(), "b.txt")
    ok = baseline.tables["bolagsverket_organisation"].good.height
    first = data[0].split("$", 1)
    broken = first[0][:-1] + str((int(first[0][-1]) + 1) % 10) + "$" + first[1]   # last digit off by one
    prep = prepared("bolagsverket", "\n".join([header, broken, *data[1:]]).encode(), "b.txt")
    assert prep.tables["bolagsverket_organisation"].good.height == ok - 1
    [(row, check, value)] = [q for q in quarantine_reasons(prep) if q[0] == 1]
    assert check == "valid_org_number" and value == "<10 digits>"


# --- duplicate keys --------------------------------------------------------------------------

def test_duplicate_cells_in_a_pxweb_frame_are_all_quarantined_and_never_land_twice():
    # SCB's "1+2" and "T" both mean both sexes: four cells collide on (region, period, sex = T)
    doc = jsonstat_doc(["0580", "0581"], ["1+2", "T", "1"], ["2025M01", "2025M02"], list(range(1, 13)))
    prep = prepared("pxweb", as_json(doc), "TAB6471_x.json")
    v = prep.tables["pxweb_observation"]
    assert v.good.height == 4 and set(v.good["sex"]) == {"M"}
    assert {c for _, c, _ in quarantine_reasons(prep)} == {"multiple_fields_uniqueness"}
    assert v.rejected_rows == 8


def test_duplicate_kolada_values_are_quarantined():
    row = {"kpi": "N03926", "municipality": "0580", "period": 2024,
           "values": [{"gender": "T", "value": 4.5}, {"gender": "T", "value": 4.7}, {"gender": "K", "value": 4.1}]}
    prep = prepared("kolada", as_json({"values": [row]}), "kolada.json")
    assert prep.tables["kolada_value"].good.height == 1
    assert prep.tables["kolada_value"].rejected_rows == 2


def _land(home: Path, source_id: str, files: list[Path]):
    spec = registry.get(source_id)
    return ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, files, "captured"))


def test_duplicate_org_numbers_in_a_curated_list_are_counted_once(tmp_path):
    listing = tmp_path / "wise.csv"
    listing.write_bytes(csv_bytes(WISE_HEADER, *GOOD_WISE, "7696000103,Vägen igen,curated,2026-02-01",
                                  "769600-0103,Vägen en tredje gång,curated,2026-03-01"))
    summary = _land(tmp_path / "home", "wise", [listing])
    assert summary.status == "loaded" and summary.rows == 5
    con = connect_work(tmp_path / "home")
    try:
        build(con)
        counts = dict(con.execute("SELECT org_number, count(*) FROM core.organisation GROUP BY 1").fetchall())
        assert counts == {"7696000103": 1, "7696000111": 1, "7696000129": 1}
        assert con.execute("SELECT count(*) FROM core.organisation WHERE is_wise").fetchall()[0][0] == 3
    finally:
        con.close()


def test_the_same_jsonstat_cell_in_two_snapshots_is_not_counted_twice(tmp_path):
    a, b = tmp_path / "TAB6471_a.json", tmp_path / "TAB6471_b.json"
    a.write_bytes(as_json(jsonstat_doc(["0580"], ["1"], ["2025M01", "2025M02"], [100, 110])))
    b.write_bytes(as_json(jsonstat_doc(["0580"], ["1"], ["2025M02", "2025M03"], [120, 130])))
    summary = _land(tmp_path / "home", "pxweb", [a, b])
    con = connect_work(tmp_path / "home")
    try:
        build(con)
        n = con.execute("SELECT count(*) FROM core.labour_market WHERE region_code = '0580' "
                        "AND period = '2025-02' AND measure = 'population_total'").fetchall()[0][0]
    finally:
        con.close()
    # uniqueness across the batch is checked in DuckDB: both copies of 2025-02 are quarantined
    assert summary.status == "loaded" and n == 0
    con = connect_work(tmp_path / "home")
    try:
        q = con.execute("SELECT count(*), min(check_name) FROM meta.quarantine WHERE source = 'pxweb'").fetchall()[0]
    finally:
        con.close()
    assert q == (2, "duplicate key across snapshots")


# --- absurd values ---------------------------------------------------------------------------

FTGSTAT_HEADER = "ar,manad,handelse,SATELAN,SATEKOMMUN,AB,EK"


def test_ftgstat_negative_counts_and_absurd_years_are_quarantined_and_the_rest_lands():
    rows = ["2025,1,1,5,80,3,1",            # good: 2 rows
            "2025,2,1,5,80,-4,1",           # AB negative → quarantined, EK lands
            "1850,3,1,5,80,2,0",            # year 1850: both forms quarantined
            "2150,4,1,5,80,2,0",            # year 2150: both forms quarantined
            "2025,5,1,5,80,7,2"]            # good: 2 rows
    prep = prepared("ftgstat", csv_bytes(FTGSTAT_HEADER, *rows), "ftgstat_oppna.csv")
    v = prep.tables["ftgstat_registration"]
    assert v.good.height == 5
    reasons = quarantine_reasons(prep)
    assert ("greater_than_or_equal_to(0)" in {c for _, c, _ in reasons}
            and {"greater_than_or_equal_to(1900)", "less_than_or_equal_to(2100)"} <= {c for _, c, _ in reasons})
    assert v.rejected_rows == 3 and v.quarantine.height == 5      # records 2, 3, 4; five form cells
    assert sorted({r for r, _, _ in reasons}) == [2, 3, 4]


def _af_workbook(values: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Arbetsförmedlingen, kommunstatistik januari 2024, 16-65 år"])
    ws.append(["Kommunkod", "Kommun", "Inskrivna arbetslösa", "Öppet arbetslösa"])
    for row in values:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_af_negative_count_is_quarantined_and_the_rest_lands():
    data = _af_workbook([["0580", "Linköping", 4210, 2100], ["0581", "Norrköping", -7, 3300],
                         ["0582", "Söderköping", 310, 150]])
    prep = prepared("af", data, "af_2024-01.xlsx")
    v = prep.tables["af_observation"]
    assert v.good.height == 5
    assert [(c, val) for _, c, val in quarantine_reasons(prep)] == [("greater_than_or_equal_to(0)", "-7.0")]


def test_af_negative_count_in_csv_is_rejected_at_parse_with_its_cell():
    data = ("Kommunstatistik januari 2024\nKommunkod;Kommun;Inskrivna arbetslösa;Öppet arbetslösa\n"
            "0580;Linköping;4210;2100\n0581;Norrköping;-7;3300\n").encode()
    prep = prepared("af", data, "af.csv")
    assert prep.tables["af_observation"].good.height == 3
    assert quarantine_reasons(prep) == [(3, "csv cell C4: '-7' is not a number", None)]


def test_kolada_share_above_100_percent_is_rejected_and_the_rest_lands():
    values = [{"kpi": "N03926", "municipality": m, "period": 2024, "values": [{"gender": "T", "value": v}]}
              for m, v in (("0580", 4.2), ("0581", 150.0), ("0582", -3.0), ("0583", 100.0))]
    prep = prepared("kolada", as_json({"values": values}), "kolada_N03926.json")
    assert prep.tables["kolada_value"].good.height == 2
    assert quarantine_reasons(prep) == [(2, "value 150.0 is outside 0-100 for a share in percent", None),
                                        (3, "value -3.0 is outside 0-100 for a share in percent", None)]


def test_uhm_years_1850_and_2150_are_quarantined_and_the_rest_lands():
    url = "https://www.upphandlingsmyndigheten.se/statistik/"
    rows = [f"2024,advertised_procurements,17575,procurements,{url},2026-02-05",
            f"1850,advertised_procurements,10,procurements,{url},",
            f"2150,advertised_procurements,10,procurements,{url},"]
    prep = prepared("uhm", csv_bytes("year,measure,value,unit,source_url,published", *rows), "uhm.csv")
    v = prep.tables["uhm_national_figure"]
    assert v.good.height == 1 and v.rejected_rows == 2
    assert [(r, c) for r, c, _ in quarantine_reasons(prep)] == [(3, "greater_than_or_equal_to(2000)"),
                                                                (4, "less_than_or_equal_to(2100)")]


def test_absurd_years_in_labour_statistics_are_quarantined():
    import polars as pl
    from schemas.labour import KoladaValue, PxwebObservation
    from schemas.validate import validate
    px = pl.DataFrame({"row_number": [1, 2, 3], "table_id": ["TAB6260"] * 3, "region_code": ["0580"] * 3,
                       "period": ["2025-01", "1850-01", "2150-12"], "measure": ["employed"] * 3, "sex": ["T"] * 3,
                       "age_group": ["20-64"] * 3, "value": [1.0, 2.0, 3.0], "status": [None] * 3,
                       "unit": ["antal"] * 3, "source_updated": [None] * 3}
                      ).with_columns(pl.col("status", "source_updated").cast(pl.String))
    v = validate("pxweb_observation", px, PxwebObservation)
    assert v.good.height == 1 and sorted(v.quarantine["row_number"].to_list()) == [2, 3]
    kolada = pl.DataFrame({"kpi": ["N03926"] * 2, "region_code": ["0580"] * 2, "period": ["2024", "2150"],
                           "sex": ["T"] * 2, "value": [3.1, 2.0], "status": [None] * 2, "count": [1, 1],
                           "row_number": [1, 2]}).with_columns(pl.col("status").cast(pl.String))
    v = validate("kolada_value", kolada, KoladaValue)
    assert v.good.height == 1 and v.quarantine["row_number"].to_list() == [2]
