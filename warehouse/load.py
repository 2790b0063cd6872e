"""Idempotent landing of validated frames into ``staging`` with a loads ledger.

A *batch* is the set of snapshots one ingest lands together. Its key is a sha256 over the code
version and the snapshot hashes; the ledger row is written in the same transaction as the data, so
landing the same batch twice changes nothing and a crash leaves either all of it or none.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import polars as pl

from schemas.validate import Validated
from sources.snapshot import Snapshot
from warehouse.db import quote_ident
from warehouse.faults import checkpoint

LINEAGE = ("_snapshot_id", "_loaded_at")


@dataclass
class Prepared:
    """One snapshot after parse and validation."""
    snapshot: Snapshot
    tables: dict[str, Validated] = field(default_factory=dict)
    extra: dict[str, pl.DataFrame] = field(default_factory=dict)      # landed as is (e.g. anonymous counts)
    rejected: pl.DataFrame | None = None   # parse-level rejects: row_number/member + reason
    error: str | None = None               # the snapshot could not be parsed at all

    @property
    def rows_in(self) -> int:
        n = sum(v.rows_in for v in self.tables.values())
        return n + (self.rejected.height if self.rejected is not None else 0)

    @property
    def quarantined(self) -> int:
        n = sum(v.rejected_rows for v in self.tables.values())
        return n + (self.rejected.height if self.rejected is not None else 0)


@dataclass
class LoadResult:
    source: str
    status: str                   # loaded | rejected | unchanged
    batch_key: str
    snapshots: list[str]
    rows_in: int = 0
    rows_loaded: int = 0
    quarantined: int = 0
    message: str | None = None
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.status == "loaded"


def batch_key(code_version: str, shas: list[str]) -> str:
    h = hashlib.sha256(code_version.encode())
    for sha in sorted(shas):
        h.update(sha.encode())
    return h.hexdigest()


def ledger_row(con: duckdb.DuckDBPyConnection, source: str, key: str):
    rows = con.execute("SELECT status, message, rows_loaded, quarantined FROM meta.loads "
                       "WHERE source = ? AND batch_key = ?", [source, key]).fetchall()
    return rows[0] if rows else None


def loaded_snapshots(con: duckdb.DuckDBPyConnection, source: str, code_version: str) -> set[str]:
    rows = con.execute("SELECT DISTINCT unnest(snapshots) FROM meta.loads WHERE source = ? "
                       "AND code_version = ? AND status = 'loaded'", [source, code_version]).fetchall()
    return {r[0] for r in rows}


def last_code_version(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    rows = con.execute("SELECT code_version FROM meta.loads WHERE source = ? AND status = 'loaded' "
                       "ORDER BY loaded_at DESC LIMIT 1", [source]).fetchall()
    return rows[0][0] if rows else None


def _table_columns(con, table: str) -> list[tuple[str, str]] | None:
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'staging' AND table_name = ? ORDER BY ordinal_position",
                       [table]).fetchall()
    return [(r[0], r[1]) for r in rows] or None


def ensure_staging_table(con, table: str, frame: pl.DataFrame) -> None:
    """Create ``staging.<table>`` shaped like ``frame`` plus lineage columns; recreate it when the
    shape changed (a new code version reloads every snapshot anyway)."""
    ident = quote_ident(table)
    con.register("_shape", frame.head(0))
    try:
        probe = con.execute("DESCRIBE SELECT *, ''::VARCHAR AS _snapshot_id, now() AS _loaded_at FROM _shape").fetchall()
        wanted = [(r[0], r[1]) for r in probe]
        current = _table_columns(con, table)
        if current == wanted:
            return
        con.execute(f"DROP TABLE IF EXISTS staging.{ident}")
        con.execute(f"CREATE TABLE staging.{ident} AS SELECT *, ''::VARCHAR AS _snapshot_id, "
                    f"now() AS _loaded_at FROM _shape")
    finally:
        con.unregister("_shape")


def _insert(con, table: str, frame: pl.DataFrame, snapshot_id: str, loaded_at: datetime) -> None:
    if frame.height == 0:
        return
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO staging.{quote_ident(table)} BY NAME SELECT *, ? AS _snapshot_id, "
                    f"? AS _loaded_at FROM _incoming", [snapshot_id, loaded_at])
    finally:
        con.unregister("_incoming")


def _quarantine_frame(prep: Prepared) -> pl.DataFrame:
    parts = [v.quarantine for v in prep.tables.values() if v.quarantine.height]
    if prep.rejected is not None and prep.rejected.height:
        r = prep.rejected
        parts.append(pl.DataFrame({
            "table_name": ["(parse)"] * r.height,
            "row_number": r["row_number"].cast(pl.Int64) if "row_number" in r.columns else [None] * r.height,
            "column_name": r["member"].cast(pl.String) if "member" in r.columns else [None] * r.height,
            "check_name": r["reason"].cast(pl.String),
            "value": [None] * r.height,
        }, schema={"table_name": pl.String, "row_number": pl.Int64, "column_name": pl.String,
                   "check_name": pl.String, "value": pl.String}))
    if prep.error:
        parts.append(pl.DataFrame({"table_name": ["(parse)"], "row_number": [None], "column_name": [None],
                                   "check_name": [prep.error], "value": [None]},
                                  schema={"table_name": pl.String, "row_number": pl.Int64,
                                          "column_name": pl.String, "check_name": pl.String, "value": pl.String}))
    return pl.concat(parts) if parts else pl.DataFrame()


def _quarantine_duplicates(con, source: str, table: str, keys: list[str], now: datetime) -> int:
    """Uniqueness across every snapshot of a replace-mode batch, checked in DuckDB: every copy of a
    duplicated key goes to quarantine (no copy is trusted over another) and leaves staging."""
    ident = quote_ident(table)
    cols = ", ".join(quote_ident(k) for k in keys)
    dup = f"SELECT {cols} FROM staging.{ident} GROUP BY ALL HAVING count(*) > 1"
    n = con.execute(f"SELECT count(*) FROM staging.{ident} WHERE ({cols}) IN ({dup})").fetchall()[0][0]
    if n:
        con.execute(f"INSERT INTO meta.quarantine SELECT ?, _snapshot_id, ?, row_number, ?, "
                    f"'duplicate key across snapshots', NULL, ? FROM staging.{ident} WHERE ({cols}) IN ({dup})",
                    [source, table, ", ".join(keys), now])
        con.execute(f"DELETE FROM staging.{ident} WHERE ({cols}) IN ({dup})")
    return n


def land(con: duckdb.DuckDBPyConnection, source: str, mode: str, reject_share: float,
         prepared: list[Prepared], code_version: str, run_id: str | None = None,
         full_reload: bool = False, unique_keys: dict[str, list[str]] | None = None) -> LoadResult:
    """Land a batch in one transaction, or reject it (ledger + quarantine only) with a one-line reason."""
    shas = [p.snapshot.sha256 for p in prepared]
    key = batch_key(code_version, shas)
    snap_ids = [p.snapshot.id for p in prepared]
    seen = ledger_row(con, source, key)
    if seen is not None:
        return LoadResult(source, "unchanged", key, snap_ids, rows_loaded=seen[2], quarantined=seen[3],
                          message=seen[1] if seen[0] == "rejected" else None)
    rows_in = sum(p.rows_in for p in prepared)
    quarantined = sum(p.quarantined for p in prepared)
    failed = [p for p in prepared if p.error]
    schema_errors = [f"{name}: {v.schema_error}" for p in prepared for name, v in p.tables.items() if v.schema_error]
    message = None
    if failed and (mode == "replace" or len(failed) == len(prepared)):
        message = f"{source}: snapshot {failed[0].snapshot.id}: {failed[0].error}"
    elif schema_errors:
        message = f"{source}: {schema_errors[0]}"
    elif rows_in and quarantined / rows_in > reject_share:
        message = (f"{source}: {quarantined} of {rows_in} rows failed validation "
                   f"({quarantined / rows_in:.1%} > threshold {reject_share:.0%}); see meta.quarantine")
    elif mode == "replace" and rows_in == 0 and last_code_version(con, source) is not None:
        # an empty file must not wipe a dataset that was loaded before
        message = (f"{source}: snapshot {prepared[0].snapshot.id}: no rows; "
                   f"refusing to replace the loaded dataset with an empty one")
    status = "rejected" if message else "loaded"
    now = datetime.now(timezone.utc)
    rows_loaded = 0
    per_table: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        if status == "loaded":
            landing = [p for p in prepared if not p.error]
            tables = {name: v.good for p in landing for name, v in p.tables.items()}
            tables.update({name: f for p in landing for name, f in p.extra.items()})
            for name, frame in tables.items():
                ensure_staging_table(con, name, frame)
            for name in tables:
                if mode == "replace" or full_reload:
                    con.execute(f"DELETE FROM staging.{quote_ident(name)}")
                else:
                    con.execute(f"DELETE FROM staging.{quote_ident(name)} WHERE _snapshot_id IN "
                                f"(SELECT unnest(?::VARCHAR[]))", [snap_ids])
            for p in landing:
                for name, v in p.tables.items():
                    _insert(con, name, v.good, p.snapshot.id, now)
                    checkpoint("mid-load")
                    rows_loaded += v.good.height
                    per_table[name] = per_table.get(name, 0) + v.good.height
                for name, f in p.extra.items():
                    _insert(con, name, f, p.snapshot.id, now)
            if mode == "replace" or full_reload:
                con.execute("DELETE FROM meta.quarantine WHERE source = ?", [source])
        con.execute("DELETE FROM meta.quarantine WHERE source = ? AND snapshot_id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [source, snap_ids])
        for p in prepared:
            q = _quarantine_frame(p)
            if q.height:
                con.register("_q", q)
                con.execute("INSERT INTO meta.quarantine SELECT ?, ?, table_name, row_number, column_name, "
                            "check_name, value, ? FROM _q", [source, p.snapshot.id, now])
                con.unregister("_q")
            s = p.snapshot
            con.execute("INSERT OR REPLACE INTO meta.snapshot VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [source, s.sha256, s.id, s.kind, s.fetched_at, s.url, s.name, s.size, s.licence])
        if status == "loaded" and mode == "replace" and len(landing) > 1:
            for name in tables:
                keys = (unique_keys or {}).get(name)
                if keys:
                    dups = _quarantine_duplicates(con, source, name, keys, now)
                    rows_loaded -= dups
                    per_table[name] = per_table.get(name, 0) - dups
                    quarantined += dups
        con.execute("INSERT INTO meta.loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [source, key, code_version, shas, rows_in, rows_loaded, quarantined, status, message,
                     now, run_id])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return LoadResult(source, status, key, snap_ids, rows_in, rows_loaded, quarantined, message, per_table)
