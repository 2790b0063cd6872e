"""Every staging table's pandera model, by table name."""
from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas import labour, organisations, procurement

TABLES: dict[str, type[pa.DataFrameModel]] = {**labour.TABLES, **procurement.TABLES, **organisations.TABLES}

# Frames a parser returns that land without a model (anonymous counts) and their shapes.
UNVALIDATED: dict[str, dict[str, pl.DataType]] = {
    "bolagsverket_sole_traders": {"count": pl.Int64},
    "wise_sole_traders": {"count": pl.Int64},
    "iop_sole_traders": {"count": pl.Int64},
    "ideburen_sole_traders": {"count": pl.Int64},
    "scb_register_sole_traders": {"count": pl.Int64},
}

# Parse-level rejects (landed in meta.quarantine, never in staging).
REJECT_SUFFIX = "_rejected"


def empty_frame(table: str) -> pl.DataFrame:
    """A zero-row frame with the table's columns and dtypes (so models work before any load)."""
    if table in UNVALIDATED:
        return pl.DataFrame(schema=UNVALIDATED[table])
    schema = TABLES[table].to_schema()
    return pl.DataFrame(schema={name: col.dtype.type for name, col in schema.columns.items()})
