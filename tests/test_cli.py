"""The `krafter` command line as a user meets it."""
from __future__ import annotations

import json
import subprocess
import sys

import duckdb
from typer.testing import CliRunner

from flows.cli import app
from sources.registry import SOURCES
from tests.conftest import REPO, SAMPLES

runner = CliRunner()


def krafter(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def test_help_reads_well():
    result = krafter("--help")
    assert result.returncode == 0
    for command in ("demo", "refresh", "ingest", "inspect", "status"):
        assert command in result.stdout


def test_status_on_a_fresh_home_lists_every_source(tmp_path):
    result = krafter("status", "--home", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [s["source"] for s in data["sources"]] == list(SOURCES)
    assert all(s["freshness"] == "never" for s in data["sources"])
    assert data["warehouse"] is None


def test_inspect_pxweb_prints_one_object_per_cell():
    result = krafter("inspect", "pxweb", str(SAMPLES / "pxweb" / "TAB6260_bas_manad.json"))
    assert result.returncode == 0, result.stderr
    cells = json.loads(result.stdout)
    assert len(cells) == 22968
    assert cells[0] == {"Region": "00", "Alder": "20-64", "Kon": "1", "ContentsCode": "000006HI",
                        "Tid": "2023M01", "value": cells[0]["value"], "status": None}


def test_inspect_eforms_prints_the_notice(tmp_path):
    notice = sorted((SAMPLES / "ted").glob("*.xml"))[0]
    result = krafter("inspect", "eforms", str(notice))
    assert result.returncode == 0, result.stderr
    [obj] = json.loads(result.stdout)
    assert {"notice_id", "version", "subtype", "notice_type", "procedure_id", "buyers", "lots", "awards"} <= set(obj)


def test_bad_input_is_one_line_naming_source_file_and_reason(tmp_path):
    hostile = tmp_path / "entities.xml"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    result = krafter("inspect", "eforms", str(hostile))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ted" in lines[0] and "entities.xml" in lines[0] and "DTD" in lines[0]
    unknown = krafter("ingest", "nosuch", "--file", str(hostile), "--home", str(tmp_path / "h"))
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "krafter: error: unknown source 'nosuch': known ids are " + ", ".join(SOURCES)]


def test_ingest_one_file_on_a_fresh_home_runs_the_chain_downstream(prefect_harness, tmp_path):
    home = tmp_path / "fresh"
    result = runner.invoke(app, ["ingest", "pxweb", "--file", str(SAMPLES / "pxweb" / "TAB6260_bas_manad.json"),
                                 "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "Warehouse:" in result.output and "Report:" in result.output
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(DISTINCT region_code) FROM marts.indicator_value "
                       "WHERE indicator_id = 'lm_unemployment_rate'").fetchall()[0][0] == 29
    con.close()
    # the same file again changes nothing
    again = runner.invoke(app, ["ingest", "pxweb", "--file", str(SAMPLES / "pxweb" / "TAB6260_bas_manad.json"),
                                "--home", str(home)])
    assert again.exit_code == 0 and "unchanged" in again.output


def test_a_rejected_file_exits_non_zero_and_leaves_the_warehouse(prefect_harness, tmp_path):
    home = tmp_path / "h"
    bad = tmp_path / "broken.json"
    bad.write_text('{"version": "2.0", "class": "dataset", "id": ["Region"], "size": [2], '
                   '"dimension": {"Region": {"category": {"index": ["0580", "0581"]}}}, "value": [1]}')
    result = runner.invoke(app, ["ingest", "pxweb", "--file", str(bad), "--home", str(home)])
    assert result.exit_code == 1
    assert "pxweb" in result.output and "value has 1 entries" in result.output


def test_demo_twice_converges(prefect_harness, tmp_path):
    home = tmp_path / "demo"
    first = runner.invoke(app, ["demo", "--home", str(home)])
    assert first.exit_code == 0, first.output
    assert "demo data" in first.output and "indicator values" in first.output
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    values = con.execute("SELECT * EXCLUDE (computed_at) FROM marts.indicator_value ORDER BY ALL").fetchall()
    con.close()
    second = runner.invoke(app, ["demo", "--home", str(home)])
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.output
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT * EXCLUDE (computed_at) FROM marts.indicator_value ORDER BY ALL").fetchall() == values
    con.close()
    status = runner.invoke(app, ["status", "--home", str(home), "--json"])
    assert status.exit_code == 0 and json.loads(status.output)["warehouse"]["version"] == 1


def test_status_flags_a_source_older_than_its_cadence(tmp_path):
    from warehouse import manifest
    manifest.update(tmp_path, sources={
        "ted": {"last_snapshot": "a" * 64, "fetched_at": "2020-01-01T00:00:00+00:00", "rows": 5,
                "quarantined": 0, "status": "loaded", "kind": "captured"},
        "pxweb": {"last_snapshot": "b" * 64, "fetched_at": "2020-01-01T00:00:00+00:00",
                  "checked_at": "2999-01-01T00:00:00+00:00", "rows": 1, "quarantined": 0, "status": "loaded"}})
    data = json.loads(krafter("status", "--home", str(tmp_path), "--json").stdout)
    by_id = {s["source"]: s for s in data["sources"]}
    assert by_id["ted"]["freshness"].startswith("stale (") and by_id["ted"]["freshness"].endswith("> 1 d)")
    assert by_id["pxweb"]["freshness"] == "fresh"      # checked recently, nothing new
    assert by_id["kolada"]["freshness"] == "never"


def test_ingest_bolagsverket_file_on_a_fresh_home_lands_organisations(prefect_harness, tmp_path):
    home = tmp_path / "fresh"
    result = runner.invoke(app, ["ingest", "bolagsverket", "--file",
                                 str(SAMPLES / "bolagsverket" / "bolagsverket_bulkfil.zip"), "--home", str(home)])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    # 3 000 rows: 2 with a bad check digit quarantined; sole traders never stored, only counted
    assert con.execute("SELECT count(*) FROM core.organisation").fetchall()[0][0] == 2998
    assert con.execute("SELECT bolagsverket FROM core.sole_trader_count").fetchall()[0][0] == 20
    assert con.execute("SELECT count(*) FROM meta.quarantine WHERE source = 'bolagsverket'").fetchall()[0][0] == 2
    con.close()


def test_inspect_of_a_national_register_prints_counts_and_first_rows():
    from sources import bolagsverket
    sample = SAMPLES / "bolagsverket" / "bolagsverket_bulkfil.zip"
    whole = bolagsverket.parse(sample.read_bytes(), sample.name)
    result = krafter("inspect", "bolagsverket", str(sample), "--limit", "3")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    org = whole["bolagsverket_organisation"]
    assert out["bolagsverket_organisation"]["rows"] == org.height
    assert [r["org_number"] for r in out["bolagsverket_organisation"]["first"]] == org["org_number"].head(3).to_list()
    assert out["bolagsverket_sole_traders"] == {
        "rows": 1, "first": [{"count": int(whole["bolagsverket_sole_traders"]["count"][0])}]}
    assert out["bolagsverket_rejected"]["rows"] == whole["bolagsverket_rejected"].height
