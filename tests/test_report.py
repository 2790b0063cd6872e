"""Report editions, exports, the publication gate, English, and provenance (`krafter explain`)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from publish.explain import ExplainError, explain
from publish.exports import chromium
from publish.report import build_report

runner = CliRunner()


@pytest.fixture()
def home(demo_home, tmp_path) -> Path:
    dst = tmp_path / "home"
    shutil.copytree(demo_home, dst, ignore=shutil.ignore_patterns(".prefect"))
    return dst


def test_every_table_is_exported_for_excel_and_parquet(home):
    result = build_report(home, edition="2026-12-01", png=False)
    folder = result.edition_dir / "tables"
    for table in result.tables:
        csv = (folder / f"{table}.csv").read_bytes()
        assert csv.startswith("\ufeff".encode())
        header = csv.decode("utf-8-sig").splitlines()[0]
        assert ";" in header
        assert pl.read_parquet(folder / f"{table}.parquet").height > 0
        assert (folder / f"{table}.xlsx").read_bytes()[:2] == b"PK"
    overview = (folder / "overview.csv").read_text(encoding="utf-8-sig")
    linkoping = next(line for line in overview.splitlines() if line.startswith("0580;"))
    assert ";7,4;" in linkoping          # decimal comma for Swedish Excel


@pytest.mark.skipif(chromium() is None, reason="PNG export needs Chromium (CI installs it; the browser test fails there without it)")
def test_every_table_has_a_png_with_alt_text(home):
    result = build_report(home, edition="2026-12-01")
    manifest = json.loads((result.edition_dir / "manifest.json").read_text())
    assert set(manifest["png"]) == set(result.tables)
    for table, entry in manifest["png"].items():
        png = result.edition_dir / entry["file"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert entry["alt"].startswith("Tabell: ")
    assert "Östergötlands län" in manifest["png"]["overview"]["alt"]


def test_what_changed_and_the_publication_gate(home):
    first = build_report(home, edition="2026-12-01", png=False)
    # the demo wrote today's edition from the same warehouse: nothing changed since
    assert "0 nya och 0 ändrade värden." in (first.edition_dir / "index.html").read_text()
    # pretend the previous edition showed Linköping's unemployment 6 points lower
    values = pl.read_parquet(first.edition_dir / "values.parquet")
    moved = values.with_columns(
        pl.when((pl.col("indicator_id") == "lm_unemployment_rate") & (pl.col("region_code") == "0580")
                & (pl.col("period") == "2026-08") & (pl.col("sex") == "T"))
        .then(pl.col("value") - 6.0).otherwise(pl.col("value")).alias("value"))
    moved.write_parquet(first.edition_dir / "values.parquet")
    index_before = (home / "report" / "index.html").read_text()
    second = build_report(home, edition="2026-12-02", png=False, hold_on_gate=True)
    assert second.gated == 1 and second.held
    manifest = json.loads((second.edition_dir / "manifest.json").read_text())
    [gate] = manifest["gate"]
    assert (gate["indicator_id"], gate["region_code"], gate["previous"], gate["value"]) == (
        "lm_unemployment_rate", "0580", pytest.approx(1.4), pytest.approx(7.4))
    page = (second.edition_dir / "index.html").read_text()
    assert "Publiceringskontroll" in page and "1 ändrade värden" in page
    # held: the latest report stays the previous edition until an operator releases it
    assert (home / "report" / "index.html").read_text() == index_before
    third = build_report(home, edition="2026-12-02", png=False)
    assert not third.held and "2026-12-02" in (home / "report" / "index.html").read_text()


def test_english_edition(home, prefect_harness):
    result = runner.invoke(app, ["report", "--home", str(home), "--lang", "en"])
    assert result.exit_code == 0, result.output
    page = (home / "report" / "index.html").read_text()
    assert 'lang="en"' in page and "Demo data" in page and "7.4 %" in page
    bad = runner.invoke(app, ["report", "--home", str(home), "--lang", "de"])
    assert bad.exit_code == 1 and "--lang must be sv or en" in bad.output


def test_explain_lists_the_procedures_behind_a_share(demo_home):
    e = explain(demo_home, "sp_reserved_share", "05", "2024")
    assert (e.value["numerator"], e.value["denominator"]) == (1, 6)
    assert len(e.rows) == 6 and sum(r["yes"] for r in e.rows) == 1
    reserved = next(r for r in e.rows if r["yes"])
    assert reserved["buyers"] and reserved["notice_ids"]
    assert "marts.indicator_input" in e.queries[1]


def test_explain_lists_the_observations_behind_a_rate(demo_home):
    e = explain(demo_home, "lm_unemployment_rate", "0580", "2026-08")
    by_measure = {r["measure"]: r["value"] for r in e.rows}
    assert by_measure["unemployed"] == 5854 and by_measure["labour_force"] == 79249
    assert all(r["_snapshot_id"].startswith("pxweb:") and r["kind"] == "synthetic" for r in e.rows)


def test_explain_errors_are_one_line(demo_home):
    with pytest.raises(ExplainError, match="unknown indicator 'nope'"):
        explain(demo_home, "nope", "05", "2024")
    result = runner.invoke(app, ["explain", "sp_reserved_share", "--region", "05", "--period", "1999",
                                 "--home", str(demo_home)])
    assert result.exit_code == 1
    assert "no value for region 05, period 1999" in result.output


def test_the_report_says_how_much_of_the_advertised_procurement_ted_sees(home):
    result = build_report(home, edition="2026-12-01", png=False)
    assert "ted_coverage" in result.tables
    table = pl.read_parquet(result.edition_dir / "tables" / "ted_coverage.parquet")
    county = table.filter((pl.col("region") == "Östergötlands län") & (pl.col("year") == "2024")).row(0, named=True)
    assert (county["advertised"], county["advertised_above_thresholds"], county["ted_procedures"],
            county["ted_share_percent"]) == (299, 141, 6, 2.0)
    page = (result.edition_dir / "index.html").read_text(encoding="utf-8")
    assert "Hur mycket ser TED?" in page and "Upphandlingsmyndighetens statistikdatabas" in page
    # the indicators for all advertised procurements are in the social-procurement table
    assert "Andel reserverade upphandlingar (alla annonserade upphandlingar)" in page


def test_explain_lists_the_advertised_procurements_behind_an_all_share(demo_home):
    e = explain(demo_home, "sp_reserved_share_all", "05", "2024")
    assert (e.value["numerator"], e.value["denominator"], e.value["n"]) == (4, 299, 299)
    reserved = [r for r in e.rows if r["yes"]]
    assert len(reserved) == 4 and all(r["record_type"] == "procurement" and r["buyers"] for r in reserved)
    assert all(r["first_competition_date"] is not None and r["notice_ids"] is None for r in reserved)
