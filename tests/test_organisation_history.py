"""Winners are classified as the registers said on the award date: the work database keeps each
organisation's classification from one register snapshot to the next (the bulk files hold only
the present)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from flows.ingest import ingest_snapshots, store_files
from sources import registry
from sources.snapshot import SnapshotStore
from transforms.build import build
from warehouse.db import connect_work

TED = Path(__file__).resolve().parents[1] / "sources" / "samples" / "ted"
COLUMNS = ["PeOrgNr", "Foretagsnamn", "Namn", "FtgStat", "JurForm", "Ng1", "PostNr", "PostOrt", "RegDatKtid"]
D1, D2 = date(2024, 9, 1), date(2025, 3, 1)


def _register(tmp: Path, name: str, rows: list[tuple[str, str, str]]) -> Path:
    """An SCB register bulk file (tab-separated latin-1) with (org number, name, JurForm) rows."""
    lines = ["\t".join(COLUMNS)] + ["\t".join(["16" + org, firm, "", "1", form, "81210", "58181", "LINKÖPING", "20100101"])
                                    for org, firm, form in rows]
    path = tmp / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def _ingest(home: Path, source: str, files: list[Path], fetched: date | None = None) -> None:
    spec = registry.get(source)
    summary = ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, files, "synthetic"))
    assert summary.status == "loaded", summary.message
    if fetched is not None:          # as if the snapshot had been taken that day
        con = connect_work(home)
        con.execute("UPDATE meta.snapshot SET fetched_at = ?::TIMESTAMPTZ WHERE snapshot_id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [f"{fetched}T06:00:00+00:00", summary.snapshots])
        con.close()


def _build(home: Path) -> None:
    con = connect_work(home)
    build(con)
    con.close()


def test_winners_are_classified_as_on_the_award_date(tmp_path):
    home = tmp_path / "home"
    # award notices published 2024-03-05 (5561000026, 7696000103), 2024-07-02 (5561000018, 5561000182)
    # and 2025-01-14 (5561000034)
    _ingest(home, "ted", [TED / "00162502-2024.xml", TED / "00460008-2024.xml", TED / "00035018-2025.xml"])
    _ingest(home, "scb-register", [_register(tmp_path, "first.txt", [
        ("5561000018", "Östgöta Bygg AB", "49"),
        ("5561000026", "Linköpings Städservice AB", "49"),
        ("5561000034", "Norrköping IT Konsult ek. för.", "51")])], fetched=D1)
    _build(home)
    _build(home)                      # a second build with nothing new changes nothing
    con = connect_work(home)
    assert con.execute("SELECT org_number, legal_form, sector, valid_from, valid_to FROM history.organisation_class "
                       "ORDER BY org_number").fetchall() == [
        ("5561000018", "49", "private", D1, None),
        ("5561000026", "49", "private", D1, None),
        ("5561000034", "51", "cooperative", D1, None)]
    con.close()

    # the next register: 5561000034 has become a limited company, 5561000026 is gone
    _ingest(home, "scb-register", [_register(tmp_path, "second.txt", [
        ("5561000018", "Östgöta Bygg AB", "49"),
        ("5561000034", "Norrköping IT Konsult AB", "49")])], fetched=D2)
    _build(home)
    _build(home)
    con = connect_work(home)
    assert con.execute("SELECT org_number, legal_form, sector, valid_from, valid_to FROM core.organisation_history "
                       "ORDER BY org_number, valid_from").fetchall() == [
        ("5561000018", "49", "private", D1, None),
        ("5561000026", "49", "private", D1, D2),
        ("5561000034", "51", "cooperative", D1, D2),
        ("5561000034", "49", "private", D2, None)]
    assert con.execute("SELECT sector FROM core.organisation WHERE org_number = '5561000034'").fetchall() == [
        ("private",)]
    awards = con.execute("""SELECT winner_org_number, award_notice_date, matched, sector, classified_as_of,
                                   classification_basis, winner_status_at_award
                            FROM core.award WHERE winner_org_number IN ('5561000018', '5561000026', '5561000034')
                            ORDER BY winner_org_number""").fetchall()
    assert awards == [
        ("5561000018", date(2024, 7, 2), True, "private", D1, "first register snapshot after the award",
         "registered"),
        ("5561000026", date(2024, 3, 5), True, "private", D1, "first register snapshot after the award",
         "no longer in the registers"),
        # a cooperative when it won (2025-01-14), a limited company now: counted as a cooperative
        ("5561000034", date(2025, 1, 14), True, "cooperative", D1, "on the award date", "registered")]
    # winners never seen in a register stay unmatched
    assert con.execute("SELECT matched, sector, classification_basis FROM core.award "
                       "WHERE winner_org_number = '5561000182'").fetchall() == [(False, None, None)]
    con.close()


def test_an_older_register_snapshot_does_not_rewrite_the_history(tmp_path):
    home = tmp_path / "home"
    _ingest(home, "scb-register", [_register(tmp_path, "new.txt", [("5561000018", "Östgöta Bygg AB", "49")])],
            fetched=D2)
    _build(home)
    _ingest(home, "scb-register", [_register(tmp_path, "old.txt", [("5561000018", "Östgöta Bygg ek. för.", "51")])],
            fetched=D1)
    _build(home)
    con = connect_work(home)
    assert con.execute("SELECT legal_form, valid_from, valid_to FROM history.organisation_class").fetchall() == [
        ("49", D2, None)]
    con.close()


def test_a_later_wise_list_dates_the_change_by_its_own_snapshot(tmp_path):
    """The organisation's row names its SCB snapshot, but the change comes from the WISE list: the
    history dates it by the list's snapshot, and the earlier classification stays as it was."""
    home = tmp_path / "home"
    _ingest(home, "scb-register", [_register(tmp_path, "scb.txt", [("5561000018", "Östgöta Bygg AB", "49")])],
            fetched=D1)
    _build(home)
    wise = tmp_path / "wise.csv"
    wise.write_text("org_number,name,source,date\n556100-0018,Östgöta Bygg AB,test,2025-02-01\n", encoding="utf-8")
    _ingest(home, "wise", [wise], fetched=D2)
    _build(home)
    con = connect_work(home)
    assert con.execute("SELECT is_wise, is_ideburen, valid_from, valid_to FROM history.organisation_class "
                       "ORDER BY valid_from").fetchall() == [(False, False, D1, D2), (True, True, D2, None)]
    con.close()


def test_a_change_reverted_on_the_same_date_leaves_no_trace(tmp_path):
    home = tmp_path / "home"
    _ingest(home, "scb-register", [_register(tmp_path, "a.txt", [("5561000018", "Östgöta Bygg AB", "49")])],
            fetched=D1)
    _build(home)
    _ingest(home, "scb-register", [_register(tmp_path, "b.txt", [("5561000018", "Östgöta Bygg ek. för.", "51")])],
            fetched=D2)
    _build(home)
    _ingest(home, "scb-register", [_register(tmp_path, "c.txt", [("5561000018", "Östgöta Bygg AB", "49"),
                                                                  ("5561000026", "Ny AB", "49")])], fetched=D2)
    _build(home)
    con = connect_work(home)
    assert con.execute("SELECT org_number, legal_form, valid_from, valid_to FROM history.organisation_class "
                       "ORDER BY org_number, valid_from").fetchall() == [
        ("5561000018", "49", D1, None), ("5561000026", "49", D2, None)]
    con.close()


def test_a_winner_missing_from_a_skipped_history_is_still_classified_from_the_registers(tmp_path):
    home = tmp_path / "home"
    _ingest(home, "ted", [TED / "00460008-2024.xml"])
    _ingest(home, "scb-register", [_register(tmp_path, "new.txt", [("5561000026", "Ny AB", "49")])], fetched=D2)
    _build(home)
    # an older register (the history is left alone) is now the loaded one
    _ingest(home, "scb-register", [_register(tmp_path, "old.txt", [("5561000018", "Östgöta Bygg AB", "49")])],
            fetched=D1)
    _build(home)
    con = connect_work(home)
    assert con.execute("SELECT matched, sector, classified_as_of, classification_basis FROM core.award "
                       "WHERE winner_org_number = '5561000018'").fetchall() == [
        (True, "private", None, "current registers (no history)")]
    con.close()
