"""The stakeholder report: a dated edition under ``report/editions/<date>/`` and the latest at
``report/index.html``, built from the published warehouse's ``marts`` (and ``core.region`` names).

Swedish by default (SCB conventions: ``12,3 %``, space as thousands separator, ``..`` for missing
or suppressed), English with ``lang="en"``.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
from great_tables import GT, html as gt_html

from publish.exports import chromium, write_png, write_tabular
from warehouse.db import work_path
from warehouse.faults import checkpoint

TEXT = {
    "sv": {
        "title": "Gemensamma krafter — social upphandling, samverkan och arbetsmarknad",
        "county": "Län", "edition": "Utgåva", "built": "Datan byggd", "demo": "Demodata: byggd från syntetiska exempel, inte verkliga siffror.",
        "overview": "Översikt: kommunerna i {county}", "region": "Område", "period": "Period",
        "themes": {"social_procurement": "Social upphandling", "sector_collaboration": "Samverkan mellan sektorer",
                   "social_economy": "Social ekonomi", "labour_market": "Arbetsmarknad"},
        "value": "Värde", "year_before": "Ett år tidigare", "n": "Underlag (n)", "coverage": "Täckning", "status": "Status",
        "source": "Källa", "definition": "Definition", "caveat": "Förbehåll", "missing": "..",
        "no_data": "Inga värden ännu för detta tema.", "trend": "Utveckling",
        "group": "Arbetslöshet i jämförbara kommuner (samma storleksgrupp)",
        "causality": "Tabellerna om arbetsmarknad och upphandling ska inte läsas som orsak och verkan.",
        "legend": "Teckenförklaring: .. = uppgift saknas eller är för osäker (för få underlag) för att redovisas.",
        "downloads": "Ladda ner", "changes": "Vad har ändrats sedan förra utgåvan",
        "first_edition": "Detta är den första utgåvan.",
        "changes_summary": "{new} nya och {changed} ändrade värden.",
        "gate": "Publiceringskontroll", "gate_none": "Inga värden har ändrats mer än tröskeln.",
        "gate_caption": "Värden som ändrats mer än tröskeln (granska innan utgåvan sprids)",
        "gate_cols": ["Indikator", "Område", "Period", "Kön", "Förut", "Nu"],
        "alt": "Tabell: {title}. {rows} rader och {cols} kolumner; samma siffror finns som CSV och XLSX.",
        "coverage_title": "Hur mycket ser TED? Annonserade upphandlingar och TED",
        "coverage_cols": {"year": "År", "advertised": "Annonserade upphandlingar",
                          "advertised_above_thresholds": "varav direktivstyrda", "ted_procedures": "I TED",
                          "ted_share_percent": "TED:s andel"},
        "coverage_note": ("Annonserade upphandlingar: alla som annonserats i en registrerad annonsdatabas, enligt "
                          "Upphandlingsmyndighetens statistikdatabas, räknade där köparen finns. I TED: förfaranden med "
                          "en konkurrensutsättande annons i TED för samma köpare. Indikatorerna som bygger på TED "
                          "ser bara TED:s andel; de som slutar på \"alla annonserade upphandlingar\" ser alla."),
    },
    "en": {
        "title": "Joint forces — social procurement, collaboration and the labour market",
        "county": "County", "edition": "Edition", "built": "Data built", "demo": "Demo data: built from synthetic samples, not real figures.",
        "overview": "Overview: the municipalities of {county}", "region": "Area", "period": "Period",
        "themes": {"social_procurement": "Social procurement", "sector_collaboration": "Cross-sector collaboration",
                   "social_economy": "Social economy", "labour_market": "Labour market"},
        "value": "Value", "year_before": "A year earlier", "n": "Records (n)", "coverage": "Coverage", "status": "Status",
        "source": "Source", "definition": "Definition", "caveat": "Caveat", "missing": "..",
        "no_data": "No values yet for this theme.", "trend": "Trend",
        "group": "Unemployment in comparable municipalities (same size group)",
        "causality": "Do not read the labour-market and procurement tables as cause and effect.",
        "legend": "Legend: .. = missing, or too uncertain (too few records) to publish.",
        "downloads": "Download", "changes": "What changed since the last edition",
        "first_edition": "This is the first edition.",
        "changes_summary": "{new} new and {changed} changed values.",
        "gate": "Publication gate", "gate_none": "No value moved beyond the threshold.",
        "gate_caption": "Values that moved beyond the threshold (review before the edition is shared)",
        "gate_cols": ["Indicator", "Area", "Period", "Sex", "Before", "Now"],
        "alt": "Table: {title}. {rows} rows and {cols} columns; the same figures are in the CSV and XLSX files.",
        "coverage_title": "How much does TED see? Advertised procurements and TED",
        "coverage_cols": {"year": "Year", "advertised": "Advertised procurements",
                          "advertised_above_thresholds": "of which directive-governed", "ted_procedures": "In TED",
                          "ted_share_percent": "TED's share"},
        "coverage_note": ("Advertised procurements: all advertised in a registered notice database, from "
                          "Upphandlingsmyndigheten's statistics database, counted where the buyer is. In TED: "
                          "procedures with a competition notice in TED for the same buyers. Indicators built on TED "
                          "see only TED's share; those ending in \"all advertised procurements\" see all of them."),
    },
}
LOCALE = {"sv": "sv", "en": "en"}
STATUS = {"sv": {"final": "slutlig", "preliminary": "preliminär", "suppressed": "för få underlag / saknas",
                 "break": "tidsseriebrott"},
          "en": {"final": "final", "preliminary": "preliminary", "suppressed": "too few records / missing",
                 "break": "series break"}}
SOURCE_NAMES = {"pxweb": "SCB, BAS (PxWebApi)", "ted": "TED (EU:s publikationsbyrå)", "bolagsverket": "Bolagsverket",
                "scb-register": "SCB företagsregister", "ideburen": "Kammarkollegiet", "wise": "egen lista (ASF)",
                "kolada": "Kolada (RKA)", "af": "Arbetsförmedlingen", "iop": "egen lista (IOP)",
                "uhm-db": "Upphandlingsmyndigheten, statistikdatabasen", "uhm": "Upphandlingsmyndigheten"}


@dataclass
class ReportResult:
    edition: str
    edition_dir: Path
    index: Path
    tables: list[str]
    demo: bool
    warehouse_version: int | None = None
    held: bool = False          # the publication gate stopped the edition from becoming the latest
    gated: int = 0              # values that moved beyond the gate's threshold


def _read(con, sql: str, params=None) -> pl.DataFrame:
    return con.sql(sql, params=params).pl() if params is None else pl.from_arrow(
        con.execute(sql, params).to_arrow_table())


def load_marts(home: Path) -> dict:
    """The marts the report is built from: the work database's copy, identical to the published
    warehouse (checked by version). Reading it under the writer lock means an analyst holding the
    published file — even read-write — never blocks the report."""
    con = duckdb.connect(str(work_path(home)), read_only=True)
    try:
        values = con.sql("SELECT v.*, r.name AS region_name, r.level, r.county_code FROM marts.indicator_value v "
                         "LEFT JOIN core.region r USING (region_code)").pl()
        catalogue = con.sql("SELECT * FROM marts.indicator").pl()
        info = con.sql("SELECT * FROM meta.warehouse_info").pl().row(0, named=True)
        regions = con.sql("SELECT * FROM core.region").pl()
        comparison = con.sql("SELECT c.indicator_id, c.region_code, c.period, c.sex, c.group_value, g.name_sv AS group_sv, "
                             "g.name_en AS group_en FROM marts.indicator_comparison c "
                             "LEFT JOIN core.municipality_group g USING (region_code)").pl()
        coverage = con.sql("SELECT * FROM marts.ted_coverage").pl()
        snapshots = [dict(zip(("source", "sha256", "kind", "fetched_at"), r)) for r in con.execute(
            "SELECT s.source, s.sha256, s.kind, s.fetched_at FROM meta.snapshot s JOIN "
            "(SELECT DISTINCT source, unnest(snapshots) AS sha FROM meta.loads WHERE status = 'loaded') l "
            "ON l.source = s.source AND l.sha = s.sha256 ORDER BY s.source, s.fetched_at").fetchall()]
    finally:
        con.close()
    return {"values": values, "catalogue": catalogue, "info": info, "regions": regions, "snapshots": snapshots,
            "comparison": comparison, "coverage": coverage}


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
    # the unemployment rate of comparable municipalities (same size group), for municipalities
    ump_period = _latest_period(values, "lm_unemployment_rate")
    group = (m["comparison"].filter((pl.col("indicator_id") == "lm_unemployment_rate") & (pl.col("sex") == "T")
                                    & (pl.col("period") == (ump_period or "")))
             .select("region_code", pl.col("group_value").cast(pl.Float64).alias("group_unemployment")))
    frame = frame.join(group, on="region_code", how="left")
    labels["group_unemployment"] = t["group"]
    headline = headline + ["group_unemployment"]
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


def _year_before(period: str) -> str:
    """The same period one year earlier: 2025 → 2024, 2025-03 → 2024-03."""
    return str(int(period[:4]) - 1) + period[4:]


def _focus_regions(m: dict, county: str) -> pl.DataFrame:
    """The county, the country, then the county's municipalities — the rows every theme table shows."""
    regions = m["regions"].filter((pl.col("county_code") == county) | pl.col("region_code").is_in([county, "00"]))
    return regions.with_columns(pl.when(pl.col("region_code") == county).then(0)
                                .when(pl.col("region_code") == "00").then(1).otherwise(2).alias("_o")
                                ).sort("_o", "region_code").select("region_code", "name")


def theme_table(m: dict, theme: str, county: str, lang: str) -> tuple[GT | None, pl.DataFrame]:
    """One row per indicator and region: the latest period with a value, the same period a year
    earlier, n, coverage and status — with each indicator's definition, sources and caveat below."""
    t = TEXT[lang]
    cat = m["catalogue"].filter(pl.col("theme") == theme).sort("indicator_id")
    if cat.height == 0:
        return None, pl.DataFrame()
    values = m["values"].filter(pl.col("sex") == "T")
    regions = _focus_regions(m, county)
    rows = []
    for ind in cat.iter_rows(named=True):
        period = _latest_period(values, ind["indicator_id"])
        if period is None:
            continue
        sub = values.filter(pl.col("indicator_id") == ind["indicator_id"])
        latest = {r["region_code"]: r for r in sub.filter(pl.col("period") == period).iter_rows(named=True)}
        before = {r["region_code"]: r for r in sub.filter(pl.col("period") == _year_before(period)).iter_rows(named=True)}
        for reg in regions.iter_rows(named=True):
            r, b = latest.get(reg["region_code"]), before.get(reg["region_code"])
            rows.append({
                "indicator": ind["name_sv" if lang == "sv" else "name_en"], "region": reg["name"],
                "period": period,
                "value": None if r is None or r["value"] is None else float(r["value"]),
                "year_before": None if b is None or b["value"] is None else float(b["value"]),
                "n": None if r is None else r["n"],
                "coverage": None if r is None or r["coverage"] is None else float(r["coverage"]) * 100,
                "status": "" if r is None else STATUS[lang].get(r["status"], r["status"]),
                "unit": ind["unit"]})
    frame = pl.DataFrame(rows, schema={"indicator": pl.String, "region": pl.String, "period": pl.String,
                                       "value": pl.Float64, "year_before": pl.Float64, "n": pl.Int64,
                                       "coverage": pl.Float64, "status": pl.String, "unit": pl.String})
    if frame.height == 0:
        return None, frame
    gt = (GT(frame.drop("unit"), rowname_col="region", groupname_col="indicator")
          .tab_header(title=t["themes"][theme])
          .cols_label(period=t["period"], value=t["value"], year_before=t["year_before"], n=t["n"],
                      coverage=t["coverage"], status=t["status"]))
    loc = LOCALE[lang]
    for unit, pattern, decimals in (("percent", "{x} %", 1), ("SEK", "{x} kr", 0), ("count", "{x}", 0),
                                    ("per 10 000", "{x}", 1)):
        idx = frame.with_row_index().filter(pl.col("unit") == unit)["index"].to_list()
        if idx:
            gt = gt.fmt_number(columns=["value", "year_before"], rows=idx, decimals=decimals, locale=loc,
                               pattern=pattern)
    gt = (gt.fmt_integer(columns="n", locale=loc)
          .fmt_number(columns="coverage", decimals=0, locale=loc, pattern="{x} %")
          .sub_missing(columns=["value", "year_before", "n", "coverage"], missing_text=".."))
    for ind in cat.iter_rows(named=True):
        srcs = ", ".join(SOURCE_NAMES.get(x.strip(), x.strip()) for x in ind["sources"].split(","))
        definition = ind["definition_sv"] if lang == "sv" else ind["definition_en"]
        caveat = ind["caveats_sv"] if lang == "sv" else ind["caveats"]
        gt = gt.tab_source_note(gt_html(
            f"<b>{html.escape(ind['name_sv' if lang == 'sv' else 'name_en'])}</b>: {html.escape(definition)} "
            f"{t['source']}: {html.escape(srcs)}. {t['caveat']}: {html.escape(caveat)} "
            f"(Agenda 2030: {html.escape(ind['sdg_target'])})"))
    return gt, frame


def coverage_table(m: dict, county: str, lang: str) -> tuple[GT | None, pl.DataFrame]:
    """Per year, for the county, the country and the county's municipalities: the procurements
    advertised by their buyers (Upphandlingsmyndigheten's statistics database) and how many TED holds."""
    t = TEXT[lang]
    regions = _focus_regions(m, county).with_row_index("_o")
    frame = (m["coverage"].join(regions, on="region_code")
             .sort("_o", "year").select(pl.col("name").alias("region"), "year", "advertised",
                                        "advertised_above_thresholds", "ted_procedures",
                                        pl.col("ted_share_percent").cast(pl.Float64)))
    if frame.height == 0:
        return None, frame
    cols = t["coverage_cols"]
    gt = (GT(frame, rowname_col="year", groupname_col="region").tab_header(title=t["coverage_title"])
          .cols_label(**{c: cols[c] for c in cols if c != "year"}))
    gt = _fmt(gt, lang, ["advertised", "advertised_above_thresholds", "ted_procedures"], unit="count")
    gt = _fmt(gt, lang, ["ted_share_percent"])
    return gt.tab_source_note(t["coverage_note"]), frame


PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #111; line-height: 1.4; }}
.demo {{ border: 2px dashed #222; padding: .5rem 1rem; font-weight: bold; }}
section {{ margin: 2.5rem 0; }}
.downloads {{ font-size: .9rem; }}
table.changes {{ border-collapse: collapse; }} table.changes th, table.changes td {{ border-bottom: 1px solid #999; padding: .2rem .6rem; text-align: left; }}
@media print {{ body {{ margin: 0; max-width: none; }} section {{ page-break-inside: avoid; }} .downloads {{ display: none; }} }}
@page {{ size: A4; margin: 15mm; }}
</style></head><body>
<header><h1>{title}</h1>
<p>{county_label}: {county_name} · {edition_label}: {edition} · {built_label}: {built}</p>
{demo}
<p>{causality}</p></header>
<main>
{sections}
{changes}
</main>
<footer><p>Gemensamma krafter · {edition}</p></footer>
</body></html>
"""

GATE_PP = float(os.environ.get("KRAFTER_GATE_PP", "5"))          # percentage points
GATE_RELATIVE = float(os.environ.get("KRAFTER_GATE_RELATIVE", "0.5"))  # for amounts and counts


def edition_values(m: dict, county: str) -> pl.DataFrame:
    """The values an edition shows (county, its municipalities, the country), for change detection."""
    regions = m["regions"].filter((pl.col("county_code") == county) | pl.col("region_code").is_in([county, "00"]))
    return (m["values"].filter(pl.col("region_code").is_in(regions["region_code"].implode()))
            .select("indicator_id", "region_code", "period", "sex", pl.col("value").cast(pl.Float64), "unit", "status"))


def changes_since(previous: pl.DataFrame | None, current: pl.DataFrame) -> pl.DataFrame:
    """Values that are new or different since the previous edition, with the publication-gate flag."""
    keys = ["indicator_id", "region_code", "period", "sex"]
    if previous is None:
        return pl.DataFrame(schema={**{k: pl.String for k in keys}, "previous": pl.Float64, "value": pl.Float64,
                                    "unit": pl.String, "change": pl.String, "gate": pl.Boolean})
    joined = current.join(previous.select(*keys, pl.col("value").alias("previous")), on=keys, how="left")
    changed = joined.filter(pl.col("value").ne_missing(pl.col("previous")))
    delta = (pl.col("value") - pl.col("previous")).abs()
    gate = (pl.when(pl.col("previous").is_null() | pl.col("value").is_null()).then(False)
            .when(pl.col("unit") == "percent").then(delta >= GATE_PP)
            .otherwise(delta >= GATE_RELATIVE * pl.col("previous").abs()))
    return changed.with_columns(
        pl.when(pl.col("previous").is_null()).then(pl.lit("new")).otherwise(pl.lit("changed")).alias("change"),
        gate.alias("gate")).select(*keys, "previous", "value", "unit", "change", "gate").sort(keys)


def _previous_values(home: Path, edition: str) -> pl.DataFrame | None:
    root = home / "report" / "editions"
    older = sorted(p for p in root.glob("*") if p.is_dir() and p.name < edition and (p / "values.parquet").exists())
    return pl.read_parquet(older[-1] / "values.parquet") if older else None


def _changes_html(changes: pl.DataFrame, has_previous: bool, lang: str) -> str:
    t = TEXT[lang]
    if not has_previous:
        return f'<section id="changes"><h2>{t["changes"]}</h2><p>{t["first_edition"]}</p></section>'
    gated = changes.filter(pl.col("gate"))
    parts = [f'<section id="changes"><h2>{t["changes"]}</h2>',
             f"<p>{t['changes_summary'].format(new=changes.filter(pl.col('change') == 'new').height, changed=changes.filter(pl.col('change') == 'changed').height)}</p>",
             f'<h3>{t["gate"]}</h3>']
    if gated.height == 0:
        parts.append(f"<p>{t['gate_none']}</p>")
    else:
        parts.append(f'<table class="changes"><caption>{t["gate_caption"]}</caption><thead><tr>'
                     + "".join(f'<th scope="col">{h}</th>' for h in t["gate_cols"]) + "</tr></thead><tbody>")
        for r in gated.iter_rows(named=True):
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in (
                r["indicator_id"], r["region_code"], r["period"], r["sex"], r["previous"], r["value"])) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def _alt_text(title: str, frame: pl.DataFrame, lang: str) -> str:
    t = TEXT[lang]
    return t["alt"].format(title=title, rows=frame.height, cols=len(frame.columns))


def build_report(home: Path, county: str = "05", lang: str = "sv", edition: str | None = None,
                 hold_on_gate: bool = False, png: bool = True) -> ReportResult:
    home = Path(home)
    m = load_marts(home)
    t = TEXT[lang]
    edition = edition or date.today().isoformat()
    edition_dir = home / "report" / "editions" / edition
    tmp_dir = edition_dir.with_name(edition_dir.name + ".part")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    (tmp_dir / "tables").mkdir(parents=True)
    tables: list[tuple[str, str, GT | None, pl.DataFrame]] = []
    county_name = m["regions"].filter(pl.col("region_code") == county).row(0, named=True)["name"]
    gt, frame = overview_table(m, county, lang)
    tables.append(("overview", t["overview"].format(county=county_name), gt, frame))
    for theme in TEXT["sv"]["themes"]:
        gt, frame = theme_table(m, theme, county, lang)
        tables.append((theme, t["themes"][theme], gt, frame))
        if theme == "social_procurement":
            gt, frame = coverage_table(m, county, lang)
            tables.append(("ted_coverage", t["coverage_title"], gt, frame))
    written, alts, jobs, parts = [], {}, [], []
    for table_id, title, gt, frame in tables:
        if gt is None:
            parts.append((table_id, title, None, []))
            continue
        files = write_tabular(frame, tmp_dir / "tables", table_id)
        alts[table_id] = _alt_text(title, frame, lang)
        if png:
            jobs.append((gt, tmp_dir / "tables" / f"{table_id}.png"))
        parts.append((table_id, title, gt.as_raw_html(), files))
        written.append(table_id)
    png_written = _render_pngs(jobs, home / ".cache") if png else False
    sections = []
    for table_id, title, table_html, files in parts:
        if table_html is None:
            sections.append(f'<section id="{table_id}"><h2>{html.escape(title)}</h2><p>{t["no_data"]}</p></section>')
            continue
        files = files + ([f"{table_id}.png"] if png_written is True else [])
        links = " · ".join(f'<a href="tables/{f}">{f.rsplit(".", 1)[1].upper()}</a>' for f in files)
        img = (f'<details><summary>PNG</summary><img src="tables/{table_id}.png" alt="{html.escape(alts[table_id])}" '
               f'loading="lazy" width="600"></details>' if png_written is True else "")
        sections.append(f'<section id="{table_id}" aria-label="{html.escape(title)}">{table_html}'
                        f'<p class="downloads">{t["downloads"]}: {links}</p>{img}</section>')
    current = edition_values(m, county)
    previous = _previous_values(home, edition)
    changes = changes_since(previous, current)
    current.write_parquet(tmp_dir / "values.parquet")
    info = m["info"]
    page = PAGE.format(lang=lang, title=html.escape(t["title"]), county_label=t["county"], county_name=county_name,
                       edition_label=t["edition"], edition=edition, built_label=t["built"],
                       built=str(info["built_at"])[:19], causality=t["causality"],
                       demo=f'<p class="demo" role="note">{t["demo"]}</p>' if info["demo"] else "",
                       sections="\n".join(sections), changes=_changes_html(changes, previous is not None, lang))
    (tmp_dir / "index.html").write_text(page, encoding="utf-8")
    checkpoint("mid-report")
    gated = changes.filter(pl.col("gate")).height
    held = hold_on_gate and gated > 0
    (tmp_dir / "manifest.json").write_text(json.dumps({
        "edition": edition, "lang": lang, "county": county, "warehouse_version": info["version"],
        "built_at": str(info["built_at"]), "transform_version": info["transform_version"], "demo": info["demo"],
        "snapshots": m["snapshots"], "tables": written,
        "png": {tid: {"file": f"tables/{tid}.png", "alt": alts[tid]} for tid in written} if png_written is True
        else png_written if isinstance(png_written, str)
        else "not written (no Chromium found)" if png else "not requested",
        "changes": changes.height, "gate": changes.filter(pl.col("gate")).to_dicts(), "held": held,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    shutil.rmtree(edition_dir, ignore_errors=True)
    tmp_dir.rename(edition_dir)
    latest = home / "report" / "index.html"
    checkpoint("before-report-index")
    if not held:
        latest_tmp = latest.with_name("index.html.part")
        latest_tmp.write_text(page.replace('href="tables/', f'href="editions/{edition}/tables/')
                              .replace('src="tables/', f'src="editions/{edition}/tables/'), encoding="utf-8")
        latest_tmp.replace(latest)
    return ReportResult(edition, edition_dir, latest, written, bool(info["demo"]), int(info["version"]), held, gated)


def _render_pngs(jobs: list[tuple[GT, Path]], cache: Path) -> bool | str:
    """Render the table PNGs one at a time: great-tables' browser bridge (nokap) keeps one
    connection per process, so parallel renders race. A failed render does not fail the edition:
    the manifest says why the PNGs are missing."""
    if not jobs or chromium() is None and "CHROME_PATH" not in os.environ:
        return False
    try:
        return all(write_png(gt, path, cache) for gt, path in jobs)
    except Exception as exc:   # noqa: BLE001 - reported in the edition manifest
        for _, path in jobs:
            path.unlink(missing_ok=True)
        return f"not written: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
