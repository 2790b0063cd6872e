"""Curated list of IOP agreements (idéburet offentligt partnerskap) between municipalities and
idea-based organisations.

CSV with columns ``municipality_code,partner_org_number,area,start,end`` (dates ISO; ``end`` empty
while the agreement runs). A 3-digit municipality code (Excel drops the leading zero) is padded to
4 digits. Format rules are in ``sources.curated``.
"""
from __future__ import annotations

import polars as pl

from sources.base import Fetched, FetchContext, ParseError
from sources.curated import build, convert, date_of, org_number, read_rows

SOURCE_ID = "iop"
COLUMNS = ["municipality_code", "partner_org_number", "area", "start", "end"]
SCHEMA = {"municipality_code": pl.String, "partner_org_number": pl.String, "area": pl.String,
          "start_date": pl.Date, "end_date": pl.Date, "row_number": pl.Int64}


def _municipality(raw: str) -> str | None:
    if not raw:
        return None
    return raw.zfill(4) if raw.isdigit() and len(raw) == 3 else raw


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    rows, rejected, removed = read_rows(data, COLUMNS, ["partner_org_number"])
    out = convert(rows, rejected, lambda r: (
        _municipality(r["municipality_code"]), org_number(r["partner_org_number"]),
        r["area"] or None, date_of(r, "start"), date_of(r, "end")))
    return build(SOURCE_ID, "iop_agreement", SCHEMA, out, rejected, removed)


def fetch(ctx: FetchContext) -> list[Fetched]:
    raise ParseError("iop is a curated list: use krafter ingest iop --file PATH")
