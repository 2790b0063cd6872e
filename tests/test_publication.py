"""Atomic publication, determinism and idempotency of the warehouse (DESIGN §3, §8)."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from flows.marts import build_and_publish
from tests.conftest import REPO

MARTS_QUERY = ("SELECT * EXCLUDE (computed_at) FROM marts.indicator_value "
               "ORDER BY indicator_id, region_code, period, sex")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def home(demo_home, tmp_path) -> Path:
    """A private copy of the demo home that a test may break."""
    dst = tmp_path / "home"
    shutil.copytree(demo_home, dst, ignore=shutil.ignore_patterns(".prefect"))
    return dst


def version(home: Path) -> int:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT version FROM meta.warehouse_info").fetchall()[0][0]
    finally:
        con.close()


def test_rebuilding_gives_identical_marts_values(home):
    before = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    first = before.execute(MARTS_QUERY).fetchall()
    before.close()
    result = build_and_publish(home, force=True)
    assert result.status == "published" and result.version == 2
    after = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert after.execute(MARTS_QUERY).fetchall() == first
    after.close()


def test_nothing_new_in_the_ledger_is_a_quick_no_op(home):
    digest = sha(home / "warehouse.duckdb")
    assert build_and_publish(home).status == "unchanged"
    assert sha(home / "warehouse.duckdb") == digest


def test_a_failure_mid_build_leaves_the_published_warehouse_unchanged(home, monkeypatch):
    digest = sha(home / "warehouse.duckdb")
    from transforms import build as transforms
    real = transforms.sql_files
    monkeypatch.setattr(transforms, "sql_files",
                        lambda: real()[:2] + [("45_broken.sql", "SELECT * FROM no_such_table")] + real()[2:])
    with pytest.raises(RuntimeError, match="45_broken.sql"):
        build_and_publish(home, force=True)
    assert sha(home / "warehouse.duckdb") == digest
    monkeypatch.undo()
    assert build_and_publish(home, force=True).status == "published"
    assert version(home) == 2


def test_a_failure_just_before_the_swap_leaves_the_published_warehouse_unchanged(home):
    digest = sha(home / "warehouse.duckdb")

    def boom(_path):
        raise OSError("disk full (injected)")
    with pytest.raises(OSError, match="injected"):
        build_and_publish(home, force=True, before_swap=boom)
    assert sha(home / "warehouse.duckdb") == digest
    assert (home / "warehouse.next.duckdb").exists()        # the half-done file
    assert build_and_publish(home, force=True).status == "published"
    assert not (home / "warehouse.next.duckdb").exists()    # cleaned up by the next run


READER = textwrap.dedent("""
    import duckdb, sys, time
    path, mode = sys.argv[1], sys.argv[2]
    con = duckdb.connect(path, read_only=(mode == "ro"))
    print(con.execute("SELECT version FROM meta.warehouse_info").fetchall()[0][0], flush=True)
    sys.stdin.readline()          # hold the file open until told to query again
    print(con.execute("SELECT version FROM meta.warehouse_info").fetchall()[0][0], flush=True)
    print(con.execute("SELECT count(*) FROM marts.indicator_value").fetchall()[0][0], flush=True)
""")


@pytest.mark.parametrize("mode", ["ro", "rw"])
def test_an_open_analyst_session_neither_blocks_nor_sees_a_refresh(home, mode):
    reader = subprocess.Popen([sys.executable, "-c", READER, str(home / "warehouse.duckdb"), mode],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "1"
        result = build_and_publish(home, force=True)       # must not wait for or fail on the reader
        assert result.status == "published" and result.version == 2
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1"      # still the previous version
        assert int(reader.stdout.readline()) > 0
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert version(home) == 2                               # a new session sees the new one


KILLED_BUILD = textwrap.dedent("""
    import sys, time
    from flows.marts import build_and_publish
    def stall(path):
        print("at-swap", flush=True)
        time.sleep(60)
    build_and_publish(sys.argv[1], force=True, before_swap=stall)
""")


def test_kill_minus_nine_before_the_swap_keeps_the_last_complete_warehouse(home):
    digest = sha(home / "warehouse.duckdb")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(home)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "at-swap"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert sha(home / "warehouse.duckdb") == digest
    assert version(home) == 1
    # the writer lock died with the process; the next run succeeds and converges
    assert build_and_publish(home, force=True).status == "published"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.indicator_value").fetchall()[0][0] > 10_000
    con.close()


def test_a_stale_wal_left_by_an_analyst_is_moved_aside(home):
    (home / "warehouse.duckdb.wal").write_bytes(b"not ours")
    build_and_publish(home, force=True)
    assert not (home / "warehouse.duckdb.wal").exists()
    assert list(home.glob("warehouse.duckdb.wal.stale-*"))
    assert version(home) == 2
