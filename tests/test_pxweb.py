"""SCB PxWebApi 2.0 (BAS, TAB6260): the JSON-stat 2.0 decoder, parse/inspect on the bundled sample,
and the live fetch against a local server (limits from /config, content codes from metadata,
chunking under maxDataCells, retries)."""
from __future__ import annotations

import copy
import json
import time
from math import prod
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from werkzeug.wrappers import Response

from sources import http, jsonstat, pxweb
from sources.base import Fetched, FetchContext, ParseError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sources" / "samples" / "pxweb" / "TAB6260_bas_manad.json"
SAMPLE_BYTES = SAMPLE.read_bytes()
SAMPLE_DOC = json.loads(SAMPLE_BYTES)


def dataset(dims: list[tuple[str, list[str]]], value, status=None, *, index_as: str = "object",
            **extra) -> dict:
    """A small JSON-stat 2.0 dataset; ``dims`` in ``id`` order."""
    def index(codes):
        return {c: i for i, c in enumerate(codes)} if index_as == "object" else list(codes)
    doc = {"version": "2.0", "class": "dataset",
           "id": [d for d, _ in dims], "size": [len(c) for _, c in dims],
           "dimension": {d: {"label": d.lower(), "category": {"index": index(c)}} for d, c in dims},
           "value": value, **extra}
    if status is not None:
        doc["status"] = status
    return doc


def as_bytes(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def flat_index(doc: dict, coords: dict[str, str]) -> int:
    """Row-major cell index: Σ pos_i × Π_{j>i} size_j, positions from category.index."""
    i = 0
    for dim, size in zip(doc["id"], doc["size"]):
        index = doc["dimension"][dim]["category"]["index"]
        pos = index[coords[dim]] if isinstance(index, dict) else index.index(coords[dim])
        i = i * size + pos
    return i


# --- JSON-stat 2.0 decoding -------------------------------------------------------------------

TWO_BY_THREE = [("Region", ["0580", "0581"]), ("Tid", ["2026M01", "2026M02", "2026M03"])]


@pytest.mark.parametrize("index_as", ["object", "array"])
def test_row_major_order_last_dimension_fastest(index_as):
    doc = dataset(TWO_BY_THREE, [10, 11, 12, 20, 21, 22], index_as=index_as)
    rows = jsonstat.decode(doc).to_dicts()
    assert rows == [
        {"Region": "0580", "Tid": "2026M01", "value": 10.0, "status": None},
        {"Region": "0580", "Tid": "2026M02", "value": 11.0, "status": None},
        {"Region": "0580", "Tid": "2026M03", "value": 12.0, "status": None},
        {"Region": "0581", "Tid": "2026M01", "value": 20.0, "status": None},
        {"Region": "0581", "Tid": "2026M02", "value": 21.0, "status": None},
        {"Region": "0581", "Tid": "2026M03", "value": 22.0, "status": None},
    ]


def test_category_order_comes_from_index_positions_not_key_order():
    doc = dataset([("Kon", ["1", "2"])], [5, 7])
    doc["dimension"]["Kon"]["category"]["index"] = {"2": 1, "1": 0}      # keys listed out of order
    assert jsonstat.decode(doc).to_dicts() == [
        {"Kon": "1", "value": 5.0, "status": None}, {"Kon": "2", "value": 7.0, "status": None}]


def test_single_dimension_table():
    frame = jsonstat.decode(dataset([("Tid", ["2025", "2026"])], [1.5, 2]))
    assert frame.columns == ["Tid", "value", "status"]
    assert frame.schema["value"] == pl.Float64 and frame.schema["Tid"] == pl.String
    assert frame["value"].to_list() == [1.5, 2.0]


def test_single_category_may_omit_its_index():
    doc = dataset([("Tid", ["2026M01", "2026M02"]), ("ContentsCode", ["X"])], [1, 2])
    doc["dimension"]["ContentsCode"]["category"] = {"label": {"X": "antal"}}
    assert jsonstat.decode(doc)["ContentsCode"].to_list() == ["X", "X"]


def test_sparse_value_object_keyed_by_cell_index():
    doc = dataset(TWO_BY_THREE, {"0": 10, "4": 21, "5": 22})
    frame = jsonstat.decode(doc)
    assert frame["value"].to_list() == [10.0, None, None, None, 21.0, 22.0]
    assert frame.row(4, named=True) == {"Region": "0581", "Tid": "2026M02", "value": 21.0, "status": None}


def test_status_as_array():
    doc = dataset(TWO_BY_THREE, [1, 2, None, 4, 5, 6], ["", None, "..", "B", "", ""])
    assert jsonstat.decode(doc)["status"].to_list() == [None, None, "..", "B", None, None]


def test_status_as_sparse_object():
    doc = dataset(TWO_BY_THREE, [1, 2, None, 4, 5, 6], {"2": "..", "5": "p"})
    assert jsonstat.decode(doc)["status"].to_list() == [None, None, "..", None, None, "p"]


def test_status_as_single_string_applies_to_every_cell():
    doc = dataset(TWO_BY_THREE, [1, 2, 3, 4, 5, 6], "p")
    assert jsonstat.decode(doc)["status"].to_list() == ["p"] * 6


def test_null_value_with_status_stays_null_beside_its_status():
    doc = dataset(TWO_BY_THREE, [1, 2, None, 4, 5, 6], {"2": ".."})
    cell = jsonstat.decode(doc).row(2, named=True)
    assert cell == {"Region": "0580", "Tid": "2026M03", "value": None, "status": ".."}


def test_load_accepts_a_utf8_bom():
    doc = dataset([("Tid", ["2026"])], [1])
    assert jsonstat.load(b"\xef\xbb\xbf" + as_bytes(doc))["id"] == ["Tid"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(value=[1, 2, 3, 4, 5]), "value has 5 entries but the dimension sizes give 6 cells"),
    (lambda d: d.update(status=["a", "b"]), "status has 2 entries but the dimension sizes give 6 cells"),
    (lambda d: d.update(value={"6": 1}), "value index 6 is outside 0..5"),
    (lambda d: d.update(value={"x": 1}), "value key 'x' is not a cell index"),
    (lambda d: d.update(value=[1, 2, "3", 4, 5, 6]), "value '3' is not a number or null"),
    (lambda d: d["dimension"]["Tid"]["category"].update(index={"2026M01": 0, "2026M02": 1, "2026M03": 3}),
     "dimension 'Tid' has an inconsistent category index"),
    (lambda d: d["dimension"]["Tid"]["category"].update(index={"2026M01": 0, "2026M02": 0, "2026M03": 1}),
     "dimension 'Tid' has an inconsistent category index"),
    (lambda d: d["dimension"]["Tid"]["category"].update(index=["2026M01", "2026M02"]),
     "dimension 'Tid' has 2 categories but size 3"),
    (lambda d: d["dimension"].pop("Tid"), "dimension(s) Tid listed in 'id' but not described"),
    (lambda d: d.update(size=[2]), "'id' and 'size' must be arrays of the same length"),
    (lambda d: d["dimension"]["Tid"].update(category={}), "dimension 'Tid' has no category index"),
])
def test_inconsistent_documents_raise_parse_error(mutate, message):
    doc = dataset(TWO_BY_THREE, [1, 2, 3, 4, 5, 6])
    mutate(doc)
    with pytest.raises(ParseError) as err:
        jsonstat.decode(doc)
    assert message in str(err.value)


@pytest.mark.parametrize("data, message", [
    (b"<html>Service unavailable</html>", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2, 3]", "not a JSON-stat 2.0 dataset"),
    (b'{"class": "collection", "link": {}}', "not a JSON-stat 2.0 dataset"),
    (b'{"class": "dataset", "value": []}', "not a JSON-stat 2.0 dataset"),
])
def test_load_rejects_what_is_not_a_dataset(data, message):
    with pytest.raises(ParseError, match=message):
        jsonstat.load(data)


# --- parse on the bundled sample --------------------------------------------------------------

@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return pxweb.parse(SAMPLE_BYTES, SAMPLE.name)["pxweb_observation"]


def test_sample_shape_and_columns(sample):
    assert sample.height == 22968 == prod(SAMPLE_DOC["size"])
    assert sample.columns == ["row_number", "table_id", "region_code", "period", "measure", "sex",
                              "age_group", "value", "status", "unit", "source_updated"]
    assert sample["row_number"].to_list() == list(range(1, 22969))
    assert set(sample["table_id"]) == {"TAB6260"}
    assert set(sample["measure"]) == {"employed", "unemployed", "population"}
    assert set(sample["unit"]) == {"antal"}
    assert set(sample["source_updated"]) == {"2026-10-15T06:00:00Z"}
    assert sample["region_code"].n_unique() == 29
    assert (sample["period"].min(), sample["period"].max()) == ("2023-01", "2026-08")
    assert sample["period"].n_unique() == 44


def test_sex_mapping(sample):
    assert set(sample["sex"]) == {"M", "K", "T"}
    for code, sex in {"1": "M", "2": "K", "1+2": "T"}.items():
        i = flat_index(SAMPLE_DOC, {"Region": "05", "Alder": "20-64", "Kon": code,
                                    "ContentsCode": "000006HI", "Tid": "2025M01"})
        assert sample.row(i, named=True)["sex"] == sex, code


def test_period_codes_become_iso_months():
    assert pxweb.period_of("2026M08") == "2026-08"
    assert pxweb.period_of("2024") == "2024"
    with pytest.raises(ParseError, match="2024K1"):
        pxweb.period_of("2024K1")


@pytest.mark.parametrize("region, age, kon, contents, tid, measure, sex, period", [
    ("0580", "20-64", "1+2", "000004YH", "2026M08", "unemployed", "T", "2026-08"),
    ("0580", "20-64", "1+2", "000006HI", "2026M08", "employed", "T", "2026-08"),
    ("0580", "20-64", "1+2", "TOTALT", "2026M08", "population", "T", "2026-08"),
    ("05", "20-24", "2", "000004YH", "2023M01", "unemployed", "K", "2023-01"),
    ("00", "20-64", "1", "000006HI", "2024M07", "employed", "M", "2024-07"),
    ("0687", "20-24", "1", "TOTALT", "2025M12", "population", "M", "2025-12"),
])
def test_sample_cells_match_the_json_stat_arithmetic(sample, region, age, kon, contents, tid, measure,
                                                     sex, period):
    i = flat_index(SAMPLE_DOC, {"Region": region, "Alder": age, "Kon": kon, "ContentsCode": contents,
                                "Tid": tid})
    expected = SAMPLE_DOC["value"][i]
    assert isinstance(expected, int) and expected > 0
    rows = sample.filter(pl.col("region_code") == region, pl.col("age_group") == age, pl.col("sex") == sex,
                         pl.col("measure") == measure, pl.col("period") == period)
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["value"] == float(expected)
    assert row["status"] is None
    assert row["row_number"] == i + 1


def test_linkoping_unemployed_is_a_plausible_share_of_the_population(sample):
    def cell(contents):
        return SAMPLE_DOC["value"][flat_index(SAMPLE_DOC, {
            "Region": "0580", "Alder": "20-64", "Kon": "1+2", "ContentsCode": contents, "Tid": "2026M08"})]
    unemployed, employed, population = cell("000004YH"), cell("000006HI"), cell("TOTALT")
    assert 0.03 < unemployed / population < 0.10
    assert 0.6 < employed / population < 0.9


def test_ydre_young_women_unemployed_2026_are_suppressed(sample):
    ydre = sample.filter(pl.col("region_code") == "0512", pl.col("age_group") == "20-24",
                         pl.col("sex") == "K", pl.col("measure") == "unemployed")
    in_2026 = ydre.filter(pl.col("period").str.starts_with("2026"))
    assert in_2026.height == 8
    assert in_2026["value"].null_count() == 8
    assert set(in_2026["status"]) == {".."}
    before = ydre.filter(~pl.col("period").str.starts_with("2026"))
    assert before.height == 36 and before["value"].null_count() == 0 and before["status"].null_count() == 36
    # the only suppressed cells in the sample
    assert sample["value"].null_count() == 8 and sample["status"].drop_nulls().to_list() == [".."] * 8


def test_unconfigured_table_is_a_parse_error():
    doc = copy.deepcopy(SAMPLE_DOC)
    doc["extension"]["px"] = {"tableid": "TAB9999", "matrix": "TAB9999"}
    with pytest.raises(ParseError, match="TAB9999") as err:
        pxweb.parse(as_bytes(doc))
    assert "not configured" in str(err.value)


def test_content_code_missing_from_metadata_names_table_and_code():
    doc = copy.deepcopy(SAMPLE_DOC)
    labels = doc["dimension"]["ContentsCode"]["category"]["label"]
    labels["000004YX"] = labels.pop("000004YH")          # the label table no longer knows 000004YH
    with pytest.raises(ParseError) as err:
        pxweb.parse(as_bytes(doc))
    assert "TAB6260" in str(err.value) and "000004YH" in str(err.value)


def test_content_resolved_by_label_must_be_present():
    doc = copy.deepcopy(SAMPLE_DOC)
    doc["dimension"]["ContentsCode"]["category"]["label"]["TOTALT"] = "antal övriga"
    with pytest.raises(ParseError) as err:
        pxweb.parse(as_bytes(doc))
    assert "TAB6260" in str(err.value) and "antal totalt" in str(err.value)


def test_content_label_matching_ignores_case_and_spaces():
    doc = copy.deepcopy(SAMPLE_DOC)
    doc["dimension"]["ContentsCode"]["category"]["label"]["TOTALT"] = " Antal totalt "
    assert pxweb.parse(as_bytes(doc))["pxweb_observation"].height == 22968


def test_unexpected_extra_dimension_is_a_parse_error():
    doc = copy.deepcopy(SAMPLE_DOC)
    doc["id"].append("Utbildningsniva")
    doc["size"].append(1)
    doc["dimension"]["Utbildningsniva"] = {"label": "utbildning", "category": {"index": {"tot": 0}}}
    with pytest.raises(ParseError, match="TAB6260: unexpected dimension.*Utbildningsniva"):
        pxweb.parse(as_bytes(doc))


def test_fixed_dimension_with_another_value_is_a_parse_error():
    doc = copy.deepcopy(SAMPLE_DOC)
    doc["id"].insert(3, "Fodelseregion")
    doc["size"].insert(3, 1)
    doc["dimension"]["Fodelseregion"] = {"label": "födelseregion", "category": {"index": {"ut": 0}}}
    with pytest.raises(ParseError, match="Fodelseregion has values other than 'tot'"):
        pxweb.parse(as_bytes(doc))
    doc["dimension"]["Fodelseregion"]["category"]["index"] = {"tot": 0}
    assert pxweb.parse(as_bytes(doc))["pxweb_observation"].height == 22968


def test_parse_error_on_garbage():
    with pytest.raises(ParseError, match="not valid JSON"):
        pxweb.parse(b"<html>503</html>")


# --- inspect ----------------------------------------------------------------------------------

def test_inspect_one_dict_per_cell():
    cells = pxweb.inspect(SAMPLE_BYTES)
    assert len(cells) == 22968
    assert all(set(c) == {"Region", "Alder", "Kon", "ContentsCode", "Tid", "value", "status"} for c in cells)
    assert cells[0] == {"Region": "00", "Alder": "20-64", "Kon": "1", "ContentsCode": "000006HI",
                        "Tid": "2023M01", "value": float(SAMPLE_DOC["value"][0]), "status": None}
    i = flat_index(SAMPLE_DOC, {"Region": "0512", "Alder": "20-24", "Kon": "2", "ContentsCode": "000004YH",
                                "Tid": "2026M03"})
    assert cells[i] == {"Region": "0512", "Alder": "20-24", "Kon": "2", "ContentsCode": "000004YH",
                        "Tid": "2026M03", "value": None, "status": ".."}


def test_inspect_small_document():
    doc = dataset(TWO_BY_THREE, {"1": 3}, {"0": ".."})
    assert pxweb.inspect(as_bytes(doc))[:2] == [
        {"Region": "0580", "Tid": "2026M01", "value": None, "status": ".."},
        {"Region": "0580", "Tid": "2026M02", "value": 3.0, "status": None}]


# --- fetch against a local PxWebApi 2.0 -------------------------------------------------------

REGIONS = ["0580", "0581"]
MONTHS = ["2026M05", "2026M06", "2026M07", "2026M08"]
CONTENT_LABELS = {"000006HI": "antal sysselsatta", "000004YH": "antal arbetslösa", "0000TOT": "antal totalt"}
LABELS = {
    "Region": {"0580": "Linköping", "0581": "Norrköping"},
    "Kon": {"1": "män", "2": "kvinnor", "1+2": "totalt"},
    "Alder": {"20-64": "20–64 år", "20-24": "20–24 år"},
    "Fodelseregion": {"tot": "totalt"},
}
CONFIG = {"apiVersion": "2.2.0", "defaultLanguage": "sv", "maxDataCells": 80,
          "maxCallsPerTimeWindow": 1000, "timeWindow": 1, "defaultDataFormat": "json-stat2"}
# 2 regions × 3 sexes × 2 ages × 3 contents = 36 cells a month → 2 months a call → 2 calls


def px_doc(selection: dict[str, list[str]], content_labels: dict[str, str], *, empty: bool) -> dict:
    dims = list(selection.items())
    n = prod(len(c) for _, c in dims)
    doc = dataset(dims, [] if empty else list(range(n)), updated="2026-09-15T06:00:00Z",
                  role={"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]},
                  extension={"px": {"tableid": "TAB6260", "matrix": "TAB6260", "decimals": 0}})
    for d, codes in dims:
        cat = doc["dimension"][d]["category"]
        names = content_labels if d == "ContentsCode" else LABELS.get(d, {})
        cat["label"] = {c: names.get(c, c) for c in codes}
        if d == "ContentsCode":
            cat["unit"] = {c: {"base": "antal", "decimals": 0} for c in codes}
    return doc


def metadata(content_labels=CONTENT_LABELS) -> dict:
    return px_doc({"Region": REGIONS, "Kon": ["1", "2", "1+2"], "Alder": ["20-64", "20-24"],
                   "Fodelseregion": ["tot"], "ContentsCode": list(content_labels), "Tid": MONTHS},
                  content_labels, empty=True)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every wait (retry back-off in sources.http, pacing in sources.pxweb), recorded not slept.
    The modules' ``time`` names are replaced so the test server's thread keeps the real clock."""
    recorded: list[float] = []
    fake = SimpleNamespace(sleep=recorded.append, time=time.time)
    monkeypatch.setattr(http, "time", fake)
    monkeypatch.setattr(pxweb, "time", fake)
    return recorded


@pytest.fixture
def bas_only(monkeypatch):
    """Fetch only TAB6260 (the population table TAB6471 has its own tests)."""
    monkeypatch.setattr(pxweb, "TABLES", {"TAB6260": pxweb.TABLES["TAB6260"]})


def test_fetch_chunks_under_the_cell_limit_and_retries(httpserver, sleeps, bas_only):
    httpserver.expect_request("/api/v2/config", method="GET").respond_with_json(CONFIG)
    httpserver.expect_request("/api/v2/tables/TAB6260/metadata", method="GET",
                              query_string={"lang": "sv"}).respond_with_json(metadata())
    data_calls: list[dict] = []

    def data(req) -> Response:
        data_calls.append({"args": dict(req.args), "body": req.get_json()})
        if len(data_calls) == 1:
            return Response("too many requests", status=429, headers={"Retry-After": "0"})
        if len(data_calls) == 2:
            return Response("internal error", status=500)
        sel = {s["variableCode"]: s["valueCodes"] for s in req.get_json()["selection"]}
        return Response(json.dumps(px_doc(sel, CONTENT_LABELS, empty=False), ensure_ascii=False),
                        content_type="application/json; charset=utf-8")

    httpserver.expect_request("/api/v2/tables/TAB6260/data", method="POST").respond_with_handler(data)
    base = httpserver.url_for("/api/v2")

    fetched = pxweb.fetch(FetchContext(base_url=base))

    assert len(fetched) == 2
    assert len(data_calls) == 4                                 # 429, 500, then two successes
    assert all(c["args"] == {"outputFormat": "json-stat2", "lang": "sv"} for c in data_calls)
    # waits: Retry-After 0 on the 429, backoff 1×2¹ on the 500, then 1 s / 1000 calls after each call
    assert sleeps == [0.0, 2.0, 0.001, 0.001]

    expected_periods = [MONTHS[:2], MONTHS[2:]]
    for f, periods, call in zip(fetched, expected_periods, data_calls[2:]):
        assert isinstance(f, Fetched) and f.ext == "json" and f.http_status == 200
        assert f.url == f"{base}/tables/TAB6260/data"
        assert f.name == f"TAB6260_{periods[0]}_{periods[-1]}.json"
        body = json.loads(f.query)
        assert body == call["body"]
        assert body == {"selection": [
            {"variableCode": "Region", "valueCodes": REGIONS},
            {"variableCode": "Kon", "valueCodes": ["1", "2", "1+2"]},
            {"variableCode": "Alder", "valueCodes": ["20-64", "20-24"]},
            {"variableCode": "Fodelseregion", "valueCodes": ["tot"]},
            {"variableCode": "ContentsCode", "valueCodes": ["000006HI", "000004YH", "0000TOT"]},
            {"variableCode": "Tid", "valueCodes": periods},
        ]}
        cells = prod(len(s["valueCodes"]) for s in body["selection"])
        assert cells == 72 <= CONFIG["maxDataCells"]
        frame = pxweb.parse(f.data, f.name)["pxweb_observation"]
        assert frame.height == 72
        assert sorted(set(frame["period"])) == [pxweb.period_of(p) for p in periods]
        assert set(frame["measure"]) == {"employed", "unemployed", "population"}
        assert set(frame["sex"]) == {"M", "K", "T"}
        assert frame["value"].to_list() == [float(v) for v in range(72)]
    # the 429 and the 500 were asked the same as the success that followed
    assert data_calls[0]["body"] == data_calls[1]["body"] == data_calls[2]["body"]


def test_fetch_since_keeps_later_months_only(httpserver, sleeps, bas_only):
    from datetime import date
    httpserver.expect_request("/api/v2/config").respond_with_json({**CONFIG, "maxDataCells": 150000})
    httpserver.expect_request("/api/v2/tables/TAB6260/metadata").respond_with_json(metadata())
    httpserver.expect_request("/api/v2/tables/TAB6260/data", method="POST").respond_with_handler(
        lambda req: Response(json.dumps(px_doc(
            {s["variableCode"]: s["valueCodes"] for s in req.get_json()["selection"]},
            CONTENT_LABELS, empty=False)), content_type="application/json"))
    fetched = pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2"), since=date(2026, 7, 1)))
    assert len(fetched) == 1
    assert json.loads(fetched[0].query)["selection"][-1] == {"variableCode": "Tid",
                                                             "valueCodes": ["2026M07", "2026M08"]}


def test_fetch_metadata_without_unemployed_names_the_table(httpserver, sleeps, bas_only):
    httpserver.expect_request("/api/v2/config").respond_with_json(CONFIG)
    labels = {"000006HI": "antal sysselsatta", "0000TOT": "antal totalt"}
    httpserver.expect_request("/api/v2/tables/TAB6260/metadata").respond_with_json(metadata(labels))
    with pytest.raises(ParseError) as err:
        pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))
    assert "TAB6260" in str(err.value) and "000004YH" in str(err.value)
    assert not any(req.path.endswith("/data") for req, _ in httpserver.log)


def test_fetch_config_not_json_is_a_parse_error(httpserver, sleeps):
    httpserver.expect_request("/api/v2/config").respond_with_data("<html>maintenance</html>")
    with pytest.raises(ParseError, match="config: answer is not JSON"):
        pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))


# --- TAB6471: monthly population -------------------------------------------------------------

POP = ROOT / "tests" / "fixtures" / "pxweb" / "TAB6471_folkmangd_manad.json"   # synthetic
POP_DOC = json.loads(POP.read_bytes())


def test_population_table_parses_to_population_total_all_ages():
    from schemas.labour import PxwebObservation
    frame = pxweb.parse(POP.read_bytes(), POP.name)["pxweb_observation"]
    assert frame.height == 270 == prod(POP_DOC["size"])
    assert frame.columns == ["row_number", "table_id", "region_code", "period", "measure", "sex",
                             "age_group", "value", "status", "unit", "source_updated"]
    assert set(frame["table_id"]) == {"TAB6471"}
    assert set(frame["measure"]) == {"population_total"}
    assert set(frame["age_group"]) == {"total"}
    assert set(frame["sex"]) == {"T", "K", "M"}
    assert (frame["period"].min(), frame["period"].max()) == ("2025-10", "2026-03")
    assert set(frame["region_code"]) == {"00", "05", "0509", "0512", "0513", "0560", "0561", "0562", "0563",
                                         "0580", "0581", "0582", "0583", "0584", "0586"}
    i = flat_index(POP_DOC, {"Region": "0580", "Alder": "TotSA", "Kon": "TotSa", "ContentsCode": "000007SF",
                             "Tid": "2025M12"})
    row = frame.filter(pl.col("region_code") == "0580", pl.col("sex") == "T", pl.col("period") == "2025-12").row(0, named=True)
    assert row["value"] == float(POP_DOC["value"][i]) and row["row_number"] == i + 1
    assert 150_000 < row["value"] < 180_000
    gap = frame.filter(pl.col("value").is_null())
    assert gap.select("region_code", "sex", "period", "status").rows() == [("0512", "K", "2026-03", "..")]
    PxwebObservation.validate(frame, lazy=True)          # passes the staging model as is


def test_population_table_identified_by_v1_name_or_snapshot_name():
    doc = copy.deepcopy(POP_DOC)
    doc["extension"]["px"] = {"tableid": "BefolkManadCKM"}              # a v1 answer names its matrix
    assert set(pxweb.parse(as_bytes(doc))["pxweb_observation"]["table_id"]) == {"TAB6471"}
    doc["extension"].pop("px")                                         # nothing: our snapshot name
    frame = pxweb.parse(as_bytes(doc), "TAB6471_2025M10_2026M03.json")["pxweb_observation"]
    assert frame.height == 270
    with pytest.raises(ParseError, match="not configured"):
        pxweb.parse(as_bytes(doc), "something.json")


def v2_population_metadata() -> dict:
    doc = copy.deepcopy(POP_DOC)
    doc["value"], doc["status"] = [], {}
    doc["dimension"]["Alder"]["category"] = {"index": {"0": 0, "TotSA": 1, "20-24": 2},
                                             "label": {"0": "0 år", "TotSA": "totalt, samtliga åldrar",
                                                       "20-24": "20-24 år"}}
    doc["size"][1] = 3
    return doc


def test_fetch_v2_asks_both_tables(httpserver, sleeps):
    httpserver.expect_request("/api/v2/config").respond_with_json({**CONFIG, "maxDataCells": 150000})
    httpserver.expect_request("/api/v2/tables/TAB6260/metadata").respond_with_json(metadata())
    httpserver.expect_request("/api/v2/tables/TAB6471/metadata").respond_with_json(v2_population_metadata())
    bodies: dict[str, dict] = {}

    def data(req) -> Response:
        table = req.path.split("/")[-2]
        bodies[table] = req.get_json()
        return Response(POP.read_bytes() if table == "TAB6471" else json.dumps(px_doc(
            {s["variableCode"]: s["valueCodes"] for s in req.get_json()["selection"]}, CONTENT_LABELS,
            empty=False)), content_type="application/json")

    httpserver.expect_request("/api/v2/tables/TAB6260/data", method="POST").respond_with_handler(data)
    httpserver.expect_request("/api/v2/tables/TAB6471/data", method="POST").respond_with_handler(data)
    fetched = pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))
    assert [f.name for f in fetched] == ["TAB6260_2026M05_2026M08.json", "TAB6471_2025M10_2026M03.json"]
    assert bodies["TAB6471"] == {"selection": [
        {"variableCode": "Region", "valueCodes": list(POP_DOC["dimension"]["Region"]["category"]["index"])},
        {"variableCode": "Kon", "valueCodes": ["TotSa", "1", "2"]},
        {"variableCode": "Alder", "valueCodes": ["TotSA"]},
        {"variableCode": "ContentsCode", "valueCodes": ["000007SF"]},
        {"variableCode": "Tid", "valueCodes": list(POP_DOC["dimension"]["Tid"]["category"]["index"])},
    ]}
    assert pxweb.parse(fetched[1].data, fetched[1].name)["pxweb_observation"].height == 270


def test_fetch_population_without_total_age_names_table_and_code(httpserver, sleeps, monkeypatch):
    monkeypatch.setattr(pxweb, "TABLES", {"TAB6471": pxweb.TABLES["TAB6471"]})
    meta = v2_population_metadata()
    meta["dimension"]["Alder"]["category"] = {"index": {"0": 0}, "label": {"0": "0 år"}}
    meta["size"][1] = 1
    httpserver.expect_request("/api/v2/config").respond_with_json(CONFIG)
    httpserver.expect_request("/api/v2/tables/TAB6471/metadata").respond_with_json(meta)
    with pytest.raises(ParseError, match="TAB6471: Alder code\\(s\\) TotSA are not in the table metadata"):
        pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))


# --- v1 fallback ------------------------------------------------------------------------------

V1 = "/OV0104/v1/doris/sv/ssd"


def v1_metadata(title: str, variables: dict[str, dict[str, str]]) -> dict:
    return {"title": title, "variables": [
        {"code": code, "text": code.lower(), "values": list(vals), "valueTexts": list(vals.values()),
         **({"time": True} if code == "Tid" else {})} for code, vals in variables.items()]}


BAS_V1_META = v1_metadata("Befolkningen 15-74 år efter region, ...", {
    "Region": LABELS["Region"], "Kon": LABELS["Kon"],
    "Alder": {"15-74": "15–74 år", "20-64": "20–64 år", "20-24": "20–24 år"},
    "Fodelseregion": {"tot": "totalt", "in": "inrikes född", "ut": "utrikes född"},
    "ContentsCode": CONTENT_LABELS, "Tid": {m: m for m in MONTHS}})
POP_V1_META = v1_metadata("Folkmängden per månad efter region, ålder och kön", {
    "Region": {"0580": "Linköping", "0581": "Norrköping"},
    "Alder": {"TotSA": "totalt, samtliga åldrar", "0": "0 år"},
    "Kon": {"TotSa": "totalt", "1": "män", "2": "kvinnor"},
    "ContentsCode": {"000007SF": "Folkmängden per månad"},
    "Tid": {"2026M01": "2026M01", "2026M02": "2026M02"}})


@pytest.mark.parametrize("gone", [404, 410])
def test_v2_gone_falls_back_to_v1_and_403_is_a_rate_limit(httpserver, sleeps, gone):
    httpserver.expect_request("/api/v2/config").respond_with_data("gone", status=gone)
    httpserver.expect_request(f"{V1}/START/AM/AM0210/AM0210A/ArbStatusM", method="GET").respond_with_json(BAS_V1_META)
    httpserver.expect_request(f"{V1}/START/BE/BE0101/BE0101A/BefolkManadCKM", method="GET").respond_with_json(POP_V1_META)
    posts: list[tuple[str, dict]] = []

    def data(req) -> Response:
        posts.append((req.path, req.get_json()))
        if len(posts) == 1:     # SCB v1 answers 403 when the calls per window are exceeded
            return Response("Too many calls", status=403)
        sel = {q["code"]: q["selection"]["values"] for q in req.get_json()["query"]}
        if req.path.endswith("ArbStatusM"):
            doc = px_doc(sel, CONTENT_LABELS, empty=False)
            doc["extension"]["px"] = {"tableid": "ArbStatusM"}      # v1 names its matrix
        else:
            doc = dataset(list(sel.items()), list(range(prod(len(v) for v in sel.values()))))
            doc["dimension"]["ContentsCode"]["category"]["label"] = {"000007SF": "Folkmängden per månad"}
        return Response(json.dumps(doc, ensure_ascii=False), content_type="application/json")

    httpserver.expect_request(f"{V1}/START/AM/AM0210/AM0210A/ArbStatusM", method="POST").respond_with_handler(data)
    httpserver.expect_request(f"{V1}/START/BE/BE0101/BE0101A/BefolkManadCKM", method="POST").respond_with_handler(data)

    fetched = pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))

    assert [f.name for f in fetched] == ["TAB6260_2026M05_2026M08.json", "TAB6471_2026M01_2026M02.json"]
    assert all(f.extra == {"api": "v1"} and f.url.startswith(httpserver.url_for(V1)) for f in fetched)
    # 403 then the same body again; waits: pacing 10 s / 10 calls after each call, Retry-After 10 on the 403
    assert len(posts) == 3 and posts[0] == posts[1]
    assert sleeps == [1.0, 10.0, 1.0, 1.0, 1.0]
    assert posts[1][1] == {"query": [
        {"code": "Region", "selection": {"filter": "item", "values": REGIONS}},
        {"code": "Kon", "selection": {"filter": "item", "values": ["1", "2", "1+2"]}},
        {"code": "Alder", "selection": {"filter": "item", "values": ["20-64", "20-24"]}},
        {"code": "Fodelseregion", "selection": {"filter": "item", "values": ["tot"]}},
        {"code": "ContentsCode", "selection": {"filter": "item", "values": ["000006HI", "000004YH", "0000TOT"]}},
        {"code": "Tid", "selection": {"filter": "item", "values": MONTHS}},
    ], "response": {"format": "json-stat2"}}
    assert posts[2][1]["query"][1:3] == [
        {"code": "Kon", "selection": {"filter": "item", "values": ["TotSa", "1", "2"]}},
        {"code": "Alder", "selection": {"filter": "item", "values": ["TotSA"]}}]
    bas = pxweb.parse(fetched[0].data, fetched[0].name)["pxweb_observation"]
    assert bas.height == 144 and set(bas["table_id"]) == {"TAB6260"}
    pop = pxweb.parse(fetched[1].data, fetched[1].name)["pxweb_observation"]
    assert pop.height == 12 and set(pop["measure"]) == {"population_total"} and set(pop["age_group"]) == {"total"}


def test_v1_403_that_persists_is_a_one_line_fetch_error(httpserver, sleeps, bas_only):
    httpserver.expect_request("/api/v2/config").respond_with_data("gone", status=410)
    httpserver.expect_request(f"{V1}/START/AM/AM0210/AM0210A/ArbStatusM", method="GET").respond_with_json(BAS_V1_META)
    httpserver.expect_request(f"{V1}/START/AM/AM0210/AM0210A/ArbStatusM", method="POST").respond_with_data(
        "Too many calls", status=403)
    with pytest.raises(http.FetchError, match="too many calls") as err:
        pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))
    assert "\n" not in str(err.value) and "ArbStatusM" in str(err.value)


def test_v2_config_500_is_not_a_fallback(httpserver, sleeps):
    httpserver.expect_request("/api/v2/config").respond_with_data("boom", status=500)
    with pytest.raises(http.FetchError, match="HTTP 500"):
        pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))
    assert not any("/v1/" in req.path for req, _ in httpserver.log)


def test_v1_metadata_without_contents_names_the_table(httpserver, sleeps, bas_only):
    httpserver.expect_request("/api/v2/config").respond_with_data("gone", status=404)
    meta = copy.deepcopy(BAS_V1_META)
    meta["variables"] = [v for v in meta["variables"] if v["code"] != "ContentsCode"]
    httpserver.expect_request(f"{V1}/START/AM/AM0210/AM0210A/ArbStatusM").respond_with_json(meta)
    with pytest.raises(ParseError, match="TAB6260 .*metadata has no variable\\(s\\) ContentsCode"):
        pxweb.fetch(FetchContext(base_url=httpserver.url_for("/api/v2")))
