"""Build core and marts in the work database from staging and the reference tables."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from importlib import resources

import duckdb
import polars as pl

from schemas.registry import TABLES, UNVALIDATED, empty_frame
from transforms import catalogue
from warehouse.db import quote_ident
from warehouse.faults import checkpoint
from warehouse.load import ensure_staging_table

REFERENCE_TABLES = {
    "region": "regions.csv",
    "legal_form": "legal_forms.csv",
    "bolagsverket_form": "bolagsverket_forms.csv",
    "county_buyer": "county_buyers.csv",
    "municipality_group_definition": "municipality_groups.csv",
}


def sql_files() -> list[tuple[str, str]]:
    folder = resources.files("transforms") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


def reference_csv(name: str) -> pl.DataFrame:
    data = (resources.files("sources") / "reference" / name).read_bytes()
    return pl.read_csv(data, infer_schema=False, comment_prefix="#")


def code_version() -> str:
    """Hash of everything that shapes core and marts: SQL models, catalogue, reference tables."""
    h = hashlib.sha256()
    for name, sql in sql_files():
        h.update(name.encode() + sql.encode())
    h.update(repr(catalogue.rows()).encode())
    for name in REFERENCE_TABLES.values():
        h.update((resources.files("sources") / "reference" / name).read_bytes())
    return h.hexdigest()


def ensure_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Empty staging tables for sources not loaded yet, so every model runs on a fresh home."""
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'").fetchall()}
    for table in [*TABLES, *UNVALIDATED]:
        if table not in existing:
            ensure_staging_table(con, table, empty_frame(table))


def load_reference(con: duckdb.DuckDBPyConnection) -> None:
    for table, file in REFERENCE_TABLES.items():
        frame = reference_csv(file)
        con.register("_ref", frame)
        con.execute(f"CREATE OR REPLACE TABLE core.{quote_ident(table)} AS SELECT * FROM _ref")
        con.unregister("_ref")
    cat = pl.DataFrame(catalogue.rows())
    con.register("_cat", cat)
    con.execute("CREATE OR REPLACE TABLE marts.indicator AS SELECT id AS indicator_id, * EXCLUDE (id) FROM _cat")
    con.unregister("_cat")


def build(con: duckdb.DuckDBPyConnection, computed_at: datetime | None = None) -> dict[str, int]:
    """Run every model in one transaction; returns row counts of the main outputs."""
    computed_at = computed_at or datetime.now(timezone.utc)
    con.execute("SET VARIABLE computed_at = ?::TIMESTAMPTZ", [computed_at])
    con.execute("BEGIN TRANSACTION")
    try:
        ensure_staging(con)
        load_reference(con)
        for name, sql in sql_files():
            if name.startswith("50"):
                checkpoint("mid-build")
            try:
                con.execute(sql)
            except duckdb.Error as exc:
                raise RuntimeError(f"model {name} failed: {str(exc).splitlines()[0]}") from exc
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    counts = {}
    for t in ("core.organisation", "core.procedure", "core.award", "core.labour_market",
              "marts.indicator_value"):
        counts[t] = con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
    return counts
