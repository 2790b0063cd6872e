"""Atomic publication of the analysts' warehouse.

``build-marts`` writes a new file ``warehouse.next.duckdb`` from the work database, checkpoints and
fsyncs it, then renames it onto ``warehouse.duckdb``. Readers holding the old file keep their inode
and see the previous version until they reconnect; a crash at any point leaves the published file
as it was, and the next run removes the half-written ``.next`` file.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from warehouse.db import PUBLISHED_FILE, quote_ident, sql_string, work_path
from warehouse.faults import checkpoint

NEXT_FILE = "warehouse.next.duckdb"
PUBLISHED_SCHEMAS = ("core", "marts", "meta")
# work-only bookkeeping that analysts do not need
PRIVATE_TABLES = {("meta", "schema_migrations")}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cleanup(home: Path) -> None:
    """Remove what a crashed publication left behind."""
    for name in (NEXT_FILE, NEXT_FILE + ".wal"):
        (Path(home) / name).unlink(missing_ok=True)


def publish(home: Path, finalize_sql: list[str], before_swap=None) -> Path:
    """Copy core/marts/meta of the work database into a fresh file and swap it in atomically.

    ``finalize_sql`` runs in the new file (views, COMMENT ON). ``before_swap`` is a test hook."""
    home = Path(home)
    cleanup(home)
    nxt = home / NEXT_FILE
    con = duckdb.connect(str(nxt))
    try:
        con.execute(f"ATTACH {sql_string(work_path(home))} AS work (READ_ONLY)")
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'work' "
            "ORDER BY schema_name, table_name").fetchall()
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        for schema, table in tables:
            if schema not in PUBLISHED_SCHEMAS or (schema, table) in PRIVATE_TABLES:
                continue
            s, t = quote_ident(schema), quote_ident(table)
            con.execute(f"CREATE TABLE {s}.{t} AS SELECT * FROM work.{s}.{t}")
            checkpoint("mid-publish")
        con.execute("DETACH work")
        for sql in finalize_sql:
            con.execute(sql)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync(nxt)
    if before_swap is not None:
        before_swap(nxt)
    checkpoint("before-swap")
    target = home / PUBLISHED_FILE
    stale_wal = home / (PUBLISHED_FILE + ".wal")
    if stale_wal.exists():
        # an analyst wrote to the published file; its WAL would not match the new file
        os.replace(stale_wal, home / f"{PUBLISHED_FILE}.wal.stale-{int(time.time())}")
    os.replace(nxt, target)
    _fsync(home)
    return target
