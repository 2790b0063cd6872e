"""SCB's company register bulk file: format, natural persons removed and counted, the sample."""
from __future__ import annotations

import io
import random
import sys
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from schemas.organisations import ScbRegisterOrganisation
from schemas.validate import validate
from sources import orgnr, scb_register
from sources.base import FetchContext, ParseError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sources" / "samples" / "scb-register" / "scb_bulkfil.zip"
sys.path.insert(0, str(ROOT / "scripts"))
W = orgnr.with_check_digit

COLUMNS = ["ForAndrTyp", "COAdress", "Foretagsnamn", "FtgStat", "Gatuadress", "JEStat", "JurForm",
           "Namn", "Ng1", "Ng2", "Ng3", "Ng4", "Ng5", "PeOrgNr", "PostNr", "PostOrt", "RegDatKtid",
           "Reklamsparrtyp", "mCOAdress", "mGatuadress", "mPostNr", "mPostOrt"]
KOMMUN = W("212000044")
FORENING = W("802400099")
STIFTELSE = W("802412345")
PNR = "19" + W("500101123")
PNR2 = "20" + W("010203456")


def row(**kw) -> str:
    r = {c: "" for c in COLUMNS}
    r.update(kw)
    return "\t".join(r[c] for c in COLUMNS)


LINES = [
    "\t".join(COLUMNS),
    row(Foretagsnamn="Linköpings kommun", FtgStat="1", JurForm="82", Ng1="84110", PeOrgNr="16" + KOMMUN,
        PostNr="581 81", PostOrt="LINKÖPING", RegDatKtid="19710101"),
    row(Namn="Föreningen Åby Bygdegård", FtgStat="1", JurForm="61", Ng1="94990", PeOrgNr="16" + FORENING,
        PostNr="57360", PostOrt="ÖSTERBYMO", RegDatKtid="2010-03-03"),
    row(Namn="Örn, Anna", Foretagsnamn="Anna Örn Städ", FtgStat="1", JurForm="10", Ng1="81210",
        PeOrgNr=PNR, PostNr="59530", PostOrt="MJÖLBY", RegDatKtid="20010101"),
    row(Foretagsnamn="Stiftelsen Vägledning", FtgStat="9", JurForm="72", Ng1="", PeOrgNr="16" + STIFTELSE,
        RegDatKtid="0"),
    row(Namn="Holm, Nils", FtgStat="1", JurForm="00", PeOrgNr="16" + PNR[2:]),      # 16 + personnummer
    row(Namn="Berg, Eva", FtgStat="1", JurForm="49", PeOrgNr=PNR2),                 # century 20
    "16" + W("556000000") + "\tTrasig rad",
    "\t".join(["", "", "Lisa Ek Konsult", "1"]) + "\t" + PNR[2:],                   # short row, person
]
TEXT = "\r\n".join(LINES) + "\r\n"
PERSONAL = [PNR, PNR[2:], f"{PNR[2:8]}-{PNR[8:]}", PNR2, PNR2[2:]]
PERSON_NAMES = ["Anna Örn", "Örn, Anna", "Holm", "Berg, Eva", "Lisa Ek"]


def _zip(body: bytes, name: str = "scb_bulkfil_JE_20260914T055245_80.txt") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, body)
    return buf.getvalue()


def _assert_no_personal_data(frames, numbers, names=()):
    for table, frame in frames.items():
        if frame.height:
            text = frame.select(pl.all().cast(pl.String)).write_csv()
            for needle in [*numbers, *names]:
                assert needle not in text, f"{table} leaks personal data"


@pytest.mark.parametrize("block", [5, 64, 1 << 20])
def test_parse_hand_written_latin1(block):
    frames = scb_register.parse(_zip(TEXT.encode("latin-1")), "scb_bulkfil.zip", block=block)
    assert set(frames) == {"scb_register_organisation", "scb_register_sole_traders", "scb_register_rejected"}
    org = frames["scb_register_organisation"]
    assert org.schema == pl.Schema(scb_register.ORGANISATION_SCHEMA)
    assert org.to_dicts() == [
        {"org_number": KOMMUN, "name": "Linköpings kommun", "jurform": "82", "sni": "84110", "active": True,
         "postcode": "58181", "postal_town": "LINKÖPING", "registration_date": date(1971, 1, 1), "row_number": 1},
        {"org_number": FORENING, "name": "Föreningen Åby Bygdegård", "jurform": "61", "sni": "94990",
         "active": True, "postcode": "57360", "postal_town": "ÖSTERBYMO",
         "registration_date": date(2010, 3, 3), "row_number": 2},
        {"org_number": STIFTELSE, "name": "Stiftelsen Vägledning", "jurform": "72", "sni": None,
         "active": False, "postcode": None, "postal_town": None, "registration_date": None, "row_number": 4},
    ]
    assert frames["scb_register_sole_traders"].to_dicts() == [{"count": 4}]
    assert frames["scb_register_rejected"].to_dicts() == [
        {"row_number": 7, "reason": f"expected {len(COLUMNS)} fields, found 2"}]
    _assert_no_personal_data(frames, PERSONAL, PERSON_NAMES)


def test_utf8_text_and_zip_agree():
    a = scb_register.parse(TEXT.encode("utf-8"), "x.txt")
    b = scb_register.parse(_zip(TEXT.encode("latin-1")), "x.zip")
    for k in a:
        assert a[k].equals(b[k]), k


def test_header_drift_and_guards():
    with pytest.raises(ParseError, match="header lacks column.*PeOrgNr"):
        scb_register.parse(_zip("\t".join(c for c in COLUMNS if c != "PeOrgNr").encode()), "x.zip")
    with pytest.raises(ParseError, match="absolute or contains '..'"):
        scb_register.parse(_zip(TEXT.encode(), "../x.txt"), "x.zip")
    with pytest.raises(ParseError, match="not a zip"):
        scb_register.parse(b"<html/>", "scb_bulkfil.zip")


def test_column_order_comes_from_the_header():
    cols = list(reversed(COLUMNS))
    lines = ["\t".join(f'"{c}"' for c in cols)]
    for line in LINES[1:3]:
        values = dict(zip(COLUMNS, line.split("\t")))
        lines.append("\t".join(values[c] for c in cols))
    org = scb_register.parse("\n".join(lines).encode("latin-1"), "x.txt")["scb_register_organisation"]
    assert org["org_number"].to_list() == [KOMMUN, FORENING]


# --- the bundled sample ------------------------------------------------------------------------

def _sample():
    return scb_register.parse(SAMPLE.read_bytes(), "scb_bulkfil.zip")


def test_sample_counts_forms_and_what_it_adds():
    import sample_world
    with zipfile.ZipFile(SAMPLE) as zf:
        assert b"synthetic" in zf.comment
        assert zf.namelist() == ["scb_bulkfil_JE_20260914T055245_80.txt"]
        body = zf.read(zf.namelist()[0])
    body.decode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")                                          # really latin-1
    frames = _sample()
    org = frames["scb_register_organisation"]
    assert org.height == 2980 and frames["scb_register_sole_traders"]["count"].to_list() == [20]
    assert frames["scb_register_rejected"].height == 0
    forms = {r["org_number"]: r["jurform"] for r in org.iter_rows(named=True)}
    expected = {"AB": "49", "EK": "51", "BRF": "53", "I": "61", "S": "72", "HB": "31"}
    for number, _name, form, _size, in_file in sample_world.SUPPLIERS:
        if in_file:
            assert forms[number] == expected[form], number
        else:
            assert number not in forms
    for number, _name, _k, _t, _p, klass in sample_world.BUYERS:
        assert forms[number] == {"municipality": "82", "region": "84", "state_agency": "81"}[klass]
    from sources import bolagsverket as bv
    bv_numbers = set(bv.parse((ROOT / "sources" / "samples" / "bolagsverket" / "bolagsverket_bulkfil.zip")
                              .read_bytes(), "b.zip")["bolagsverket_organisation"]["org_number"])
    only_scb = org.filter(~pl.col("org_number").is_in(list(bv_numbers)))
    counts = dict(only_scb.group_by("jurform").len().iter_rows())
    assert (counts["61"], counts["72"], counts["63"], counts["82"], counts["84"], counts["81"]) == (
        650, 180, 40, 15, 3, 2)
    assert org.filter(pl.col("registration_date").is_null())["row_number"].to_list() == [1701]
    assert org["active"].sum() > 2700


def test_sample_quarantines_exactly_the_invalid_check_digit():
    result = validate("scb_register_organisation", _sample()["scb_register_organisation"],
                      ScbRegisterOrganisation)
    assert result.schema_error is None
    assert result.quarantine.select("row_number", "column_name", "check_name", "value").to_dicts() == [
        {"row_number": 2793, "column_name": "org_number", "check_name": "valid_org_number",
         "value": "<10 digits>"}]
    assert result.good.height == 2979


def test_sample_holds_no_personnummer_or_person_names():
    import samples_organisations as gen
    bv_rows, _ = gen.bolagsverket_rows(random.Random(gen.SEED))
    _, info = gen.scb_rows(random.Random(gen.SEED + 1), bv_rows)
    assert info["persons"] == 20 and len(info["personnummer"]) == 20
    numbers = info["personnummer"] + [p[2:] for p in info["personnummer"]]
    _assert_no_personal_data(_sample(), numbers, info["person_names"])


def test_schema_rejects_unknown_jurform_and_bad_sni():
    org = scb_register.parse(TEXT.encode(), "x.txt")["scb_register_organisation"]
    bad = org.with_columns(pl.when(pl.col("row_number") == 1).then(pl.lit("77")).otherwise("jurform")
                           .alias("jurform"),
                           pl.when(pl.col("row_number") == 2).then(pl.lit("9499")).otherwise("sni").alias("sni"))
    q = validate("scb_register_organisation", bad, ScbRegisterOrganisation).quarantine
    assert sorted(zip(q["row_number"], q["column_name"])) == [(1, "jurform"), (2, "sni")]


def test_fetch_304_and_200(httpserver, tmp_path):
    path = "/scb/scb_bulkfil.zip"
    body = _zip(TEXT.encode("latin-1"))
    httpserver.expect_ordered_request(path, headers={"If-None-Match": '"s1"'}).respond_with_data("", status=304)
    httpserver.expect_ordered_request(path).respond_with_data(body, headers={"ETag": '"s2"'})
    base = httpserver.url_for("/")
    assert scb_register.fetch(FetchContext(base_url=base, etag='"s1"'), folder=tmp_path) == []
    (got,) = scb_register.fetch(FetchContext(base_url=base), folder=tmp_path)
    assert got.data == body and got.name == "scb_bulkfil.zip" and got.extra["etag"] == '"s2"'
