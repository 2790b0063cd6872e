"""Prepare: a snapshot's bytes → the parser's frames → free text redacted → validated tables.

The step between ``sources`` (parsers) and ``warehouse.load`` (landing), without Prefect, so that
worker processes import only what they need.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import logging
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator

import polars as pl

from schemas.registry import REJECT_SUFFIX, TABLES, UNVALIDATED
from schemas.validate import validate, validate_many
from sources import registry
from sources.base import ParseError
from sources.bulkfile import prefetched, regrouped
from sources.snapshot import Snapshot
from warehouse.faults import checkpoint
from warehouse.load import Block, Prepared


log = logging.getLogger("krafter.prepare")


class IngestError(RuntimeError):
    """A one-line failure naming the source and the reason."""


def prepare(spec: registry.SourceSpec, snap: Snapshot) -> Prepared:
    """Parse and validate one snapshot; a parse failure becomes ``Prepared.error`` (one line)."""
    return prepare_all(spec, [snap])[0]


def prepare_all(spec: registry.SourceSpec, snaps: list[Snapshot], workers: int | None = None) -> list[Prepared]:
    """Parse and validate the snapshots of a batch; a parse failure becomes that snapshot's
    ``Prepared.error`` (one line).

    Each table is validated for all snapshots in one pandera run (``validate_many``: same result as
    one by one, but a backfill of thousands of one-notice snapshots no longer pays pandera's fixed
    cost thousands of times). A source with ``parse_blocks`` (the national registers) is read from
    disk as a stream instead, in a pipeline of three threads: one parses the next block while the
    caller's validates this one and ``land``'s writer inserts the one before (polars, pandera's
    polars checks and DuckDB release the GIL for most of their work).

    A large batch of many snapshots (a TED backfill, a folder of daily packages: at least
    ``PARALLEL_MIN_BYTES``) is parsed and validated by ``workers`` processes (default
    ``default_workers()``), in groups of snapshots, while ``land`` inserts the groups already done:
    each snapshot's ``Prepared`` is then a stream of the one block its worker made. The result is
    the same as on one core (pinned by a test)."""
    module = spec.load()
    if hasattr(module, "parse_blocks"):
        return [Prepared(snap, stream=(validate_block(spec, frames) for frames in prefetched(
            regrouped(module.parse_blocks(snap.path, snap.name or snap.path.name), VALIDATE_ROWS),
            depth=1))) for snap in snaps]
    workers = default_workers() if workers is None else workers
    if workers > 1 and len(snaps) > 1 and sum(s.size or 0 for s in snaps) >= PARALLEL_MIN_BYTES:
        return _ParallelBatch(spec, snaps, workers).prepared()
    return prepare_group(spec, snaps)


def prepare_group(spec: registry.SourceSpec, snaps: list[Snapshot]) -> list[Prepared]:
    """``prepare_all`` of snapshots read whole, in this process."""
    module = spec.load()
    prepared, unchecked = [], []
    for snap in snaps:
        try:
            frames = module.parse(snap.read(), snap.name or snap.path.name)
        except ParseError as exc:
            prepared.append(Prepared(snap, error=str(exc)))
            continue
        block, raw = _sort_frames(spec, frames)
        prepared.append(Prepared(snap, block.tables, block.extra, block.rejected))
        unchecked.append((prepared[-1], raw))
    for table in sorted({t for _, raw in unchecked for t in raw}):
        holders = [(p, raw[table]) for p, raw in unchecked if table in raw]
        for (p, _), checked in zip(holders, validate_many(table, [f for _, f in holders], TABLES[table])):
            p.tables[table] = checked
    return prepared


# A national file's blocks are validated this many rows at a time: pandera's cost per run (a few
# dozen small polars queries) is paid a quarter as often as per parsed block. A group is one DuckDB
# row group, at least what ``land``'s writer gathers before it appends (so each group is appended
# as soon as it is validated, not held back for the next).
VALIDATE_ROWS = 122_880

# Below this a process pool costs more than it saves: each spawned worker imports polars, pandera
# and lxml (~1 s), and a batch this size parses in ~5 s on one core.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
GROUP_BYTES = 16 * 1024 * 1024          # snapshots per worker task: few tasks, small results


def default_workers() -> int:
    """Processes for a large batch: ``KRAFTER_WORKERS``, else the machine's CPUs (at most 4)."""
    raw = os.environ.get("KRAFTER_WORKERS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise IngestError(f"KRAFTER_WORKERS must be a whole number of at least 1, not {raw!r}")
        return int(raw)
    return max(1, min(os.cpu_count() or 1, 4))


def _prepare_in_worker(source_id: str, snaps: list[Snapshot]) -> list[Prepared]:
    checkpoint("in-worker")
    return prepare_group(registry.get(source_id), snaps)


class _SnapshotStream:
    """One snapshot's block from a ``_ParallelBatch``; ``close`` stops the whole batch's pool (what
    ``release`` does when ``land`` stops early)."""

    def __init__(self, batch: "_ParallelBatch", i: int):
        self.batch, self.i = batch, i

    def __iter__(self) -> Iterator[Block]:
        return self.batch.stream(self.i)

    def close(self) -> None:
        self.batch.close()


def release(prepared: list[Prepared]) -> None:
    """Stop what the streams ``land`` did not consume still hold (a process pool, a read-ahead
    thread); call it after ``land``, whether it returned or raised."""
    for p in prepared:
        close = getattr(p.stream, "close", None)
        if close is not None:
            close()


class _ParallelBatch:
    """Groups of a batch's snapshots prepared by a process pool, handed out in batch order.

    The pool starts when ``land`` asks for the first snapshot (a batch found unchanged in the
    ledger never starts one) and keeps at most two groups per worker queued or done ahead of
    ``land``, so memory stays at a few groups' frames. It shuts down after the last group, or when
    ``release`` closes the streams ``land`` left (it stopped early, or raised)."""

    def __init__(self, spec: registry.SourceSpec, snaps: list[Snapshot], workers: int):
        self.spec, self.snaps, self.workers = spec, snaps, workers
        target = max(1, min(GROUP_BYTES, sum(s.size or 0 for s in snaps) // (workers * 4)))
        self.groups: list[list[int]] = [[]]
        size = 0
        for i, snap in enumerate(snaps):
            if self.groups[-1] and size >= target:
                self.groups.append([])
                size = 0
            self.groups[-1].append(i)
            size += snap.size or 0
        self.group_of = {i: g for g, members in enumerate(self.groups) for i in members}
        self.executor: ProcessPoolExecutor | None = None
        self.futures: dict[int, Future] = {}
        self.submitted = 0
        self.done: dict[int, Prepared] = {}
        self.broken = False

    def prepared(self) -> list[Prepared]:
        return [Prepared(snap, stream=_SnapshotStream(self, i)) for i, snap in enumerate(self.snaps)]

    def stream(self, i: int) -> Iterator[Block]:
        try:
            p = self._result(i)
        except BaseException:
            self.close()
            raise
        if i == len(self.snaps) - 1:
            self.close()
        if p.error:
            raise ParseError(p.error)
        yield p

    def _result(self, i: int) -> Prepared:
        if i in self.done:
            return self.done.pop(i)
        g = self.group_of[i]
        if self.executor is None and not self.broken:
            self.executor = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
            self.submitted = 1 if g == 0 else 0     # group 0 is prepared here while the workers start
        results = None
        try:
            while not self.broken and self.submitted < len(self.groups) and self.submitted <= g + 2 * self.workers:
                members = self.groups[self.submitted]
                self.futures[self.submitted] = self.executor.submit(
                    _prepare_in_worker, self.spec.id, [self.snaps[j] for j in members])
                self.submitted += 1
            if g in self.futures:
                results = self.futures.pop(g).result()
        except BrokenProcessPool as exc:        # a worker died (killed, out of memory): go on here
            log.warning("%s: worker pool broke (%s); preparing the rest of the batch in this process",
                        self.spec.id, exc)
            self.close()
            self.broken = True
        if results is None:   # the first group (the workers spend ~1 s each importing), or no pool left
            results = prepare_group(self.spec, [self.snaps[j] for j in self.groups[g]])
        for j, p in zip(self.groups[g], results):
            self.done[j] = p
        for earlier in [j for j in self.done if j < i]:     # streams land skipped: drop their results
            del self.done[earlier]
        return self.done.pop(i)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        self.futures.clear()
        self.done.clear()


def validate_block(spec: registry.SourceSpec, frames: dict[str, pl.DataFrame]) -> Block:
    """One block of frames: free text redacted, each table validated against its model (rejects
    and anonymous counts passed on as they are)."""
    block, raw = _sort_frames(spec, frames)
    for table in list(raw):
        # pop: the raw frame is freed once its validated copy exists (national files are large)
        block.tables[table] = validate(table, raw.pop(table), TABLES[table])
    return block


def _sort_frames(spec: registry.SourceSpec, frames: dict[str, pl.DataFrame]) -> tuple[Block, dict[str, pl.DataFrame]]:
    """A parser's frames, free text redacted, sorted into parse-level rejects and anonymous counts
    (in the block) and the tables still to validate."""
    block, raw = Block(), {}
    for name in list(frames):
        frame = redact_free_text(frames.pop(name))
        if name.endswith(REJECT_SUFFIX):
            block.rejected = frame if block.rejected is None else pl.concat([block.rejected, frame], how="diagonal")
        elif name in TABLES:
            raw[name] = frame
        elif name in UNVALIDATED:
            block.extra[name] = frame
        else:
            raise IngestError(f"{spec.id}: parser returned unknown table '{name}'")
    return block, raw


# A personal identity number written into free text (a description, a name field): century optional,
# a real month and day (samordningsnummer: day + 60), four digits. Organisation numbers never match
# (their "month" is 20 or more). ASCII digits and ASCII word boundaries: ten times faster than the
# Unicode classes on a national file, and no narrower — every Unicode boundary next to a digit is
# an ASCII one too (so "Å199001011234" is redacted as well).
PERSONNUMMER_IN_TEXT = (r"(?-u:\b)(?:19|20)?[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
                        r"[-+]?[0-9]{4}(?-u:\b)")
FREE_TEXT_COLUMNS = {"name", "description", "title", "area", "source", "winner_name", "proceedings"}


def redact_free_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Remove personal identity numbers from free-text columns before anything validates or stores them.
    Only values holding six digits in a row (a number's date part) can hold one, so the pattern
    runs on those alone: a national file's descriptions are scanned once, not rewritten."""
    for c, dt in frame.schema.items():
        if c not in FREE_TEXT_COLUMNS or dt != pl.String:
            continue
        column = frame.get_column(c)
        hit = column.str.contains(_SIX_DIGITS).fill_null(False)
        if hit.any():
            idx = hit.arg_true()
            redacted = column.gather(idx).str.replace_all(PERSONNUMMER_IN_TEXT, "<personnummer borttaget>")
            frame = frame.with_columns(column.clone().scatter(idx, redacted))
    return frame


_SIX_DIGITS = r"[0-9]{6}"
