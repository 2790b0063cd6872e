"""Official eForms SDK examples round-trip from XML into the core model (per procedure)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from flows.ingest import ingest_snapshots, store_files
from sources import registry
from sources.snapshot import SnapshotStore
from transforms.build import build
from warehouse.db import connect_work

SDK = Path(__file__).parent / "fixtures" / "eforms-sdk"


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    home = tmp_path_factory.mktemp("sdk-home")
    spec = registry.get("ted")
    files = [SDK / n for n in ("can_25_ENG_Buyers.xml", "can_24_maximal.xml", "cn_24_maximal.xml")]
    result = ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, files, "synthetic"))
    assert result.status == "loaded"
    con = connect_work(home)
    build(con)
    yield con
    con.close()


def test_joint_procurement_keeps_both_buyers(core):
    buyers = core.execute("SELECT name, country, location_method FROM core.buyer b JOIN core.notice n "
                          "USING (procedure_id) WHERE n.notice_id LIKE '2202aef9%' ORDER BY name").fetchall()
    assert buyers == [("Clear Water", "GBR", "foreign"), ("NI Water and its subsidiaries", "GBR", "foreign")]


def test_multi_lot_multi_winner_award_counts_each_tender_once(core):
    rows = core.execute("""SELECT lot_id, tender_id, winner_org_ref, winner_name, winner_size, group_size,
                                  tender_value, counts_value
                           FROM core.award a JOIN core.notice n USING (notice_id)
                           WHERE n.notice_subtype = '29' AND a.lot_id = 'LOT-0001'
                           ORDER BY tender_id, winner_org_ref""").fetchall()
    assert rows == [
        # TEN-0001: a group led by ORG-0008 with ORG-0009, a natural person (never stored by name)
        ("LOT-0001", "TEN-0001", "ORG-0008", "Gyro Soft SA", "large", 2, Decimal("9999999.99"), True),
        ("LOT-0001", "TEN-0001", "ORG-0009", None, "micro", 2, Decimal("9999999.99"), False),
        ("LOT-0001", "TEN-0002", "ORG-0011", "Competitor", "large", 1, Decimal("9999999.99"), True),
    ]
    counted = core.execute("SELECT sum(tender_value) FILTER (WHERE counts_value) FROM core.award "
                           "WHERE lot_id = 'LOT-0001'").fetchall()[0][0]
    assert counted == Decimal("19999999.98")     # two tenders, not three winners
    # the closed lot has a result and no winner
    assert core.execute("SELECT winner_selection_status FROM core.lot_result WHERE lot_id = 'LOT-0002'").fetchall() == [("clos-nw",)]


def test_competition_notice_flags_become_procedure_flags(core):
    # cn_24_maximal: LOT-0001 res-pub-ser, both lots BT-736 yes, env-imp, acc-all, proc-innov, clim-mitig
    row = core.execute("SELECT reserved, reserved_stated, social, innovation, green, has_eforms FROM core.procedure p "
                       "JOIN core.notice n USING (procedure_id) WHERE n.notice_subtype = '16'").fetchall()
    assert row == [(True, True, True, True, True, True)]


# --- where a buyer is placed: curated table, organisation register, name, town, NUTS3 -----------

LEGACY = Path(__file__).parent / "fixtures" / "ted-xml"
SCB_COLUMNS = ["Foretagsnamn", "Namn", "JurForm", "FtgStat", "Ng1", "PeOrgNr", "PostNr", "PostOrt", "RegDatKtid"]


def _scb_register(rows: list[dict]) -> bytes:
    lines = ["\t".join(SCB_COLUMNS)] + ["\t".join(r.get(c, "") for c in SCB_COLUMNS) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def test_buyers_are_placed_by_the_register_before_their_written_name(tmp_path):
    """A buyer whose org number the register knows as a kommun (82) or region (84) is placed by the
    registered name, whatever the notice calls it; otherwise by its own name, town or NUTS3."""
    home = tmp_path / "home"
    notices = tmp_path / "notices"
    notices.mkdir()
    f02 = (LEGACY / "104512-2019_F02.xml").read_text(encoding="utf-8")
    # Linköping's org number under a department's name: only the register can place it
    notices.joinpath("f02.xml").write_text(
        f02.replace("<OFFICIALNAME>Linköpings kommun</OFFICIALNAME>",
                    "<OFFICIALNAME>Utbildningsförvaltningen</OFFICIALNAME>"), encoding="utf-8")
    for name in ("412034-2019_F21_contract.xml", "162345-2020_F15.xml"):
        notices.joinpath(name).write_bytes((LEGACY / name).read_bytes())
    f21 = (LEGACY / "538870-2019_F21_award.xml").read_text(encoding="utf-8")
    # two buyers without a known org number or name: one by its town, one by NUTS3 only
    f21 = (f21.replace("<OFFICIALNAME>Norrköpings kommun</OFFICIALNAME>", "<OFFICIALNAME>Vårdförbundet</OFFICIALNAME>")
              .replace("<NATIONALID>212000-0456</NATIONALID>", "")
              .replace("<OFFICIALNAME>Söderköpings kommun</OFFICIALNAME>", "<OFFICIALNAME>Samordningsförbundet</OFFICIALNAME>")
              .replace("<NATIONALID>212000-0563</NATIONALID>", "")
              .replace("<TOWN>Söderköping</TOWN>", "<TOWN>Östra Husby</TOWN>"))      # a village
    assert "Vårdförbundet" in f21 and "Samordningsförbundet" in f21
    notices.joinpath("f21.xml").write_text(f21, encoding="utf-8")
    register = tmp_path / "scb_bulkfil.txt"
    register.write_bytes(_scb_register([
        {"Foretagsnamn": "Linköpings kommun", "JurForm": "82", "FtgStat": "1", "PeOrgNr": "162120000449",
         "PostOrt": "LINKÖPING"},
        {"Foretagsnamn": "Region Östergötland", "JurForm": "84", "FtgStat": "1", "PeOrgNr": "162321000008",
         "PostOrt": "LINKÖPING"}]))
    for source, path in (("ted", notices), ("scb-register", register)):
        spec = registry.get(source)
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        assert ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, files, "synthetic")).status == "loaded"
    con = connect_work(home)
    try:
        build(con)
        rows = con.execute("SELECT name, org_number, municipality_code, county_code, location_method, buyer_class "
                           "FROM core.buyer ORDER BY name").fetchall()
    finally:
        con.close()
    towns = {r[0]: r for r in rows}
    assert towns["Utbildningsförvaltningen"] == (
        "Utbildningsförvaltningen", "2120000449", "0580", "05", "register", "municipality")
    assert towns["Region Östergötland"] == (
        "Region Östergötland", "2321000008", None, "05", "register", "region")
    assert towns["Motala kommun"] == ("Motala kommun", "2120000522", "0583", "05", "name", "municipality")
    assert towns["Vårdförbundet"][2:5] == ("0581", "05", "town")          # TOWN Norrköping
    assert towns["Samordningsförbundet"][2:5] == (None, "05", "nuts3")    # NUTS SE123 only


def _staging(home: Path) -> dict[str, list]:
    con = connect_work(home)
    try:
        out = {}
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = 'staging' ORDER BY 1").fetchall():
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' "
                "AND table_name = ? AND column_name <> '_loaded_at' ORDER BY ordinal_position", [table]).fetchall()]
            out[table] = sorted(map(repr, con.execute(f'SELECT {", ".join(cols)} FROM staging."{table}"').fetchall()))
        out["quarantine"] = sorted(map(repr, con.execute(
            "SELECT snapshot_id, table_name, row_number, column_name, check_name, value FROM meta.quarantine").fetchall()))
        return out
    finally:
        con.close()


def test_a_large_batch_is_prepared_by_worker_processes_with_the_same_result(tmp_path, monkeypatch):
    """A backfill-sized batch is parsed and validated by a pool of processes while `land` inserts
    the groups already done; what lands — rows, quarantine, the broken notice's one-line error — is
    exactly what one process lands. A batch found unchanged in the ledger starts no pool."""
    import multiprocessing as mp

    from flows.ingest import sample_files
    from schemas import prepare

    spec = registry.get("ted")
    files = sample_files("ted") + [SDK / n for n in ("can_25_ENG_Buyers.xml", "can_24_maximal.xml")]
    broken = tmp_path / "broken.xml"
    broken.write_bytes(files[0].read_bytes()[:900])
    files.insert(3, broken)

    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    monkeypatch.setenv("KRAFTER_WORKERS", "1")
    one = ingest_snapshots(serial, spec, store_files(SnapshotStore(serial), spec, files, "synthetic"))

    monkeypatch.setenv("KRAFTER_WORKERS", "2")
    monkeypatch.setattr(prepare, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(prepare, "GROUP_BYTES", 20_000)          # several groups of a few notices
    stored = store_files(SnapshotStore(parallel), spec, files, "synthetic")
    batch = [s for s, _ in stored]
    prepared = prepare.prepare_all(spec, batch)
    assert all(p.stream is not None for p in prepared) and not mp.active_children()   # nothing started yet
    first = list(prepared[0].blocks())
    assert first[0].tables["ted_notice"].good.height == 1 and len(mp.active_children()) == 2
    for p in prepared[1:]:
        try:
            list(p.blocks())
        except Exception as exc:                                  # the broken notice, raised as land sees it
            assert p.snapshot.name == "broken.xml" and "not well-formed XML" in str(exc)
    assert not mp.active_children()                                # the pool is gone after the last one

    two = ingest_snapshots(parallel, spec, stored)
    assert (two.status, two.rows, two.quarantined) == (one.status, one.rows, one.quarantined)
    assert one.status == "loaded" and one.rows == 209
    landed = _staging(parallel)
    assert landed == _staging(serial)
    assert [q for q in landed["quarantine"] if "not well-formed XML" in q] and len(landed["ted_notice"]) == 45
    again = ingest_snapshots(parallel, spec, stored)
    assert again.status == "unchanged" and not mp.active_children()


def test_a_load_that_fails_part_way_stops_the_worker_pool(tmp_path, monkeypatch):
    """When `land` raises while the pool still has groups to hand out, the pool is shut down at
    once, not left running until the batch is garbage-collected."""
    import multiprocessing as mp

    from flows.ingest import sample_files
    from schemas import prepare
    from warehouse import load

    spec = registry.get("ted")
    monkeypatch.setenv("KRAFTER_WORKERS", "2")
    monkeypatch.setattr(prepare, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(prepare, "GROUP_BYTES", 20_000)
    calls = []
    insert = load._Staging.insert

    def failing_insert(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 12:
            raise OSError("disk full")
        return insert(self, *args, **kwargs)
    monkeypatch.setattr(load._Staging, "insert", failing_insert)
    stored = store_files(SnapshotStore(tmp_path), spec, sample_files("ted"), "synthetic")
    with pytest.raises(OSError, match="disk full"):
        ingest_snapshots(tmp_path, spec, stored)
    assert len(calls) == 12 and not mp.active_children()


@pytest.mark.parametrize("slow_first_group", [False, True])
def test_a_worker_that_dies_does_not_lose_the_batch(tmp_path, monkeypatch, caplog, slow_first_group):
    """Workers killed mid-batch (the out-of-memory killer, say) break the pool; the rest of the
    batch is prepared in the flow's own process and lands as one process would land it — also
    when the pool breaks while this process is still on the first group (the next submit fails)."""
    import multiprocessing as mp
    import time

    from flows.ingest import sample_files
    from schemas import prepare

    spec = registry.get("ted")
    monkeypatch.setenv("KRAFTER_WORKERS", "2")
    monkeypatch.setattr(prepare, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(prepare, "GROUP_BYTES", 1 if slow_first_group else 20_000)
    if slow_first_group:
        in_process = prepare.prepare_group
        calls = []

        def slow(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                time.sleep(4)             # the workers start, take their first groups and die
            return in_process(*args, **kwargs)
        monkeypatch.setattr(prepare, "prepare_group", slow)
    monkeypatch.setenv("KRAFTER_KILL_AT", "in-worker")          # every worker dies on its first group
    stored = store_files(SnapshotStore(tmp_path / "a"), spec, sample_files("ted"), "synthetic")
    broken = ingest_snapshots(tmp_path / "a", spec, stored)
    assert "worker pool broke" in caplog.text and not mp.active_children()
    monkeypatch.setenv("KRAFTER_WORKERS", "1")
    monkeypatch.delenv("KRAFTER_KILL_AT")
    serial = ingest_snapshots(tmp_path / "b", spec, store_files(SnapshotStore(tmp_path / "b"), spec,
                                                                sample_files("ted"), "synthetic"))
    assert (broken.status, broken.rows, broken.quarantined) == (serial.status, serial.rows, serial.quarantined)
    assert broken.status == "loaded" and broken.rows == serial.rows > 100
    assert _staging(tmp_path / "a") == _staging(tmp_path / "b")
