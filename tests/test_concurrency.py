"""Analysts' sessions during a refresh (DESIGN §3 "their open session (read-only or not) never blocks
a refresh, and they see the previous version until they reconnect", §8).

A real refresh step (ingest a changed wise.csv, rebuild marts, publish, write the report — the step
of tests/test_kill.py, in a fresh interpreter) runs on a copy of a home holding version N, while
analysts in other processes query the published file. Every reader prints one JSON line per query.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.test_kill import (REPO, STEP, changed_wise, copy_home, published_version, reference_home,
                             run_step, subprocess_env)

# argv: PATH MODE STOPFILE [OWN_DB]. Modes:
#   ro      — reconnects read-only for every query (duckdb.connect(path, read_only=True))
#   attach  — from the analyst's own database: ATTACH path AS w (READ_ONLY), for every query
#   rw-held — one read-write session (as the DuckDB CLI opens a file), opened before the refresh,
#             queried repeatedly, never written to; after the stop file it reconnects once
READER = textwrap.dedent("""
    import duckdb, json, os, sys, time
    path, mode, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    QUERIES = ("SELECT version FROM {p}meta.warehouse_info", "SELECT count(*) FROM {p}marts.indicator_value")

    def query(con, prefix=""):
        return [con.execute(q.format(p=prefix)).fetchall()[0][0] for q in QUERIES]

    def once():
        if mode == "ro":
            con = duckdb.connect(path, read_only=True)
            try:
                return query(con)
            finally:
                con.close()
        con = duckdb.connect(sys.argv[4])
        try:
            con.execute("ATTACH '" + path.replace("'", "''") + "' AS w (READ_ONLY)")
            return query(con, "w.")
        finally:
            con.close()

    held = duckdb.connect(path) if mode == "rw-held" else None
    while True:
        done = os.path.exists(stop)
        try:
            version, count = query(held) if held is not None else once()
            rec = {"ok": True, "version": version, "count": count}
        except Exception as exc:
            rec = {"ok": False, "error": type(exc).__name__ + ": " + str(exc).splitlines()[0]}
        print(json.dumps(rec), flush=True)
        if done:
            break
        time.sleep(0.02)
    if held is not None:
        held.close()
        con = duckdb.connect(path)
        print(json.dumps({"ok": True, "reconnected": True, "version": query(con)[0]}), flush=True)
        con.close()
""")

# The refresh step, stopping after the publication until a line arrives on stdin.
PAUSED_STEP = STEP + textwrap.dedent("""
    real = refresh.build_and_publish
    def build_and_publish(home, *a, **k):
        summary = real(home, *a, **k)
        print("swapped", flush=True)
        sys.stdin.readline()
        return summary
    refresh.build_and_publish = build_and_publish
    sys.exit(step(sys.argv[1:]))
""")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, int, int]:
    ref = reference_home(tmp_path_factory)
    con = duckdb.connect(str(ref / "warehouse.duckdb"), read_only=True)
    count = con.execute("SELECT count(*) FROM marts.indicator_value").fetchall()[0][0]
    con.close()
    return ref, published_version(ref), count


@pytest.fixture()
def home(reference, tmp_path) -> Path:
    return copy_home(reference[0], tmp_path / "home")


def start_reader(path: Path, mode: str, tmp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", READER, str(path), mode, str(tmp / "stop"),
                             str(tmp / f"analyst-{mode}.duckdb")], stdout=subprocess.PIPE, text=True, cwd=tmp)


def refresh_while_reading(home: Path, tmp: Path, modes: list[str]):
    """Start the readers, wait until each has answered once, run the refresh, stop the readers."""
    wise = changed_wise(tmp / "input")
    readers = {m: start_reader(home / "warehouse.duckdb", m, tmp) for m in modes}
    first = {m: json.loads(p.stdout.readline()) for m, p in readers.items()}
    started = time.monotonic()
    refresh = run_step(home, "wise", str(wise), env=subprocess_env(tmp))
    (tmp / "stop").touch()
    records = {}
    for m, p in readers.items():
        out, _ = p.communicate(timeout=60)
        records[m] = [first[m]] + [json.loads(line) for line in out.splitlines()]
    return refresh, records, time.monotonic() - started


def test_readers_reconnecting_during_a_refresh_see_the_old_or_the_new_version(reference, home, tmp_path):
    _, old, old_count = reference
    refresh, records, _ = refresh_while_reading(home, tmp_path, ["ro", "attach"])
    assert refresh.returncode == 0, refresh.stderr[-3000:]
    new = published_version(home)
    assert new == old + 1
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    new_count = con.execute("SELECT count(*) FROM marts.indicator_value").fetchall()[0][0]
    con.close()
    for mode, recs in records.items():
        errors = [r["error"] for r in recs if not r["ok"]]
        assert errors == [], (mode, errors[:3])
        assert len(recs) > 10, mode                          # the reader really ran during the refresh
        versions = [r["version"] for r in recs]
        assert set(versions) <= {old, new}, mode
        assert versions[0] == old and versions[-1] == new, mode
        assert versions == sorted(versions), f"{mode}: saw the old version again after the new one"
        # never a half-written warehouse: each version comes with its own complete marts
        assert {(r["version"], r["count"]) for r in recs} <= {(old, old_count), (new, new_count)}, mode


def test_a_read_write_session_open_during_a_refresh_neither_blocks_it_nor_sees_it(reference, home, tmp_path):
    _, old, old_count = reference
    refresh, records, _ = refresh_while_reading(home, tmp_path, ["rw-held"])
    assert refresh.returncode == 0, refresh.stderr[-3000:]
    assert published_version(home) == old + 1
    recs = records["rw-held"]
    *during, reconnected = recs
    assert [r for r in during if not r["ok"]] == []
    assert len(during) > 10
    assert {(r["version"], r["count"]) for r in during} == {(old, old_count)}   # the version it opened
    assert reconnected == {"ok": True, "reconnected": True, "version": old + 1}
    assert not (home / "warehouse.duckdb.wal").exists()


class RefreshBlocked(AssertionError):
    """An analyst's session made the refresh fail."""


def test_a_read_write_session_opened_after_the_swap_does_not_block_the_report(home, tmp_path):
    wise = changed_wise(tmp_path / "input")
    step = subprocess.Popen([sys.executable, "-c", PAUSED_STEP, str(home), "wise", str(wise)], cwd=REPO,
                            env=subprocess_env(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in step.stdout:
            if line.strip() == "swapped":
                break
        else:
            pytest.fail(f"the step ended before the swap: {step.stderr.read()[-3000:]}")
        analyst = duckdb.connect(str(home / "warehouse.duckdb"))       # like `duckdb warehouse.duckdb`
        try:
            assert analyst.execute("SELECT version FROM meta.warehouse_info").fetchall()[0][0] == 2
            step.stdin.write("\n")
            step.stdin.flush()
            _, err = step.communicate(timeout=120)
        finally:
            analyst.close()
    finally:
        if step.poll() is None:
            step.kill()
            step.wait()
    if step.returncode != 0:
        last = err.strip().splitlines()[-1]
        if "Could not set lock" in last:
            raise RefreshBlocked(last)
        pytest.fail(f"the refresh failed for another reason: {last}")
