"""Ingest: fetch (or take local files) → snapshot → parse → validate → land in staging.

One function per step so tests and the CLI can call them without Prefect; ``ingest_source`` is the
Prefect task the family flows and the refresh flow use.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path

from prefect import flow, task

from flows import events, logs
from schemas.prepare import IngestError, prepare_all, release
from schemas.registry import TABLES
from sources import registry
from sources.base import Fetched, FetchContext, ParseError
from sources.http import FetchError
from sources.snapshot import Snapshot, SnapshotStore
from warehouse import manifest, runs
from warehouse.db import connect_work, quote_ident
from warehouse.faults import checkpoint
from warehouse.load import land, last_code_version, loaded_snapshots
from warehouse.lock import writer_lock

log = logging.getLogger("krafter.ingest")
SHARED_SOURCE_FILES = ("base.py", "jsonstat.py", "orgnr.py", "curated.py", "bolagsverket.py", "tabular.py")
FAMILY_SCHEMA = {"labour": "labour.py", "procurement": "procurement.py", "organisations": "organisations.py"}


@dataclass
class IngestSummary:
    source: str
    status: str                    # loaded | unchanged | rejected | failed | skipped
    snapshots_new: int = 0
    rows: int = 0
    quarantined: int = 0
    message: str | None = None
    snapshots: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status == "loaded"


def code_version(spec: registry.SourceSpec) -> str:
    """Hash of the code that parses and validates a source (its module, shared helpers, its schema)."""
    h = hashlib.sha256()
    src = resources.files("sources")
    module_file = spec.module.split(".")[-1] + ".py"
    for name in (module_file, *SHARED_SOURCE_FILES):
        f = src / name
        if f.is_file():
            h.update(name.encode() + f.read_bytes())
    sch = resources.files("schemas")
    for name in (FAMILY_SCHEMA[spec.family], "prepare.py", "validate.py", "registry.py"):
        h.update(name.encode() + (sch / name).read_bytes())
    return h.hexdigest()[:16]


def unique_keys() -> dict[str, list[str]]:
    """Each staging table's unique key, from its pandera model (checked across snapshots in DuckDB)."""
    keys = {}
    for name, model in TABLES.items():
        unique = getattr(model.Config, "unique", None)
        if unique:
            keys[name] = [unique] if isinstance(unique, str) else list(unique)
    return keys


def retention() -> int:
    """Raw snapshots kept per replace-mode source: ``$KRAFTER_KEEP_SNAPSHOTS`` (default 10).
    Append-mode sources (TED notices) keep every snapshot: each holds different notices; a
    partitioned one (uhm-db) keeps these and every snapshot whose rows are still landed."""
    return int(os.environ.get("KRAFTER_KEEP_SNAPSHOTS", "10"))


def sample_files(source_id: str) -> list[Path]:
    folder = resources.files("sources") / "samples" / source_id
    if not folder.is_dir():
        return []
    return sorted(Path(str(f)) for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.name != "README.md")


def files_of(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder")
    return [path]


def store_files(store: SnapshotStore, spec: registry.SourceSpec, files: list[Path],
                kind: str) -> list[tuple[Snapshot, bool]]:
    checkpoint("before-snapshot")
    out = []
    for f in files:
        ext = "".join(f.suffixes[-2:]) if f.name.endswith(".tar.gz") else f.suffix or ".bin"
        out.append(store.put(spec.id, f, ext, kind=kind, url=f"file://{f.resolve()}",
                             licence=spec.licence, name=f.name))
    checkpoint("after-snapshot")
    return out


def store_fetched(store: SnapshotStore, spec: registry.SourceSpec, fetched: list[Fetched]) -> list[tuple[Snapshot, bool]]:
    checkpoint("before-snapshot")
    stored = [store.put(spec.id, f.data, f.ext, kind="captured", url=f.url, query=f.query,
                        http_status=f.http_status, licence=spec.licence, name=f.name, extra=f.extra)
              for f in fetched]
    checkpoint("after-snapshot")
    return stored


def landed_shas(con, source: str, tables) -> set[str]:
    """sha256 of the snapshots whose rows are still in the given staging tables, or that have
    quarantine records (one that failed to parse has no rows, but its record says why)."""
    shas = {r[0] for r in con.execute(
        "SELECT DISTINCT s.sha256 FROM meta.quarantine q JOIN meta.snapshot s USING (snapshot_id) "
        "WHERE q.source = ?", [source]).fetchall()}
    for table in tables:
        shas |= {r[0] for r in con.execute(
            f"SELECT DISTINCT s.sha256 FROM staging.{quote_ident(table)} t "
            f"JOIN meta.snapshot s ON s.snapshot_id = t._snapshot_id").fetchall()}
    return shas


def choose_batch(con, spec: registry.SourceSpec, store: SnapshotStore, current: list[Snapshot],
                 version: str) -> tuple[list[Snapshot], bool]:
    """Which snapshots to land now, and whether it is a full reload of an append-mode source."""
    if spec.mode == "replace":
        return current, False
    loaded = loaded_snapshots(con, spec.id, version)
    previous = last_code_version(con, spec.id)
    if previous is not None and previous != version:
        return store.list(spec.id), True          # new parser: re-read every retained snapshot
    return [s for s in current if s.sha256 not in loaded], False


def ingest_snapshots(home: Path, spec: registry.SourceSpec, stored: list[tuple[Snapshot, bool]],
                     run_id: str | None = None) -> IngestSummary:
    """Land the given snapshots (already in the store) through validation into staging."""
    store = SnapshotStore(home)
    for snap, new in stored:
        if new:
            events.snapshot_fetched(spec.id, snap.sha256, snap.size, snap.kind)
    current = [s for s, _ in stored]
    version = code_version(spec)
    started = datetime.now(timezone.utc)
    still_needed: set[str] = set()
    with writer_lock(home):
        con = connect_work(home)
        try:
            batch, full = choose_batch(con, spec, store, current, version)
            result = None
            if batch:
                prepared = prepare_all(spec, batch)
                try:
                    result = land(con, spec.id, spec.mode, spec.reject_share, prepared, version,
                                  run_id=run_id or runs.current_run_id(), full_reload=full,
                                  unique_keys=unique_keys(), partition=spec.partition)
                finally:
                    release(prepared)
                if spec.partition and result.status == "loaded":
                    # the raw snapshots a partitioned source still needs (read while the database is open)
                    still_needed = landed_shas(con, spec.id, result.tables)
        finally:
            con.close()
        checkpoint("after-load")
        if result is None:
            runs.record(home, f"ingest:{spec.id}", started, "unchanged", "no new snapshots")
            return IngestSummary(spec.id, "unchanged", message="no new snapshots")
        runs.record(home, f"ingest:{spec.id}", started, result.status, result.message)
        if result.status != "unchanged":
            newest = max(current or batch, key=lambda s: s.fetched_at)
            manifest.update(home, sources={spec.id: {
                "last_snapshot": newest.sha256, "fetched_at": newest.fetched_at, "kind": newest.kind,
                "rows": result.rows_loaded, "quarantined": result.quarantined, "status": result.status,
                "message": result.message, "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "code_version": version}})
        if spec.mode == "replace":
            # retention: keep the newest N raw snapshots (and the batch just landed)
            store.prune(spec.id, keep=retention(), protect={s.sha256 for s in batch})
        elif spec.partition and result.status == "loaded":
            # a partition's older snapshots are superseded: keep the newest N and every one still landed
            store.prune(spec.id, keep=retention(), protect={s.sha256 for s in batch} | still_needed)
    log = logs.logger()
    shas = [s.sha256 for s in batch]
    if result.status == "loaded":
        log.info("%s: landed %d rows from %d snapshot(s), %d quarantined (see meta.quarantine)",
                 spec.id, result.rows_loaded, len(batch), result.quarantined)
        events.dataset_updated(spec.id, shas, result.rows_loaded, result.quarantined)
    elif result.status == "rejected":
        log.error("%s: REJECTED — %s; the previous data stays in place", spec.id, result.message)
        events.dataset_rejected(spec.id, shas, result.message or "rejected")
    return IngestSummary(spec.id, result.status, sum(1 for _, n in stored if n), result.rows_loaded,
                         result.quarantined, result.message, result.snapshots)


@task(name="fetch", retries=2, retry_delay_seconds=[10, 60])
def fetch_task(home: str, source_id: str, region: str, since: date | None,
               base_url: str | None = None) -> list[Fetched]:
    spec = registry.get(source_id)
    # a mirror or proxy of the provider (and the local replay server in tests): KRAFTER_<ID>_URL
    base_url = base_url or os.environ.get(f"KRAFTER_{source_id.upper().replace('-', '_')}_URL")
    stored = SnapshotStore(Path(home)).list(source_id)
    last = manifest.read(Path(home)).get("sources", {}).get(source_id, {})
    ctx = FetchContext(region=region, since=since, base_url=base_url,
                       known=frozenset(s.sha256 for s in stored),
                       known_names=frozenset(s.name for s in stored if s.name),
                       etag=last.get("etag"), last_modified=last.get("last_modified"))
    return spec.load().fetch(ctx)


@task(name="ingest-source")
def ingest_source(home: str, source_id: str, files: list[str] | None = None, kind: str = "captured",
                  live: bool = False, region: str = "05", since: date | None = None,
                  base_url: str | None = None) -> IngestSummary:
    spec = registry.get(source_id)
    if not registry.implemented(spec):
        return IngestSummary(source_id, "skipped", message=f"{source_id}: not implemented in this version")
    store = SnapshotStore(Path(home))
    try:
        if live:
            fetched = fetch_task(home, source_id, region, since, base_url)
            stored = store_fetched(store, spec, fetched)
            validators = {k: v for f in fetched for k, v in f.extra.items() if k in ("etag", "last_modified") and v}
            if validators:   # conditional GET next time
                manifest.update(Path(home), sources={source_id: validators})
        else:
            stored = store_files(store, spec, [Path(f) for f in files or []], kind)
    except (FetchError, ParseError) as exc:
        msg = str(exc) if str(exc).startswith(source_id) else f"{source_id}: {exc}"
        logs.logger().error("%s: fetch failed — %s; retry with `krafter refresh --only %s`", source_id, msg, source_id)
        manifest.update(Path(home), sources={source_id: {"status": "failed", "message": msg}})
        return IngestSummary(source_id, "failed", message=msg)
    summary = ingest_snapshots(Path(home), spec, stored)
    if live:   # the provider answered: the source is as fresh as this check, even with nothing new
        manifest.update(Path(home), sources={source_id: {
            "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}})
    return summary


@flow(name="ingest-family")
def ingest_family(family: str, home: str | None = None, region: str = "05", since: date | None = None) -> list[IngestSummary]:
    """Live ingest of one family (labour, procurement, organisations): the nightly cron deployments."""
    from flows.settings import resolve_home
    h = str(resolve_home(home))
    results = [ingest_source(h, sid, live=True, region=region, since=since)
               for sid in registry.FAMILIES[family] if registry.SOURCES[sid].fetchable]
    try:
        from prefect.artifacts import create_table_artifact
        create_table_artifact([{"source": r.source, "status": r.status, "new snapshots": r.snapshots_new,
                                "rows": r.rows, "quarantined": r.quarantined, "message": r.message or ""}
                               for r in results], key=f"krafter-ingest-{family}",
                              description=f"What the {family} ingest landed")
    except Exception as exc:  # pragma: no cover - artifacts are best effort
        log.warning("no artifact: %s", exc)
    return results
