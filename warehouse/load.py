"""Idempotent landing of validated frames into ``staging`` with a loads ledger.

A *batch* is the set of snapshots one ingest lands together. Its key is a sha256 over the code
version and the snapshot hashes; the ledger row is written in the same transaction as the data, so
landing the same batch twice changes nothing and a crash leaves either all of it or none.
"""
from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import polars as pl

from schemas.validate import QUARANTINE_COLUMNS, Validated
from sources.base import ParseError
from sources.snapshot import Snapshot
from warehouse.db import quote_ident
from warehouse.faults import checkpoint

LINEAGE = ("_snapshot_id", "_loaded_at")


@dataclass
class Block:
    """Validated frames of one snapshot, or of one block of a large snapshot read as a stream."""
    tables: dict[str, Validated] = field(default_factory=dict)
    extra: dict[str, pl.DataFrame] = field(default_factory=dict)      # landed as is (e.g. anonymous counts)
    rejected: pl.DataFrame | None = None   # parse-level rejects: row_number/member + reason

    @property
    def rows_in(self) -> int:
        n = sum(v.rows_in for v in self.tables.values())
        return n + (self.rejected.height if self.rejected is not None else 0)

    @property
    def quarantined(self) -> int:
        n = sum(v.rejected_rows for v in self.tables.values())
        return n + (self.rejected.height if self.rejected is not None else 0)


class Prepared(Block):
    """One snapshot after parse and validation: its frames, or ``stream`` — its blocks, parsed and
    validated as ``land`` consumes them (a national file never sits in memory whole). ``error``: the
    snapshot could not be parsed (set by ``land`` when a stream fails part-way)."""

    def __init__(self, snapshot: Snapshot, tables: dict[str, Validated] | None = None,
                 extra: dict[str, pl.DataFrame] | None = None, rejected: pl.DataFrame | None = None,
                 error: str | None = None, stream: Iterator[Block] | None = None):
        super().__init__(tables or {}, extra or {}, rejected)
        self.snapshot, self.error, self.stream = snapshot, error, stream

    def collect(self) -> Prepared:
        """The stream's blocks gathered into this one object (tests, inspection of small files);
        a ``ParseError`` part-way becomes ``error``, as in ``land``."""
        try:
            blocks = list(self.blocks())
        except ParseError as exc:
            self.error, blocks = str(exc), []
        if blocks and blocks[0] is not self:
            for name in {n for b in blocks for n in b.tables}:
                parts = [b.tables[name] for b in blocks if name in b.tables]
                self.tables[name] = Validated(
                    pl.concat([v.good for v in parts]), pl.concat([v.quarantine for v in parts]),
                    sum(v.rows_in for v in parts), next((v.schema_error for v in parts if v.schema_error), None))
            for name in {n for b in blocks for n in b.extra}:
                self.extra[name] = pl.concat([b.extra[name] for b in blocks if name in b.extra])
            rejected = [b.rejected for b in blocks if b.rejected is not None]
            self.rejected = pl.concat(rejected) if rejected else None
        return self

    def blocks(self) -> Iterator[Block]:
        """Each block once; a ``ParseError`` part-way through a stream is raised to the caller."""
        if self.error:
            return
        if self.stream is None:
            yield self
            return
        stream, self.stream = self.stream, None
        yield from stream


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


def _insert(con, table: str, frame: pl.DataFrame, snapshot_id: str | None, loaded_at: datetime) -> None:
    """Append ``frame`` with its lineage: ``snapshot_id``, or (None) the frame's own
    ``_snapshot_id`` column (rows of several snapshots at once)."""
    if frame.height == 0:
        return
    con.register("_incoming", frame)
    try:
        if snapshot_id is None:
            con.execute(f"INSERT INTO staging.{quote_ident(table)} BY NAME SELECT *, ? AS _loaded_at "
                        f"FROM _incoming", [loaded_at])
        else:
            con.execute(f"INSERT INTO staging.{quote_ident(table)} BY NAME SELECT *, ? AS _snapshot_id, "
                        f"? AS _loaded_at FROM _incoming", [snapshot_id, loaded_at])
    finally:
        con.unregister("_incoming")


def _parse_rejects(rejected: pl.DataFrame) -> pl.DataFrame:
    r = rejected
    return pl.DataFrame({
        "table_name": ["(parse)"] * r.height,
        "row_number": r["row_number"].cast(pl.Int64) if "row_number" in r.columns else [None] * r.height,
        "column_name": r["member"].cast(pl.String) if "member" in r.columns else [None] * r.height,
        "check_name": r["reason"].cast(pl.String),
        "value": [None] * r.height,
    }, schema=QUARANTINE_COLUMNS)


@dataclass
class _Tally:
    """What one snapshot's blocks added up to."""
    rows_in: int = 0
    quarantined: int = 0
    quarantine: list[pl.DataFrame] = field(default_factory=list)
    schema_error: str | None = None

    def add(self, block: Block) -> None:
        self.rows_in += block.rows_in
        self.quarantined += block.quarantined
        for name, v in block.tables.items():
            if v.quarantine.height:
                self.quarantine.append(v.quarantine)
            if v.schema_error and not self.schema_error:
                self.schema_error = f"{name}: {v.schema_error}"
        if block.rejected is not None and block.rejected.height:
            self.quarantine.append(_parse_rejects(block.rejected))

    def frame(self, error: str | None) -> pl.DataFrame:
        parts = list(self.quarantine)
        if error:
            parts.append(pl.DataFrame({"table_name": ["(parse)"], "row_number": [None], "column_name": [None],
                                       "check_name": [error], "value": [None]}, schema=QUARANTINE_COLUMNS))
        return pl.concat(parts) if parts else pl.DataFrame(schema=QUARANTINE_COLUMNS)


class _Staging:
    """Inserts into ``staging`` inside the open transaction, on a writer thread so that DuckDB lands
    one block while polars parses the next (the caller touches the connection only after
    ``flush``/``close``). Small frames are gathered per table up to ``GATHER_ROWS`` and appended
    together (a batch of thousands of one-notice snapshots is a few appends, not thousands). Each
    table is (re)created and cleared the first time rows for it are written (replace mode: every
    row; append mode: the batch's snapshots)."""

    GATHER_ROWS = 100_000      # about a DuckDB row group (122 880): appends this size cost a fifth less
    QUEUE_DEPTH = 2            # appends waiting for the writer: beyond this the stream waits

    def __init__(self, con, clear_all: bool, snap_ids: list[str], loaded_at: datetime):
        self.con, self.clear_all, self.snap_ids, self.loaded_at = con, clear_all, snap_ids, loaded_at
        self.seen: set[str] = set()
        self.rows: dict[str, int] = {}        # rows landed per validated table
        self.blocks = 0
        self._gathered: dict[str, list[tuple[pl.DataFrame, str]]] = {}
        self._gathered_rows: dict[str, int] = {}
        self._tasks: queue.Queue = queue.Queue(maxsize=self.QUEUE_DEPTH)
        self._failure: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="krafter-land", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while True:
            task = self._tasks.get()
            try:
                if task is None:
                    return
                if self._failure is None:
                    task()
            except BaseException as exc:      # raised in the caller's thread by _check
                self._failure = exc
            finally:
                self._tasks.task_done()

    def _check(self) -> None:
        if self._failure is not None:       # kept: later queued inserts are skipped, not run
            raise self._failure

    def _write(self, table: str, parts: list[tuple[pl.DataFrame, str]]) -> None:
        if table not in self.seen:
            self.seen.add(table)
            ensure_staging_table(self.con, table, parts[0][0])
            if self.clear_all:
                self.con.execute(f"DELETE FROM staging.{quote_ident(table)}")
            else:
                self.con.execute(f"DELETE FROM staging.{quote_ident(table)} WHERE _snapshot_id IN "
                                 f"(SELECT unnest(?::VARCHAR[]))", [self.snap_ids])
        parts = [(f, sid) for f, sid in parts if f.height]
        if len(parts) == 1:
            _insert(self.con, table, parts[0][0], parts[0][1], self.loaded_at)
        elif parts:
            _insert(self.con, table, pl.concat([f.with_columns(pl.lit(sid).alias("_snapshot_id"))
                                                for f, sid in parts]), None, self.loaded_at)
        checkpoint("mid-load")                # rows deleted and some inserted, not committed

    def insert(self, table: str, frame: pl.DataFrame, snapshot_id: str, counted: bool = True) -> None:
        self._check()
        if counted:
            self.rows[table] = self.rows.get(table, 0) + frame.height
        self._gathered.setdefault(table, []).append((frame, snapshot_id))
        self._gathered_rows[table] = self._gathered_rows.get(table, 0) + frame.height
        if self._gathered_rows[table] >= self.GATHER_ROWS:
            self._send(table)

    def _send(self, table: str) -> None:
        parts = self._gathered.pop(table, [])
        self._gathered_rows.pop(table, None)
        if parts:
            self._tasks.put(lambda: self._write(table, parts))

    def _send_all(self) -> None:
        for table in list(self._gathered):
            self._send(table)

    def flush(self) -> None:
        self._send_all()
        self._tasks.join()
        self._check()

    def close(self) -> None:
        """Let the writer finish and stop — waiting on through a Ctrl-C, so that the connection is
        never used by two threads — then raise its failure, if any."""
        interrupted, sent = None, False
        if self._failure is None:
            try:
                self._send_all()
            except BaseException as exc:      # KeyboardInterrupt while queueing: stop the writer anyway
                interrupted = exc
        while self._worker.is_alive():
            try:
                if not sent:
                    self._tasks.put(None, timeout=0.1)
                    sent = True
                self._worker.join(timeout=0.1)
            except queue.Full:
                continue
            except BaseException as exc:      # KeyboardInterrupt: wait on, then re-raise
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        self._check()

    def discard(self, snapshot_id: str, counted: dict[str, int]) -> None:
        """Take a snapshot's rows out again (its stream failed part-way)."""
        for table, parts in self._gathered.items():
            self._gathered[table] = [(f, sid) for f, sid in parts if sid != snapshot_id]
            self._gathered_rows[table] = sum(f.height for f, _ in self._gathered[table])
        self.flush()
        for table in self.seen:
            self.con.execute(f"DELETE FROM staging.{quote_ident(table)} WHERE _snapshot_id = ?", [snapshot_id])
        for table, n in counted.items():
            self.rows[table] -= n


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


def _keep_newest_partitions(con, table: str, column: str, batch: list[str]) -> tuple[int, list[str]]:
    """Delete the rows of ``table`` whose partition has a newer snapshot; returns how many of them
    were this batch's own (a full reload re-reads old and new snapshots of a partition together)
    and the snapshots that lost rows.

    A snapshot *covers* a partition when at least a tenth of its rows are in it (a year's export
    with a few rows dated in the year before does not replace that year); a partition keeps the
    rows of its newest covering snapshot — by fetch time, then by its place in the batch — and of
    no other. Partitions no snapshot covers are left as they are."""
    ident, col = quote_ident(table), quote_ident(column)
    if column not in {c for c, _ in _table_columns(con, table) or []}:
        return 0, []
    # the newest covering snapshot of each partition, worked out once for the three statements
    con.execute(f"CREATE OR REPLACE TEMP TABLE _newest_partition AS "
                f"SELECT p, sid FROM (SELECT c.p, c.sid, s.fetched_at AS f, "
                f"c.n >= 0.1 * sum(c.n) OVER (PARTITION BY c.sid) AS covers "
                f"FROM (SELECT t.{col} AS p, t._snapshot_id AS sid, count(*) AS n FROM staging.{ident} t GROUP BY ALL) c "
                f"LEFT JOIN meta.snapshot s ON s.snapshot_id = c.sid) WHERE covers "
                f"QUALIFY row_number() OVER (PARTITION BY p ORDER BY f DESC NULLS LAST, "
                f"coalesce(list_position(?::VARCHAR[], sid), 0) DESC, sid DESC) = 1", [batch])
    stale = (f"{col} IN (SELECT p FROM _newest_partition) "
             f"AND ({col}, _snapshot_id) NOT IN (SELECT p, sid FROM _newest_partition)")
    try:
        lost = dict(con.execute(f"SELECT _snapshot_id, count(*) FROM staging.{ident} WHERE {stale} "
                                f"GROUP BY ALL").fetchall())
        con.execute(f"DELETE FROM staging.{ident} WHERE {stale}")
    finally:
        con.execute("DROP TABLE IF EXISTS _newest_partition")
    own = sum(n for sid, n in lost.items() if sid in batch)
    return own, list(lost)


def _consume(prepared: list[Prepared], tallies: list[_Tally], staging: _Staging) -> None:
    """Every block of every snapshot into staging; a stream that fails part-way is taken out again
    and its snapshot marked with the error."""
    for i, p in enumerate(prepared):
        counted: dict[str, int] = {}
        try:
            for block in p.blocks():
                staging.blocks += 1
                tallies[i].add(block)
                for name, v in block.tables.items():
                    staging.insert(name, v.good, p.snapshot.id)
                    counted[name] = counted.get(name, 0) + v.good.height
                for name, f in block.extra.items():
                    staging.insert(name, f, p.snapshot.id, counted=False)
        except ParseError as exc:
            p.error = str(exc)
            staging.discard(p.snapshot.id, counted)
            tallies[i] = _Tally()          # as if it had failed at once


def _restore(con, threads: int) -> None:
    """The settings ``land`` changes, back: the thread count as it was, the memory cap to DuckDB's
    default (the work connection never sets its own)."""
    con.execute(f"SET threads = {threads}")
    con.execute("RESET memory_limit")


def land(con: duckdb.DuckDBPyConnection, source: str, mode: str, reject_share: float,
         prepared: list[Prepared], code_version: str, run_id: str | None = None,
         full_reload: bool = False, unique_keys: dict[str, list[str]] | None = None,
         partition: str | None = None) -> LoadResult:
    """Land a batch in one transaction, or reject it (ledger + quarantine only) with a one-line reason.

    ``partition`` (append mode): each snapshot holds whole partitions by that column; after the
    batch is in, every partition keeps only the rows of its newest snapshot (by fetch time).

    Blocks are inserted as they come (a streamed snapshot is parsed and validated while it lands);
    whether the batch is rejected is known only at the end, and then the transaction's data is
    rolled back and only the quarantine, the snapshots and the ledger row are written."""
    shas = [p.snapshot.sha256 for p in prepared]
    key = batch_key(code_version, shas)
    snap_ids = [p.snapshot.id for p in prepared]
    seen = ledger_row(con, source, key)
    if seen is not None:
        return LoadResult(source, "unchanged", key, snap_ids, rows_loaded=seen[2], quarantined=seen[3],
                          message=seen[1] if seen[0] == "rejected" else None)
    now = datetime.now(timezone.utc)
    clear_all = mode == "replace" or full_reload
    previous = last_code_version(con, source)
    # One DuckDB thread appends: rows then fill whole row groups in order, written compressed as
    # they fill. Appends spread over threads leave a partial row group per thread and statement,
    # which the commit and the closing checkpoint rewrite — on a national file that costs more
    # (~3 s for 1.9 M rows) than the parallel append saves, and takes the second core from polars.
    # The memory cap lets DuckDB evict the row groups it has written instead of keeping them all.
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    try:
        con.execute("SET threads = 1")
        try:
            con.execute("SET memory_limit = '512MB'")
        except duckdb.OutOfMemoryException:
            pass                # DuckDB holds more than it can evict now: land without the cap
        con.execute("BEGIN TRANSACTION")
        tallies = [_Tally() for _ in prepared]
        try:
            staging = _Staging(con, clear_all, snap_ids, now)
            try:
                _consume(prepared, tallies, staging)
            finally:
                staging.close()             # the connection is the caller's again
                _restore(con, threads)
            blocks = staging.blocks
            rows_in = sum(t.rows_in for t in tallies)
            quarantined = sum(t.quarantined for t in tallies)
            failed = [p for p in prepared if p.error]
            schema_errors = [t.schema_error for t in tallies if t.schema_error]
            message = None
            if failed and (mode == "replace" or len(failed) == len(prepared)):
                message = f"{source}: snapshot {failed[0].snapshot.id}: {failed[0].error}"
            elif schema_errors:
                message = f"{source}: {schema_errors[0]}"
            elif rows_in and quarantined / rows_in > reject_share:
                message = (f"{source}: {quarantined} of {rows_in} rows failed validation "
                           f"({quarantined / rows_in:.1%} > threshold {reject_share:.0%}); see meta.quarantine")
            elif mode == "replace" and rows_in == 0 and previous is not None:
                # an empty file must not wipe a dataset that was loaded before
                message = (f"{source}: snapshot {prepared[0].snapshot.id}: no rows; "
                           f"refusing to replace the loaded dataset with an empty one")
            status = "rejected" if message else "loaded"
            per_table = dict(staging.rows)
            if status == "rejected":
                con.execute("ROLLBACK")               # the previous data stays as it was
                con.execute("BEGIN TRANSACTION")
                per_table = {}
            elif clear_all:
                con.execute("DELETE FROM meta.quarantine WHERE source = ?", [source])
            rows_loaded = sum(per_table.values())
            con.execute("DELETE FROM meta.quarantine WHERE source = ? AND snapshot_id IN "
                        "(SELECT unnest(?::VARCHAR[]))", [source, snap_ids])
            # the batch's quarantine records and snapshot rows, each in one statement
            quarantine = [t.frame(p.error).with_columns(pl.lit(p.snapshot.id).alias("snapshot_id"))
                          for p, t in zip(prepared, tallies)]
            quarantine = pl.concat([q for q in quarantine if q.height] or quarantine[:1])
            snapshots = pl.DataFrame(
                [(source, s.sha256, s.id, s.kind, s.fetched_at, s.url, s.name, s.size, s.licence)
                 for s in (p.snapshot for p in prepared)], orient="row",
                schema={"source": pl.String, "sha256": pl.String, "snapshot_id": pl.String, "kind": pl.String,
                        "fetched_at": pl.String, "url": pl.String, "name": pl.String, "size_bytes": pl.Int64,
                        "licence": pl.String})
            con.register("_q", quarantine)
            con.register("_s", snapshots)
            try:
                con.execute("INSERT INTO meta.quarantine SELECT ?, snapshot_id, table_name, row_number, "
                            "column_name, check_name, value, ? FROM _q", [source, now])
                con.execute("INSERT OR REPLACE INTO meta.snapshot SELECT source, sha256, snapshot_id, kind, "
                            "fetched_at::TIMESTAMPTZ, url, name, size_bytes, licence FROM _s")
            finally:
                con.unregister("_q")
                con.unregister("_s")
            if status == "loaded" and partition and per_table:
                superseded: set[str] = set()
                for name in per_table:
                    own, lost = _keep_newest_partitions(con, name, partition, snap_ids)
                    per_table[name] -= own
                    superseded.update(lost)
                rows_loaded = sum(per_table.values())
                # what a superseded snapshot (no rows left) had quarantined is no longer part of the
                # dataset; a snapshot that failed to parse keeps its record
                still = " UNION ".join(f"SELECT _snapshot_id FROM staging.{quote_ident(t)}" for t in per_table)
                con.execute(f"DELETE FROM meta.quarantine WHERE source = ? AND snapshot_id IN "
                            f"(SELECT unnest(?::VARCHAR[])) AND snapshot_id NOT IN ({still})",
                            [source, sorted(superseded - set(snap_ids))])
            if status == "loaded" and mode == "replace" and (len(prepared) > 1 or blocks > len(prepared)):
                # uniqueness across snapshots and blocks (pandera sees one block at a time)
                for name in per_table:
                    keys = (unique_keys or {}).get(name)
                    if keys:
                        dups = _quarantine_duplicates(con, source, name, keys, now)
                        rows_loaded -= dups
                        per_table[name] -= dups
                        quarantined += dups
            con.execute("INSERT INTO meta.loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [source, key, code_version, shas, rows_in, rows_loaded, quarantined, status, message,
                         now, run_id])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        _restore(con, threads)
    return LoadResult(source, "rejected" if message else "loaded", key, snap_ids, rows_in, rows_loaded,
                      quarantined, message, per_table)
