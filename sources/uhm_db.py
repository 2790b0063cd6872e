"""Upphandlingsmyndigheten's statistics database (statistikdatabasen): every procurement advertised
in Sweden, above and below the EU thresholds, one row per procurement (or per lot).

Since 2021 every advertised procurement must be published in a registered notice database, which
reports it to Upphandlingsmyndigheten (lag 2019:668); the agency's statistics database holds them
all and exports any table of its variables as CSV or Excel. The table this source reads is the
unit *Antal upphandlingar* broken down by *Upphandlings-ID* and the buyer, flag and date variables
below — the headers are the database's variable names (Swedish), matched case-insensitively and
with or without their group prefix (``Köpare.Organisationsnummer för köpare``). Required:
``Upphandlings-ID``, ``Organisationsnummer för köpare`` and ``År`` or ``Publiceringsdatum``; the
rest is read when present. The shape was learnt from a 2021 export of the database: 18 421
procurements, buyer sector/sub-sector/legal form in words, flags in words (a negative begins with
*Inte*/*Inga*, a missing one reads *Uppgift saknas*), CPV as ``"79212000 Revision"``, dates ISO.

Flags become true / false / null: null when the database has no information (*Uppgift saknas* or
empty — most procurements for the social and green flags), false for a negative wording (*Inte …*,
*Inga …*, *Ej …*, *Nej*, ``False``), true for any other wording. CSV: UTF-8 (BOM or not, cp1252 as
a fallback), ``;`` or ``,`` separated; a multi-valued cell may be joined by ``"; "`` and is then
kept whole. A row without a procurement id, with an unreadable date or an invalid buyer
organisation number is quarantined with the reason.

``fetch`` asks the database's export endpoint (the one its web page uses) for that table, one CSV
per year from ``--since`` (default: the two previous years and this one). The endpoint and its
parameters were taken from a 2023 open-source client of the database; they are not documented by
the agency, so a changed endpoint fails in one line and the same table exported by hand from the
web page goes in with ``krafter ingest uhm-db --file``.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from sources import orgnr, tabular
from sources.base import Fetched, FetchContext, ParseError, shown
from sources.http import FetchError, request

SOURCE_ID = "uhm-db"
BASE_URL = "https://www.upphandlingsmyndigheten.se"
EXPORT_PATH = "/api/sv/statisticsservice/bridgeapi/statistics/export/csv"

# database variable (lower case, without its group prefix) → column
VARIABLES = {
    "år": "year",
    "upphandlings-id": "procurement_id",
    "anbudsområdes-id": "lot_id",
    "upphandlingens titel": "title",
    "publiceringsdatum": "publication_date",
    "namn för köpare": "buyer_name",
    "organisationsnummer för köpare": "buyer_org_number",
    "sektor för köpare": "buyer_sector",
    "delsektor för köpare": "buyer_subsector",
    "juridisk form för köpare": "buyer_legal_form",
    "upphandlingsslag": "contract_kind",
    "huvudsaklig cpv-kod": "main_cpv",
    "rättslig grund": "legal_basis",
    "direktivstyrd": "directive",
    "förfarande": "procedure_type",
    "typ av avtal": "agreement_type",
    "samordnad upphandling": "joint",
    "miljömässigt hållbar upphandling": "green",
    "socialt hållbar upphandling": "social",
    "innovationsupphandling": "innovation",
    "reserverad upphandling": "reserved",
    "reserverat genomförande": "reserved_execution",
    "annonsdatabas": "notice_database",
    "överprövad": "reviewed",
}
FLAGS = ("directive", "joint", "green", "social", "innovation", "reserved", "reserved_execution", "reviewed")
TEXTS = ("lot_id", "title", "buyer_name", "buyer_sector", "buyer_subsector", "buyer_legal_form",
         "contract_kind", "legal_basis", "procedure_type", "agreement_type", "notice_database")
MEASURE = "antal upphandlingar"        # the measure column: "Antal upphandlingar, Summa"

SCHEMA: dict[str, pl.DataType] = {
    "procurement_id": pl.String, "lot_id": pl.String, "year": pl.Int32, "publication_date": pl.Date,
    "title": pl.String, "buyer_org_number": pl.String, "buyer_name": pl.String, "buyer_sector": pl.String,
    "buyer_subsector": pl.String, "buyer_legal_form": pl.String, "contract_kind": pl.String,
    "main_cpv": pl.String, "legal_basis": pl.String, "directive": pl.Boolean, "procedure_type": pl.String,
    "agreement_type": pl.String, "joint": pl.Boolean, "green": pl.Boolean, "social": pl.Boolean,
    "innovation": pl.Boolean, "reserved": pl.Boolean, "reserved_execution": pl.Boolean,
    "notice_database": pl.String, "reviewed": pl.Boolean, "procurements": pl.Int64, "row_number": pl.Int64,
}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}

_MISSING = {"", "-", "uppgift saknas", "saknas", "ej angivet", "okänd", "okänt", "vet ej", "none", "null"}
_NEGATIVE = re.compile(r"^(inte|inga|ingen|inget|icke|ej|nej|false|0)\b", re.IGNORECASE)
_CPV = re.compile(r"^\s*(\d{8})")
_JOINED = "\x1f"          # a "; " inside a cell, kept while the line is split on ";"


def flag(cell) -> bool | None:
    """A flag variable's wording as true / false / null (no information)."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        return cell
    text = str(cell).strip()
    if text.lower() in _MISSING:
        return None
    return not _NEGATIVE.match(text)


def _text(cell) -> str | None:
    if cell is None:
        return None
    text = str(cell).replace(_JOINED, "; ").strip()
    return None if text.lower() in _MISSING else text


def _date(cell) -> date | None:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    if text is None:
        return None
    return date.fromisoformat(text[:10])          # "2021-05-21" or "2021-05-21 00:00:00"


def _int(cell) -> int | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, (int, float, Decimal)):
        value = Decimal(str(cell))
    else:
        value = Decimal(str(cell).strip().replace("\u00a0", "").replace(" ", "").replace(",", "."))
    if value != value.to_integral_value():
        raise ValueError(cell)
    return int(value)


def _csv_rows(data: bytes) -> list[tuple[list, list | None]]:
    """CSV rows, each as (cells, cells with every ``"; "`` kept inside its cell): a multi-valued
    variable may be joined by ``"; "`` on a ``;``-separated line; which reading holds is decided
    per row, once the header's width is known."""
    text = tabular.decode(data)
    sep = tabular.delimiter(text)

    def read(t: str) -> list[list]:
        return [[c if c.strip() else None for c in row] for row in csv.reader(io.StringIO(t), delimiter=sep)]
    plain = read(text)
    if sep != ";" or "; " not in text:
        return [(row, None) for row in plain]
    # the same rows (no quote or line break is touched), read with every "; " inside its cell
    return list(zip(plain, read(text.replace("; ", _JOINED))))


def _key(header) -> str | None:
    """The column a header cell names, if any."""
    if header is None:
        return None
    name = " ".join(str(header).replace(_JOINED, "; ").split()).lower()
    if name.startswith(MEASURE):
        return "procurements"
    if name in VARIABLES:
        return VARIABLES[name]
    return VARIABLES.get(name.rsplit(".", 1)[-1].strip())


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    """The procurements of one export (CSV or xlsx): ``uhm_db_procurement`` and the rows
    quarantined at parse time (``uhm_db_procurement_rejected``: row number and reason only)."""
    if data[:2] == b"PK" or data[:4] == b"\xd0\xcf\x11\xe0":
        sheets = [(title, [(r, None) for r in rows], True) for title, rows in tabular.sheets(data)]
    else:
        rows = _csv_rows(data)
        if not rows:
            raise ParseError("empty file")
        sheets = [("csv", rows, False)]
    for _title, rows, ragged in sheets:
        at = next((i for i, (r, _) in enumerate(rows[:50]) if "procurement_id" in map(_key, r)), None)
        if at is not None:
            break
    else:
        raise ParseError("no header row with the variable 'Upphandlings-ID': export the table "
                         "'Antal upphandlingar' broken down by Upphandlings-ID (see README)")
    rows = [plain if joined is None or len(plain) == len(rows[at][0]) or len(joined) != len(rows[at][0])
            else joined for plain, joined in rows]
    header = rows[at]
    columns = {k: i for i, k in enumerate(map(_key, header)) if k is not None}
    missing = [] if "buyer_org_number" in columns else ["Organisationsnummer för köpare"]
    if "year" not in columns and "publication_date" not in columns:
        missing.append("År or Publiceringsdatum")
    if missing:
        raise ParseError(f"missing variable(s) {', '.join(missing)} "
                         f"(found {shown(', '.join(str(h) for h in header if h is not None))})")
    out: list[dict] = []
    rejected: list[tuple[int, str]] = []
    for row_number, cells in enumerate(rows[at + 1:], start=1):
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        if len(cells) < len(header) and ragged:      # a sheet's row ends at its last filled cell
            cells = list(cells) + [None] * (len(header) - len(cells))
        if len(cells) != len(header):
            rejected.append((row_number, f"expected {len(header)} fields, found {len(cells)}"))
            continue

        def cell(col: str):
            return cells[columns[col]] if col in columns else None

        procurement_id = _text(cell("procurement_id"))
        if procurement_id is None:
            rejected.append((row_number, "Upphandlings-ID is empty"))
            continue
        raw_org = _text(cell("buyer_org_number"))
        org = orgnr.normalise(raw_org)
        if org is None:
            reason = orgnr.invalid_reason(raw_org) or "invalid"
            rejected.append((row_number, f"Organisationsnummer för köpare: {reason}"))
            continue
        try:
            published = _date(cell("publication_date"))
        except ValueError:
            rejected.append((row_number, "Publiceringsdatum is not a date"))
            continue
        try:
            year = _int(cell("year"))
            count = _int(cell("procurements")) if "procurements" in columns else 1
        except (ValueError, ArithmeticError):
            rejected.append((row_number, "År or the number of procurements is not a whole number"))
            continue
        if year is None and published is not None:
            year = published.year
        cpv = _CPV.match(str(cell("main_cpv") or ""))
        record = {
            "procurement_id": procurement_id, "year": year, "publication_date": published,
            "buyer_org_number": org, "procurements": count, "row_number": row_number,
            "main_cpv": cpv.group(1) if cpv and cpv.group(1) != "00000000" else None,
        }
        record.update({c: _text(cell(c)) for c in TEXTS})
        record.update({c: flag(_text(cell(c))) for c in FLAGS})
        out.append(record)
    return {"uhm_db_procurement": pl.DataFrame(out, schema=SCHEMA),
            "uhm_db_procurement_rejected": pl.DataFrame(rejected, schema=REJECTED_SCHEMA, orient="row")}


# --- live fetch ---------------------------------------------------------------------------------

EXPORT_VARIABLES = [
    "Information per upphandling.Upphandlings-ID", "Information per upphandling.Publiceringsdatum",
    "Information per upphandling.Upphandlingens titel",
    "Köpare.Namn för köpare", "Köpare.Organisationsnummer för köpare", "Köpare.Sektor för köpare",
    "Köpare.Delsektor för köpare", "Köpare.Juridisk form för köpare",
    "Upphandlingsslag.Upphandlingsslag", "Huvudsaklig CPV-kod.Huvudsaklig CPV-kod",
    *[f"Förfarande, metoder och krav.{v}" for v in (
        "Rättslig grund", "Direktivstyrd", "Förfarande", "Typ av avtal", "Samordnad upphandling",
        "Miljömässigt hållbar upphandling", "Socialt hållbar upphandling", "Innovationsupphandling",
        "Reserverad upphandling", "Reserverat genomförande", "Annonsdatabas", "Överprövad")],
]


def export_params(year: int) -> list[tuple[str, str]]:
    """Query of the export endpoint for one year's per-procurement table."""
    fixed = [("area", "upphandlingsstatistik"), ("product", "annonserade-upphandlingar-i-sverige"),
             ("unit", "Antal upphandlingar"), ("distributedUnit", "Upphandlingar, Bas.Antal upphandlingar"),
             ("measurement", "SUM"), ("year", str(year)), ("resultFormat", "table"),
             ("timefragment", "Tidsperiod.År"), ("orderBy", EXPORT_VARIABLES[0])]
    return fixed + [("param", v) for v in EXPORT_VARIABLES]


def this_year() -> int:
    return date.today().year


def fetch(ctx: FetchContext) -> list[Fetched]:
    """One CSV per publication year from ``ctx.since`` (default: two years back) to this year."""
    base = (ctx.base_url or BASE_URL).rstrip("/")
    this_year = globals()["this_year"]()
    first = ctx.since.year if ctx.since else this_year - 2
    out = []
    for year in range(first, this_year + 1):
        params = export_params(year)
        resp = request(SOURCE_ID, "GET", base + EXPORT_PATH, params=params)
        kind = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = resp.content
        if kind in ("text/html", "application/json") or body.lstrip()[:1] in (b"<", b"{"):
            raise FetchError(f"{SOURCE_ID}: {resp.url}: expected a CSV export, got {kind or 'no content type'} "
                             f"(the endpoint may have changed; export the table by hand and use --file)")
        if not body.strip():
            continue                       # a year without data yet
        out.append(Fetched(body, ".csv", url=resp.url, http_status=resp.status_code,
                           name=f"uhm-db-{year}.csv"))
    return out
