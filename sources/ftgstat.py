"""Bolagsverket's registration statistics ``ftgstat_oppna.csv``: organisations per municipality,
month, event and organisationsform (CC BY 2.5 SE, monthly, ≈ 400 000 rows, ≈ 60 MB).

What is known (notes/sources-se.md §4.5 and public code that reads the live file): latin-1; one
row per month × event × region (× ``regfam``, a registration family, when present) with one
count column per organisationsform (``AB`` … ``TPF``); ``handelse`` 1 = nyregistrerade,
2 = alla registrerade (the stock), 3 = avslutade; region columns ``SATELAN`` (county) and
``SATEKOMMUN``, name columns ``LANTEXT``/``KOMTEXT``; time as ``ar`` + ``manad`` and/or
``armanad`` (``YYYYMM``). Public readers disagree on the separator (one reads it with a ``,``
CSV reader, the issue says ``;``) and write county and kommun as unpadded numbers (``5`` and
``80`` for Linköping 0580). So this parser assumes and accepts:

- leading lines starting with ``#`` are comments (the bundled synthetic sample says so there);
- encoding: BOM → UTF-8, else UTF-8 if the whole file is UTF-8, else latin-1;
- separator: ``;``, ``,`` or tab, whichever occurs most in the header line; standard CSV quoting;
- column names case-insensitive; ``ar`` + ``manad``, else ``armanad``;
- ``SATEKOMMUN`` either the full 4-digit kommun code (``0580``), or the kommun part (1–2 digits,
  ``80`` or ``9``) completed with ``SATELAN`` padded to 2 digits (``5`` → ``05`` → ``0580``); a
  3-digit value is a 4-digit code that lost its leading zero (``580`` → ``0580``). Part ``0``/``00``
  gives ``<county>00`` — registered in the county, kommun unknown (kept; not a municipality in
  ``core.region``);
- count columns: every column named like a Bolagsverket organisationsform
  (``sources/reference/bolagsverket_forms.csv``); other columns (``regfamtext``, ``LANTEXT`` …) are
  ignored. An empty (or ``NA``) cell is *missing* and gives no row — not a zero;
- ``regfam`` is kept as ``registration_family`` (null when the file has none): sum over it to get
  one count per municipality × month × event × form.

Frame ``ftgstat_registration`` (tidy): ``year``, ``month``, ``event`` (``new`` | ``registered`` |
``closed``; an unknown code is kept as is and quarantined by the schema), ``municipality_code``,
``registration_family``, ``organisation_form``, ``count``, ``row_number`` (1-based data record;
the header is not counted; one record gives one row per form). A record whose year, month or a
count is not an integer is rejected at parse with row number and reason only.
"""
from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import polars as pl

from sources.base import Fetched, FetchContext, ParseError, shown
from sources.bolagsverket import decode, download

SOURCE_ID = "ftgstat"
EVENTS = {"1": "new", "2": "registered", "3": "closed"}
SCHEMA = {"year": pl.Int32, "month": pl.Int32, "event": pl.String, "municipality_code": pl.String,
          "registration_family": pl.String, "organisation_form": pl.String, "count": pl.Int64,
          "row_number": pl.Int64}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}


def _forms() -> set[str]:
    with (resources.files("sources") / "reference" / "bolagsverket_forms.csv").open(encoding="utf-8") as fh:
        return {r["organisationsform"].upper() for r in csv.DictReader(fh)}


def _separator(header: str) -> str:
    return max([";", ",", "\t"], key=header.count)


def _clean(name: str) -> pl.Expr:
    e = pl.col(name).str.strip_chars()
    return pl.when((e.str.len_chars() > 0) & (e.str.to_uppercase() != "NA")).then(e)


def _municipality(kommun: pl.Expr, county: pl.Expr) -> pl.Expr:
    digits_k = kommun.str.contains(r"^\d+$").fill_null(False)
    n = kommun.str.len_chars()
    county2 = pl.when(county.str.contains(r"^\d{1,2}$").fill_null(False)).then(county.str.zfill(2))
    return (pl.when(digits_k & (n == 4)).then(kommun)
            .when(digits_k & (n == 3)).then(kommun.str.zfill(4))
            .when(digits_k & (n <= 2)).then(pl.concat_str(county2, kommun.str.zfill(2)))
            .otherwise(kommun))


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    text = decode(data).lstrip("\ufeff")
    while text.startswith("#"):              # leading comment lines (our synthetic samples)
        text = text.split("\n", 1)[1] if "\n" in text else ""
    header = text.split("\n", 1)[0].strip("\r")
    if not header.strip():
        raise ParseError("file has no header line")
    sep = _separator(header)
    try:
        raw = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator=sep, infer_schema=False,
                          truncate_ragged_lines=False)
    except pl.exceptions.PolarsError as exc:
        raise ParseError(f"not a readable CSV ({type(exc).__name__})") from None
    del text
    cols = {c.strip().strip('"').lower(): c for c in raw.columns}
    forms = _forms()
    form_cols = [c for c in raw.columns if c.strip().strip('"').upper() in forms]
    needed = ["handelse", "satekommun"]
    missing = [c for c in needed if c not in cols]
    if not ({"ar", "manad"} <= set(cols) or "armanad" in cols):
        missing.append("ar+manad or armanad")
    if not form_cols:
        missing.append("one count column per organisationsform (AB, EK, …)")
    if missing:
        raise ParseError(f"missing column(s) {', '.join(missing)}; found {shown(', '.join(raw.columns))}")

    if {"ar", "manad"} <= set(cols):
        year_raw, month_raw = _clean(cols["ar"]), _clean(cols["manad"])
    else:
        ym = _clean(cols["armanad"])
        year_raw, month_raw = ym.str.slice(0, 4), ym.str.slice(4)
    county = _clean(cols["satelan"]) if "satelan" in cols else pl.lit(None, pl.String)
    fam = _clean(cols["regfam"]) if "regfam" in cols else pl.lit(None, pl.String)
    event = _clean(cols["handelse"])
    wide = raw.with_row_index("row_number", offset=1).select(
        pl.col("row_number").cast(pl.Int64),
        year_raw.cast(pl.Int32, strict=False).alias("year"),
        month_raw.cast(pl.Int32, strict=False).alias("month"),
        (year_raw.is_not_null() & year_raw.cast(pl.Int32, strict=False).is_null()).alias("_bad_year"),
        (month_raw.is_not_null() & month_raw.cast(pl.Int32, strict=False).is_null()).alias("_bad_month"),
        event.replace_strict(EVENTS, default=event).alias("event"),
        _municipality(_clean(cols["satekommun"]), county).alias("municipality_code"),
        fam.alias("registration_family"),
        *[_clean(c).alias(c.strip().strip('"').upper()) for c in form_cols],
    )
    del raw
    names = [c.strip().strip('"').upper() for c in form_cols]
    long = (wide.unpivot(on=names, index=[c for c in wide.columns if c not in names],
                         variable_name="organisation_form", value_name="_raw")
            .filter(pl.col("_raw").is_not_null())
            .with_columns(pl.col("_raw").cast(pl.Int64, strict=False).alias("count")))
    bad_count = (long.filter(pl.col("count").is_null())
                 .group_by("row_number", maintain_order=True)
                 .agg(pl.col("organisation_form").first().alias("_form")))
    reasons = (wide.join(bad_count, on="row_number", how="left")
               .select("row_number", pl.concat_str(
                   pl.when(pl.col("_bad_year")).then(pl.lit("year is not an integer")),
                   pl.when(pl.col("_bad_month")).then(pl.lit("month is not an integer")),
                   pl.when(pl.col("_form").is_not_null())
                   .then(pl.format("count for {} is not an integer", pl.col("_form"))),
                   separator="; ", ignore_nulls=True).alias("reason"))
               .filter(pl.col("reason").str.len_chars() > 0))
    out = (long.filter(~pl.col("row_number").is_in(reasons["row_number"].implode()))
           .select(list(SCHEMA)).cast(SCHEMA)  # type: ignore[arg-type]
           .sort("row_number", maintain_order=True))
    return {
        "ftgstat_registration": out,
        "ftgstat_rejected": reasons.cast(REJECTED_SCHEMA),  # type: ignore[arg-type]
    }


def fetch(ctx: FetchContext, *, folder: Path | None = None) -> list[Fetched]:
    """Conditional GET of the CSV (304 → nothing), streamed and size-guarded."""
    from urllib.parse import urlsplit

    from sources import registry

    url = registry.get(SOURCE_ID).url
    if ctx.base_url:
        url = ctx.base_url.rstrip("/") + urlsplit(url).path
    got = download(SOURCE_ID, url, ctx, folder=folder, max_bytes=512 * 1024 ** 2)
    if got is None:
        return []
    body, status, validators = got
    return [Fetched(data=body, ext="csv", url=url, http_status=status, name="ftgstat_oppna.csv",
                    extra=validators)]
