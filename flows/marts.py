"""build-marts: core and marts in the work database, then the atomic publication of the warehouse."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from prefect import flow

from flows import events, logs
from flows.settings import resolve_home
from transforms import build as transforms
from warehouse import manifest, runs
from warehouse.db import connect_work, published_path
from warehouse.faults import checkpoint
from warehouse.lock import writer_lock
from warehouse.publish import publish

log = logging.getLogger("krafter.marts")


@dataclass
class MartsSummary:
    status: str               # published | unchanged
    version: int | None
    path: str
    counts: dict
    demo: bool


def input_key(con) -> str:
    """What a marts build reads: the ledger of landed batches and the transform code version."""
    h = hashlib.sha256(transforms.code_version().encode())
    for row in con.execute("SELECT source, batch_key FROM meta.loads WHERE status = 'loaded' "
                           "ORDER BY source, loaded_at, batch_key").fetchall():
        h.update(f"{row[0]}:{row[1]};".encode())
    return h.hexdigest()


def is_demo(con) -> bool:
    """True when any dataset in use was landed from synthetic samples."""
    rows = con.execute("""
        WITH latest AS (SELECT DISTINCT ON (source) source, snapshots FROM meta.loads
                        WHERE status = 'loaded' ORDER BY source, loaded_at DESC)
        SELECT coalesce(bool_or(s.kind = 'synthetic'), false)
        FROM latest, unnest(latest.snapshots) AS u(sha) JOIN meta.snapshot s ON s.sha256 = u.sha""").fetchall()
    return bool(rows[0][0])


def finalize_sql() -> list[str]:
    return [(resources.files("transforms") / "published" / "views_and_comments.sql").read_text(encoding="utf-8")]


def build_and_publish(home: Path, force: bool = False, before_swap=None) -> MartsSummary:
    home = Path(home)
    started = datetime.now(timezone.utc)
    with writer_lock(home):
        summary = _build_and_publish(home, force, before_swap)
        runs.record(home, "build-marts", started, summary.status, f"version {summary.version}")
    log = logs.logger()
    if summary.status == "published":
        log.info("warehouse version %s published at %s (%s indicator values)", summary.version, summary.path,
                 summary.counts.get("marts.indicator_value"))
    else:
        log.info("nothing new in the loads ledger: warehouse version %s kept", summary.version)
    if summary.status == "published":
        events.marts_updated(summary.version, summary.path, summary.counts.get("marts.indicator_value", 0))
    return summary


def _build_and_publish(home: Path, force: bool, before_swap) -> MartsSummary:
    """Build core and marts in the work database, then publish; the caller holds the lock."""
    con = connect_work(home)
    try:
        key = input_key(con)
        last = con.execute("SELECT build_id, input_key FROM meta.marts_build ORDER BY build_id DESC LIMIT 1").fetchall()
        target = published_path(home)
        published_version = (manifest.read(home).get("warehouse") or {}).get("version")
        if last and last[0][1] == key and target.exists() and published_version == last[0][0] and not force:
            return MartsSummary("unchanged", last[0][0], str(target), {}, is_demo(con))
        built_at = datetime.now(timezone.utc)
        counts = transforms.build(con, built_at)
        demo = is_demo(con)
        version = (last[0][0] + 1) if last else 1
        con.execute("CREATE OR REPLACE TABLE meta.warehouse_info AS SELECT ?::BIGINT AS version, "
                    "?::TIMESTAMPTZ AS built_at, ?::BOOLEAN AS demo, ? AS transform_version, "
                    "? AS data_note", [version, built_at, demo, transforms.code_version(),
                                       "demo data: built from synthetic samples" if demo else "live data"])
        con.execute("INSERT INTO meta.marts_build VALUES (?, ?, ?, ?)", [version, key, built_at, demo])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    checkpoint("after-build")
    path = publish(home, finalize_sql(), before_swap=before_swap)
    checkpoint("after-swap")
    manifest.update(home, warehouse={"version": version, "published_at": built_at.isoformat(timespec="seconds"),
                                     "path": str(path), "demo": demo, "counts": counts})
    return MartsSummary("published", version, str(path), counts, demo)


@flow(name="build-marts")
def build_marts(home: str | None = None, force: bool = False, dataset: str | None = None) -> MartsSummary:
    """Rebuild core and marts and publish the warehouse; a quick no-op when nothing new was landed.

    ``dataset`` is the triggering event's resource (for the run's record only): the build always
    reads the whole ledger, so updates queued behind a running build are all picked up."""
    summary = build_and_publish(resolve_home(home), force=force)
    _artifact(summary)
    return summary


def _artifact(summary: MartsSummary) -> None:
    try:
        from prefect.artifacts import create_markdown_artifact
        lines = [f"**Warehouse** {summary.status} — version {summary.version}{' (demo data)' if summary.demo else ''}",
                 f"`{summary.path}`", ""] + [f"- {k}: {v}" for k, v in summary.counts.items()]
        create_markdown_artifact("\n".join(lines), key="krafter-marts", description="build-marts summary")
    except Exception as exc:  # pragma: no cover
        log.warning("no artifact: %s", exc)
