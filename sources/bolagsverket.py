"""Bolagsverket's bulk file (high-value dataset): every registered organisation, weekly.

Format (notes/sources-se.md §4.1): a zip holding one ``bolagsverket_bulkfil.txt`` (≈ 1 GB of text,
≈ 3 M lines); header row; ``;``-separated; every field double-quoted; UTF-8 with BOM (one source
says latin-1, so it is detected: ``sources.bulkfile``). Quoted fields may hold unescaped ``"``, so a
line is never given to a CSV parser's quote handling. Stray NUL bytes are removed; the literal
``null`` in a date means no date. Several columns pack parts with ``$`` and ``|`` (see
``_parse_fields``).

Splitting, exactly and fast: polars splits each piece of text on ``;`` with no quoting. A line whose
11 pieces each start and end with ``"`` (and has no 12th) splits the same way on the exact separator
``";"`` — its only ``;`` are the ten between fields — so its fields are the pieces without their
outer quotes. Every other line (a ``;`` inside a field, too few or too many fields, blank) is split
like before: outer quotes stripped, then split on ``";"``.

Streaming: ``parse_blocks`` yields the frames of one piece of text at a time (``CHUNK_BYTES`` of the
zip member or the file, read from disk when given a path), so ingest validates and lands block by
block and memory stays at one block's working set; ``parse`` concatenates them (tests, small files).

Privacy (DESIGN §8): sole traders — identity type ``PERSON-IDORG``, organisationsform ``E`` or an
identity that is a personal number — are dropped before anything else looks at the row, and only
counted (vectorised equivalents of ``orgnr.digits_of`` and ``orgnr.is_personal_number``, pinned
against them in the tests). Nothing here logs row content. A line with the wrong number of fields is
returned as (row number, reason) only, never with its content.

``row_number`` is the 1-based data line number: the line after the header is 1 (header-less input:
the first line is 1). Empty lines keep their number but produce no row.

Fetch: conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last load's validators;
304 → nothing new), the body streamed to a partial file that a later attempt resumes with ``Range``
+ ``If-Range`` (206; a 200 restarts it), a size guard (``MAX_DOWNLOAD``) and the zip guards
(member names, compression ratio) before the bytes become a snapshot.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import polars as pl

from sources import bulkfile
from sources.base import Fetched, FetchContext, ParseError, refuse_utf16, shown
from sources.bulkfile import CHUNK_BYTES, check_zip, is_zip

SOURCE_ID = "bolagsverket"
HEADER = ["organisationsidentitet", "namnskyddslopnummer", "registreringsland", "organisationsnamn",
          "organisationsform", "avregistreringsdatum", "avregistreringsorsak",
          "pagandeAvvecklingsEllerOmstruktureringsforfarande", "registreringsdatum",
          "verksamhetsbeskrivning", "postadress"]
N_FIELDS = len(HEADER)
MAX_DOWNLOAD = 2 * 1024 ** 3
_BOM = bulkfile.BOM
log = logging.getLogger(__name__)

ORGANISATION_SCHEMA = {
    "org_number": pl.String, "registration_seq": pl.Int32, "name": pl.String,
    "name_count": pl.Int32, "organisation_form": pl.String, "registration_date": pl.Date,
    "deregistration_date": pl.Date, "deregistration_reason": pl.String, "proceedings": pl.String,
    "description": pl.String, "postal_town": pl.String, "postcode": pl.String,
    "row_number": pl.Int64,
}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}
TABLES = ("bolagsverket_organisation", "bolagsverket_rejected", "bolagsverket_sole_traders")


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


# --- parse -------------------------------------------------------------------------------------

def _blank_to_null(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars()
    return pl.when(e.str.len_bytes() > 0).then(e).otherwise(None)


def _not_a_date(stripped: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """A value is present but is not a date (``parsed``: the first ten characters read as an ISO
    date, null if they are not one). Blank and the literal ``null`` mean no date."""
    given = (stripped.str.len_bytes() > 0) & ~stripped.str.contains("^(?i:null)$")
    return given.fill_null(False) & parsed.is_null()


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
_MAIN_SUFFIX = "$FORETAGSNAMN-ORGNAM"      # the usual type, taken off before any other
_USUAL_IDENTITY = r"^[0-9]{10}(?:[0-9]{2})?\$[A-Z-]*$"


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


def _parse_fields(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """One block of split lines (``row_number``, ``n``, ``f0`` … ``f10``) → (organisations,
    rejected, number of sole traders removed).

    Most rows hold one name and no proceedings: those two columns are computed without lists for
    every row, then the rows with a ``|`` list (name) or any proceedings are recomputed with the
    list expressions and patched in (same result as the list expressions on every row)."""
    # --- privacy first: drop sole traders before anything else reads the row ---
    # The usual identity, ten or twelve digits and a type ("5560000000$ORGNR-IDORG"), is cut at
    # its "$" (it has no spaces, letters or dashes to remove); any other form goes through the
    # vectorised ``orgnr.digits_of`` and is patched in.
    usual = df.select(pl.col("f0").str.contains(_USUAL_IDENTITY).fill_null(False)).to_series()
    cut = pl.col("f0").str.find("$", literal=True)
    df = df.with_columns(pl.col("f0").str.head(cut).alias("_id"),
                         pl.col("f0").str.slice(cut + 1).alias("_id_type"))
    df = df.with_columns(pl.col("_id").alias("_digits"),
                         _digits_of(pl.col("_id"), pl.col("_id")).alias("_digits_of"))
    if not usual.all():
        other = ~usual
        ident = pl.col("f0").str.split_exact("$", 1)
        text = ident.struct.field("field_0").str.strip_chars().str.to_uppercase()
        digits = text.str.replace_all(r"\D+", "")
        df = _patch(df, other, df.select("f0").filter(other).select(
            ident.struct.field("field_0").alias("_id"),
            ident.struct.field("field_1").str.strip_chars().alias("_id_type"),
            digits.alias("_digits"), _digits_of(text, digits).alias("_digits_of")))
    sole = ((pl.col("_id_type") == "PERSON-IDORG").fill_null(False)
            | (pl.col("f4").str.strip_chars() == "E-ORGFO").fill_null(False)
            | _is_personal(pl.col("_digits"), pl.col("_digits_of")))
    keep = df.select(~sole).to_series()
    sole_count = len(keep) - int(keep.sum())
    df = df.filter(keep).drop("_id_type", "_digits")

    rejected = [df.select("row_number", "n").filter(pl.col("n") != N_FIELDS).select(
        "row_number",
        pl.format("expected {} fields, found {}", pl.lit(N_FIELDS), pl.col("n")).alias("reason"))]
    df = df.filter(pl.col("n") == N_FIELDS)

    def f(i: int) -> pl.Expr:
        return pl.col(f"f{i}")

    def c(name: str) -> pl.Expr:
        return pl.col(name)

    def present(e: pl.Expr) -> pl.Expr:        # a stripped value, blank → null
        return pl.when(e.str.len_bytes() > 0).then(e)

    # In stages, so that every intermediate value is computed once (an eager select does not
    # share common subexpressions): the fields stripped and the address cut into its parts ...
    df = df.with_columns(
        f(1).str.strip_chars().alias("_seq_raw"), f(3).str.strip_chars().alias("_name"),
        f(5).str.strip_chars().alias("_dereg_raw"), f(8).str.strip_chars().alias("_reg_raw"),
        f(10).str.split_exact("$", 3).alias("_addr"))
    # ... then parsed ...
    df = df.with_columns(
        present(c("_seq_raw")).cast(pl.Int32, strict=False).alias("_seq"),
        c("_reg_raw").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("_reg"),
        c("_dereg_raw").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("_dereg"),
        f(3).str.strip_suffix(_MAIN_SUFFIX).str.strip_chars().str.replace(_NAME_TYPE, "").str.strip_chars()
        .alias("_main_name"),
        c("_addr").struct.field("field_2").str.strip_chars().alias("_p2"),
        c("_addr").struct.field("field_3").str.strip_chars().alias("_p3"))
    df = df.with_columns(
        present(c("_p2")).alias("_p2"), present(c("_p3")).alias("_p3"),
        pl.concat_str(
            pl.when((c("_seq_raw").str.len_bytes() > 0) & c("_seq").is_null())
            .then(pl.lit("namnskyddslopnummer is not an integer")),
            pl.when(_not_a_date(c("_reg_raw"), c("_reg"))).then(pl.lit("registreringsdatum is not a date")),
            pl.when(_not_a_date(c("_dereg_raw"), c("_dereg"))).then(pl.lit("avregistreringsdatum is not a date")),
            separator="; ", ignore_nulls=True).alias("_bad"))
    # ... then the postcode: five digits, in the fourth part or (swapped) the third
    df = df.with_columns(c("_p2").str.replace_all(" ", "", literal=True).alias("_p2n"),
                         c("_p3").str.replace_all(" ", "", literal=True).alias("_p3n"))
    df = df.with_columns(c("_p2n").str.contains(r"^[0-9]{5}$").fill_null(False).alias("_p2_code"),
                         c("_p3n").str.contains(r"^[0-9]{5}$").fill_null(False).alias("_p3_code"))

    # one name, no proceedings: the common case, without lists (rows with a list are patched below)
    out = df.lazy().select(
        pl.coalesce(c("_digits_of"), c("_id").str.strip_chars()).alias("org_number"),
        c("_seq").alias("registration_seq"),
        present(c("_main_name")).alias("name"),
        (c("_name") != "").cast(pl.Int32).alias("name_count"),
        _blank_to_null(f(4).str.strip_suffix("-ORGFO")).alias("organisation_form"),
        c("_reg").alias("registration_date"),
        c("_dereg").alias("deregistration_date"),
        _blank_to_null(f(6).str.strip_suffix("-AVORG")).alias("deregistration_reason"),
        pl.lit(None, pl.String).alias("proceedings"),
        _blank_to_null(f(9)).alias("description"),
        pl.when(c("_p2_code") & ~c("_p3_code")).then(c("_p3")).otherwise(c("_p2")).alias("postal_town"),
        pl.when(c("_p3_code")).then(c("_p3n")).when(c("_p2_code")).then(c("_p2n")).otherwise(c("_p3"))
        .alias("postcode"),
        c("row_number"),
        c("_bad"),
    ).collect()
    # the rest: several names, or proceedings (a blank proceedings field gives null either way)
    many = df.select(f(3).str.contains("|", literal=True)).to_series()
    if many.any():
        list_name, list_count = _names(f(3))
        out = _patch(out, many, df.select("f3").filter(many).select(
            _blank_to_null(list_name).alias("name"), list_count.alias("name_count")))
    procs = df.select(f(7).str.strip_chars() != "").to_series()
    if procs.any():
        out = _patch(out, procs, df.select("f7").filter(procs).select(_blank_to_null(_proceedings(f(7))).alias("proceedings")))
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

def _fields(data: bytes) -> tuple[pl.DataFrame, int]:
    """(``row_number``, ``n`` (number of fields) and ``f0`` … ``f10`` of every non-blank line of a
    piece; the number of lines in it). See the module doc: the fast split, and the exact one for
    the lines it cannot take."""
    pieces = bulkfile.fields_frame(data, ";", N_FIELDS)
    n_lines = pieces.height
    row = pl.int_range(pl.len(), dtype=pl.Int64).alias("row_number")
    quoted = [pl.col(f"c{i}").str.starts_with('"') & pl.col(f"c{i}").str.ends_with('"')
              & (pl.col(f"c{i}").str.len_bytes() >= 2) for i in range(N_FIELDS)]
    clean = pieces.select((pl.all_horizontal(quoted) & pl.col(f"c{N_FIELDS}").is_null())
                          .fill_null(False)).to_series()
    all_clean = bool(clean.all())
    fast = (pieces.with_columns(row) if all_clean else pieces.with_columns(row).filter(clean)).select(
        "row_number", pl.lit(N_FIELDS, pl.UInt32).alias("n"),
        *[pl.col(f"c{i}").str.head(-1).str.tail(-1).alias(f"f{i}")      # the outer quotes off
          for i in range(N_FIELDS)])
    del pieces
    if all_clean:
        return fast, n_lines
    lines = bulkfile.lines_frame(data).with_columns(row).filter(~clean)
    lines = lines.filter(pl.col("line").str.strip_chars().str.len_chars() > 0)
    return pl.concat([fast, _split_fields(lines)]).sort("row_number"), n_lines


def parse_blocks(source: bytes | Path, name: str, *, block: int = CHUNK_BYTES
                 ) -> Iterator[dict[str, pl.DataFrame]]:
    """The zip as downloaded, or the .txt inside it (bytes, or a path read as a stream), as staging
    frames one block at a time; the last dict holds the sole-trader count (and empty frames of the
    other tables, so that every table is seen even in a header-only file). Pieces are split
    ``bulkfile.PARSE_THREADS`` at a time (``bulkfile.parsed_pieces``)."""
    text = bulkfile.Text(source, name, ".txt", block)

    def header(first: str) -> bool:                 # the file's first line: header or data?
        if first.strip() and "-IDORG" not in first:
            _check_header(first)
            return True
        return False

    def parse_piece(piece: bulkfile.Piece) -> tuple[dict[str, pl.DataFrame], int, int]:
        fields, n_lines = text.read(piece, _fields)
        org, rej, n = _parse_fields(fields)
        return {"bolagsverket_organisation": org, "bolagsverket_rejected": rej}, n, n_lines

    sole = 0
    for frames, n in bulkfile.parsed_pieces(text, header, parse_piece):
        sole += n
        yield frames
    yield {"bolagsverket_organisation": pl.DataFrame(schema=ORGANISATION_SCHEMA),
           "bolagsverket_rejected": pl.DataFrame(schema=REJECTED_SCHEMA),
           "bolagsverket_sole_traders": pl.DataFrame({"count": [sole]}, schema={"count": pl.Int64})}


def parse(data: bytes, name: str, *, block: int = CHUNK_BYTES) -> dict[str, pl.DataFrame]:
    """The zip as downloaded, or the .txt inside it, to staging frames (streamed, see module doc)."""
    return bulkfile.concat_blocks(parse_blocks(data, name, block=block))


def parse_text(text: str) -> dict[str, pl.DataFrame]:
    """Already-decoded text (tests, small inputs)."""
    return parse(text.encode("utf-8"), "text.txt")


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
