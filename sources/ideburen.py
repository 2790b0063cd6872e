"""Kammarkollegiet's register of idea-based organisations (lag 2022:900).

Assumption: the register's published format could not be checked offline and it has no known
machine-readable download. This module accepts a CSV the user exports with the columns
``org_number,name,registered`` (``registered``: date of entry in the register, ISO, may be empty).
Format rules (encoding, separator, ``#`` comments, personal numbers) are in ``sources.curated``.
"""
from __future__ import annotations

import polars as pl

from sources.base import Fetched, FetchContext, ParseError
from sources.curated import build, convert, date_of, org_number, read_rows

SOURCE_ID = "ideburen"
COLUMNS = ["org_number", "name", "registered"]
SCHEMA = {"org_number": pl.String, "name": pl.String, "registered_date": pl.Date,
          "row_number": pl.Int64}


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    rows, rejected, removed = read_rows(data, COLUMNS, ["org_number"])
    out = convert(rows, rejected, lambda r: (
        org_number(r["org_number"]), r["name"] or None, date_of(r, "registered")))
    return build(SOURCE_ID, "ideburen_register", SCHEMA, out, rejected, removed)


def fetch(ctx: FetchContext) -> list[Fetched]:
    raise ParseError("Kammarkollegiet's ideburen register has no machine-readable download: "
                     "export it to CSV (org_number,name,registered) and use "
                     "krafter ingest ideburen --file PATH")
