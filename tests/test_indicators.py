"""Indicator values on a small hand-made fixture world, with the arithmetic written out.

The world lives directly in staging (no files): seven procedures of Linköping (0580) and one of
Norrköping (0581) in 2025, a few awards, three organisations, and Arbetsförmedlingen observations
around the 2023 series break. The models in transforms/sql turn it into core and marts.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from schemas.registry import empty_frame
from sources.orgnr import with_check_digit
from transforms.build import build, ensure_staging
from warehouse.db import connect_work
from warehouse.load import ensure_staging_table

LINKOPING = ("2120000449", "Linköpings kommun", "Linköping")
NORRKOPING = (with_check_digit("212000045"), "Norrköpings kommun", "Norrköping")
IDEBUREN = with_check_digit("802400014")       # ideell förening (I) → civil_society
COMPANY = with_check_digit("556100001")         # aktiebolag
PARTNER = with_check_digit("556100018")         # aktiebolag, consortium member


def stage(con, table: str, rows: list[dict]) -> None:
    frame = pl.DataFrame(rows, schema=empty_frame(table).schema)
    ensure_staging_table(con, table, frame)
    con.register("_rows", frame)
    con.execute(f'INSERT INTO staging."{table}" BY NAME SELECT *, \'fixture:1\' AS _snapshot_id, '
                f"TIMESTAMPTZ '2026-01-01 00:00:00+00' AS _loaded_at FROM _rows")
    con.unregister("_rows")


def notice(nid: str, procedure: str, subtype: str, day: date) -> dict:
    return {"notice_id": nid, "notice_version": "01", "sdk_version": "eforms-sdk-1.10", "notice_subtype": subtype,
            "notice_type": "cn-standard" if subtype == "16" else "can-standard", "form_type": "x",
            "legal_basis": "32014L0024", "procedure_id": procedure, "issue_date": day, "publication_date": day}


def buyer(nid: str, who=LINKOPING) -> dict:
    return {"notice_id": nid, "notice_version": "01", "position": 1, "org_ref": "ORG-0001", "company_id": who[0],
            "org_number": who[0], "name": who[1], "country": "SWE", "nuts": "SE123", "town": who[2]}


def lot(nid: str, **flags) -> dict:
    return {"notice_id": nid, "notice_version": "01", "lot_id": "LOT-0001", "lot_kind": "Lot", **flags}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("fixture-world")
    con = connect_work(home)
    ensure_staging(con)
    cn = [  # seven Linköping procedures with competition notices in 2025 (+ one of Norrköping)
        ("CN1", "P1", {"reserved_participation": ["res-ws"], "strategic": ["soc-obj"]}),        # reserved, social
        ("CN2", "P2", {"reserved_participation": ["none"], "social": ["opp"]}),                  # social via BT-775 only
        ("CN3", "P3", {"reserved_participation": ["none"]}),                                     # social flags missing
        ("CN4", "P4", {"reserved_participation": ["none"], "strategic": ["none"]}),              # stated: no
        ("CN5", "P5", {"reserved_participation": ["none"], "strategic": ["none"]}),
        ("CN6", "P6", {"reserved_participation": ["none"], "reserved_execution": "yes"}),        # reserved execution
        ("CN7", "P7", {"reserved_participation": ["res-pub-ser"], "strategic": ["none"]}),       # late notice (below)
        ("CN8", "P8", {"reserved_participation": ["res-ws"], "strategic": ["soc-obj"]}),        # Norrköping
    ]
    notices, buyers, lots = [], [], []
    for i, (nid, proc, flags) in enumerate(cn):
        day = date(2025, 5, 20) if proc == "P7" else date(2025, 2, 1 + i)
        notices.append(notice(nid, proc, "16", day))
        buyers.append(buyer(nid, NORRKOPING if proc == "P8" else LINKOPING))
        lots.append(lot(nid, **flags))
    # awards: P5 to a consortium (one tender of 1 000 000 SEK, two members), P7 to an idea-based
    # organisation whose award notice (March) arrived before its competition notice (May),
    # P4 to a company, one bid only.
    awards = [("CAN5", "P5", date(2025, 6, 1)), ("CAN7", "P7", date(2025, 3, 1)), ("CAN4", "P4", date(2025, 6, 2))]
    results, winners = [], []
    for nid, proc, day in awards:
        notices.append(notice(nid, proc, "29", day))
        buyers.append(buyer(nid))
        lots.append(lot(nid))
        results.append({"notice_id": nid, "notice_version": "01", "result_id": "RES-0001", "lot_id": "LOT-0001",
                        "winner_selection_status": "selec-w", "tenders_received": 1 if proc == "P4" else 3})
    base = {"notice_version": "01", "result_id": "RES-0001", "lot_id": "LOT-0001", "winner_country": "SWE",
            "tender_currency": "SEK"}
    winners += [
        {**base, "notice_id": "CAN5", "tender_id": "TEN-1", "winner_org_ref": "ORG-2", "winner_org_number": COMPANY,
         "winner_name": "Östgöta Bygg AB", "winner_size": "medium", "group_lead": True, "group_size": 2,
         "tender_value": Decimal("1000000.00")},
        {**base, "notice_id": "CAN5", "tender_id": "TEN-1", "winner_org_ref": "ORG-3", "winner_org_number": PARTNER,
         "winner_name": "Söderköpings El AB", "winner_size": "small", "group_lead": False, "group_size": 2,
         "tender_value": Decimal("1000000.00")},
        {**base, "notice_id": "CAN7", "tender_id": "TEN-1", "winner_org_ref": "ORG-4", "winner_org_number": IDEBUREN,
         "winner_name": "Stadsmissionen", "winner_size": "small", "group_size": 1, "tender_value": Decimal("250000.00")},
        {**base, "notice_id": "CAN4", "tender_id": "TEN-1", "winner_org_ref": "ORG-5", "winner_org_number": None,
         "winner_name": None, "winner_size": None, "group_size": 1, "tender_value": Decimal("750000.00")},  # unmatched
    ]
    stage(con, "ted_notice", notices)
    stage(con, "ted_buyer", buyers)
    stage(con, "ted_lot", lots)
    stage(con, "ted_lot_result", results)
    stage(con, "ted_award", winners)
    stage(con, "bolagsverket_organisation", [
        {"org_number": IDEBUREN, "row_number": 1, "registration_seq": 1, "name": "Stadsmissionen", "name_count": 1,
         "organisation_form": "I"},
        {"org_number": COMPANY, "row_number": 2, "registration_seq": 1, "name": "Östgöta Bygg AB", "name_count": 1,
         "organisation_form": "AB"},
        {"org_number": PARTNER, "row_number": 3, "registration_seq": 1, "name": "Söderköpings El AB", "name_count": 1,
         "organisation_form": "AB", "registration_date": date(2001, 3, 1), "deregistration_date": date(2025, 1, 15),
         "deregistration_reason": "FUAV"}])
    af = []
    for period, brk, registered, force, long_term in (("2022-12", False, 5000, 80000, 1500),
                                                      ("2023-01", True, 5400, 88000, 1900)):
        for measure, value in (("registered_unemployed", registered), ("registered_labour_force", force),
                               ("unemployed_12m", long_term)):
            af.append({"region_code": "0580", "period": period, "measure": measure, "sex": "T",
                       "age_group": "16-64" if period < "2023" else "16-65", "series_break": brk,
                       "value": float(value), "row_number": len(af) + 1})
    stage(con, "af_observation", af)
    build(con)
    yield con
    con.close()


def value(con, indicator: str, region: str, period: str) -> tuple:
    rows = con.execute("SELECT value, numerator, denominator, n, coverage, status FROM marts.indicator_value "
                       "WHERE indicator_id = ? AND region_code = ? AND period = ? AND sex = 'T'",
                       [indicator, region, period]).fetchall()
    assert len(rows) == 1
    return rows[0]


def test_reserved_share_counts_participation_and_execution(world):
    # Linköping 2025: P1 (res-ws), P6 (BT-736 yes), P7 (res-pub-ser) of 7 procedures = 42,9 %
    assert value(world, "sp_reserved_share", "0580", "2025") == (
        Decimal("42.9"), Decimal("3"), Decimal("7"), 7, Decimal("1"), "final")


def test_missing_flag_is_not_stated_and_lowers_coverage_not_the_count(world):
    # social: P1 (soc-obj), P2 (BT-775 opp) → 2 of 7 = 28,6 %; stated for P1, P2, P4, P5, P7 → 5/7
    # P3 and P6 say nothing about social considerations: not "no", not stated
    assert value(world, "sp_social_share", "0580", "2025") == (
        Decimal("28.6"), Decimal("2"), Decimal("7"), 7, Decimal("0.7143"), "final")


def test_small_numbers_are_suppressed_but_keep_their_counts(world):
    # Norrköping has one procedure: below the minimum n of 5
    assert value(world, "sp_reserved_share", "0581", "2025") == (
        None, Decimal("1"), Decimal("1"), 1, Decimal("1"), "suppressed")
    # the county: 4 of 8 = 50,0 %
    assert value(world, "sp_reserved_share", "05", "2025")[:4] == (Decimal("50.0"), Decimal("4"), Decimal("8"), 8)


def test_late_competition_notice_makes_its_award_reserved(world):
    # P7's award (March) precedes its competition notice (May): the procedure still knows it is reserved
    row = world.execute("SELECT reserved, first_result_date < first_competition_date FROM core.procedure "
                        "WHERE procedure_id = 'P7'").fetchall()
    assert row == [(True, True)]
    # SEK awarded in reserved procedures: only P7's 250 000 (P5 and P4 are not reserved)
    v = world.execute("SELECT numerator, n FROM marts.indicator_value WHERE indicator_id = "
                      "'sc_reserved_award_value' AND region_code = '0580' AND period = '2025'").fetchall()[0]
    assert v == (Decimal("250000.00"), 3)


def test_a_consortium_value_is_counted_once(world):
    # awarded SEK in Linköping 2025: P5 1 000 000 (one tender, two members) + P7 250 000 + P4 750 000
    # idea-based share of value = 250 000 / 2 000 000 = 12,5 %; n = 3 lots (below 5: suppressed)
    assert value(world, "sc_ideburen_award_share_value", "0580", "2025")[:4] == (
        None, Decimal("250000.00"), Decimal("2000000.00"), 3)
    counted = world.execute("SELECT sum(tender_value) FILTER (WHERE counts_value), sum(tender_value) "
                            "FROM core.award WHERE procedure_id = 'P5'").fetchall()[0]
    assert counted == (Decimal("1000000.00"), Decimal("2000000.00"))


def test_match_rate_is_the_coverage_of_award_shares(world):
    # 3 awarded lots; P4's winner has no org number → 2 of 3 matched
    assert value(world, "sc_ideburen_award_share_lots", "0580", "2025")[1:5] == (
        Decimal("1"), Decimal("3"), 3, Decimal("0.6667"))


def test_single_bidder_share(world):
    # one of three awarded lots had a single tender (P4)
    assert value(world, "sp_single_bidder_share", "0580", "2025")[1:4] == (Decimal("1"), Decimal("3"), 3)


def test_series_break_is_carried_in_status(world):
    # registered unemployment: 5 000 / 80 000 = 6,3 % (final); 5 400 / 88 000 = 6,1 % (break: 16–65 from 2023)
    assert value(world, "lm_registered_unemployment_rate", "0580", "2022-12")[:3] == (
        Decimal("6.3"), Decimal("5000"), Decimal("80000"))
    assert value(world, "lm_registered_unemployment_rate", "0580", "2022-12")[5] == "final"
    assert value(world, "lm_registered_unemployment_rate", "0580", "2023-01")[::5] == (Decimal("6.1"), "break")
    # long-term: 1 900 of 5 400 = 35,2 %; the count is the count
    assert value(world, "lm_long_term_unemployed_share", "0580", "2023-01")[0] == Decimal("35.2")
    assert value(world, "lm_long_term_unemployed_count", "0580", "2023-01")[0] == Decimal("1900")


def test_yes_of_stated_is_published_beside_yes_of_all(world):
    # social, of the five procedures that stated it (P1, P2, P4, P5, P7): P1 and P2 → 2/5 = 40,0 %;
    # n is the stated procedures (5, at the minimum), coverage the same 5/7 as the headline
    assert value(world, "sp_social_share_of_stated", "0580", "2025") == (
        Decimal("40.0"), Decimal("2"), Decimal("5"), 5, Decimal("0.7143"), "final")


def test_public_civil_pairs_are_counted_where_the_buyer_is(world):
    # one public buyer (Linköpings kommun) × one idea-based winner (Stadsmissionen, P7) in 2025
    assert value(world, "sc_public_civil_contracts", "0580", "2025") == (
        Decimal("1"), Decimal("1"), None, 1, None, "final")
    # Norrköping had no such pair: a real zero, not missing
    assert value(world, "sc_public_civil_contracts", "0581", "2025")[::5] == (Decimal("0"), "final")


def test_winners_are_checked_against_their_registration_on_the_award_date(world):
    rows = dict(world.execute("SELECT winner_name, winner_status_at_award FROM core.award "
                              "WHERE procedure_id = 'P5'").fetchall())
    # the consortium partner was deregistered (merged) on 2025-01-15, before the award of 2025-06-01
    assert rows == {"Östgöta Bygg AB": "registered", "Söderköpings El AB": "deregistered before the award"}
