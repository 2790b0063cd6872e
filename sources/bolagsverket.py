"""Bolagsverket's bulk file (high-value dataset): every registered organisation, weekly.

Format (notes/sources-se.md §4.1): a zip holding one ``bolagsverket_bulkfil.txt`` (≈ 1 GB of text,
≈ 3 M lines); header row; ``;``-separated; every field double-quoted; UTF-8 with BOM (one source
says latin-1, so: BOM → strict UTF-8, else strict UTF-8, else latin-1). Quoted fields may hold
unescaped ``"``, so a line is split on the exact separator ``";"`` after stripping its outer quotes
— no CSV parser. Stray NUL bytes are removed; the literal ``null`` in a date means no date. Several
columns pack parts with ``$`` and ``|`` (see ``_parse_lines``).

Streaming: ``parse`` never holds the whole text. The zip member is decompressed incrementally
(``zipfile.open``) in blocks of ``CHUNK_BYTES``; each block is decoded with an incremental decoder
(a character split across blocks is joined), cut at its last newline, split into lines and fields
with polars string operations, and turned into frames; the frames are concatenated at the end
(without rechunking). Without a BOM the text is first read as UTF-8; should a later block not be
UTF-8, the whole stream is re-read as latin-1 (same result as deciding on the whole file). Peak
memory is the zip bytes + the output frames + one block's working set (see
``benchmarks/bench_bolagsverket.py``).

Privacy (DESIGN §8): sole traders — identity type ``PERSON-IDORG``, organisationsform ``E`` or an
identity that is a personal number — are dropped inside ``parse`` before anything else looks at
the row, and only counted (vectorised equivalents of ``orgnr.digits_of`` and
``orgnr.is_personal_number``, pinned against them in the tests). Nothing here logs row content. A
line with the wrong number of fields is returned as (row number, reason) only, never with its
content.

``row_number`` is the 1-based data line number: the line after the header is 1 (header-less input:
the first line is 1). Empty lines keep their number but produce no row.

Fetch: conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last load's validators;
304 → nothing new), the body streamed to a partial file that a later attempt resumes with ``Range``
+ ``If-Range`` (206; a 200 restarts it), a size guard (``MAX_DOWNLOAD``) and the zip guards
(member names, compression ratio) before the bytes become a snapshot.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TypeVar
from urllib.parse import urlsplit

import polars as pl

from sources.base import Fetched, FetchContext, ParseError, refuse_utf16, shown

SOURCE_ID = "bolagsverket"
HEADER = ["organisationsidentitet", "namnskyddslopnummer", "registreringsland", "organisationsnamn",
          "organisationsform", "avregistreringsdatum", "avregistreringsorsak",
          "pagandeAvvecklingsEllerOmstruktureringsforfarande", "registreringsdatum",
          "verksamhetsbeskrivning", "postadress"]
N_FIELDS = len(HEADER)
MAX_RATIO = 200
MAX_MEMBER = 4 * 1024 ** 3
MAX_DOWNLOAD = 2 * 1024 ** 3
CHUNK_BYTES = 16 * 1024 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_BOM = b"\xef\xbb\xbf"
log = logging.getLogger(__name__)
T = TypeVar("T")

ORGANISATION_SCHEMA = {
    "org_number": pl.String, "registration_seq": pl.Int32, "name": pl.String,
    "name_count": pl.Int32, "organisation_form": pl.String, "registration_date": pl.Date,
    "deregistration_date": pl.Date, "deregistration_reason": pl.String, "proceedings": pl.String,
    "description": pl.String, "postal_town": pl.String, "postcode": pl.String,
    "row_number": pl.Int64,
}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}


# --- zip guards --------------------------------------------------------------------------------

def _unsafe_name(name: str) -> bool:
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
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


def check_zip(data: bytes, suffix: str = ".txt") -> None:
    """The zip guards alone (used by fetch before a download becomes a snapshot)."""
    with _open_zip(data) as zf:
        check_members(zf, suffix)


def iter_member(data: bytes, suffix: str = ".txt", block: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Decompressed blocks of the zip's one ``suffix`` member, after the guards."""
    with _open_zip(data) as zf:
        info = check_members(zf, suffix)
        seen = 0
        try:
            with zf.open(info) as fh:
                while True:
                    buf = fh.read(block)
                    if not buf:
                        break
                    seen += len(buf)
                    if seen > info.file_size:
                        raise ParseError(f"zip member {info.filename!r} is larger than its header says")
                    yield buf
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ParseError(f"zip member {info.filename!r} cannot be read (truncated or corrupt): "
                             f"{type(exc).__name__}") from None


def unzip_single(data: bytes, suffix: str = ".txt") -> tuple[str, bytes]:
    """The one ``suffix`` member of a zip, whole (small files only; ``parse`` streams)."""
    with _open_zip(data) as zf:
        name = check_members(zf, suffix).filename
    return name, b"".join(iter_member(data, suffix))


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def decode(data: bytes) -> str:
    """BOM → utf-8-sig; else strict UTF-8; else latin-1. NUL bytes are removed first."""
    refuse_utf16(data)
    data = data.replace(b"\x00", b"")
    if data.startswith(_BOM):
        try:
            return data[len(_BOM):].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"file starts with a UTF-8 byte-order mark but is not UTF-8 "
                             f"(byte offset {exc.start})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# --- streaming text ----------------------------------------------------------------------------

class _NotUtf8(Exception):
    """A BOM-less stream turned out not to be UTF-8: the caller re-reads it as latin-1."""


def raw_blocks(data: bytes, name: str, suffix: str = ".txt", block: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Blocks of the text: the zip member's, or the bytes themselves."""
    if is_zip(data):
        yield from iter_member(data, suffix, block)
    elif name.lower().endswith(".zip"):
        raise ParseError("file is named .zip but is not a zip archive (truncated download?)")
    else:
        view = memoryview(data)
        for i in range(0, len(data), block):
            yield bytes(view[i:i + block])


def text_pieces(blocks: Iterator[bytes], encoding: str) -> Iterator[str]:
    """Whole-line pieces of decoded text (the last newline of each piece is dropped, so piece
    *k+1* starts at the line after piece *k*'s last). ``encoding``: ``auto`` (BOM → strict UTF-8,
    else strict UTF-8 raising ``_NotUtf8``) or ``latin-1``. NUL bytes are removed."""
    decoder = None
    carry = ""
    consumed = 0
    for raw in blocks:
        raw = raw.replace(b"\x00", b"")
        if decoder is None:
            refuse_utf16(raw)
            if encoding == "auto" and raw.startswith(_BOM):
                raw, encoding = raw[len(_BOM):], "bom"
            decoder = codecs.getincrementaldecoder("latin-1" if encoding == "latin-1" else "utf-8")()
        try:
            text = carry + decoder.decode(raw)
        except UnicodeDecodeError as exc:
            if encoding == "bom":
                raise ParseError(f"file starts with a UTF-8 byte-order mark but is not UTF-8 "
                                 f"(byte offset {consumed + exc.start})") from None
            raise _NotUtf8() from None
        consumed += len(raw)
        cut = text.rfind("\n")
        if cut < 0:
            carry = text
            continue
        carry = text[cut + 1:]
        yield text[:cut]
    try:
        text = carry + (decoder.decode(b"", final=True) if decoder else "")
    except UnicodeDecodeError:
        if encoding == "bom":
            raise ParseError("file starts with a UTF-8 byte-order mark but is not UTF-8 "
                             "(truncated character at the end)") from None
        raise _NotUtf8() from None
    if text:
        yield text


def line_frames(data: bytes, name: str, encoding: str, suffix: str = ".txt",
                block: int = CHUNK_BYTES) -> Iterator[pl.DataFrame]:
    """Frames (``idx``: 0-based line index in the file, ``line``: without its line ending), one per
    block of text; lines are split by polars, not Python."""
    first = 0
    for piece in text_pieces(raw_blocks(data, name, suffix, block), encoding):
        lines = _split_lines(piece)
        del piece
        lines = lines.with_row_index("idx", offset=first).with_columns(pl.col("idx").cast(pl.Int64))
        first += lines.height
        yield lines


def _split_lines(piece: str) -> pl.DataFrame:
    """One ``line`` per line of ``piece`` (``\r\n`` or ``\n``; an empty line is ""). Fast path:
    polars' CSV reader with NUL as separator and no quoting (NULs were removed, so every line is
    one field); if its line count differs from the text's (a bare ``\r``?), split with polars
    string ops instead."""
    n = piece.count("\n") + 1
    try:
        lines = pl.read_csv(piece.encode("utf-8"), has_header=False, separator="\x00",
                            quote_char=None, infer_schema=False, new_columns=["line"],
                            raise_if_empty=False, comment_prefix=None)
    except pl.exceptions.PolarsError:
        lines = None
    if lines is not None and lines.height == n and lines.width == 1:
        return lines.select(pl.col("line").fill_null(""))
    return (pl.DataFrame({"line": [piece]}).select(pl.col("line").str.split("\n")).explode("line")
            .select(pl.col("line").str.strip_suffix("\r")))


def with_encoding_fallback(consume: Callable[[str], T]) -> T:
    """``consume("auto")``; if the text is not UTF-8 after all, ``consume("latin-1")``."""
    try:
        return consume("auto")
    except _NotUtf8:
        log.info("text is not UTF-8: re-reading it as latin-1")
        return consume("latin-1")


# --- parse -------------------------------------------------------------------------------------

def _blank_to_null(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars()
    return pl.when(e.str.len_chars() > 0).then(e).otherwise(None)


def _date(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(parsed date, flag: a value was present but is not a date). ``null`` means no date."""
    raw = _blank_to_null(e)
    raw = pl.when(raw.str.to_lowercase() == "null").then(None).otherwise(raw)
    parsed = raw.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return parsed, raw.is_not_null() & parsed.is_null()


def _digits_of(text: pl.Expr, digits: pl.Expr) -> pl.Expr:
    """``orgnr.digits_of`` from ``text`` (stripped, upper-cased) and ``digits`` (its digits)."""
    n = digits.str.len_chars()
    return (pl.when(text.str.starts_with("SE"))
            .then(pl.when((n == 12) & digits.str.ends_with("01")).then(digits.str.slice(0, 10)))
            .when((n == 12) & digits.str.slice(0, 2).is_in(["16", "18", "19", "20"]))
            .then(digits.str.slice(2))
            .when(n == 10).then(digits))


def _is_personal(digits: pl.Expr, digits_of: pl.Expr) -> pl.Expr:
    century = (digits.str.len_chars() == 12) & digits.str.slice(0, 2).is_in(["18", "19", "20"])
    month = digits_of.str.slice(2, 1).is_in(["0", "1"])
    return (century.fill_null(False) | month.fill_null(False))


def digits_of_expr(e: pl.Expr) -> pl.Expr:
    """Vectorised ``orgnr.digits_of`` (pinned against it in the tests)."""
    text = e.str.strip_chars().str.to_uppercase()
    return _digits_of(text, text.str.replace_all(r"\D+", ""))


def is_personal_expr(e: pl.Expr) -> pl.Expr:
    """Vectorised ``orgnr.is_personal_number`` (pinned against it in the tests); never null."""
    return _is_personal(e.str.replace_all(r"\D+", ""), digits_of_expr(e))


_NAME_TYPE = r"\$[A-Z_]+-ORGNAM(\$[^$]*)?$"
_MAIN_NAME = r"\$(FORETAGSNAMN|NAMN)-ORGNAM(\$[^$]*)?$"
_SEP = '";"'


def _split_fields(lines: pl.DataFrame) -> pl.DataFrame:
    """``row_number``, ``n`` (number of fields) and ``f0`` … ``f10`` (null where a line has fewer
    fields; a line with more is rejected on ``n``). The line is split on the exact separator
    ``";"`` after stripping its outer quotes, vectorised (no per-row lists)."""
    body = pl.col("line").str.strip_prefix('"').str.strip_suffix('"')
    return lines.select(
        "row_number",
        (body.str.count_matches(_SEP, literal=True) + 1).alias("n"),
        body.str.split_exact(_SEP, N_FIELDS - 1)
        .struct.rename_fields([f"f{i}" for i in range(N_FIELDS)]).alias("f"),
    ).unnest("f")


def _names(field: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(main name with its type suffix removed, number of names) of a ``|``-separated name list:
    the first name typed FORETAGSNAMN or NAMN, else the first name; blank entries are ignored."""
    names = field.str.split("|").list.eval(pl.element().filter(pl.element().str.strip_chars() != ""))
    main = names.list.eval(pl.element().filter(pl.element().str.contains(_MAIN_NAME)).first())
    name = pl.coalesce(main.list.first(), names.list.first()).str.replace(_NAME_TYPE, "")
    return name, names.list.len().cast(pl.Int32)


def _proceedings(field: pl.Expr) -> pl.Expr:
    return (field.str.split("|")
            .list.eval(pl.element().filter(pl.element().str.strip_chars() != "")
                       .str.replace(r"-AVSLAVOMFO\$", "-AVSL:")
                       .str.replace(r"-AVOMFO\$", ":")
                       .str.replace_all(r"\$", ":"))
            .list.join("|"))


def _patch(out: pl.DataFrame, mask: pl.Series, values: pl.DataFrame) -> pl.DataFrame:
    """``out`` with the rows where ``mask`` holds replaced by ``values`` (same columns, one row per
    true mask entry, in order)."""
    if values.height == 0:
        return out
    idx = mask.arg_true()
    return out.with_columns([out[c].scatter(idx, values[c].cast(out[c].dtype)) for c in values.columns])


def _parse_lines(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """One block of data lines (``row_number``, ``line``; blank lines already dropped) →
    (organisations, rejected, number of sole traders removed).

    Most rows hold one name and no proceedings: those two columns are computed without lists for
    every row, then the rows with a ``|`` list (name) or any proceedings are recomputed with the
    list expressions and patched in (same result as the list expressions on every row)."""
    df = _split_fields(lines)
    del lines
    # --- privacy first: drop sole traders before anything else reads the row ---
    ident = pl.col("f0").str.split_exact("$", 1)
    id_value = ident.struct.field("field_0")
    text = pl.col("_id").str.strip_chars().str.to_uppercase()
    df = df.with_columns(id_value.alias("_id"),
                         ident.struct.field("field_1").str.strip_chars().alias("_id_type"))
    df = df.with_columns(text.alias("_text"), text.str.replace_all(r"\D+", "").alias("_digits"))
    df = df.with_columns(_digits_of(pl.col("_text"), pl.col("_digits")).alias("_digits_of"))
    sole = ((pl.col("_id_type") == "PERSON-IDORG").fill_null(False)
            | (pl.col("f4").str.strip_chars() == "E-ORGFO").fill_null(False)
            | _is_personal(pl.col("_digits"), pl.col("_digits_of")))
    keep = df.select(~sole).to_series()
    sole_count = len(keep) - int(keep.sum())
    df = df.filter(keep).drop("_id_type", "_text", "_digits")

    rejected = [df.filter(pl.col("n") != N_FIELDS).select(
        "row_number",
        pl.format("expected {} fields, found {}", pl.lit(N_FIELDS), pl.col("n")).alias("reason"))]
    df = df.filter(pl.col("n") == N_FIELDS)

    def f(i: int) -> pl.Expr:
        return pl.col(f"f{i}")

    reg_date, bad_reg = _date(f(8))
    dereg_date, bad_dereg = _date(f(5))
    seq_raw = _blank_to_null(f(1))
    seq = seq_raw.cast(pl.Int32, strict=False)

    # one name, no proceedings: the common case, without lists
    name_present = f(3).str.strip_chars() != ""
    name = pl.when(name_present).then(f(3)).str.replace(_NAME_TYPE, "")
    name_count = name_present.cast(pl.Int32)

    addr = f(10).str.split_exact("$", 3)
    p2 = _blank_to_null(addr.struct.field("field_2"))
    p3 = _blank_to_null(addr.struct.field("field_3"))
    p2n, p3n = p2.str.replace_all(" ", ""), p3.str.replace_all(" ", "")
    p3_is_code = p3n.str.contains(r"^\d{5}$").fill_null(False)
    p2_is_code = p2n.str.contains(r"^\d{5}$").fill_null(False)
    postcode = pl.when(p3_is_code).then(p3n).when(p2_is_code).then(p2n).otherwise(p3)
    town = pl.when(p3_is_code).then(p2).when(p2_is_code).then(p3).otherwise(p2)

    out = df.select(
        pl.coalesce(pl.col("_digits_of"), pl.col("_id").str.strip_chars()).alias("org_number"),
        seq.alias("registration_seq"),
        _blank_to_null(name).alias("name"),
        name_count.alias("name_count"),
        _blank_to_null(f(4).str.strip_suffix("-ORGFO")).alias("organisation_form"),
        reg_date.alias("registration_date"),
        dereg_date.alias("deregistration_date"),
        _blank_to_null(f(6).str.strip_suffix("-AVORG")).alias("deregistration_reason"),
        pl.lit(None, pl.String).alias("proceedings"),
        _blank_to_null(f(9)).alias("description"),
        town.alias("postal_town"),
        postcode.alias("postcode"),
        pl.col("row_number"),
        pl.concat_str(
            pl.when(seq_raw.is_not_null() & seq.is_null()).then(pl.lit("namnskyddslopnummer is not an integer")),
            pl.when(bad_reg).then(pl.lit("registreringsdatum is not a date")),
            pl.when(bad_dereg).then(pl.lit("avregistreringsdatum is not a date")),
            separator="; ", ignore_nulls=True).alias("_bad"),
    )
    # the rest: several names, or proceedings (a blank proceedings field gives null either way)
    many = df.select(f(3).str.contains("|", literal=True)).to_series()
    if many.any():
        list_name, list_count = _names(f(3))
        out = _patch(out, many, df.filter(many).select(
            _blank_to_null(list_name).alias("name"), list_count.alias("name_count")))
    procs = df.select(f(7).str.strip_chars() != "").to_series()
    if procs.any():
        out = _patch(out, procs, df.filter(procs).select(_blank_to_null(_proceedings(f(7))).alias("proceedings")))
    del df
    bad = pl.col("_bad").str.len_chars() > 0
    rejected.append(out.filter(bad).select("row_number", pl.col("_bad").alias("reason")))
    out = out.filter(~bad).drop("_bad").cast(ORGANISATION_SCHEMA)  # type: ignore[arg-type]
    rej = (pl.concat(rejected).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
           .sort("row_number"))
    return out.select(list(ORGANISATION_SCHEMA)), rej, sole_count


def _check_header(line: str) -> None:
    """The columns are read by position, so the header must name them in the documented order
    (case aside): a renamed or moved column is a format change, not data."""
    names = line.strip().removeprefix('"').removesuffix('"').split('";"')
    if len(names) != N_FIELDS:
        raise ParseError(f"header has {len(names)} columns, expected {N_FIELDS} (format changed?)")
    for i, (got, want) in enumerate(zip(names, HEADER), start=1):
        if got.strip().lower() != want.lower():
            raise ParseError(f"header column {i} is '{shown(got.strip()[:60])}', expected '{want}' "
                             f"(format changed?)")


def _consume(data: bytes, name: str, encoding: str, block: int) -> dict[str, pl.DataFrame]:
    orgs: list[pl.DataFrame] = []
    rejs: list[pl.DataFrame] = []
    sole = 0
    offset = None
    for lines in line_frames(data, name, encoding, ".txt", block):
        if offset is None:                      # the file's first line: header or data?
            first = lines["line"][0] if lines.height else ""
            has_header = bool(first.strip()) and "-IDORG" not in first
            if has_header:
                _check_header(first)
                lines = lines.slice(1)
            offset = 0 if has_header else 1
        lines = lines.filter(pl.col("line").str.strip_chars().str.len_chars() > 0).select(
            (pl.col("idx") + offset).alias("row_number"), "line")
        o, r, n = _parse_lines(lines)
        del lines
        orgs.append(o)
        rejs.append(r)
        sole += n
    if offset is None:       # not one line: a replace-mode register must never become empty
        raise ParseError("file is empty")
    org = (pl.concat(orgs, rechunk=False) if orgs else pl.DataFrame(schema=ORGANISATION_SCHEMA))
    rej = (pl.concat(rejs, rechunk=False).sort("row_number") if rejs
           else pl.DataFrame(schema=REJECTED_SCHEMA))
    return {
        "bolagsverket_organisation": org,
        "bolagsverket_sole_traders": pl.DataFrame({"count": [sole]}, schema={"count": pl.Int64}),
        "bolagsverket_rejected": rej,
    }


def parse(data: bytes, name: str, *, block: int = CHUNK_BYTES) -> dict[str, pl.DataFrame]:
    """The zip as downloaded, or the .txt inside it, to staging frames (streamed, see module doc)."""
    return with_encoding_fallback(lambda enc: _consume(data, name, enc, block))


def parse_text(text: str) -> dict[str, pl.DataFrame]:
    """Already-decoded text (tests, small inputs)."""
    return _consume(text.encode("utf-8"), "text.txt", "auto", CHUNK_BYTES)


# --- fetch -------------------------------------------------------------------------------------

def download_dir() -> Path:
    """Where partial downloads wait to be resumed: ``$KRAFTER_DOWNLOADS``, else
    ``$KRAFTER_HOME/downloads``, else ``<tmp>/krafter-downloads``."""
    if os.environ.get("KRAFTER_DOWNLOADS"):
        return Path(os.environ["KRAFTER_DOWNLOADS"])
    if os.environ.get("KRAFTER_HOME"):
        return Path(os.environ["KRAFTER_HOME"]) / "downloads"
    return Path(tempfile.gettempdir()) / "krafter-downloads"


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """(first byte, total or None) of ``Content-Range: bytes a-b/total``."""
    m = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    if not m:
        return None
    return int(m.group(1)), None if m.group(2) == "*" else int(m.group(2))


def download(source_id: str, url: str, ctx: FetchContext, *, folder: Path | None = None,
             max_bytes: int = MAX_DOWNLOAD, attempts: int = 3, chunk: int = 64 * 1024,
             session=None) -> tuple[bytes, int, dict] | None:
    """Conditional, resumable, size-guarded GET of one large file.

    Returns None on 304 (unchanged since ``ctx.etag``/``ctx.last_modified``), else (body, HTTP
    status of the last response — 206 when resumed, {"etag", "last_modified"}). The body is written
    to ``<folder>/<source>-<hash of url>.part`` as it arrives, with its validators beside it; an
    interrupted transfer is resumed (``Range`` + ``If-Range``, up to ``attempts`` responses here,
    and from the next run if all fail). A body over ``max_bytes`` is refused."""
    import requests

    from sources.http import FetchError, request

    folder = Path(folder or download_dir())
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{source_id}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
    part, meta_path = folder / f"{stem}.part", folder / f"{stem}.part.json"
    sess = session or requests.Session()

    def meta() -> dict:
        try:
            return json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def reset() -> None:
        part.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)

    status = None
    for attempt in range(1, attempts + 1):
        headers = {}
        if ctx.etag:
            headers["If-None-Match"] = ctx.etag
        if ctx.last_modified:
            headers["If-Modified-Since"] = ctx.last_modified
        have = part.stat().st_size if part.exists() else 0
        saved = meta()
        validator = saved.get("etag") or saved.get("last_modified")
        if have and validator:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = validator
        elif have:
            reset()
            have = 0
        try:
            resp = request(source_id, "GET", url, session=sess, headers=headers, stream=True)
        except FetchError as exc:
            if "HTTP 416" in str(exc) and have:      # the partial file does not fit the remote one
                log.warning("%s: partial download no longer matches, starting over", source_id)
                reset()
                continue
            raise
        with resp:
            if resp.status_code == 304:
                reset()
                return None
            validators = {"etag": resp.headers.get("ETag"),
                          "last_modified": resp.headers.get("Last-Modified")}
            if resp.status_code == 206:
                rng = _content_range(resp.headers.get("Content-Range"))
                if rng is None or rng[0] != have:
                    raise FetchError(f"{source_id}: {url}: HTTP 206 with an unexpected Content-Range")
                total = rng[1]
                validators = {k: v or saved.get(k) for k, v in validators.items()}
                mode = "ab"
            elif resp.status_code == 200:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                have, mode = 0, "wb"
            else:
                raise FetchError(f"{source_id}: {url}: unexpected HTTP {resp.status_code}")
            status = resp.status_code
            if total is not None and total > max_bytes:
                reset()
                raise FetchError(f"{source_id}: {url}: file is {total} bytes, above the limit of "
                                 f"{max_bytes} (refused)")
            meta_path.write_text(json.dumps(validators), encoding="utf-8")
            written = have
            try:
                with open(part, mode) as fh:
                    for buf in resp.iter_content(chunk):
                        written += len(buf)
                        if written > max_bytes:
                            raise OverflowError
                        fh.write(buf)
            except OverflowError:
                reset()
                raise FetchError(f"{source_id}: {url}: download exceeds the limit of {max_bytes} "
                                 f"bytes (refused)") from None
            except (requests.RequestException, OSError) as exc:
                log.warning("%s: %s: transfer interrupted after %d bytes (%s); resuming",
                            source_id, url, written, type(exc).__name__)
                continue
            if total is not None and written < total:
                log.warning("%s: %s: transfer ended at %d of %d bytes; resuming", source_id, url,
                            written, total)
                continue
        body = part.read_bytes()
        reset()
        return body, status, validators
    raise FetchError(f"{source_id}: {url}: download still incomplete after {attempts} attempts "
                     f"(the partial file is kept and resumed next time)")


def fetch(ctx: FetchContext, *, folder: Path | None = None) -> list[Fetched]:
    from sources import registry

    url = registry.get(SOURCE_ID).url
    return fetch_zip(SOURCE_ID, url, ctx, "bolagsverket_bulkfil.zip", ".txt", folder=folder)


def fetch_zip(source_id: str, url: str, ctx: FetchContext, default_name: str, suffix: str, *,
              folder: Path | None = None) -> list[Fetched]:
    """``download`` + the zip guards; one ``Fetched`` with the validators for the next run."""
    if ctx.base_url:
        url = ctx.base_url.rstrip("/") + urlsplit(url).path
    got = download(source_id, url, ctx, folder=folder)
    if got is None:
        return []
    body, status, validators = got
    if is_zip(body):
        check_zip(body, suffix)
    else:
        raise ParseError(f"{url}: the download is not a zip archive ({len(body)} bytes)")
    return [Fetched(data=body, ext="zip", url=url, http_status=status,
                    name=PurePosixPath(urlsplit(url).path).name or default_name,
                    extra=validators)]
