"""Shared reader for the small CSV lists a user keeps (WISE, IOP, the ideburen register export).

Accepted: UTF-8 with or without BOM (cp1252, as Excel on Windows writes it, as a fallback),
``,`` or ``;`` separated (sniffed from the header line), lines starting with ``#`` are comments.
Column names are matched case-insensitively. A row whose org-number column holds a personal
identity number is dropped at once and only counted (DESIGN §8); a row with the wrong number of
fields is returned as (row number, reason) only, never with its content.

``row_number`` is the 1-based number of the data line: comments, the header and blank lines are
not counted.
"""
from __future__ import annotations

import csv
from datetime import date

import polars as pl

from sources import orgnr
from sources.base import ParseError, refuse_utf16, shown

REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}
_BOM = "\ufeff"


def _decode(data: bytes) -> str:
    refuse_utf16(data)
    data = data.replace(b"\x00", b"")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.removeprefix(_BOM)


def read_rows(data: bytes, columns: list[str], org_columns: list[str]
              ) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]], int]:
    """(rows as (row_number, {column: stripped value}), rejected (row_number, reason),
    count of rows removed because an org-number column held a personal number)."""
    lines = [ln for ln in _decode(data).splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ParseError("file has no header line")
    header = lines[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    names = [h.strip().strip('"').strip().lower() for h in next(csv.reader([header], delimiter=sep))]
    missing = [c for c in columns if c not in names]
    if missing:
        raise ParseError(f"missing column(s) {', '.join(missing)}; expected {','.join(columns)} "
                         f"(found {shown(','.join(names))})")
    pos = {c: names.index(c) for c in columns}
    rows: list[tuple[int, dict[str, str]]] = []
    rejected: list[tuple[int, str]] = []
    removed = 0
    for row_number, fields in enumerate(csv.reader(lines[1:], delimiter=sep), start=1):
        if len(fields) != len(names):
            if any(orgnr.is_personal_number(v) for v in fields):
                removed += 1
            else:
                rejected.append((row_number, f"expected {len(names)} fields, found {len(fields)}"))
            continue
        rec = {c: fields[pos[c]].strip() for c in columns}
        if any(orgnr.is_personal_number(rec[c]) for c in org_columns):
            removed += 1
            continue
        rows.append((row_number, rec))
    return rows, rejected, removed


def org_number(raw: str) -> str | None:
    """Shape-normalised org number (validity is checked by the schema); None when empty."""
    if not raw:
        return None
    return orgnr.digits_of(raw) or raw


def parse_date(raw: str) -> date | None:
    """ISO date or None for an empty value; ValueError for anything else."""
    if not raw or raw.lower() == "null":
        return None
    return date.fromisoformat(raw[:10])


def build(source: str, table: str, schema: dict, rows: list[tuple[int, dict]],
          rejected: list[tuple[int, str]], removed: int) -> dict[str, pl.DataFrame]:
    return {
        table: pl.DataFrame([r for r in rows], schema=schema, orient="row"),
        f"{source}_sole_traders": pl.DataFrame({"count": [removed]}, schema={"count": pl.Int64}),
        f"{source}_rejected": pl.DataFrame(rejected, schema=REJECTED_SCHEMA, orient="row"),
    }


def convert(rows: list[tuple[int, dict[str, str]]], rejected: list[tuple[int, str]],
            convert_row) -> list[tuple]:
    """Apply ``convert_row(rec) -> tuple`` (raising ValueError with a reason) to every row;
    failures go to ``rejected`` with the reason only."""
    out = []
    for row_number, rec in rows:
        try:
            out.append((*convert_row(rec), row_number))
        except ValueError as exc:
            rejected.append((row_number, str(exc)))
    rejected.sort()
    return out


def date_of(rec: dict[str, str], column: str) -> date | None:
    try:
        return parse_date(rec[column])
    except ValueError:
        raise ValueError(f"{column} is not an ISO date (YYYY-MM-DD)") from None
