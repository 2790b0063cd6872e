"""Validate a frame with its pandera model; failing rows go to quarantine, the rest lands.

Quarantine rows name the dataset, snapshot, row number, column, check and a redacted value.
Uniqueness across a streamed file is checked in DuckDB, not here.
"""
from __future__ import annotations

import copy
import json
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
    rejected_rows: int = 0             # source rows that failed (by row number; else frame rows)


def _empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_COLUMNS)


_CASES = {"_i": pl.Int64, "column_name": pl.String, "check_name": pl.String, "value": pl.String}


def _failures(table: str, frame: pl.DataFrame, schema: pa.DataFrameSchema) -> tuple[pl.DataFrame, str | None]:
    """Row-level failures of ``frame`` (``_i``: the row's index, column, check, redacted value), or
    the one-line reason of a frame-level failure."""
    try:
        schema.validate(frame, lazy=True)
        return pl.DataFrame(schema=_CASES), None
    except SchemaErrors as errs:
        cases = errs.failure_cases
    except SchemaError as err:  # pragma: no cover - lazy=True raises SchemaErrors
        return pl.DataFrame(schema=_CASES), str(err).splitlines()[0]
    frame_level = cases.filter(pl.col("index").is_null())
    if frame_level.height:
        first = frame_level.row(0, named=True)
        what = f"{first['check']} on column {first['column']}" if first["column"] else str(first["check"])
        return pl.DataFrame(schema=_CASES), (f"{table}: schema check failed: {what} "
                                             f"({redact(str(first['failure_case']))})")
    rows = cases.filter(pl.col("index").is_not_null())
    return pl.DataFrame({
        "_i": rows.get_column("index").cast(pl.Int64),
        "column_name": rows.get_column("column").cast(pl.String),
        "check_name": rows.get_column("check").cast(pl.String),
        "value": [redact(v) for v in rows.get_column("failure_case").cast(pl.String).to_list()],
    }, schema=_CASES), None


def _split(table: str, frame: pl.DataFrame, cases: pl.DataFrame, error: str | None) -> Validated:
    """``frame``'s rows without failures, and the quarantine records of the others."""
    n = frame.height
    if error:
        return Validated(frame.clear(), _empty_quarantine(), n, error)
    if cases.height == 0:
        return Validated(frame, _empty_quarantine(), n)
    bad = cases.get_column("_i").unique()
    indexed = frame.with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
    # row numbers where the frame has them (a notice's tables do not: their rows are not lines)
    numbers = (indexed.select("_i", "row_number") if "row_number" in frame.columns
               else indexed.select("_i", pl.lit(None, pl.Int64).alias("row_number")))
    quarantine = (cases.join(numbers, on="_i", how="left", maintain_order="left")
                  .select(pl.lit(table).alias("table_name"), "row_number", "column_name", "check_name", "value")
                  .cast(QUARANTINE_COLUMNS))  # type: ignore[arg-type]
    good = indexed.filter(~pl.col("_i").is_in(bad.implode())).drop("_i")
    # rejected rows of the source: one source line may give several frame rows (ftgstat's form cells)
    bad_numbers = numbers.filter(pl.col("_i").is_in(bad.implode())).get_column("row_number")
    rejected = bad_numbers.drop_nulls().n_unique() + bad_numbers.null_count()
    return Validated(good, quarantine, n, rejected_rows=rejected)


def validate(table: str, frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> Validated:
    """Split ``frame`` into rows that pass ``model`` and quarantine records for the others.

    ``frame`` carries ``row_number`` (the row's position in the source file) where rows are lines;
    without it, quarantine rows have no row number. Every copy of a repeated unique key is
    quarantined (check ``multiple_fields_uniqueness``, the key as value)."""
    return validate_many(table, [frame], model)[0]


def validate_many(table: str, frames: list[pl.DataFrame], model: type[pa.DataFrameModel]) -> list[Validated]:
    """``validate`` of each frame, with one pandera run for all of them: its fixed cost per run
    (~15 ms a table) dominates for many small frames — a TED backfill is thousands of one-notice
    snapshots. The result is the same as frame by frame: uniqueness is checked within each frame,
    and a frame whose columns do not fit is validated on its own (its own schema error)."""
    if not frames:
        return []
    try:
        whole = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    except pl.exceptions.PolarsError:        # columns differ: each frame on its own
        return [out for f in frames for out in validate_many(table, [f], model)]
    schema = model.to_schema()
    keys = schema.unique
    without_unique = copy.copy(schema)
    without_unique.unique = None
    cases, error = _failures(table, whole, without_unique)
    if error:
        if len(frames) == 1:
            return [_split(table, frames[0], cases, error)]
        return [out for f in frames for out in validate_many(table, [f], model)]
    if keys:                                 # repeated keys within each frame, found in one pass
        cases = pl.concat([cases, _duplicates(whole, [keys] if isinstance(keys, str) else list(keys),
                                              schema.name, [f.height for f in frames])])
    out, offset = [], 0
    for frame in frames:
        mine = (cases.filter(pl.col("_i").is_between(offset, offset + frame.height - 1))
                .with_columns(pl.col("_i") - offset))
        out.append(_split(table, frame, mine, None))
        offset += frame.height
    return out


def _duplicates(whole: pl.DataFrame, keys: list[str], name: str | None, heights: list[int]) -> pl.DataFrame:
    """Failure records (``_i`` into ``whole``) for every row whose key repeats within its own frame
    (``whole`` is the frames of ``heights`` one after another), as pandera writes them."""
    key = pl.struct(keys)
    if len(heights) > 1:            # the frame each row came from is part of its key
        part = pl.Series("_part", [i for i, h in enumerate(heights) for _ in range(h)], dtype=pl.Int32)
        key = pl.struct([*keys, part])
    dup = whole.select(key.is_duplicated()).to_series()
    if not dup.any():
        return pl.DataFrame(schema=_CASES)
    rows = whole.with_row_index("_i").filter(dup)
    return pl.DataFrame({
        "_i": rows.get_column("_i").cast(pl.Int64),
        "column_name": [name] * rows.height,
        "check_name": ["multiple_fields_uniqueness" if len(keys) > 1 else "field_uniqueness"] * rows.height,
        "value": [redact(json.dumps(r, ensure_ascii=False, default=str, separators=(",", ":")))
                  for r in rows.select(keys).to_dicts()],
    }, schema=_CASES)
