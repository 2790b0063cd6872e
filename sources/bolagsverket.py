"""Bolagsverket's bulk file (high-value dataset): every registered organisation, weekly.

Format (notes/sources-se.md §4.1): a zip holding one ``bolagsverket_bulkfil.txt``; header row;
``;``-separated; every field double-quoted; UTF-8 with BOM (one source says latin-1, so: BOM →
utf-8-sig, else strict UTF-8, else latin-1). Quoted fields may hold unescaped ``"``, so a line is
split on the exact separator ``";"`` after stripping its outer quotes — no CSV parser. Stray NUL
bytes are removed; the literal ``null`` in a date means no date. Several columns pack parts with
``$`` and ``|`` (see ``parse``).

Privacy (DESIGN §8): sole traders — identity type ``PERSON-IDORG``, organisationsform ``E`` or an
identity that is a personal number — are dropped inside ``parse`` before anything else looks at
the row, and only counted (vectorised equivalents of ``orgnr.digits_of`` and
``orgnr.is_personal_number``, pinned against them in the tests). Nothing here logs row content. A line with the wrong number of fields
is returned as (row number, reason) only, never with its content.

``row_number`` is the 1-based data line number: the line after the header is 1 (header-less input:
the first line is 1). Empty lines keep their number but produce no row.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

import polars as pl

from sources.base import Fetched, FetchContext, ParseError

SOURCE_ID = "bolagsverket"
N_FIELDS = 11
MAX_RATIO = 200
MAX_MEMBER = 4 * 1024 ** 3
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_BOM = b"\xef\xbb\xbf"

ORGANISATION_SCHEMA = {
    "org_number": pl.String, "registration_seq": pl.Int32, "name": pl.String,
    "name_count": pl.Int32, "organisation_form": pl.String, "registration_date": pl.Date,
    "deregistration_date": pl.Date, "deregistration_reason": pl.String, "proceedings": pl.String,
    "description": pl.String, "postal_town": pl.String, "postcode": pl.String,
    "row_number": pl.Int64,
}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}


# --- bytes → text ------------------------------------------------------------------------------

def _unsafe_name(name: str) -> bool:
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


def unzip_single(data: bytes, suffix: str = ".txt") -> tuple[str, bytes]:
    """The one ``suffix`` member of a zip, after the zip-slip and zip-bomb guards."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(f"not a readable zip archive (truncated or corrupt): {exc}") from None
    with zf:
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
        info = wanted[0]
        try:
            with zf.open(info) as fh:
                body = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ParseError(f"zip member {info.filename!r} cannot be read (truncated or corrupt): "
                             f"{type(exc).__name__}") from None
        if len(body) > info.file_size:
            raise ParseError(f"zip member {info.filename!r} is larger than its header says")
        return info.filename, body


def decode(data: bytes) -> str:
    """BOM → utf-8-sig; else strict UTF-8; else latin-1. NUL bytes are removed first."""
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


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


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


def digits_of_expr(e: pl.Expr) -> pl.Expr:
    """Vectorised ``orgnr.digits_of`` (pinned against it in the tests)."""
    text = e.str.strip_chars().str.to_uppercase()
    digits = text.str.replace_all(r"\D", "")
    n = digits.str.len_chars()
    return (pl.when(text.str.starts_with("SE"))
            .then(pl.when((n == 12) & digits.str.ends_with("01")).then(digits.str.slice(0, 10)))
            .when((n == 12) & digits.str.slice(0, 2).is_in(["16", "18", "19", "20"]))
            .then(digits.str.slice(2))
            .when(n == 10).then(digits))


def is_personal_expr(e: pl.Expr) -> pl.Expr:
    """Vectorised ``orgnr.is_personal_number`` (pinned against it in the tests); never null."""
    digits = e.str.replace_all(r"\D", "")
    century = (digits.str.len_chars() == 12) & digits.str.slice(0, 2).is_in(["18", "19", "20"])
    month = digits_of_expr(e).str.slice(2, 1).is_in(["0", "1"])
    return (century.fill_null(False) | month.fill_null(False))


def _org_number(e: pl.Expr) -> pl.Expr:
    # normalise the shape only (556000-0000 → 5560000000); validity is the schema's job
    return pl.coalesce(digits_of_expr(e), e.str.strip_chars())


_NAME_TYPE = r"\$[A-Z_]+-ORGNAM(\$[^$]*)?$"
_MAIN_NAME = r"\$(FORETAGSNAMN|NAMN)-ORGNAM(\$[^$]*)?$"


def parse_text(text: str) -> dict[str, pl.DataFrame]:
    lines = pl.DataFrame({"line": [text]}).select(pl.col("line").str.split("\n")).explode("line")
    lines = lines.with_row_index("idx").with_columns(
        pl.col("line").str.strip_chars_end("\r").alias("line"))
    first = lines["line"][0] if lines.height else ""
    has_header = bool(first.strip()) and "-IDORG" not in first
    if has_header:
        n_header = len(first.strip().removeprefix('"').removesuffix('"').split('";"'))
        if n_header != N_FIELDS:
            raise ParseError(f"header has {n_header} columns, expected {N_FIELDS} (format changed?)")
        lines = lines.filter(pl.col("idx") > 0).with_columns(
            pl.col("idx").cast(pl.Int64).alias("row_number"))
    else:
        lines = lines.with_columns((pl.col("idx").cast(pl.Int64) + 1).alias("row_number"))
    lines = lines.filter(pl.col("line").str.strip_chars().str.len_chars() > 0)

    df = lines.select(
        "row_number",
        pl.col("line").str.strip_prefix('"').str.strip_suffix('"').str.split('";"').alias("f"),
    ).with_columns(pl.col("f").list.len().alias("n"))

    # --- privacy first: drop sole traders before anything else reads the row ---
    ident = pl.col("f").list.get(0, null_on_oob=True)
    id_value = ident.str.split("$").list.get(0, null_on_oob=True)
    id_type = ident.str.split("$").list.get(1, null_on_oob=True).str.strip_chars()
    form_raw = pl.col("f").list.get(4, null_on_oob=True).str.strip_chars()
    sole = ((id_type == "PERSON-IDORG").fill_null(False)
            | (form_raw == "E-ORGFO").fill_null(False)
            | is_personal_expr(id_value))
    df = df.with_columns(sole.alias("_sole"))
    sole_count = int(df["_sole"].sum())
    df = df.filter(~pl.col("_sole")).drop("_sole")

    rejected = [df.filter(pl.col("n") != N_FIELDS).select(
        "row_number",
        pl.format("expected {} fields, found {}", pl.lit(N_FIELDS), pl.col("n")).alias("reason"))]
    df = df.filter(pl.col("n") == N_FIELDS)

    def f(i: int) -> pl.Expr:
        return pl.col("f").list.get(i)

    reg_date, bad_reg = _date(f(8))
    dereg_date, bad_dereg = _date(f(5))
    seq_raw = _blank_to_null(f(1))
    seq = seq_raw.cast(pl.Int32, strict=False)

    names = f(3).str.split("|").list.eval(pl.element().filter(pl.element().str.strip_chars() != ""))
    main = names.list.eval(pl.element().filter(pl.element().str.contains(_MAIN_NAME)).first())
    name = pl.coalesce(main.list.first(), names.list.first()).str.replace(_NAME_TYPE, "")

    proc = (f(7).str.split("|")
            .list.eval(pl.element().filter(pl.element().str.strip_chars() != "")
                       .str.replace(r"-AVSLAVOMFO\$", "-AVSL:")
                       .str.replace(r"-AVOMFO\$", ":")
                       .str.replace_all(r"\$", ":"))
            .list.join("|"))

    addr = f(10).str.split("$")
    p2 = _blank_to_null(addr.list.get(2, null_on_oob=True))
    p3 = _blank_to_null(addr.list.get(3, null_on_oob=True))
    p2n, p3n = p2.str.replace_all(" ", ""), p3.str.replace_all(" ", "")
    p3_is_code = p3n.str.contains(r"^\d{5}$").fill_null(False)
    p2_is_code = p2n.str.contains(r"^\d{5}$").fill_null(False)
    postcode = pl.when(p3_is_code).then(p3n).when(p2_is_code).then(p2n).otherwise(p3)
    town = pl.when(p3_is_code).then(p2).when(p2_is_code).then(p3).otherwise(p2)

    out = df.select(
        _org_number(f(0).str.split("$").list.get(0)).alias("org_number"),
        seq.alias("registration_seq"),
        _blank_to_null(name).alias("name"),
        names.list.len().cast(pl.Int32).alias("name_count"),
        _blank_to_null(f(4).str.replace(r"-ORGFO$", "")).alias("organisation_form"),
        reg_date.alias("registration_date"),
        dereg_date.alias("deregistration_date"),
        _blank_to_null(f(6).str.replace(r"-AVORG$", "")).alias("deregistration_reason"),
        _blank_to_null(proc).alias("proceedings"),
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
    bad = pl.col("_bad").str.len_chars() > 0
    rejected.append(out.filter(bad).select("row_number", pl.col("_bad").alias("reason")))
    out = out.filter(~bad).drop("_bad").cast(ORGANISATION_SCHEMA)  # type: ignore[arg-type]
    rej = (pl.concat(rejected).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
           .sort("row_number"))
    return {
        "bolagsverket_organisation": out.select(list(ORGANISATION_SCHEMA)),
        "bolagsverket_sole_traders": pl.DataFrame({"count": [sole_count]},
                                                  schema={"count": pl.Int64}),
        "bolagsverket_rejected": rej,
    }


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    """The zip as downloaded, or the .txt inside it, to staging frames."""
    if is_zip(data):
        _, data = unzip_single(data, ".txt")
    elif name.lower().endswith(".zip"):
        raise ParseError("file is named .zip but is not a zip archive (truncated download?)")
    return parse_text(decode(data))


# --- fetch -------------------------------------------------------------------------------------

def fetch(ctx: FetchContext) -> list[Fetched]:
    from sources import registry
    from sources.http import request

    url = registry.get(SOURCE_ID).url
    if ctx.base_url:
        parts = urlsplit(url)
        url = ctx.base_url.rstrip("/") + parts.path
    headers = {}
    if ctx.etag:
        headers["If-None-Match"] = ctx.etag
    if ctx.last_modified:
        headers["If-Modified-Since"] = ctx.last_modified
    resp = request(SOURCE_ID, "GET", url, headers=headers, stream=False)
    if resp.status_code == 304:
        return []
    return [Fetched(data=resp.content, ext="zip", url=url, http_status=resp.status_code,
                    name=PurePosixPath(urlsplit(url).path).name or "bolagsverket_bulkfil.zip",
                    extra={"etag": resp.headers.get("ETag"),
                           "last_modified": resp.headers.get("Last-Modified")})]
