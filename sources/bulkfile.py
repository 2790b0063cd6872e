"""Streaming reader for the national bulk files (Bolagsverket's and SCB's registers).

Both are a zip holding one large text file (≈ 1 GB, 2–3 M lines). This module turns a file — a path
on disk (streamed, never read whole) or bytes — into *pieces*: whole lines of UTF-8 bytes, a few MB
at a time, that polars splits into columns without a Python string ever being made.

- **Zip guards** before anything is inflated: one member with the wanted suffix, no absolute names
  or ``..`` (zip slip), no member over ``MAX_MEMBER`` or with a compression ratio above
  ``MAX_RATIO`` (zip bomb), and a member that turns out longer than its header says is refused.
- **Encoding**, detected rather than assumed: a UTF-8 byte-order mark promises UTF-8 (a byte that
  is not UTF-8 is then an error naming its offset); without one, blocks that are pure ASCII read the
  same either way, and the first block with other bytes decides — UTF-8 unless most of its
  non-ASCII lines are not UTF-8, then latin-1. Lines of a UTF-8 file that are not UTF-8 (in that
  block or later) are read as latin-1 one by one (nothing is lost, nothing re-read). UTF-16 is
  refused; NUL bytes are removed; a file without a line feed in ``MAX_LINE`` bytes is refused.
- **Lines**: a piece is cut at its last newline, so a character or a ``\\r\\n`` split across blocks
  is joined, and polars splits it into exactly one row per line (``\\n`` or ``\\r\\n``; empty lines
  kept) — so a reader counts lines by the rows it gets and row numbers are exact whatever the block
  size (the tests pin them at block sizes down to one byte). polars validates the UTF-8 as it
  splits, which is why a piece of a UTF-8 file is never decoded in Python (``read`` repairs the
  rare piece that fails).
"""
from __future__ import annotations

import io
import os
import queue
import threading
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, TypeVar

import polars as pl

from sources.base import ParseError, refuse_utf16

MAX_RATIO = 200
MAX_MEMBER = 4 * 1024 ** 3
CHUNK_BYTES = 16 * 1024 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
BOM = b"\xef\xbb\xbf"
MAX_LINE = 64 * 1024 * 1024          # a "line" longer than this is not a register's line
# Pieces split at once: polars releases the GIL, so two pieces use two cores where one piece's
# chain of small column steps leaves the second idle half the time; more only costs memory.
PARSE_THREADS = max(1, min(2, os.cpu_count() or 1))
T = TypeVar("T")
R = TypeVar("R")
Source = bytes | Path


# --- zip guards --------------------------------------------------------------------------------

def _unsafe_name(name: str) -> bool:
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


def _open_zip(source: Source) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(f"not a readable zip archive (truncated or corrupt): {exc}") from None


def check_members(zf: zipfile.ZipFile, suffix: str = ".txt") -> zipfile.ZipInfo:
    """The one ``suffix`` member, after the zip-slip and zip-bomb guards on every member."""
    members = [i for i in zf.infolist() if not i.is_dir()]
    for info in members:
        if _unsafe_name(info.filename):
            raise ParseError(f"zip member name {info.filename!r} is absolute or contains '..'")
        if info.file_size > MAX_MEMBER:
            raise ParseError(f"zip member {info.filename!r} unpacks to {info.file_size} bytes "
                             f"(limit {MAX_MEMBER})")
        if info.file_size > MAX_RATIO * info.compress_size:
            raise ParseError(f"zip member {info.filename!r} has compression ratio above "
                             f"{MAX_RATIO}:1 (zip bomb?)")
    wanted = [i for i in members if i.filename.lower().endswith(suffix)]
    if len(wanted) != 1:
        raise ParseError(f"expected exactly one {suffix} file in the zip, found {len(wanted)}")
    return wanted[0]


def check_zip(source: Source, suffix: str = ".txt") -> None:
    """The zip guards alone (used by fetch before a download becomes a snapshot)."""
    with _open_zip(source) as zf:
        check_members(zf, suffix)


def iter_member(source: Source, suffix: str = ".txt", block: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Decompressed blocks of the zip's one ``suffix`` member, after the guards."""
    with _open_zip(source) as zf:
        info = check_members(zf, suffix)
        seen = 0
        try:
            with zf.open(info) as fh:
                while buf := fh.read(block):
                    seen += len(buf)
                    if seen > info.file_size:
                        raise ParseError(f"zip member {info.filename!r} is larger than its header says")
                    yield buf
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ParseError(f"zip member {info.filename!r} cannot be read (truncated or corrupt): "
                             f"{type(exc).__name__}") from None


def unzip_single(data: bytes, suffix: str = ".txt") -> tuple[str, bytes]:
    """The one ``suffix`` member of a zip, whole (small files only; the parsers stream)."""
    with _open_zip(data) as zf:
        name = check_members(zf, suffix).filename
    return name, b"".join(iter_member(data, suffix))


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def _head(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source[:4]
    with open(source, "rb") as fh:
        return fh.read(4)


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` produced by a background thread, up to ``depth`` ahead: inflating and reading the
    next block (zlib and file reads release the GIL) overlaps with polars splitting this one.
    Exceptions reach the consumer in order; a consumer that stops early stops the thread."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as exc:          # handed to the consumer, raised there
            put((end, exc))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    worker = threading.Thread(target=produce, name="krafter-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = box.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        worker.join()


def raw_blocks(source: Source, name: str, suffix: str = ".txt", block: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Blocks of the text (read ahead in a thread): the zip member's, or the file's (or the bytes')."""
    return prefetched(_raw_blocks(source, name, suffix, block))


def _raw_blocks(source: Source, name: str, suffix: str, block: int) -> Iterator[bytes]:
    if is_zip(_head(source)):
        yield from iter_member(source, suffix, block)
        return
    if name.lower().endswith(".zip"):
        raise ParseError("file is named .zip but is not a zip archive (truncated download?)")
    if isinstance(source, bytes):
        view = memoryview(source)
        for i in range(0, len(source), block):
            yield bytes(view[i:i + block])
        return
    with open(source, "rb") as fh:
        yield from _file_blocks(fh, block)


def _file_blocks(fh: IO[bytes], block: int) -> Iterator[bytes]:
    while buf := fh.read(block):
        yield buf


def ordered_map(fn: Callable[[T], R], items: Iterator[T], threads: int = PARSE_THREADS) -> Iterator[R]:
    """``map(fn, items)`` with up to ``threads`` items in work at once, results in order. Items are
    drawn in the calling thread (a stateful reader stays sequential); an exception reaches the
    caller at its item (one of the reader's after the items it gave); a caller that stops early
    waits only for the items already in work."""
    if threads <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="krafter-parse") as pool:
        pending: deque = deque()
        failure: BaseException | None = None
        try:
            source = iter(items)
            while True:
                try:
                    item = next(source)
                except StopIteration:
                    break
                except Exception as exc:     # the reader failed: first the items it gave, as map does
                    failure = exc
                    break
                pending.append(pool.submit(fn, item))
                if len(pending) >= threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
            if failure is not None:
                raise failure
        finally:
            for future in pending:
                future.cancel()


def renumbered(frames: dict[str, pl.DataFrame], shift: int) -> dict[str, pl.DataFrame]:
    """``frames`` with ``shift`` added to every ``row_number`` (a piece parsed on its own numbers
    its lines from 0)."""
    if not shift:
        return frames
    return {name: f.with_columns(pl.col("row_number") + shift) if "row_number" in f.columns else f
            for name, f in frames.items()}


def parsed_pieces(text: "Text", header: Callable[[str], bool],
                  parse_piece: Callable[["Piece"], tuple[dict[str, pl.DataFrame], int, int]]
                  ) -> Iterator[tuple[dict[str, pl.DataFrame], int]]:
    """A national register's pieces through ``parse_piece`` (→ frames numbered from 0, a count of
    removed persons, the piece's number of lines), ``PARSE_THREADS`` at a time, as (frames numbered
    in the file, count) in order. ``header(first line)`` says whether the file's first line is a
    header to take off (it may raise on a bad one); the first line after it is row 1. A text
    without a single line is refused: a replace-mode register must never become empty."""
    started = False

    def body() -> Iterator[Piece]:
        nonlocal started
        for piece in text.pieces():
            if not started:
                started = True
                first, rest = split_first_line(piece)
                if header(first):
                    if rest is None:
                        continue
                    piece = rest
            yield piece

    row = 1
    for frames, count, n_lines in ordered_map(parse_piece, body()):
        yield renumbered(frames, row), count
        row += n_lines
    if not started:
        raise ParseError("file is empty")


# --- text pieces ---# --- text pieces -------------------------------------------------------------------------------

@dataclass
class Piece:
    """Whole lines (without the last newline) as UTF-8 bytes."""
    data: bytes
    offset: int           # byte offset of ``data`` in the text (after the BOM, NULs removed)


class Text:
    """The pieces of one bulk file, and the encoding they were read in (see the module doc)."""

    def __init__(self, source: Source, name: str, suffix: str = ".txt", block: int = CHUNK_BYTES):
        self.source, self.name, self.suffix, self.block = source, name, suffix, block
        self.encoding: str | None = None      # "bom" | "utf-8" | "latin-1"; None while all ASCII

    def pieces(self) -> Iterator[Piece]:
        carry = b""
        started = False
        offset = 0
        for raw in raw_blocks(self.source, self.name, self.suffix, self.block):
            if b"\x00" in raw:
                raw = raw.replace(b"\x00", b"")
            data = carry + raw if carry else raw
            if not started:
                if len(data) < len(BOM) and BOM.startswith(data):
                    carry = data                       # a BOM may still be split across blocks
                    continue
                started, data = True, self._start(data)
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > MAX_LINE:
                    raise ParseError(f"no line break in {len(data)} bytes after byte offset {offset} "
                                     f"(carriage-return line endings, or not a text file?)")
                carry = data
                continue
            piece, carry = Piece(self._utf8(data[:cut]), offset), data[cut + 1:]
            yield piece
            offset += cut + 1
        if not started and carry:
            carry = self._start(carry)
        if carry:
            yield Piece(self._utf8(carry), offset)

    def _start(self, data: bytes) -> bytes:
        """The text's first bytes: UTF-16 refused, a UTF-8 byte-order mark removed (and noted)."""
        refuse_utf16(data)
        if data.startswith(BOM):
            data, self.encoding = data[len(BOM):], "bom"
        return data

    def _utf8(self, data: bytes) -> bytes:
        """``data`` as UTF-8 bytes as far as the encoding is known; a piece of a UTF-8 text is passed
        on unchecked (polars checks it; ``read`` repairs it). The first piece that is not pure ASCII
        decides: UTF-8 unless most of its non-ASCII lines are not UTF-8 (so one stray latin-1 line
        does not turn a UTF-8 file into mojibake; it is repaired like a later one)."""
        if self.encoding is None and not data.isascii():
            try:
                data.decode("utf-8")
                self.encoding = "utf-8"
            except UnicodeDecodeError:
                self.encoding = "utf-8" if _mostly_utf8(data) else "latin-1"
        if self.encoding == "latin-1":
            return data.decode("latin-1").encode("utf-8")
        return data

    def repair(self, piece: Piece) -> Piece:
        """A piece polars found not to be UTF-8: an error for a text with a BOM, else its lines
        that are not UTF-8 read as latin-1."""
        try:
            piece.data.decode("utf-8")
            return piece
        except UnicodeDecodeError as exc:
            if self.encoding == "bom":
                raise ParseError(f"file starts with a UTF-8 byte-order mark but is not UTF-8 "
                                 f"(byte offset {piece.offset + exc.start + len(BOM)})") from None
        fixed = []
        for line in piece.data.split(b"\n"):
            try:
                line.decode("utf-8")
                fixed.append(line)
            except UnicodeDecodeError:
                fixed.append(line.decode("latin-1").encode("utf-8"))
        return Piece(b"\n".join(fixed), piece.offset)

    def read(self, piece: Piece, reader: Callable[[bytes], T]) -> T:
        """``reader(piece.data)``; if polars finds bytes that are not UTF-8, once more on the repaired
        piece."""
        try:
            return reader(piece.data)
        except pl.exceptions.ComputeError as exc:
            if "utf-8" not in str(exc).lower():
                raise
            return reader(self.repair(piece).data)


def _mostly_utf8(data: bytes) -> bool:
    """True when at least as many of the non-ASCII lines of ``data`` are valid UTF-8 as are not."""
    valid = invalid = 0
    for line in data.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            valid += 1
        except UnicodeDecodeError:
            invalid += 1
    return valid >= invalid


def split_first_line(piece: Piece) -> tuple[str, Piece | None]:
    """The piece's first line as text, and the rest of the piece (None if there is no more)."""
    cut = piece.data.find(b"\n")
    head = piece.data if cut < 0 else piece.data[:cut]
    text = head.decode("utf-8", errors="replace").removesuffix("\r")
    if cut < 0:
        return text, None
    return text, Piece(piece.data[cut + 1:], piece.offset + cut + 1)


def concat_blocks(blocks: Iterator[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """The blocks of ``parse_blocks`` as one frame per table (rejects in row order, counts summed)."""
    parts: dict[str, list[pl.DataFrame]] = {}
    for frames in blocks:
        for table, frame in frames.items():
            parts.setdefault(table, []).append(frame)
    out = {}
    for table, frames in parts.items():
        if table.endswith("_sole_traders"):
            out[table] = pl.concat(frames).select(pl.col("count").sum())
        else:
            out[table] = pl.concat(frames, rechunk=False)
            if table.endswith("_rejected"):
                out[table] = out[table].sort("row_number")
    return out


def regrouped(blocks: Iterator[dict[str, pl.DataFrame]], rows: int) -> Iterator[dict[str, pl.DataFrame]]:
    """Consecutive blocks of ``parse_blocks`` joined (as ``concat_blocks`` joins them) until each
    group holds at least ``rows`` rows; the last group may hold fewer."""
    group: list[dict[str, pl.DataFrame]] = []
    held = 0
    for frames in blocks:
        group.append(frames)
        held += sum(f.height for f in frames.values())
        if held >= rows:
            yield concat_blocks(iter(group))
            group, held = [], 0
    if group:
        yield concat_blocks(iter(group))


# --- splitting ---------------------------------------------------------------------------------

def _every_line(data: bytes) -> bytes:
    """polars reads a final empty line (text ending in a newline, or no text) as no row; a blank
    final line of one space keeps the count at one row per line (blank lines produce no rows)."""
    return data + b" " if not data or data.endswith(b"\n") else data


def lines_frame(data: bytes) -> pl.DataFrame:
    """One ``line`` per line of ``data`` (``\\r\\n`` or ``\\n``; an empty line is ""). polars' CSV
    reader with NUL as separator and no quoting (NULs were removed, so every line is one field)."""
    lines = pl.read_csv(_every_line(data), has_header=False, separator="\x00", quote_char=None,
                        schema={"line": pl.String}, raise_if_empty=False, comment_prefix=None)
    return lines.select(pl.col("line").fill_null(""))


def fields_frame(data: bytes, separator: str, width: int) -> pl.DataFrame:
    """``c0`` … ``c<width>`` (one more than expected, to see a line with too many fields), one row
    per line, split on the one-byte ``separator`` with no quoting; an empty or missing field is null.
    Fields beyond ``c<width>`` are dropped — also on the first line, from which polars would
    otherwise take the number of columns."""
    return pl.read_csv(_every_line(data), has_header=False, separator=separator, quote_char=None,
                       schema={f"c{i}": pl.String for i in range(width + 1)},
                       truncate_ragged_lines=True, missing_columns="insert", extra_columns="ignore",
                       raise_if_empty=False, comment_prefix=None)
