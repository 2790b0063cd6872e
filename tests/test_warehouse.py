"""Snapshot store, migrations, the loads ledger and the writer lock."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from schemas.labour import PxwebObservation
from schemas.validate import validate
from sources.snapshot import SnapshotStore
from warehouse import db
from warehouse.load import Prepared, land
from warehouse.lock import LockBusy, writer_lock
from tests.conftest import REPO


def obs(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, orient="row", schema={
        "row_number": pl.Int64, "table_id": pl.String, "region_code": pl.String, "period": pl.String,
        "measure": pl.String, "sex": pl.String, "age_group": pl.String, "value": pl.Float64,
        "status": pl.String, "unit": pl.String, "source_updated": pl.String})


GOOD = [(1, "TAB6260", "0580", "2026-01", "unemployed", "T", "20-64", 5000.0, None, "antal", None),
        (2, "TAB6260", "0580", "2026-01", "employed", "T", "20-64", 70000.0, None, "antal", None)]


def prepared(store, frame: pl.DataFrame, data: bytes) -> Prepared:
    snap, _ = store.put("pxweb", data, "json", kind="synthetic")
    return Prepared(snap, tables={"pxweb_observation": validate("pxweb_observation", frame, PxwebObservation)})


def test_snapshots_are_stored_once_by_content(tmp_path):
    store = SnapshotStore(tmp_path)
    a, new_a = store.put("pxweb", b'{"x": 1}', "json", kind="synthetic", url="file:///x.json")
    b, new_b = store.put("pxweb", b'{"x": 1}', "json")
    assert new_a and not new_b and a.path == b.path and b.kind == "synthetic"
    assert a.path.name == f"{a.sha256}.json" and a.path.read_bytes() == b'{"x": 1}'
    sidecar = json.loads((tmp_path / "raw" / "pxweb" / f"{a.sha256}.sidecar.json").read_text())
    assert sidecar["url"] == "file:///x.json" and sidecar["size"] == 8
    for i in range(4):
        store.put("pxweb", f"v{i}".encode(), "json")
    removed = store.prune("pxweb", keep=2)
    assert len(removed) == 3 and len(store.list("pxweb")) == 2


def test_migrations_apply_once_and_refuse_edits(tmp_path, monkeypatch):
    con = db.connect_work(tmp_path)
    assert db.migrate(con) == []
    names = [r[0] for r in con.execute("SELECT name FROM meta.schema_migrations").fetchall()]
    assert names == [name for name, _ in db.migrations()]
    edited = [(n, s + "\n-- edited") for n, s in db.migrations()]
    monkeypatch.setattr(db, "migrations", lambda: edited)
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        db.migrate(con)


def test_the_same_batch_twice_changes_nothing(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    first = land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"a")], "v1")
    assert (first.status, first.rows_loaded) == ("loaded", 2)
    second = land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"a")], "v1")
    assert second.status == "unchanged"
    assert con.execute("SELECT count(*) FROM staging.pxweb_observation").fetchall()[0][0] == 2
    assert con.execute("SELECT count(*) FROM meta.loads").fetchall()[0][0] == 1
    lineage = con.execute("SELECT DISTINCT _snapshot_id FROM staging.pxweb_observation").fetchall()
    assert lineage == [(first.snapshots[0],)]
    # a new code version reloads the same bytes
    assert land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"a")], "v2").status == "loaded"


def test_bad_rows_are_quarantined_with_a_redacted_value_and_the_rest_lands(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    # 40 distinct cells: two measures × 12 months for women, then 8 months for men
    rows = [(i + 1, "TAB6260", "0580", f"2026-{(i // 2) % 12 + 1:02d}", ("unemployed", "employed")[i % 2],
             "KM"[i // 24], "20-64", 100.0 + i, None, "antal", None) for i in range(40)]
    rows.append((41, "TAB6260", "19800101-1234", "2026-01", "employed", "T", "20-64", 1.0, None, "antal", None))
    result = land(con, "pxweb", "replace", 0.05, [prepared(store, obs(rows), b"b")], "v1")
    assert (result.status, result.rows_loaded, result.quarantined) == ("loaded", 40, 1)
    q = con.execute("SELECT table_name, row_number, column_name, value FROM meta.quarantine").fetchall()
    assert q == [("pxweb_observation", 41, "region_code", "<12 digits>")]


def test_a_batch_above_its_rejection_threshold_is_not_loaded(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"a")], "v1")
    bad = obs([(1, "TAB6260", "0580", "2026-13", "unemployed", "T", "20-64", -1.0, None, "antal", None)] + GOOD[1:])
    result = land(con, "pxweb", "replace", 0.05, [prepared(store, bad, b"c")], "v1")
    assert result.status == "rejected"
    assert result.message.startswith("pxweb: 1 of 2 rows failed validation (50.0% > threshold 5%)")
    # what was there before is untouched
    assert con.execute("SELECT count(*) FROM staging.pxweb_observation").fetchall()[0][0] == 2
    assert con.execute("SELECT status FROM meta.loads ORDER BY loaded_at").fetchall() == [("loaded",), ("rejected",)]


def test_append_mode_accumulates_snapshots_without_duplicates(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    a = prepared(store, obs(GOOD[:1]), b"day1")
    b = prepared(store, obs(GOOD[1:]), b"day2")
    assert land(con, "ted", "append", 0.1, [a], "v1").status == "loaded"
    assert land(con, "ted", "append", 0.1, [b], "v1").status == "loaded"
    assert land(con, "ted", "append", 0.1, [a], "v1").status == "unchanged"
    assert con.execute("SELECT count(*) FROM staging.pxweb_observation").fetchall()[0][0] == 2


def test_the_writer_lock_serialises_processes_and_reenters_in_one(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from warehouse.lock import writer_lock
        with writer_lock({str(tmp_path)!r}):
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match="another krafter writer holds"):
            with writer_lock(tmp_path, wait_seconds=0.5):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    with writer_lock(tmp_path, wait_seconds=1):
        with writer_lock(tmp_path, wait_seconds=0):   # nested use in one process re-enters
            pass


def test_an_empty_snapshot_never_replaces_a_loaded_dataset(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"a")], "v1")
    empty = land(con, "pxweb", "replace", 0.05, [prepared(store, obs([]), b"empty")], "v1")
    assert empty.status == "rejected" and "refusing to replace the loaded dataset with an empty one" in empty.message
    assert con.execute("SELECT count(*) FROM staging.pxweb_observation").fetchall()[0][0] == 2


def test_a_key_repeated_across_snapshots_of_one_batch_is_quarantined_in_duckdb(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    a = prepared(store, obs(GOOD), b"part1")
    b = prepared(store, obs([(1, *GOOD[0][1:7], 5100.0, None, "antal", None)]), b"part2")   # same cell, other value
    result = land(con, "pxweb", "replace", 0.5, [a, b], "v1",
                  unique_keys={"pxweb_observation": ["table_id", "region_code", "period", "measure", "sex", "age_group"]})
    assert (result.status, result.rows_loaded, result.quarantined) == ("loaded", 1, 2)
    assert con.execute("SELECT measure FROM staging.pxweb_observation").fetchall() == [("employed",)]
    assert con.execute("SELECT count(*) FROM meta.quarantine WHERE check_name = 'duplicate key across snapshots'"
                       ).fetchall()[0][0] == 2


def _stream(store, data: bytes, blocks: list, stop_with: BaseException | None = None) -> Prepared:
    """A streamed snapshot: validated blocks, then optionally an exception part-way."""
    snap, _ = store.put("pxweb", data, "json", kind="synthetic")

    def gen():
        from warehouse.load import Block
        for rows in blocks:
            yield Block(tables={"pxweb_observation": validate("pxweb_observation", obs(rows), PxwebObservation)})
        if stop_with is not None:
            raise stop_with
    return Prepared(snap, stream=gen())


def test_a_streamed_snapshot_lands_block_by_block_in_one_transaction(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    more = [(3, "TAB6260", "0581", "2026-01", "unemployed", "T", "20-64", 9000.0, None, "antal", None)]
    result = land(con, "pxweb", "replace", 0.05, [_stream(store, b"s", [GOOD, more])], "v1")
    assert (result.status, result.rows_in, result.rows_loaded, result.tables) == (
        "loaded", 3, 3, {"pxweb_observation": 3})
    assert con.execute("SELECT row_number FROM staging.pxweb_observation ORDER BY 1").fetchall() == [(1,), (2,), (3,)]


def test_a_stream_failing_part_way_rejects_the_batch_and_keeps_the_previous_data(tmp_path):
    from sources.base import ParseError
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"old")], "v1")
    new = [(1, "TAB6260", "0999", "2026-02", "unemployed", "T", "20-64", 1.0, None, "antal", None)]
    result = land(con, "pxweb", "replace", 0.05,
                  [_stream(store, b"new", [new], ParseError("zip member 'x.txt' cannot be read"))], "v1")
    assert result.status == "rejected" and result.message.endswith("zip member 'x.txt' cannot be read")
    assert con.execute("SELECT region_code FROM staging.pxweb_observation ORDER BY 1").fetchall() == [
        ("0580",), ("0580",)]
    assert con.execute("SELECT check_name FROM meta.quarantine").fetchall() == [
        ("zip member 'x.txt' cannot be read",)]


def test_ctrl_c_during_a_load_rolls_back_and_leaves_the_connection_usable(tmp_path):
    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    settings = "SELECT current_setting('threads'), current_setting('memory_limit')"
    before = con.execute(settings).fetchall()
    land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"old")], "v1")
    assert con.execute(settings).fetchall() == before       # one thread, 512 MB: only while landing
    new = [(1, "TAB6260", "0999", "2026-02", "unemployed", "T", "20-64", 1.0, None, "antal", None)]
    with pytest.raises(KeyboardInterrupt):
        land(con, "pxweb", "replace", 0.05, [_stream(store, b"new", [new, new], KeyboardInterrupt())], "v1")
    assert con.execute("SELECT count(*) FROM staging.pxweb_observation").fetchall() == [(2,)]
    assert con.execute("SELECT count(*) FROM meta.loads").fetchall() == [(1,)]
    assert con.execute(settings).fetchall() == before
    # the next load works on the same connection (no transaction left open)
    assert land(con, "pxweb", "replace", 0.05, [prepared(store, obs(GOOD[:1]), b"next")], "v1").status == "loaded"


def test_a_refused_memory_cap_does_not_stop_the_load_or_keep_one_thread(tmp_path):
    """DuckDB refuses a memory cap below what it cannot evict: the load goes on without it, and
    the connection gets its thread count back."""
    import duckdb

    class RefusesCap:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args):
            if sql.startswith("SET memory_limit"):
                raise duckdb.OutOfMemoryException("Failed to change memory limit")
            return self._con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._con, name)

    store = SnapshotStore(tmp_path)
    con = db.connect_work(tmp_path)
    con.execute("SET threads = 2")
    result = land(RefusesCap(con), "pxweb", "replace", 0.05, [prepared(store, obs(GOOD), b"a")], "v1")
    assert (result.status, result.rows_loaded) == ("loaded", 2)
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(2,)]


def test_validating_many_frames_at_once_equals_one_by_one():
    """One pandera run for a batch of snapshots gives each frame what validating it alone gives:
    its own failures, its own duplicates — a key repeated in two frames is no duplicate."""
    from schemas.validate import validate_many
    bad = [(3, "TAB6260", "0580", "2026-01", "unemployed", "T", "20-64", -1.0, None, "antal", None)]
    copy = (4, *GOOD[0][1:])                                  # line 4 repeats line 1's key
    frames = [obs(GOOD), obs(GOOD + [copy]), obs(bad + GOOD[1:]), obs(GOOD)]
    together = validate_many("pxweb_observation", frames, PxwebObservation)
    alone = [validate("pxweb_observation", f, PxwebObservation) for f in frames]
    for t, a in zip(together, alone):
        assert t.good.equals(a.good) and t.quarantine.equals(a.quarantine)
        assert (t.rows_in, t.rejected_rows, t.schema_error) == (a.rows_in, a.rejected_rows, a.schema_error)
    assert [v.rejected_rows for v in together] == [0, 2, 1, 0]
    assert together[1].quarantine["check_name"].to_list() == ["multiple_fields_uniqueness"] * 2
    assert together[1].quarantine["row_number"].to_list() == [1, 4]          # both copies
    # a frame with a missing column gets its own schema error; the others are unaffected
    drifted = [obs(GOOD), obs(GOOD).drop("unit")]
    got = validate_many("pxweb_observation", drifted, PxwebObservation)
    assert got[0].schema_error is None and got[0].good.height == 2
    assert got[1].schema_error is not None and got[1].good.height == 0
