"""Connections to the private work database and versioned migrations."""
from __future__ import annotations

import hashlib
import time
from importlib import resources
from pathlib import Path

import duckdb

WORK_FILE = "work.duckdb"
PUBLISHED_FILE = "warehouse.duckdb"


def work_path(home: Path) -> Path:
    return Path(home) / WORK_FILE


def published_path(home: Path) -> Path:
    return Path(home) / PUBLISHED_FILE


def migrations() -> list[tuple[str, str]]:
    """(name, sql) of every migration, in order of their numeric prefix."""
    folder = resources.files("warehouse") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply migrations not yet recorded in ``meta.schema_migrations``; returns the applied names."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute("""CREATE TABLE IF NOT EXISTS meta.schema_migrations (
        name VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)""")
    done = {r[0]: r[1] for r in con.execute("SELECT name, sha256 FROM meta.schema_migrations").fetchall()}
    applied = []
    for name, sql in migrations():
        digest = hashlib.sha256(sql.encode()).hexdigest()
        if name in done:
            if done[name] != digest:
                raise RuntimeError(f"migration {name} changed after it was applied; add a new migration instead")
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO meta.schema_migrations VALUES (?, ?, now())", [name, digest])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def connect_work(home: Path, wait_seconds: float = 60.0) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the private work database and bring it up to date.

    Writers take the data home's lock first, so a conflict here is someone else's session on the
    private file (a DuckDB CLI left open): wait a while, then say so in one line."""
    Path(home).mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(work_path(home)))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise RuntimeError(f"{work_path(home)}: held by another process; close other sessions on "
                                   f"the private work database ({str(exc).splitlines()[0][:160]})") from None
            time.sleep(0.5)
    migrate(con)
    return con


def quote_ident(name: str) -> str:
    """Identifiers only ever come from our own fixed sets (table names in schemas); quote anyway."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"refusing identifier {name!r}")
    return f'"{name}"'


def sql_string(value: str) -> str:
    """A string literal for the few statements DuckDB cannot parameterise (ATTACH paths)."""
    return "'" + str(value).replace("'", "''") + "'"
