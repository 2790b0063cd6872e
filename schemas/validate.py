"""Validate a frame with its pandera model; failing rows go to quarantine, the rest lands.

Quarantine rows name the dataset, snapshot, row number, column, check and a redacted value.
Uniqueness across a streamed file is checked in DuckDB, not here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){5,}")

QUARANTINE_COLUMNS = {"table_name": pl.String, "row_number": pl.Int64, "column_name": pl.String,
                      "check_name": pl.String, "value": pl.String}


def redact(value: str | None) -> str | None:
    """Long digit runs (with or without dashes/spaces) could be personal identity numbers: keep
    only their length."""
    if value is None:
        return None
    text = str(value)[:200]
    return _DIGIT_RUN.sub(lambda m: f"<{sum(c.isdigit() for c in m.group())} digits>", text)


@dataclass
class Validated:
    good: pl.DataFrame
    quarantine: pl.DataFrame           # QUARANTINE_COLUMNS
    rows_in: int
    schema_error: str | None = None    # a frame-level failure: wrong/missing columns, dtypes

    @property
    def rejected_rows(self) -> int:
        return self.quarantine.select("row_number").n_unique() if self.quarantine.height else 0


def _empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_COLUMNS)


def validate(table: str, frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> Validated:
    """Split ``frame`` into rows that pass ``model`` and quarantine records for the others.

    ``frame`` must carry ``row_number`` (the row's position in the source file)."""
    n = frame.height
    try:
        good = model.validate(frame, lazy=True)
        return Validated(good, _empty_quarantine(), n)
    except SchemaErrors as errs:
        cases = errs.failure_cases
    except SchemaError as err:  # pragma: no cover - lazy=True raises SchemaErrors
        return Validated(frame.clear(), _empty_quarantine(), n, str(err).splitlines()[0])
    row_level = cases.filter(pl.col("index").is_not_null())
    frame_level = cases.filter(pl.col("index").is_null())
    if frame_level.height:
        first = frame_level.row(0, named=True)
        what = f"{first['check']} on column {first['column']}" if first["column"] else str(first["check"])
        return Validated(frame.clear(), _empty_quarantine(), n,
                         f"{table}: schema check failed: {what} ({redact(str(first['failure_case']))})")
    bad_index = row_level.get_column("index").cast(pl.Int64).unique()
    indexed = frame.with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
    bad_rows = indexed.filter(pl.col("_i").is_in(bad_index.implode()))
    lookup = dict(zip(bad_rows.get_column("_i").to_list(), bad_rows.get_column("row_number").to_list()))
    quarantine = pl.DataFrame({
        "table_name": [table] * row_level.height,
        "row_number": [lookup.get(int(i)) for i in row_level.get_column("index").to_list()],
        "column_name": row_level.get_column("column").cast(pl.String).to_list(),
        "check_name": row_level.get_column("check").cast(pl.String).to_list(),
        "value": [redact(v) for v in row_level.get_column("failure_case").cast(pl.String).to_list()],
    }, schema=QUARANTINE_COLUMNS)
    good = indexed.filter(~pl.col("_i").is_in(bad_index.implode())).drop("_i")
    return Validated(good, quarantine, n)
