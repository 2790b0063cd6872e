"""Kolada API v3 (RKA): KPIs per municipality, region and year.

``fetch`` checks every configured KPI against ``GET {base}/kpi/{id}`` (a missing id or a changed title
stops the fetch with a ParseError naming the KPI: Kolada ids circulate with invented meanings), then
asks ``/data/kpi/{kpi}/municipality/{ids}/year/{years}`` with at most 25 ids per path segment
(Kolada v3's limit), ``per_page=5000``, following ``next_url`` (or ``next_page``, which one client
still reads) until the last page. One snapshot per KPI: ``{"kpi", "synthetic", "pages": [page, …]}``.

``parse`` accepts one page (``{"values": [...]}``), a JSON array of pages, or that wrapper, and gives
``kolada_value`` (one row per KPI × region × year × gender) and ``kolada_rejected``:
- Kolada's municipality ids become SCB region codes: ``0000`` → ``00`` (riket), ``00XX`` → ``XX`` (the
  region, i.e. county ``XX``), 4-digit kommun codes are kept; municipality groups (``G…``) are rejected;
- rows marked ``isdeleted`` are rejected with reason "deleted in source";
- a null value keeps Kolada's status; with no status it is marked ``Missing``.
"""
from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib import resources
from urllib.parse import urljoin

import polars as pl

from sources.base import Fetched, FetchContext, ParseError, load_json, shown
from sources.http import request

SOURCE_ID = "kolada"
BASE_URL = "https://api.kolada.se/v3"
PER_PAGE = 5000
MAX_SEGMENT = 25            # elements per path segment (KPIs, municipalities or years)
PAUSE = 0.2                 # no documented rate limit; clients throttle to ~5 requests a second
FIRST_YEAR = 2015


@dataclass(frozen=True)
class Kpi:
    id: str
    title: str                          # the title Kolada's /kpi/{id} must answer (normalised compare)
    measure: str                        # what core.labour_market will call it
    also: tuple[str, ...] = ()          # other wordings seen for the same KPI


KPIS: dict[str, Kpi] = {k.id: k for k in [
    # 25–64-year-olds openly unemployed or in programmes with activity support ≥ 6 months, annual
    # mean, share of the population 25–64 (source AF). sources-se.md §2.6; the notes quote the title
    # with ", årsmedelvärde," — both wordings are accepted, anything else stops the fetch.
    Kpi("N03926", "Långtidsarbetslöshet 25-64 år, andel (%) av bef.", "long_term_unemployment_25_64_pct",
        also=("Långtidsarbetslöshet 25-64 år, årsmedelvärde, andel (%) av bef.",)),
    Kpi("N00914", "Förvärvsarbetande invånare 20-64 år, andel (%)", "gainfully_employed_20_64_pct"),
]}

REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}
SCHEMA = {"kpi": pl.String, "region_code": pl.String, "period": pl.String, "sex": pl.String,
          "value": pl.Float64, "status": pl.String, "count": pl.Int64, "row_number": pl.Int64}
GENDER = {"T": "T", "K": "K", "M": "M"}
_KOMMUN = re.compile(r"^\d{4}$")


def normalise_title(title: str) -> str:
    t = unicodedata.normalize("NFC", str(title)).replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", t).strip().casefold()


def region_code(municipality: str) -> str:
    """Kolada municipality id → SCB region code; ValueError with the reason otherwise."""
    m = str(municipality).strip()
    if m.upper().startswith("G"):
        raise ValueError(f"municipality group '{m}' is not a region")
    if not _KOMMUN.match(m):
        raise ValueError(f"municipality id '{shown(m)}' is not a Kolada kommun/region id")
    if m == "0000":
        return "00"
    if m.startswith("00"):
        return m[2:]
    return m


# --- parse ------------------------------------------------------------------------------------

def _pages(data: bytes) -> list[dict]:
    doc = load_json(data)
    if isinstance(doc, dict) and "pages" in doc:
        doc = doc["pages"]
    pages = doc if isinstance(doc, list) else [doc]
    for i, page in enumerate(pages):
        if not isinstance(page, dict) or not isinstance(page.get("values"), list):
            raise ParseError(f"page {i + 1} is not a Kolada data page (no 'values' array)")
    return pages


def parse(data: bytes, name: str = "") -> dict[str, pl.DataFrame]:
    rows: list[tuple] = []
    rejected: list[tuple[int, str]] = []
    n = 0
    for p_i, page in enumerate(_pages(data)):
        for r_i, row in enumerate(page["values"]):
            where = f"page {p_i + 1} row {r_i + 1}"
            if not isinstance(row, dict) or not isinstance(row.get("values"), list):
                raise ParseError(f"{where} is not a Kolada data row (no 'values' array)")
            kpi, muni, period = row.get("kpi"), row.get("municipality"), row.get("period")
            if not kpi or muni is None or period is None:
                raise ParseError(f"{where} lacks kpi, municipality or period")
            for v in row["values"]:
                n += 1
                if not isinstance(v, dict):
                    raise ParseError(f"{where}: a value entry is not an object")
                if row.get("isdeleted") or v.get("isdeleted"):
                    rejected.append((n, "deleted in source"))
                    continue
                try:
                    region = region_code(muni)
                except ValueError as exc:
                    rejected.append((n, str(exc)))
                    continue
                sex = GENDER.get(str(v.get("gender", "")).upper())
                if sex is None:
                    rejected.append((n, f"unknown gender '{shown(v.get('gender'))}'"))
                    continue
                year = str(period)
                if not re.fullmatch(r"\d{4}", year):
                    rejected.append((n, f"period '{period}' is not a year"))
                    continue
                value = v.get("value")
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    rejected.append((n, f"value {value!r} is not a number"))
                    continue
                if (value is not None and "(%)" in getattr(KPIS.get(str(kpi)), "title", "")
                        and not 0 <= value <= 100):
                    rejected.append((n, f"value {value} is outside 0-100 for a share in percent"))
                    continue
                status = v.get("status") or None
                if value is None and status is None:
                    status = "Missing"
                count = v.get("count")
                count = count if isinstance(count, int) and not isinstance(count, bool) else None
                rows.append((str(kpi), region, year, sex, None if value is None else float(value),
                             None if status is None else str(status), count, n))
    return {"kolada_value": pl.DataFrame(rows, schema=SCHEMA, orient="row"),
            "kolada_rejected": pl.DataFrame(rejected, schema=REJECTED_SCHEMA, orient="row")}


# --- live fetch -------------------------------------------------------------------------------

def _get_json(url: str, **kw):
    resp = request(SOURCE_ID, "GET", url, **kw)
    try:
        return resp.json()
    except ValueError:
        raise ParseError(f"{url}: answer is not JSON (HTTP {resp.status_code})") from None


def check_kpi(base: str, kpi: Kpi) -> dict:
    """The KPI's metadata, or a ParseError naming the KPI when it is missing or retitled."""
    doc = _get_json(f"{base}/kpi/{kpi.id}")
    items = doc.get("values") if isinstance(doc, dict) and "values" in doc else doc
    items = items if isinstance(items, list) else [items]
    found = [m for m in items if isinstance(m, dict) and m.get("id") == kpi.id]
    if not found:
        raise ParseError(f"KPI {kpi.id} ({kpi.title}) is not in Kolada's metadata")
    title = found[0].get("title") or ""
    if normalise_title(title) not in {normalise_title(t) for t in (kpi.title, *kpi.also)}:
        raise ParseError(f"KPI {kpi.id}: Kolada's title '{title}' is not the expected '{kpi.title}'")
    return found[0]


def municipality_ids(county: str | None = None) -> list[str]:
    """Kolada ids for every kommun (or one county's), the regions (``00XX``) and riket (``0000``),
    from the bundled region reference."""
    text = (resources.files("sources") / "reference" / "regions.csv").read_text(encoding="utf-8")
    ids: list[str] = ["0000"]
    for line in text.splitlines()[1:]:
        if not line or line.startswith("#"):
            continue
        code, _name, level, county_code = line.split(",")[:4]
        if county and county_code != county:
            continue
        if level == "county":
            ids.append("00" + code)
        elif level == "municipality":
            ids.append(code)
    return ids


def chunks(items: list[str], size: int = MAX_SEGMENT) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def fetch_pages(base: str, kpi: str, municipalities: list[str], years: list[str]) -> list[dict]:
    pages: list[dict] = []
    for ids in chunks(municipalities):
        for yrs in chunks(years):
            url = f"{base}/data/kpi/{kpi}/municipality/{','.join(ids)}/year/{','.join(yrs)}"
            params: dict | None = {"per_page": PER_PAGE}
            seen: set[str] = set()
            while url:
                page = _get_json(url, params=params)
                time.sleep(PAUSE)
                if not isinstance(page, dict) or not isinstance(page.get("values"), list):
                    raise ParseError(f"{url}: answer is not a Kolada data page")
                pages.append(page)
                nxt = page.get("next_url") or page.get("next_page")
                if nxt:
                    nxt = urljoin(url, nxt)
                    if nxt in seen:
                        raise ParseError(f"{url}: paging loops back to {nxt}")
                    seen.add(nxt)
                url, params = nxt, None          # next_url carries its own query
    return pages


def fetch(ctx: FetchContext) -> list[Fetched]:
    base = (ctx.base_url or BASE_URL).rstrip("/")
    kpis = list(KPIS.values())
    for kpi in kpis:                 # every KPI is checked before any data is asked for
        check_kpi(base, kpi)
        time.sleep(PAUSE)
    first = ctx.since.year if ctx.since else FIRST_YEAR
    years = [str(y) for y in range(first, date.today().year + 1)]
    municipalities = municipality_ids()
    out: list[Fetched] = []
    for kpi in kpis:
        pages = fetch_pages(base, kpi.id, municipalities, years)
        doc = {"kpi": kpi.id, "title": kpi.title, "synthetic": False, "pages": pages}
        out.append(Fetched(json.dumps(doc, ensure_ascii=False).encode("utf-8"), "json",
                           url=f"{base}/data/kpi/{kpi.id}", query=json.dumps({"years": years,
                                                                             "municipalities": len(municipalities)}),
                           http_status=200, name=f"kolada_{kpi.id}.json"))
    return out
