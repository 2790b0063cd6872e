"""Upphandlingsmyndigheten (the National Agency for Public Procurement): its published national
figures, as the benchmark for the TED-based procurement indicators (DESIGN.md §4).

The agency's statistics database itself — every advertised procurement — is the source ``uhm-db``
(``sources.uhm_db``). This source keeps the figures the agency *published*, as a benchmark: it reads
a small CSV a person keeps — ``year,measure,value,unit,source_url,
published`` (``#`` lines are comments) — and the bundled ``samples/uhm/uhm_national.csv`` holds
only figures quoted from the agency's statistics pages (procurement.md §5.3), each with its URL.
``fetch`` refuses with a one-line pointer to ``krafter ingest uhm --file``.

Measures: ``advertised_procurements`` (count), ``procurements_with_social_requirements_at_least``
("drygt 1 500": a lower bound), ``share_with_social_requirements`` (percent, rounded as published),
``contracted_value`` (SEK bn, as published).
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation

import polars as pl

from sources.base import FetchContext, Fetched, ParseError, shown

SOURCE_ID = "uhm"
COLUMNS = ["year", "measure", "value", "unit", "source_url", "published"]
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "uhm_national_figure": {
        "year": pl.Int32, "measure": pl.String, "value": pl.Decimal(18, 2), "unit": pl.String,
        "source_url": pl.String, "published": pl.Date, "row_number": pl.Int64,
    },
}


def _cell(row: dict, column: str) -> str | None:
    raw = row.get(column)
    return raw.strip() or None if isinstance(raw, str) else None


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    """The figures of one CSV file. Unreadable cells are a ParseError naming line and column:
    the file is small and kept by hand, so it is fixed rather than partly loaded."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ParseError(f"{name}: no header line")
    reader = csv.DictReader(io.StringIO("\n".join(ln for _n, ln in lines)))
    header = [h.strip() for h in reader.fieldnames or []]
    if header != COLUMNS:
        raise ParseError(f"{name}: header must be {','.join(COLUMNS)}, found {shown(','.join(header))}")
    reader.fieldnames = header
    rows = []
    for (line, _raw), row in zip(lines[1:], reader):
        year, value, published = (_cell(row, c) for c in ("year", "value", "published"))
        try:
            year_int = int(year) if year is not None else None
            amount = Decimal(value).quantize(Decimal("0.01")) if value is not None else None
            pub = date.fromisoformat(published) if published else None
        except (ValueError, InvalidOperation):
            raise ParseError(f"{name}: line {line}: year, value or published date unreadable") from None
        rows.append({"year": year_int, "measure": _cell(row, "measure"), "value": amount,
                     "unit": _cell(row, "unit"), "source_url": _cell(row, "source_url"),
                     "published": pub, "row_number": line})
    schema = SCHEMAS["uhm_national_figure"]
    frame = pl.DataFrame({c: [r[c] for r in rows] for c in schema}, schema=schema)
    return {"uhm_national_figure": frame}


def fetch(ctx: FetchContext) -> list[Fetched]:
    raise ParseError("uhm holds figures transcribed from Upphandlingsmyndigheten's statistics pages: "
                     "run `krafter ingest uhm --file FILE` (the statistics database itself is `uhm-db`)")
