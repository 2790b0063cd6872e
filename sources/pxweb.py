"""SCB PxWebApi 2.0: BAS (befolkningens arbetsmarknadsstatus) per kommun and month, as JSON-stat2.

``parse`` turns one JSON-stat2 response into tidy observations; ``fetch`` reads ``/config`` for the
cell and call limits, resolves content codes against the table metadata and asks for the data in
pieces under the cell limit. County (``05``) and country (``00``) values are SCB's published totals,
requested as their own region codes, never sums of municipal cells (SCB perturbs small cells).
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from math import prod

import polars as pl

from sources import jsonstat
from sources.base import Fetched, FetchContext, ParseError
from sources.http import request

SOURCE_ID = "pxweb"
BASE_URL = "https://statistikdatabasen.scb.se/api/v2"


@dataclass(frozen=True)
class Content:
    measure: str
    code: str | None          # None: resolve by label at run time (code not yet verified)
    label: str                # SCB's Swedish label, matched case-insensitively


@dataclass(frozen=True)
class TableConfig:
    table_id: str
    dims: dict[str, str]                   # SCB variable → our column
    fixed: dict[str, str] = field(default_factory=dict)   # variables held at one value
    contents: tuple[Content, ...] = ()
    ages: tuple[str, ...] = ("20-64", "20-24")


TABLES = {
    "TAB6260": TableConfig(
        table_id="TAB6260",
        dims={"Region": "region_code", "Kon": "sex", "Alder": "age_group", "Tid": "period"},
        fixed={"Fodelseregion": "tot"},
        contents=(
            Content("employed", "000006HI", "antal sysselsatta"),
            Content("unemployed", "000004YH", "antal arbetslösa"),
            Content("population", None, "antal totalt"),
        ),
    ),
}

SEX = {"1": "M", "2": "K", "1+2": "T", "T": "T", "K": "K", "M": "M"}
_MONTH = re.compile(r"^(\d{4})M(\d{2})$")
_YEAR = re.compile(r"^\d{4}$")


def period_of(code: str) -> str:
    m = _MONTH.match(code)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    if _YEAR.match(code):
        return code
    raise ParseError(f"time code '{code}' is neither a month (2025M01) nor a year")


def resolve_contents(cfg: TableConfig, labels: dict[str, str]) -> dict[str, str]:
    """Content code → measure, checked against the table's own labels."""
    out: dict[str, str] = {}
    for c in cfg.contents:
        if c.code and c.code in labels:
            out[c.code] = c.measure
            continue
        found = [code for code, lab in labels.items() if lab.strip().lower() == c.label]
        if c.code is None and len(found) == 1:
            out[found[0]] = c.measure
            continue
        raise ParseError(f"table {cfg.table_id}: content '{c.code or c.label}' ({c.measure}) "
                         f"is not in the table metadata")
    return out


def table_id_of(doc: dict) -> str:
    px = (doc.get("extension") or {}).get("px") or {}
    return px.get("tableid") or px.get("matrix") or ""


def parse(data: bytes, name: str = "") -> dict[str, pl.DataFrame]:
    doc = jsonstat.load(data)
    cells = jsonstat.decode(doc)      # structural checks first: a broken document says so
    table_id = table_id_of(doc)
    cfg = TABLES.get(table_id)
    if cfg is None:
        raise ParseError(f"table '{table_id or '?'}' is not configured (known: {', '.join(TABLES)})")
    expected = set(cfg.dims) | set(cfg.fixed) | {"ContentsCode"}
    unexpected = [d for d in doc["id"] if d not in expected]
    if unexpected:
        raise ParseError(f"table {table_id}: unexpected dimension(s) {', '.join(unexpected)}")
    for var, keep in cfg.fixed.items():
        if var in cells.columns:
            other = cells.filter(pl.col(var) != keep).height
            if other:
                raise ParseError(f"table {table_id}: {var} has values other than '{keep}'")
            cells = cells.drop(var)
    measures = resolve_contents(cfg, jsonstat.labels(doc, "ContentsCode"))
    cells = cells.filter(pl.col("ContentsCode").is_in(list(measures)))
    unit_of = jsonstat.units(doc)
    tidy = cells.rename(cfg.dims).with_columns(
        pl.lit(table_id).alias("table_id"),
        pl.col("ContentsCode").replace_strict(measures).alias("measure"),
        pl.col("ContentsCode").replace_strict(unit_of, default="antal").alias("unit"),
        pl.col("sex").replace_strict(SEX, default=None).alias("sex"),
        pl.col("period").str.replace(r"^(\d{4})M(\d{2})$", "${1}-${2}").alias("period"),
        pl.lit(doc.get("updated"), dtype=pl.String).alias("source_updated"),
    ).with_row_index("row_number", offset=1)
    return {"pxweb_observation": tidy.select(
        pl.col("row_number").cast(pl.Int64), "table_id", "region_code", "period", "measure", "sex", "age_group",
        "value", "status", "unit", "source_updated")}


def inspect(data: bytes, name: str = "") -> list[dict]:
    return jsonstat.cells_as_json(jsonstat.load(data))


# --- live fetch -----------------------------------------------------------------------------

def _get_json(url: str, **kw) -> dict:
    resp = request(SOURCE_ID, "GET", url, **kw)
    try:
        return resp.json()
    except ValueError:
        raise ParseError(f"{url}: answer is not JSON (HTTP {resp.status_code})") from None


def fetch(ctx: FetchContext) -> list[Fetched]:
    base = (ctx.base_url or BASE_URL).rstrip("/")
    config = _get_json(f"{base}/config")
    max_cells = int(config.get("maxDataCells") or 100_000)
    calls, window = int(config.get("maxCallsPerTimeWindow") or 10), float(config.get("timeWindow") or 10)
    pause = window / max(calls, 1)
    out: list[Fetched] = []
    for cfg in TABLES.values():
        meta = _get_json(f"{base}/tables/{cfg.table_id}/metadata", params={"lang": "sv"})
        codes = resolve_contents(cfg, jsonstat.labels(meta, "ContentsCode"))
        regions = list(meta["dimension"]["Region"]["category"]["index"])
        periods = list(meta["dimension"]["Tid"]["category"]["index"])
        if ctx.since:
            floor = f"{ctx.since.year}M{ctx.since.month:02d}"
            periods = [p for p in periods if p >= floor] or periods[-1:]
        per_period = len(regions) * 3 * len(cfg.ages) * len(codes)
        chunk = max(1, max_cells // max(per_period, 1))
        for i in range(0, len(periods), chunk):
            part = periods[i:i + chunk]
            selection = [
                {"variableCode": "Region", "valueCodes": regions},
                {"variableCode": "Kon", "valueCodes": ["1", "2", "1+2"]},
                {"variableCode": "Alder", "valueCodes": list(cfg.ages)},
                *({"variableCode": k, "valueCodes": [v]} for k, v in cfg.fixed.items()),
                {"variableCode": "ContentsCode", "valueCodes": list(codes)},
                {"variableCode": "Tid", "valueCodes": part},
            ]
            cells = prod(len(s["valueCodes"]) for s in selection)
            if cells > max_cells:
                raise ParseError(f"table {cfg.table_id}: one month is {cells} cells, above the "
                                 f"API's limit of {max_cells}; split the regions")
            url = f"{base}/tables/{cfg.table_id}/data"
            body = {"selection": selection}
            resp = request(SOURCE_ID, "POST", url, params={"outputFormat": "json-stat2", "lang": "sv"},
                           json=body)
            out.append(Fetched(resp.content, "json", url=url, query=json.dumps(body),
                               http_status=resp.status_code, name=f"{cfg.table_id}_{part[0]}_{part[-1]}.json"))
            time.sleep(pause)
    return out
