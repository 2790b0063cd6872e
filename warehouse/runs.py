"""Record each pipeline step in ``meta.runs`` of the work database."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from warehouse.db import connect_work


def current_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run
        return flow_run.id
    except Exception:  # pragma: no cover - outside Prefect
        return None


def record(home: Path, step: str, started_at: datetime, status: str, detail: str | None = None) -> None:
    """Append one row; callers hold the writer lock."""
    con = connect_work(home)
    try:
        con.execute("INSERT INTO meta.runs VALUES (?, ?, ?, ?, ?, ?)",
                    [current_run_id(), step, started_at, datetime.now(timezone.utc), status, detail])
    finally:
        con.close()
