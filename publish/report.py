"""The stakeholder report: a dated edition under ``report/editions/<date>/`` and the latest at
``report/index.html``, built from the published warehouse's ``marts`` (and ``core.region`` names).

Swedish by default (SCB conventions: ``12,3 %``, space as thousands separator, ``..`` for missing
or suppressed), English with ``lang="en"``.
"""
from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
from great_tables import GT, html as gt_html

from warehouse.db import published_path

TEXT = {
    "sv": {
        "title": "Gemensamma krafter — social upphandling, samverkan och arbetsmarknad",
        "county": "Län", "edition": "Utgåva", "built": "Datan byggd", "demo": "Demodata: byggd från syntetiska exempel, inte verkliga siffror.",
        "overview": "Översikt: kommunerna i {county}", "region": "Område", "period": "Period",
        "themes": {"social_procurement": "Social upphandling", "sector_collaboration": "Samverkan mellan sektorer",
                   "social_economy": "Social ekonomi", "labour_market": "Arbetsmarknad"},
        "value": "Värde", "n": "Antal (n)", "coverage": "Täckning", "status": "Status",
        "source": "Källa", "definition": "Definition", "caveat": "Förbehåll", "missing": "..",
        "no_data": "Inga värden ännu för detta tema.", "trend": "Utveckling",
        "causality": "Tabellerna om arbetsmarknad och upphandling ska inte läsas som orsak och verkan.",
        "legend": "Teckenförklaring: .. = uppgift saknas eller är för osäker (för få underlag) för att redovisas.",
    },
    "en": {
        "title": "Joint forces — social procurement, collaboration and the labour market",
        "county": "County", "edition": "Edition", "built": "Data built", "demo": "Demo data: built from synthetic samples, not real figures.",
        "overview": "Overview: the municipalities of {county}", "region": "Area", "period": "Period",
        "themes": {"social_procurement": "Social procurement", "sector_collaboration": "Cross-sector collaboration",
                   "social_economy": "Social economy", "labour_market": "Labour market"},
        "value": "Value", "n": "Records (n)", "coverage": "Coverage", "status": "Status",
        "source": "Source", "definition": "Definition", "caveat": "Caveat", "missing": "..",
        "no_data": "No values yet for this theme.", "trend": "Trend",
        "causality": "Do not read the labour-market and procurement tables as cause and effect.",
        "legend": "Legend: .. = missing, or too uncertain (too few records) to publish.",
    },
}
LOCALE = {"sv": "sv", "en": "en"}
STATUS = {"sv": {"final": "slutlig", "preliminary": "preliminär", "suppressed": "för få underlag / saknas",
                 "break": "tidsseriebrott"},
          "en": {"final": "final", "preliminary": "preliminary", "suppressed": "too few records / missing",
                 "break": "series break"}}
SOURCE_NAMES = {"pxweb": "SCB, BAS (PxWebApi)", "ted": "TED (EU:s publikationsbyrå)", "bolagsverket": "Bolagsverket",
                "scb-register": "SCB företagsregister", "ideburen": "Kammarkollegiet", "wise": "egen lista (ASF)",
                "kolada": "Kolada (RKA)", "af": "Arbetsförmedlingen", "iop": "egen lista (IOP)"}


@dataclass
class ReportResult:
    edition: str
    edition_dir: Path
    index: Path
    tables: list[str]
    demo: bool


def _read(con, sql: str, params=None) -> pl.DataFrame:
    return con.sql(sql, params=params).pl() if params is None else pl.from_arrow(
        con.execute(sql, params).to_arrow_table())


def load_marts(home: Path) -> dict:
    con = duckdb.connect(str(published_path(home)), read_only=True)
    try:
        values = con.sql("SELECT v.*, r.name AS region_name, r.level, r.county_code FROM marts.indicator_value v "
                         "LEFT JOIN core.region r USING (region_code)").pl()
        catalogue = con.sql("SELECT * FROM marts.indicator").pl()
        info = con.sql("SELECT * FROM meta.warehouse_info").pl().row(0, named=True)
        regions = con.sql("SELECT * FROM core.region").pl()
    finally:
        con.close()
    return {"values": values, "catalogue": catalogue, "info": info, "regions": regions}


def _fmt(gt: GT, lang: str, columns: list[str], unit: str = "percent") -> GT:
    loc = LOCALE[lang]
    if not columns:
        return gt
    if unit == "percent":
        gt = gt.fmt_number(columns=columns, decimals=1, locale=loc, pattern="{x} %")
    else:
        gt = gt.fmt_integer(columns=columns, locale=loc)
    return gt.sub_missing(columns=columns, missing_text="..")


def _latest_period(values: pl.DataFrame, indicator: str) -> str | None:
    sub = values.filter((pl.col("indicator_id") == indicator) & pl.col("value").is_not_null())
    return sub.get_column("period").max() if sub.height else None


def overview_table(m: dict, county: str, lang: str) -> tuple[GT, pl.DataFrame]:
    t = TEXT[lang]
    cat = m["catalogue"]
    values = m["values"]
    headline = ["lm_unemployment_rate", "lm_youth_unemployment_rate", "lm_employment_rate",
                "sp_reserved_share", "sc_ideburen_award_share_lots"]
    regions = m["regions"].filter((pl.col("county_code") == county) | (pl.col("region_code").is_in([county, "00"])))
    order = regions.with_columns(pl.when(pl.col("level") == "municipality").then(0)
                                 .when(pl.col("level") == "county").then(1).otherwise(2).alias("_o")
                                 ).sort("_o", "region_code")
    frame = order.select("region_code", "name")
    labels = {}
    for ind in headline:
        period = _latest_period(values, ind)
        sub = values.filter((pl.col("indicator_id") == ind) & (pl.col("sex") == "T") & (pl.col("period") == (period or "")))
        frame = frame.join(sub.select("region_code", pl.col("value").cast(pl.Float64).alias(ind)),
                           on="region_code", how="left")
        name = cat.filter(pl.col("indicator_id") == ind).row(0, named=True)["name_sv" if lang == "sv" else "name_en"]
        labels[ind] = f"{name} ({period or '–'})"
    # 24-month trend of the unemployment rate as a nanoplot
    trend = (values.filter((pl.col("indicator_id") == "lm_unemployment_rate") & (pl.col("sex") == "T"))
             .sort("period").group_by("region_code", maintain_order=True)
             .agg(pl.col("value").cast(pl.Float64).drop_nulls().tail(24).alias("trend")))
    frame = frame.join(trend, on="region_code", how="left").with_columns(
        pl.when(pl.col("trend").list.len() > 0).then(pl.col("trend")).otherwise(None).alias("trend"))
    county_name = m["regions"].filter(pl.col("region_code") == county).row(0, named=True)["name"]
    gt = (GT(frame.drop("region_code"), rowname_col="name")
          .tab_header(title=t["overview"].format(county=county_name))
          .cols_label(**labels, trend=f"{t['trend']} ({labels['lm_unemployment_rate'].split(' (')[0]})")
          .fmt_nanoplot(columns="trend", plot_type="line")
          .tab_source_note(gt_html(html.escape(t["legend"]))))
    gt = _fmt(gt, lang, headline)
    return gt, frame.drop("trend")


def theme_table(m: dict, theme: str, county: str, lang: str) -> tuple[GT | None, pl.DataFrame]:
    t = TEXT[lang]
    cat = m["catalogue"].filter(pl.col("theme") == theme).sort("indicator_id")
    if cat.height == 0:
        return None, pl.DataFrame()
    values = m["values"]
    regions = m["regions"].filter((pl.col("county_code") == county) | (pl.col("region_code").is_in([county, "00"])))
    rows = []
    for ind in cat.iter_rows(named=True):
        period = _latest_period(values, ind["indicator_id"])
        if period is None:
            period = values.filter(pl.col("indicator_id") == ind["indicator_id"]).get_column("period").max()
        sub = values.filter((pl.col("indicator_id") == ind["indicator_id"]) & (pl.col("sex") == "T")
                            & (pl.col("period") == (period or "")) & pl.col("region_code").is_in(regions["region_code"].implode()))
        for r in sub.sort("region_code").iter_rows(named=True):
            rows.append({"indicator": ind["name_sv" if lang == "sv" else "name_en"], "region": r["region_name"],
                         "region_code": r["region_code"], "period": r["period"],
                         "value": None if r["value"] is None else float(r["value"]),
                         "n": r["n"], "coverage": None if r["coverage"] is None else float(r["coverage"]) * 100,
                         "status": STATUS[lang].get(r["status"], r["status"]), "unit": ind["unit"]})
    frame = pl.DataFrame(rows, schema={"indicator": pl.String, "region": pl.String, "region_code": pl.String,
                                       "period": pl.String, "value": pl.Float64, "n": pl.Int64,
                                       "coverage": pl.Float64, "status": pl.String, "unit": pl.String})
    if frame.height == 0:
        return None, frame
    notes = []
    for ind in cat.iter_rows(named=True):
        srcs = ", ".join(SOURCE_NAMES.get(s.strip(), s.strip()) for s in ind["sources"].split(","))
        notes.append(f"<b>{html.escape(ind['name_sv' if lang == 'sv' else 'name_en'])}</b>: "
                     f"{html.escape(ind['definition_en'])} {t['source']}: {html.escape(srcs)}. "
                     f"{html.escape(ind['coverage_note'])}. {t['caveat']}: {html.escape(ind['caveats'])}")
    percent_rows = frame.with_row_index().filter(pl.col("unit") == "percent")["index"].to_list()
    other_rows = frame.with_row_index().filter(pl.col("unit") != "percent")["index"].to_list()
    gt = (GT(frame.drop("unit", "region_code"), rowname_col="region", groupname_col="indicator")
          .tab_header(title=t["themes"][theme])
          .cols_label(period=t["period"], value=t["value"], n=t["n"], coverage=t["coverage"], status=t["status"]))
    loc = LOCALE[lang]
    if percent_rows:
        gt = gt.fmt_number(columns="value", rows=percent_rows, decimals=1, locale=loc, pattern="{x} %")
    if other_rows:
        gt = gt.fmt_integer(columns="value", rows=other_rows, locale=loc, pattern="{x} kr")
    gt = (gt.fmt_integer(columns="n", locale=loc)
          .fmt_number(columns="coverage", decimals=0, locale=loc, pattern="{x} %")
          .sub_missing(columns=["value", "n", "coverage"], missing_text=".."))
    for note in notes:
        gt = gt.tab_source_note(gt_html(note))
    return gt, frame


PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #111; line-height: 1.4; }}
.demo {{ border: 2px dashed #222; padding: .5rem 1rem; font-weight: bold; }}
section {{ margin: 2.5rem 0; page-break-inside: avoid; }}
@media print {{ body {{ margin: 0; max-width: none; }} section {{ page-break-inside: avoid; }} }}
@page {{ size: A4; margin: 15mm; }}
</style></head><body>
<header><h1>{title}</h1>
<p>{county_label}: {county_name} · {edition_label}: {edition} · {built_label}: {built}</p>
{demo}
<p>{causality}</p></header>
<main>
{sections}
</main>
<footer><p>Gemensamma krafter · {edition}</p></footer>
</body></html>
"""


def build_report(home: Path, county: str = "05", lang: str = "sv", edition: str | None = None) -> ReportResult:
    home = Path(home)
    m = load_marts(home)
    t = TEXT[lang]
    edition = edition or date.today().isoformat()
    edition_dir = home / "report" / "editions" / edition
    tmp_dir = edition_dir.with_name(edition_dir.name + ".part")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    (tmp_dir / "tables").mkdir(parents=True)
    sections, tables = [], []
    gt, frame = overview_table(m, county, lang)
    sections.append(f'<section id="overview" aria-label="overview">{gt.as_raw_html()}</section>')
    _export(frame, tmp_dir / "tables", "overview")
    tables.append("overview")
    for theme in TEXT["sv"]["themes"]:
        gt, frame = theme_table(m, theme, county, lang)
        if gt is None:
            sections.append(f'<section id="{theme}"><h2>{t["themes"][theme]}</h2><p>{t["no_data"]}</p></section>')
            continue
        sections.append(f'<section id="{theme}">{gt.as_raw_html()}</section>')
        _export(frame, tmp_dir / "tables", theme)
        tables.append(theme)
    info = m["info"]
    county_name = m["regions"].filter(pl.col("region_code") == county).row(0, named=True)["name"]
    page = PAGE.format(lang=lang, title=html.escape(t["title"]), county_label=t["county"], county_name=county_name,
                       edition_label=t["edition"], edition=edition, built_label=t["built"],
                       built=str(info["built_at"])[:19], causality=t["causality"],
                       demo=f'<p class="demo" role="note">{t["demo"]}</p>' if info["demo"] else "",
                       sections="\n".join(sections))
    (tmp_dir / "index.html").write_text(page, encoding="utf-8")
    (tmp_dir / "manifest.json").write_text(json.dumps({
        "edition": edition, "lang": lang, "county": county, "warehouse_version": info["version"],
        "built_at": str(info["built_at"]), "transform_version": info["transform_version"], "demo": info["demo"],
        "tables": tables, "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }, indent=1, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(edition_dir, ignore_errors=True)
    tmp_dir.rename(edition_dir)
    latest = home / "report" / "index.html"
    latest_tmp = latest.with_name("index.html.part")
    latest_tmp.write_text(page.replace('href="tables/', f'href="editions/{edition}/tables/'), encoding="utf-8")
    latest_tmp.replace(latest)
    return ReportResult(edition, edition_dir, latest, tables, bool(info["demo"]))


def _export(frame: pl.DataFrame, folder: Path, name: str) -> None:
    """CSV for Swedish Excel (UTF-8 with BOM, ';', decimal comma) and Parquet of every table."""
    frame.write_parquet(folder / f"{name}.parquet")
    text = frame.with_columns(
        [pl.col(c).cast(pl.String).str.replace(r"\.", ",") for c, dt in frame.schema.items() if dt.is_float()]
    ).write_csv(separator=";", null_value="..")
    (folder / f"{name}.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))
