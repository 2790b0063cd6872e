"""SCB's company register bulk file (high-value dataset, published on Bolagsverket's portal): every
legal person with its juridisk form (JurForm) and primary industry (SNI), weekly.

Format (notes/sources-se.md §4.2): a zip holding one text file (inner name like
``scb_bulkfil_JE_20260629T055245_80.txt``, ≈ 1.8 M rows, ≈ 70 MB zipped); header row; **tab**-
separated; ISO-8859-1 (detected like Bolagsverket's file, ``sources.bulkfile``: a BOM → UTF-8, else
the first block that is not pure ASCII decides between UTF-8 and latin-1 — so the documented latin-1
is what a real file gets). Columns
``ForAndrTyp, COAdress, Foretagsnamn, FtgStat, Gatuadress, JEStat, JurForm, Namn, Ng1..Ng5,
PeOrgNr, PostNr, PostOrt, RegDatKtid, Reklamsparrtyp`` and then ``m``-prefixed copies. Columns are
found by name in the header (case-insensitive), so their order and the ``m`` copies do not matter;
a field wrapped in double quotes is unwrapped.

Assumptions (flagged in the notes): ``PeOrgNr`` is 12 digits, ``16`` + organisation number for
legal persons and century (``18``/``19``/``20``) + personnummer for natural persons; ``FtgStat``
``1`` = active; ``RegDatKtid`` is a date as ``YYYYMMDD`` or ``YYYY-MM-DD`` (anything else gives no
date, not a rejection); the meaning of ``JEStat``, ``ForAndrTyp`` and the ``m`` columns is not
documented and they are not read.

Frame ``scb_register_organisation``: ``org_number`` (10 digits; validity is the schema's job),
``name`` (``Foretagsnamn``, else ``Namn``), ``jurform`` (2 digits), ``sni`` (``Ng1``), ``active``,
``postcode``, ``postal_town``, ``registration_date``, ``row_number`` (1-based data line; the header
is line 0).

Privacy (DESIGN §8): natural persons — ``PeOrgNr`` with century 18/19/20, a third digit 0/1 in its
10-digit part, or ``JurForm`` 10/00; on a line with the wrong number of fields, any field that
looks like a personal number — are removed in ``parse`` before any other column is read, and
only counted (frame ``scb_register_sole_traders``, column ``count``). Malformed lines are returned
as (row number, reason) only.

Streaming exactly like ``sources.bolagsverket`` (``sources.bulkfile``: same zip guards, encoding
detection and pieces; ``parse_blocks`` for ingest, ``parse`` for small files).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from sources import bulkfile
from sources.base import Fetched, FetchContext, ParseError
from sources.bolagsverket import digits_of_expr, fetch_zip, is_personal_expr
from sources.bulkfile import CHUNK_BYTES

SOURCE_ID = "scb-register"
REQUIRED = ["PeOrgNr", "Foretagsnamn", "Namn", "JurForm", "FtgStat", "Ng1", "PostNr", "PostOrt",
            "RegDatKtid"]
ORGANISATION_SCHEMA = {
    "org_number": pl.String, "name": pl.String, "jurform": pl.String, "sni": pl.String,
    "active": pl.Boolean, "postcode": pl.String, "postal_town": pl.String,
    "registration_date": pl.Date, "row_number": pl.Int64,
}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}
NATURAL_PERSON_FORMS = ["10", "00"]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def _columns(header: str) -> tuple[dict[str, int], int]:
    names = [_unquote(h) for h in header.split("\t")]
    lower = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    missing = [c for c in REQUIRED if c.lower() not in lower]
    if missing:
        raise ParseError(f"header lacks column(s) {', '.join(missing)} (not SCB's bulk file, or "
                         f"the format changed); found {len(names)} columns")
    return {c: lower[c.lower()] for c in REQUIRED}, len(names)


def _text(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars().str.strip_prefix('"').str.strip_suffix('"').str.strip_chars()
    return pl.when(e.str.len_chars() > 0).then(e)


def _parse_lines(lines: pl.DataFrame, pos: dict[str, int], n_fields: int
                 ) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    df = lines.select("row_number", pl.col("line").str.split("\t").alias("f")).with_columns(
        pl.col("f").list.len().alias("n"))
    del lines

    def f(col: str) -> pl.Expr:
        return _text(pl.col("f").list.get(pos[col], null_on_oob=True))

    # --- privacy first: drop natural persons before anything else reads the row ---
    pe = f("PeOrgNr")
    person = (is_personal_expr(pe.fill_null(""))
              | f("JurForm").is_in(NATURAL_PERSON_FORMS).fill_null(False)
              # a malformed line: its columns cannot be trusted, so any field that looks like a
              # personal number makes it a natural person's
              | ((pl.col("n") != n_fields)
                 & pl.col("f").list.eval(is_personal_expr(_text(pl.element()).fill_null(""))).list.any()))
    df = df.with_columns(person.alias("_person"))
    persons = int(df["_person"].sum())
    df = df.filter(~pl.col("_person")).drop("_person")

    rejected = df.filter(pl.col("n") != n_fields).select(
        "row_number",
        pl.format("expected {} fields, found {}", pl.lit(n_fields), pl.col("n")).alias("reason"))
    df = df.filter(pl.col("n") == n_fields)
    reg = f("RegDatKtid").str.replace_all("-", "").str.slice(0, 8)
    out = df.select(
        pl.coalesce(digits_of_expr(pe), pe).alias("org_number"),
        pl.coalesce(f("Foretagsnamn"), f("Namn")).alias("name"),
        f("JurForm").alias("jurform"),
        f("Ng1").alias("sni"),
        (f("FtgStat") == "1").fill_null(False).alias("active"),
        f("PostNr").str.replace_all(" ", "").alias("postcode"),
        f("PostOrt").alias("postal_town"),
        reg.str.to_date("%Y%m%d", strict=False).alias("registration_date"),
        "row_number",
    ).cast(ORGANISATION_SCHEMA)  # type: ignore[arg-type]
    return out, rejected.cast(REJECTED_SCHEMA), persons  # type: ignore[arg-type]


def parse_blocks(source: bytes | Path, name: str, *, block: int = CHUNK_BYTES
                 ) -> Iterator[dict[str, pl.DataFrame]]:
    """The zip as downloaded, or the text inside it (bytes, or a path read as a stream), as staging
    frames one block at a time; the last dict holds the count of natural persons removed."""
    text = bulkfile.Text(source, name, ".txt", block)
    layout = None

    def header(first: str) -> bool:
        nonlocal layout
        if not first.strip():
            raise ParseError("file has no header line")
        layout = _columns(first)
        return True

    def parse_piece(piece: bulkfile.Piece) -> tuple[dict[str, pl.DataFrame], int, int]:
        lines = text.read(piece, bulkfile.lines_frame).select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row_number"), "line")
        n_lines = lines.height
        lines = lines.filter(pl.col("line").str.strip_chars().str.len_chars() > 0)
        org, rej, n = _parse_lines(lines, *layout)
        return {"scb_register_organisation": org, "scb_register_rejected": rej}, n, n_lines

    persons = 0
    for frames, n in bulkfile.parsed_pieces(text, header, parse_piece):
        persons += n
        yield frames
    yield {"scb_register_organisation": pl.DataFrame(schema=ORGANISATION_SCHEMA),
           "scb_register_rejected": pl.DataFrame(schema=REJECTED_SCHEMA),
           "scb_register_sole_traders": pl.DataFrame({"count": [persons]}, schema={"count": pl.Int64})}


def parse(data: bytes, name: str, *, block: int = CHUNK_BYTES) -> dict[str, pl.DataFrame]:
    """The zip as downloaded, or the text inside it, to staging frames (streamed)."""
    return bulkfile.concat_blocks(parse_blocks(data, name, block=block))


def fetch(ctx: FetchContext, *, folder: Path | None = None) -> list[Fetched]:
    """Conditional, resumable, size- and ratio-guarded download (``bolagsverket.download``)."""
    from sources import registry

    return fetch_zip(SOURCE_ID, registry.get(SOURCE_ID).url, ctx, "scb_bulkfil.zip", ".txt",
                     folder=folder)
