"""SCB PxWebApi 2.0 (v1 fallback): BAS (befolkningens arbetsmarknadsstatus) per kommun and month,
and the monthly population, as JSON-stat2.

``parse`` turns one JSON-stat2 response into tidy observations; ``fetch`` reads ``/config`` for the
cell and call limits, resolves content codes against the table metadata and asks for the data in
pieces under the cell limit. County (``05``) and country (``00``) values are SCB's published totals,
requested as their own region codes, never sums of municipal cells (SCB perturbs small cells).

Tables (``TABLES``):
- ``TAB6260`` (v1 ``AM0210A/ArbStatusM``): BAS, measures ``employed``, ``unemployed``, ``population``
  (antal totalt), age groups ``20-64`` and ``20-24``, sex T/K/M.
- ``TAB6471`` (v1 ``BE0101A/BefolkManadCKM``): population on the last day of each month (2025M01
  onward, cell-key noise), measure ``population_total``, age group ``total`` (SCB's ``TotSA``, all
  ages), sex T/K/M. Before 2025 the population is in ``BefolkManad`` (not configured).

v1 fallback: when v2's ``/config`` answers 404 or 410, the same tables are asked from the classic API
(``POST {v1}/{path}`` with a v1 query body and ``response.format = json-stat2``), paced at SCB's
published 10 calls per 10 s and 100 000 cells; a v1 ``403`` (SCB's answer to too many calls) is retried
as a rate limit.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from math import prod
from urllib.parse import urlsplit

import polars as pl
import requests

from sources import jsonstat
from sources.base import Fetched, FetchContext, ParseError
from sources.http import FetchError, request

SOURCE_ID = "pxweb"
BASE_URL = "https://statistikdatabasen.scb.se/api/v2"
V1_BASE_URL = "https://api.scb.se/OV0104/v1/doris/sv/ssd"    # $KRAFTER_PXWEB_V1_URL overrides
V1_LIMITS = {"maxDataCells": 100_000, "maxCallsPerTimeWindow": 10, "timeWindow": 10}   # scb.se/oppna-data


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
    sexes: tuple[str, ...] = ("1", "2", "1+2")
    age_groups: dict[str, str] = field(default_factory=dict)   # SCB age code → our age_group
    v1_path: str | None = None             # classic API path below {v1}/ (fallback)


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
        v1_path="START/AM/AM0210/AM0210A/ArbStatusM",
    ),
    # Monthly population (v2 metadata captured in stefur/pxwebpy tests/responses/TAB6471_metadata.json:
    # Region 00/län/kommun, Alder single years, bands and TotSA, Kon TotSa/1/2, ContentsCode 000007SF).
    "TAB6471": TableConfig(
        table_id="TAB6471",
        dims={"Region": "region_code", "Kon": "sex", "Alder": "age_group", "Tid": "period"},
        contents=(Content("population_total", "000007SF", "folkmängden per månad"),),
        ages=("TotSA",),
        sexes=("TotSa", "1", "2"),
        age_groups={"TotSA": "total"},
        v1_path="START/BE/BE0101/BE0101A/BefolkManadCKM",
    ),
}
MEASURES = sorted({c.measure for cfg in TABLES.values() for c in cfg.contents})

SEX = {"1": "M", "2": "K", "1+2": "T", "T": "T", "K": "K", "M": "M", "TotSa": "T", "TotSA": "T"}
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


def config_of(doc: dict, name: str = "") -> TableConfig:
    """The table a document answers: its px ``tableid``/``matrix`` (a v2 id or a v1 table name such
    as ``ArbStatusM``), else the snapshot name our fetch gives it (``TAB6260_…``)."""
    px = (doc.get("extension") or {}).get("px") or {}
    given = [v for v in (px.get("tableid"), px.get("matrix")) if v]
    for v in given:
        for cfg in TABLES.values():
            if v == cfg.table_id or (cfg.v1_path and v == cfg.v1_path.rsplit("/", 1)[-1]):
                return cfg
    if not given:
        prefix = (name or "").split("_", 1)[0]
        if prefix in TABLES:
            return TABLES[prefix]
    raise ParseError(f"table '{given[0] if given else '?'}' is not configured (known: {', '.join(TABLES)})")


def parse(data: bytes, name: str = "") -> dict[str, pl.DataFrame]:
    doc = jsonstat.load(data)
    cells = jsonstat.decode(doc)      # structural checks first: a broken document says so
    cfg = config_of(doc, name)
    table_id = cfg.table_id
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
        pl.col("age_group").replace(cfg.age_groups).alias("age_group"),
        pl.col("period").str.replace(r"^(\d{4})M(\d{2})$", "${1}-${2}").alias("period"),
        pl.lit(doc.get("updated"), dtype=pl.String).alias("source_updated"),
    ).with_row_index("row_number", offset=1)
    return {"pxweb_observation": tidy.select(
        pl.col("row_number").cast(pl.Int64), "table_id", "region_code", "period", "measure", "sex", "age_group",
        "value", "status", "unit", "source_updated")}


def inspect(data: bytes, name: str = "") -> list[dict]:
    return jsonstat.cells_as_json(jsonstat.load(data))


# --- live fetch -----------------------------------------------------------------------------

class _Session(requests.Session):
    """Remembers the last HTTP status (to tell a retired v2 API from other failures). For v1 it also
    turns SCB's ``403`` (its documented answer to more than the allowed calls per window) into a
    ``429`` with ``Retry-After`` = the window, so ``sources.http`` retries it like any rate limit."""

    def __init__(self, v1_rate_limit: bool = False, window: float = 10.0):
        super().__init__()
        self.last_status: int | None = None
        self.v1_rate_limit = v1_rate_limit
        self.window = window

    def request(self, method, url, *args, **kwargs):
        resp = super().request(method, url, *args, **kwargs)
        self.last_status = resp.status_code
        if self.v1_rate_limit and resp.status_code == 403:
            resp.status_code = 429
            resp.reason = "Forbidden (SCB v1: too many calls)"
            resp.headers.setdefault("Retry-After", f"{self.window:g}")
        return resp


def _get_json(url: str, **kw) -> dict:
    resp = request(SOURCE_ID, "GET", url, **kw)
    try:
        return resp.json()
    except ValueError:
        raise ParseError(f"{url}: answer is not JSON (HTTP {resp.status_code})") from None


def _check_codes(cfg: TableConfig, available: dict[str, list[str]]) -> None:
    for var, wanted in (("Alder", cfg.ages), ("Kon", cfg.sexes), *((k, (v,)) for k, v in cfg.fixed.items())):
        missing = [c for c in wanted if c not in set(available.get(var) or [])]
        if missing:
            raise ParseError(f"table {cfg.table_id}: {var} code(s) {', '.join(missing)} are not in the "
                             f"table metadata")


def _plan(cfg: TableConfig, regions: list[str], codes: dict[str, str], periods: list[str],
          max_cells: int, ctx: FetchContext) -> list[tuple[list[str], list[tuple[str, list[str]]]]]:
    """Period chunks under the cell limit, each with its selection (variable → codes, in order)."""
    if ctx.since:
        floor = f"{ctx.since.year}M{ctx.since.month:02d}"
        periods = [p for p in periods if p >= floor] or periods[-1:]
    per_period = len(regions) * len(cfg.sexes) * len(cfg.ages) * len(codes)
    chunk = max(1, max_cells // max(per_period, 1))
    plan = []
    for i in range(0, len(periods), chunk):
        part = periods[i:i + chunk]
        selection = [("Region", regions), ("Kon", list(cfg.sexes)), ("Alder", list(cfg.ages)),
                     *((k, [v]) for k, v in cfg.fixed.items()),
                     ("ContentsCode", list(codes)), ("Tid", part)]
        cells = prod(len(v) for _, v in selection)
        if cells > max_cells:
            raise ParseError(f"table {cfg.table_id}: one month is {cells} cells, above the "
                             f"API's limit of {max_cells}; split the regions")
        plan.append((part, selection))
    return plan


def fetch(ctx: FetchContext) -> list[Fetched]:
    base = (ctx.base_url or BASE_URL).rstrip("/")
    probe = _Session()
    try:
        config = _get_json(f"{base}/config", session=probe)
    except FetchError:
        if probe.last_status in (404, 410):        # v2 gone (or not there yet): the classic API
            return fetch_v1(ctx)
        raise
    max_cells = int(config.get("maxDataCells") or 100_000)
    calls, window = int(config.get("maxCallsPerTimeWindow") or 10), float(config.get("timeWindow") or 10)
    pause = window / max(calls, 1)
    out: list[Fetched] = []
    for cfg in TABLES.values():
        meta = _get_json(f"{base}/tables/{cfg.table_id}/metadata", params={"lang": "sv"})
        codes = resolve_contents(cfg, jsonstat.labels(meta, "ContentsCode"))
        dims = meta.get("dimension") or {}
        _check_codes(cfg, {d: list((dims.get(d) or {}).get("category", {}).get("index") or [])
                           for d in ("Alder", "Kon", *cfg.fixed)})
        regions = list(dims["Region"]["category"]["index"])
        periods = list(dims["Tid"]["category"]["index"])
        for part, selection in _plan(cfg, regions, codes, periods, max_cells, ctx):
            url = f"{base}/tables/{cfg.table_id}/data"
            body = {"selection": [{"variableCode": k, "valueCodes": v} for k, v in selection]}
            resp = request(SOURCE_ID, "POST", url, params={"outputFormat": "json-stat2", "lang": "sv"},
                           json=body)
            out.append(Fetched(resp.content, "json", url=url, query=json.dumps(body),
                               http_status=resp.status_code, name=f"{cfg.table_id}_{part[0]}_{part[-1]}.json"))
            time.sleep(pause)
    return out


def v1_base(ctx: FetchContext) -> str:
    """``$KRAFTER_PXWEB_V1_URL``; else, when the v2 base is overridden (a local replay server), the
    v1 path on the same host; else SCB's v1 base."""
    env = os.environ.get("KRAFTER_PXWEB_V1_URL")
    if env:
        return env.rstrip("/")
    if ctx.base_url:
        u = urlsplit(ctx.base_url)
        return f"{u.scheme}://{u.netloc}/OV0104/v1/doris/sv/ssd"
    return V1_BASE_URL


def fetch_v1(ctx: FetchContext) -> list[Fetched]:
    """The same tables from the classic PxWeb API: metadata by GET, data by POST (json-stat2)."""
    base = v1_base(ctx)
    max_cells, calls, window = (V1_LIMITS["maxDataCells"], V1_LIMITS["maxCallsPerTimeWindow"],
                                float(V1_LIMITS["timeWindow"]))
    pause = window / calls
    session = _Session(v1_rate_limit=True, window=window)
    out: list[Fetched] = []
    for cfg in TABLES.values():
        if not cfg.v1_path:
            raise ParseError(f"table {cfg.table_id}: v2 is unavailable and no v1 path is configured")
        url = f"{base}/{cfg.v1_path}"
        meta = _get_json(url, session=session)
        time.sleep(pause)
        variables = {v.get("code"): v for v in (meta.get("variables") or []) if isinstance(v, dict)} \
            if isinstance(meta, dict) else {}
        missing = [v for v in ("Region", "Tid", "ContentsCode") if v not in variables]
        if missing:
            raise ParseError(f"table {cfg.table_id} (v1 {cfg.v1_path}): metadata has no variable(s) "
                             f"{', '.join(missing)}")
        content = variables["ContentsCode"]
        codes = resolve_contents(cfg, dict(zip(content.get("values") or [], content.get("valueTexts") or [])))
        _check_codes(cfg, {k: list(v.get("values") or []) for k, v in variables.items()})
        regions = list(variables["Region"].get("values") or [])
        periods = list(variables["Tid"].get("values") or [])
        for part, selection in _plan(cfg, regions, codes, periods, max_cells, ctx):
            body = {"query": [{"code": k, "selection": {"filter": "item", "values": v}} for k, v in selection],
                    "response": {"format": "json-stat2"}}
            resp = request(SOURCE_ID, "POST", url, session=session, json=body)
            out.append(Fetched(resp.content, "json", url=url, query=json.dumps(body),
                               http_status=resp.status_code, name=f"{cfg.table_id}_{part[0]}_{part[-1]}.json",
                               extra={"api": "v1"}))
            time.sleep(pause)
    return out
