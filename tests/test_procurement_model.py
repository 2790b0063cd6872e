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
