"""Curated list of work-integration social enterprises (arbetsintegrerande sociala företag).

No open machine-readable list exists (Sofisam closed 2020, notes §5.4), so the user keeps one:
CSV with columns ``org_number,name,source,date`` (``date``: when the listing was checked, ISO).
Format rules (encoding, separator, ``#`` comments, personal numbers) are in ``sources.curated``.
"""
from __future__ import annotations

import polars as pl

from sources.base import Fetched, FetchContext, ParseError
from sources.curated import build, convert, date_of, org_number, read_rows

SOURCE_ID = "wise"
COLUMNS = ["org_number", "name", "source", "date"]
SCHEMA = {"org_number": pl.String, "name": pl.String, "source": pl.String,
          "listed_date": pl.Date, "row_number": pl.Int64}


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    rows, rejected, removed = read_rows(data, COLUMNS, ["org_number"])
    out = convert(rows, rejected, lambda r: (
        org_number(r["org_number"]), r["name"] or None, r["source"] or None, date_of(r, "date")))
    return build(SOURCE_ID, "wise_enterprise", SCHEMA, out, rejected, removed)


def fetch(ctx: FetchContext) -> list[Fetched]:
    raise ParseError("wise is a curated list: use krafter ingest wise --file PATH")
