"""Kolada API v3: parse of the bundled sample and of edge cases; the live fetch against a local
server (KPI check, chunking of municipality ids by 25, paging via next_url / next_page, 429)."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import polars as pl
import pytest
from werkzeug.wrappers import Response

from schemas.labour import KoladaValue
from sources import http, kolada
from sources.base import FetchContext, ParseError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sources" / "samples" / "kolada" / "kolada_N03926.json"
SAMPLE_DOC = json.loads(SAMPLE.read_bytes())
N03926_TITLE = "Långtidsarbetslöshet 25-64 år, andel (%) av bef."
N00914_TITLE = "Förvärvsarbetande invånare 20-64 år, andel (%)"


def page(rows, **extra) -> dict:
    return {"values": rows, "count": len(rows), **extra}


def row(muni, period=2024, kpi="N03926", values=None, **extra) -> dict:
    return {"kpi": kpi, "municipality": muni, "period": period,
            "values": values or [{"gender": "T", "value": 3.1, "count": 1, "status": ""}], **extra}


def as_bytes(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


# --- parse ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    frames = kolada.parse(SAMPLE.read_bytes(), SAMPLE.name)
    assert frames["kolada_rejected"].height == 0
    return frames["kolada_value"]


def test_sample_is_marked_synthetic_and_paged():
    assert SAMPLE_DOC["synthetic"] is True and len(SAMPLE_DOC["pages"]) == 2
    assert SAMPLE_DOC["pages"][0]["next_url"] and SAMPLE_DOC["pages"][1]["next_url"] is None


def test_sample_shape_regions_and_dtypes(sample):
    assert sample.height == 15 * 7 * 3
    assert sample.columns == ["kpi", "region_code", "period", "sex", "value", "status", "count", "row_number"]
    assert sample.schema == pl.Schema({"kpi": pl.String, "region_code": pl.String, "period": pl.String,
                                       "sex": pl.String, "value": pl.Float64, "status": pl.String,
                                       "count": pl.Int64, "row_number": pl.Int64})
    assert set(sample["region_code"]) == {"00", "05", "0509", "0512", "0513", "0560", "0561", "0562", "0563",
                                          "0580", "0581", "0582", "0583", "0584", "0586"}
    assert sorted(set(sample["period"])) == [str(y) for y in range(2019, 2026)]
    assert set(sample["sex"]) == {"T", "K", "M"}
    assert sample["row_number"].to_list() == list(range(1, 316))
    KoladaValue.validate(sample, lazy=True)


def test_sample_pinned_values(sample):
    def v(region, year, sex):
        r = sample.filter(pl.col("region_code") == region, pl.col("period") == year, pl.col("sex") == sex)
        assert r.height == 1
        return r.row(0, named=True)
    assert v("0580", "2024", "T")["value"] == 2.9
    assert v("0580", "2024", "K")["value"] == 2.7
    assert v("00", "2019", "T")["value"] == 3.0
    region = v("05", "2021", "T")                         # Kolada's 0005 = Region Östergötland
    raw = next(r for p in SAMPLE_DOC["pages"] for r in p["values"]
               if r["municipality"] == "0005" and r["period"] == 2021)
    assert region["value"] == raw["values"][0]["value"]
    missing = v("0512", "2025", "K")
    assert missing["value"] is None and missing["status"] == "Missing" and missing["count"] == 0
    assert sample["value"].null_count() == 1 and sample["status"].drop_nulls().to_list() == ["Missing"]


def test_region_code_mapping():
    assert kolada.region_code("0000") == "00"
    assert kolada.region_code("0005") == "05"
    assert kolada.region_code("0020") == "20"
    assert kolada.region_code("0580") == "0580"
    with pytest.raises(ValueError, match="municipality group 'G33442'"):
        kolada.region_code("G33442")
    with pytest.raises(ValueError, match="not a Kolada kommun/region id"):
        kolada.region_code("V15E144001301")


def test_groups_deleted_rows_and_odd_values_are_rejected_with_a_reason():
    doc = [page([
        row("0580"),
        row("G33442", values=[{"gender": "T", "value": 4.0, "count": 12, "status": ""}]),
        row("0581", isdeleted=True),
        row("0582", values=[{"gender": "T", "value": 2.0, "count": 1, "status": "", "isdeleted": True},
                            {"gender": "X", "value": 2.0, "count": 1, "status": ""},
                            {"gender": "K", "value": "2,0", "count": 1, "status": ""},
                            {"gender": "M", "value": None, "count": 1, "status": None}]),
    ])]
    frames = kolada.parse(as_bytes(doc))
    good, rej = frames["kolada_value"], frames["kolada_rejected"]
    assert good.select("region_code", "sex", "value", "status").rows() == [
        ("0580", "T", 3.1, None), ("0582", "M", None, "Missing")]
    assert good["row_number"].to_list() == [1, 7]
    assert rej.rows() == [(2, "municipality group 'G33442' is not a region"), (3, "deleted in source"),
                          (4, "deleted in source"), (5, "unknown gender 'X'"), (6, "value '2,0' is not a number")]


def test_one_page_or_an_array_of_pages():
    one = kolada.parse(as_bytes(page([row("0580")])))["kolada_value"]
    many = kolada.parse(as_bytes([page([row("0580")]), page([row("0581")])]))["kolada_value"]
    assert one.height == 1 and many["region_code"].to_list() == ["0580", "0581"]


@pytest.mark.parametrize("data, message", [
    (b"<html>502 Bad Gateway</html>", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"count": 0}', "page 1 is not a Kolada data page"),
    (b'[{"values": []}, 3]', "page 2 is not a Kolada data page"),
    (b'{"values": [{"kpi": "N03926", "municipality": "0580", "period": 2024}]}', "page 1 row 1 is not a Kolada data row"),
    (b'{"values": [{"kpi": "N03926", "period": 2024, "values": []}]}', "lacks kpi, municipality or period"),
])
def test_bad_input_is_a_one_line_parse_error(data, message):
    with pytest.raises(ParseError, match=message) as err:
        kolada.parse(data, "x.json")
    assert "\n" not in str(err.value)


def test_inspect_via_cli_uses_parse():
    from typer.testing import CliRunner
    from flows.cli import app
    result = CliRunner().invoke(app, ["inspect", "kolada", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out["kolada_value"]) == 315 and out["kolada_rejected"] == []


# --- fetch --------------------------------------------------------------------------------------

@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []
    fake = SimpleNamespace(sleep=recorded.append, time=time.time)
    monkeypatch.setattr(http, "time", fake)
    monkeypatch.setattr(kolada, "time", fake)
    return recorded


def kpi_meta(kpi, title):
    return {"values": [{"id": kpi, "title": title, "municipality_type": "K", "is_divided_by_gender": True,
                        "auspice": "E", "operating_area": "Arbetsmarknad"}], "count": 1}


def serve_kpis(httpserver, titles=None):
    titles = titles or {"N03926": N03926_TITLE, "N00914": N00914_TITLE}
    for kpi, title in titles.items():
        httpserver.expect_request(f"/v3/kpi/{kpi}").respond_with_json(kpi_meta(kpi, title) if title else
                                                                       {"values": [], "count": 0})


def data_handler(calls: list, page_field: str = "next_url", per_page: int = 20):
    """Answers /v3/data/kpi/{kpi}/municipality/{ids}/year/{years} with one row per id and year,
    ``per_page`` rows a page, the next page linked absolutely via ``page_field``."""
    def handler(req) -> Response:
        parts = req.path.split("/")
        kpi, ids, years = parts[4], parts[6].split(","), parts[8].split(",")
        calls.append({"path": req.path, "args": dict(req.args), "ids": ids})
        rows = [row(m, int(y), kpi=kpi) for m in ids for y in years]
        n = int(req.args.get("page", 1))
        size = int(req.args.get("per_page", 5000)) if "page" in req.args else per_page
        chunk = rows[(n - 1) * size:n * size]
        nxt = None
        if n * size < len(rows):
            u = urlsplit(req.url)
            nxt = f"{u.scheme}://{u.netloc}{req.path}?page={n + 1}&per_page={size}"
        body = page(chunk, **{page_field: nxt})
        return Response(json.dumps(body), content_type="application/json")
    return handler


@pytest.fixture
def few_municipalities(monkeypatch):
    ids = ["0000", "0005"] + [f"05{i:02d}" for i in range(9, 37)]           # 30 ids
    monkeypatch.setattr(kolada, "municipality_ids", lambda county=None: ids)
    monkeypatch.setattr(kolada, "FIRST_YEAR", 2025)
    monkeypatch.setattr(kolada, "date", SimpleNamespace(today=lambda: SimpleNamespace(year=2025)))
    return ids


@pytest.mark.parametrize("page_field", ["next_url", "next_page"])
def test_fetch_chunks_ids_by_25_and_follows_pages(httpserver, sleeps, few_municipalities, page_field):
    serve_kpis(httpserver)
    calls: list[dict] = []
    httpserver.expect_request(re.compile(r"^/v3/data/kpi/.*")).respond_with_handler(
        data_handler(calls, page_field))
    fetched = kolada.fetch(FetchContext(base_url=httpserver.url_for("/v3")))

    assert [f.name for f in fetched] == ["kolada_N03926.json", "kolada_N00914.json"]
    n03926 = [c for c in calls if "/N03926/" in c["path"]]
    # 30 ids → 25 + 5; the 25 need two pages of 20
    assert [len(c["ids"]) for c in n03926] == [25, 25, 5]
    assert n03926[0]["ids"] == few_municipalities[:25] and n03926[2]["ids"] == few_municipalities[25:]
    assert n03926[0]["args"] == {"per_page": "5000"}
    assert n03926[1]["args"] == {"page": "2", "per_page": "20"}
    assert all(c["path"].endswith("/year/2025") for c in calls)
    doc = json.loads(fetched[0].data)
    assert doc["kpi"] == "N03926" and doc["synthetic"] is False and len(doc["pages"]) == 3
    frame = kolada.parse(fetched[0].data, fetched[0].name)["kolada_value"]
    assert frame.height == 30 and frame["region_code"][:2].to_list() == ["00", "05"]
    assert frame["region_code"].n_unique() == 30
    assert sleeps and set(sleeps) == {kolada.PAUSE}


def test_kpi_with_another_title_stops_before_any_data(httpserver, sleeps, few_municipalities):
    serve_kpis(httpserver, {"N03926": N03926_TITLE, "N00914": "Arbetslöshet 16-64 år, andel (%)"})
    with pytest.raises(ParseError) as err:
        kolada.fetch(FetchContext(base_url=httpserver.url_for("/v3")))
    msg = str(err.value)
    assert msg.startswith("KPI N00914:") and "Arbetslöshet 16-64 år" in msg and N00914_TITLE in msg
    assert not any("/data/" in req.path for req, _ in httpserver.log)


def test_missing_kpi_is_a_parse_error_naming_it(httpserver, sleeps, few_municipalities):
    serve_kpis(httpserver, {"N03926": None, "N00914": N00914_TITLE})
    with pytest.raises(ParseError, match="KPI N03926 .* is not in Kolada's metadata"):
        kolada.fetch(FetchContext(base_url=httpserver.url_for("/v3")))


def test_title_check_tolerates_dash_case_and_spacing():
    assert kolada.normalise_title("Långtidsarbetslöshet  25–64 år, ANDEL (%) av bef. ") == \
        kolada.normalise_title(N03926_TITLE)


def test_429_retry_after_is_honoured(httpserver, sleeps, few_municipalities, monkeypatch):
    monkeypatch.setattr(kolada, "KPIS", {"N00914": kolada.KPIS["N00914"]})
    serve_kpis(httpserver, {"N00914": N00914_TITLE})
    calls: list[dict] = []
    handler = data_handler(calls, per_page=100)
    state = {"n": 0}

    def limited(req) -> Response:
        state["n"] += 1
        if state["n"] == 1:
            return Response("slow down", status=429, headers={"Retry-After": "7"})
        return handler(req)

    httpserver.expect_request(re.compile(r"^/v3/data/kpi/.*")).respond_with_handler(limited)
    fetched = kolada.fetch(FetchContext(base_url=httpserver.url_for("/v3")))
    assert state["n"] == 3 and len(calls) == 2            # 429, then the 25 and the 5
    assert 7.0 in sleeps
    assert kolada.parse(fetched[0].data)["kolada_value"].height == 30


def test_municipality_ids_from_the_reference():
    ids = kolada.municipality_ids()
    assert ids[0] == "0000" and "0005" in ids and "0580" in ids and len(ids) == 1 + 21 + 290
    assert kolada.municipality_ids("05") == ["0000", "0005", "0509", "0512", "0513", "0560", "0561", "0562",
                                            "0563", "0580", "0581", "0582", "0583", "0584", "0586"]
