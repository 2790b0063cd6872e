"""Arbetsförmedlingen monthly statistics: the bundled synthetic workbooks (merged headers, the 2023
age-range break, "<5" masks), the CSV export, bad input, and the fetch (link scrape on a local page)."""
from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import polars as pl
import pytest

from schemas.labour import AfObservation
from sources import af, http
from sources.base import FetchContext, ParseError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sources" / "samples" / "af"
MONTHS = ["2022-12", "2023-01", "2026-08"]
OSTERGOTLAND = {"00", "05", "0509", "0512", "0513", "0560", "0561", "0562", "0563", "0580", "0581", "0582",
                "0583", "0584", "0586"}
MEASURES = {"registered_unemployed", "open_unemployed", "in_programmes", "unemployed_6m", "unemployed_12m",
            "registered_labour_force"}


def sample_path(month: str) -> Path:
    return SAMPLES / f"af_manadsstatistik_kommun_{month}.xlsx"


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    out = {}
    for m in MONTHS:
        parsed = af.parse(sample_path(m).read_bytes(), sample_path(m).name)
        assert parsed["af_rejected"].height == 0
        out[m] = parsed["af_observation"]
    return out


def cell(frame, region, measure, sex="T"):
    r = frame.filter(pl.col("region_code") == region, pl.col("measure") == measure, pl.col("sex") == sex)
    assert r.height == 1
    return r.row(0, named=True)


def test_samples_are_synthetic_with_merged_headers():
    for m in MONTHS:
        wb = openpyxl.load_workbook(sample_path(m))
        ws = wb.active
        assert "SYNTETISKT" in ws["A2"].value and "SYNTHETIC" in ws["A1"].comment.text
        merged = {str(r) for r in ws.merged_cells.ranges}
        assert {"A5:A6", "B5:B6", "C5:E5", "R5:T5"} <= merged
        assert ws["C5"].value == "Inskrivna arbetslösa" and ws["D5"].value is None


@pytest.mark.parametrize("month", MONTHS)
def test_sample_shape_and_schema(frames, month):
    f = frames[month]
    assert f.height == 15 * 6 * 3
    assert f.columns == ["region_code", "period", "measure", "sex", "age_group", "series_break", "value",
                         "status", "row_number"]
    assert f.schema == pl.Schema({"region_code": pl.String, "period": pl.String, "measure": pl.String,
                                  "sex": pl.String, "age_group": pl.String, "series_break": pl.Boolean,
                                  "value": pl.Float64, "status": pl.String, "row_number": pl.Int64})
    assert set(f["region_code"]) == OSTERGOTLAND          # 2026-08 stores codes as numbers: zero-padded
    assert set(f["measure"]) == MEASURES                  # the share column is ignored
    assert set(f["sex"]) == {"T", "K", "M"}
    assert set(f["period"]) == {month}
    assert f["row_number"].to_list() == list(range(1, 271))
    AfObservation.validate(f, lazy=True)


def test_age_range_as_published_and_the_2023_series_break(frames):
    assert set(frames["2022-12"]["age_group"]) == {"16-64"} and not frames["2022-12"]["series_break"].any()
    assert set(frames["2023-01"]["age_group"]) == {"16-65"} and frames["2023-01"]["series_break"].all()
    assert set(frames["2026-08"]["age_group"]) == {"16-65"} and not frames["2026-08"]["series_break"].any()


def test_pinned_values(frames):
    jan = frames["2023-01"]
    linkoping = {m: cell(jan, "0580", m)["value"] for m in MEASURES}
    assert linkoping == {"registered_unemployed": 5393.0, "open_unemployed": 3005.0, "in_programmes": 2388.0,
                         "unemployed_6m": 3108.0, "unemployed_12m": 1927.0, "registered_labour_force": 88234.0}
    assert linkoping["registered_unemployed"] == linkoping["open_unemployed"] + linkoping["in_programmes"]
    assert cell(jan, "0580", "registered_unemployed", "K")["value"] == 2483.0
    assert cell(jan, "05", "registered_unemployed")["value"] == 17230.0      # the county as published
    assert cell(jan, "00", "registered_labour_force")["value"] == 5344920.0  # "Riket" row without a code
    assert cell(frames["2022-12"], "0580", "registered_unemployed")["value"] == 5107.0
    assert cell(frames["2026-08"], "0580", "unemployed_12m")["value"] == 1750.0
    assert cell(frames["2026-08"], "00", "registered_unemployed")["value"] == 338429.0   # Riket last


def test_masked_small_counts_keep_the_symbol(frames):
    ydre = frames["2026-08"].filter(pl.col("region_code") == "0512", pl.col("measure") == "unemployed_12m")
    assert {r["sex"]: (r["value"], r["status"]) for r in ydre.iter_rows(named=True)} == {
        "T": (6.0, None), "K": (None, "<5"), "M": (None, "<5")}
    masked = frames["2023-01"].filter(pl.col("status").is_not_null())
    assert masked.select("region_code", "measure", "sex", "value", "status").rows() == [
        ("0512", "unemployed_12m", s, None, "<5") for s in ("T", "K", "M")]
    ws = openpyxl.load_workbook(sample_path("2023-01")).active
    assert [ws.cell(10, c).value for c in (15, 16, 17)] == ["<5", "<5", "<5"]     # Ydre row, O:Q
    assert ws.cell(10, 2).value == "Ydre"


# --- CSV export ----------------------------------------------------------------------------------

CSV = """Arbetsförmedlingen: inskrivna arbetslösa per kommun, februari 2023;;;;;
Ålder 16–65 år;;;;;
;;;;;
Kommunkod;Kommun;Inskrivna arbetslösa;;Utan arbete mer än 12 månader;
;;Kvinnor;Män;Kvinnor;Män
0580;Linköping;2 483;2 910;902;1 025
0512;Ydre;24;27;<5;<5
;Östergötlands län;8 013;9 217;2 682;3 095
0581;Norrköping;abc;3 100;..;1 200
Källa: Arbetsförmedlingen;;;;;
"""


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8", "utf-8-sig"])
def test_csv_export_semicolon_latin1_or_utf8(encoding):
    frames = af.parse(CSV.replace("–", "-").encode(encoding) if encoding == "latin-1" else CSV.encode(encoding),
                      "af.csv")
    obs, rej = frames["af_observation"], frames["af_rejected"]
    assert set(obs["period"]) == {"2023-02"} and set(obs["age_group"]) == {"16-65"}
    assert not obs["series_break"].any()
    assert cell(obs, "0580", "registered_unemployed", "M")["value"] == 2910.0
    assert cell(obs, "0512", "unemployed_12m", "K")["status"] == "<5"
    assert cell(obs, "0581", "unemployed_12m", "K")["status"] == ".."
    assert set(obs["region_code"]) == {"0580", "0512", "0581"}
    assert rej["reason"].to_list() == ["csv row 8: no region code in 'Östergötlands län'",
                                       "csv cell C9: 'abc' is not a number"]
    AfObservation.validate(obs, lazy=True)


def test_csv_without_age_line_uses_the_published_rule():
    text = CSV.replace("Ålder 16–65 år;;;;;\n", "").replace("februari 2023", "januari 2023")
    obs = af.parse(text.encode("utf-8"), "af.csv")["af_observation"]
    assert set(obs["age_group"]) == {"16-65"} and obs["series_break"].all()
    obs = af.parse(text.replace("januari 2023", "november 2022").encode("utf-8"))["af_observation"]
    assert set(obs["age_group"]) == {"16-64"} and not obs["series_break"].any()


def test_period_column_instead_of_title():
    text = ("Kommunkod;Kommun;Månad;Inskrivna arbetslösa;Registerbaserad arbetskraft\n"
            "0580;Linköping;2023-01;5393;88234\n0580;Linköping;2022-12;5107;87360\n")
    obs = af.parse(text.encode("utf-8"))["af_observation"]
    assert obs.select("period", "measure", "sex", "age_group", "series_break", "value").rows() == [
        ("2023-01", "registered_unemployed", "T", "16-65", True, 5393.0),
        ("2023-01", "registered_labour_force", "T", "16-65", True, 88234.0),
        ("2022-12", "registered_unemployed", "T", "16-64", False, 5107.0),
        ("2022-12", "registered_labour_force", "T", "16-64", False, 87360.0)]


# --- bad input ----------------------------------------------------------------------------------

def xlsx(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Blad1"
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04 truncated", "not a readable xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old binary Excel"),
    (b"\x00\x01\x02binary", "neither an xlsx workbook nor CSV text"),
    (b"", "empty file"),
    (xlsx([["Arbetsförmedlingen"], ["hello"]]), "no sheet with a header row naming a measure.*sheets: Blad1"),
    (xlsx([["mars 2023"], ["Kommun", "Inskrivna arbetslösa", "Öppet arbetslösa"], ["Linköping", 1, 2]]),
     "sheet 'Blad1': no region code column"),
    (xlsx([["Statistik"], ["Kod", "Kommun", "Inskrivna arbetslösa"], ["0580", "Linköping", 1]]),
     "sheet 'Blad1': no period"),
    ("Kod;Kommun;Antal\n0580;Linköping;3\n".encode("utf-8"), "csv: no header row naming a measure"),
])
def test_bad_input_is_a_one_line_parse_error(data, message):
    with pytest.raises(ParseError, match=message) as err:
        af.parse(data, "x")
    assert "\n" not in str(err.value)


# --- fetch --------------------------------------------------------------------------------------

@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []
    fake = SimpleNamespace(sleep=recorded.append, time=__import__("time").time)
    monkeypatch.setattr(http, "time", fake)
    monkeypatch.setattr(af, "time", fake)
    monkeypatch.delenv("KRAFTER_AF_URL", raising=False)
    monkeypatch.delenv("KRAFTER_AF_LINK_PATTERN", raising=False)
    return recorded


PAGE = """<html><body><h1>Tidigare statistik</h1>
<a href="/download/18.1/1700000001/manadsstatistik-kommun-2023-01.xlsx">Januari 2023 (Excel)</a>
<a class="x" href='https://{host}/download/18.2/1700000002/manadsstatistik-kommun-2026-08.xlsx?v=2&amp;x=1'>Augusti</a>
<a href="/download/18.3/1700000003/varsel-bransch-lan.xlsx">Varsel</a>
<a href="/download/18.1/1700000001/manadsstatistik-kommun-2023-01.xlsx">again</a>
<a href="/statistik/om">Om statistiken</a>
</body></html>"""


def test_link_scrape_and_download(httpserver, sleeps):
    host = f"{httpserver.host}:{httpserver.port}"
    httpserver.expect_request("/statistik/sok-statistik/tidigare-statistik").respond_with_data(
        PAGE.format(host=host), content_type="text/html; charset=utf-8")
    jan, aug = sample_path("2023-01").read_bytes(), sample_path("2026-08").read_bytes()
    httpserver.expect_request("/download/18.1/1700000001/manadsstatistik-kommun-2023-01.xlsx").respond_with_data(jan)
    httpserver.expect_request("/download/18.2/1700000002/manadsstatistik-kommun-2026-08.xlsx",
                              query_string="v=2&x=1").respond_with_data(aug)
    page_url = httpserver.url_for("/statistik/sok-statistik/tidigare-statistik")
    assert af.xlsx_links(PAGE.format(host=host), page_url) == [
        httpserver.url_for("/download/18.1/1700000001/manadsstatistik-kommun-2023-01.xlsx"),
        f"https://{host}/download/18.2/1700000002/manadsstatistik-kommun-2026-08.xlsx?v=2&x=1"]

    page_http = PAGE.replace("https://{host}", "http://{host}").format(host=host)
    httpserver.clear()
    httpserver.expect_request("/statistik/sok-statistik/tidigare-statistik").respond_with_data(page_http)
    httpserver.expect_request("/download/18.1/1700000001/manadsstatistik-kommun-2023-01.xlsx").respond_with_data(jan)
    httpserver.expect_request("/download/18.2/1700000002/manadsstatistik-kommun-2026-08.xlsx").respond_with_data(aug)
    fetched = af.fetch(FetchContext(base_url=page_url))
    assert [f.name for f in fetched] == ["manadsstatistik-kommun-2023-01.xlsx", "manadsstatistik-kommun-2026-08.xlsx"]
    assert all(f.ext == "xlsx" and f.extra == {"page": page_url} for f in fetched)
    assert fetched[0].data == jan and fetched[1].data == aug
    assert not any("varsel" in req.path for req, _ in httpserver.log)
    assert set(af.parse(fetched[1].data, fetched[1].name)["af_observation"]["period"]) == {"2026-08"}
    assert sleeps == [af.PAUSE] * 3


def test_configured_file_url_is_downloaded_directly(httpserver, sleeps, monkeypatch):
    httpserver.expect_request("/files/af-2022-12.xlsx").respond_with_data(sample_path("2022-12").read_bytes())
    monkeypatch.setenv("KRAFTER_AF_URL", httpserver.url_for("/files/af-2022-12.xlsx"))
    fetched = af.fetch(FetchContext())
    assert len(fetched) == 1 and fetched[0].name == "af-2022-12.xlsx" and fetched[0].extra == {}
    assert len(httpserver.log) == 1


def test_page_without_matching_links_is_a_parse_error(httpserver, sleeps):
    httpserver.expect_request("/statistik/x").respond_with_data('<a href="/download/varsel.xlsx">v</a>')
    with pytest.raises(ParseError, match="no .xlsx links matching '\\(\\?i\\)kommun' on the page"):
        af.fetch(FetchContext(base_url=httpserver.url_for("/statistik/x")))
