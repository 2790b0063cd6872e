"""Organisation registers: Bolagsverket bulk file, curated WISE/IOP lists, the ideburen register,
their pandera models and the legal-form reference tables."""
from __future__ import annotations

import csv
import io
import random
import sys
import zipfile
from datetime import date
from pathlib import Path

import pandera.errors
import polars as pl
import pytest

from schemas.organisations import TABLES, BolagsverketOrganisation, IopAgreement, org_number_ok
from sources import bolagsverket, ideburen, iop, orgnr, wise
from sources.base import FetchContext, ParseError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sources" / "samples"
REFERENCE = ROOT / "sources" / "reference"
sys.path.insert(0, str(ROOT / "scripts"))

W = orgnr.with_check_digit
ACME = W("556000000")                 # 5560000001
COOP = W("769600001")                 # 7696000012
FORE = W("802400099")
GONE = W("556123456")
PNR12 = "19" + W("500101123")         # sole trader, 12 digits
PNR10 = W("811224567")                # personal number in a 10-digit identity typed ORGNR
HEADER = ('"organisationsidentitet";"namnskyddslopnummer";"registreringsland";"organisationsnamn";'
          '"organisationsform";"avregistreringsdatum";"avregistreringsorsak";'
          '"pagandeAvvecklingsEllerOmstruktureringsforfarande";"registreringsdatum";'
          '"verksamhetsbeskrivning";"postadress"')
LINES = [
    HEADER,
    f'"{ACME}$ORGNR-IDORG";"1";"SE-LAND";"Acme AB$FORETAGSNAMN-ORGNAM$2020-01-01";"AB-ORGFO";"";"";"";'
    '"2020-01-01";"Runs acme.se";"Box 1$$STOCKHOLM$11122$SE-LAND"',
    f'"{COOP[:6]}-{COOP[6:]}$ORGNR-IDORG";"1";"SE-LAND";"Fiket$SARS_FORNAMN-ORGNAM$2021-02-01|'
    'Kooperativet Åby ek. för.$FORETAGSNAMN-ORGNAM$2019-05-05";"EK-ORGFO";"";"";'
    '"|KK-AVOMFO$2025-03-01|LI-AVOMFO$2025-04-01";"2019-05-05";"Café och bageri";'
    '"Storgatan 1$c/o Berg$58222$LINKÖPING$SE-LAND"',
    f'"{PNR12}$PERSON-IDORG";"1";"SE-LAND";"Anna Örn Städ$FORETAGSNAMN-ORGNAM$2001-01-01";"E-ORGFO";'
    '"";"";"";"2001-01-01";"Städning";"Gatan 2$$MJÖLBY$59530$SE-LAND"',
    f'"{FORE}$ORGNR-IDORG";"1";"SE-LAND";"Föreningen "Vi i Ydre"$NAMN-ORGNAM$2010-03-03";"I-ORGFO";'
    '"null";"";"";"2010-03-03";"Bygdegård\x00 och café";"$$ÖSTERBYMO$57360$SE-LAND"',
    f'"{PNR12}$PERSON-IDORG";"2";"SE-LAND";"Anna Örn Catering$FORETAGSNAMN-ORGNAM$2005-01-01";'
    '"E-ORGFO";"";"";"";"2005-01-01";"Catering";""',
    f'"{GONE}$ORGNR-IDORG";"1";"SE-LAND";"Borta AB$FORETAGSNAMN-ORGNAM$1999-09-09";"AB-ORGFO";'
    '"2024-05-31";"KKAV-AVORG";"";"1999-09-09";"";"Box 9$$NORRKÖPING$60222$SE-LAND"',
    f'"{PNR10}$ORGNR-IDORG";"1";"SE-LAND";"Nils Holm Konsult AB$FORETAGSNAMN-ORGNAM$2012-01-01";'
    '"AB-ORGFO";"";"";"";"2012-01-01";"";""',
    f'"{W("559000111")}$ORGNR-IDORG";"1";"SE-LAND";"Trasig AB"',
]
TEXT = "\r\n".join(LINES) + "\r\n"
PERSONAL = [PNR12, PNR12[2:], f"{PNR12[2:8]}-{PNR12[8:]}", PNR10]
PERSON_NAMES = ["Anna Örn", "Nils Holm"]


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, body in members.items():
            zf.writestr(zipfile.ZipInfo(name), body, compress_type=compression)
    return buf.getvalue()


def _assert_no_personal_data(frames: dict[str, pl.DataFrame], numbers, names=()) -> None:
    for table, frame in frames.items():
        if frame.height == 0:
            continue
        text = frame.select(pl.all().cast(pl.String)).write_csv()
        for needle in [*numbers, *names]:
            assert needle not in text, f"{table} leaks personal data"


# --- org numbers -------------------------------------------------------------------------------

def test_org_number_forms():
    assert orgnr.digits_of("556000-0001") == "5560000001"
    assert orgnr.digits_of("165560000001") == "5560000001"
    assert orgnr.digits_of("SE556000000101") == "5560000001"
    assert orgnr.normalise("556000-0001") == "5560000001"
    assert orgnr.normalise("5560000002") is None                     # Luhn fails
    assert orgnr.is_personal_number(PNR12) and orgnr.is_personal_number(PNR10)
    assert not orgnr.is_personal_number(ACME)


def test_vectorised_check_agrees_with_normalise():
    rng = random.Random(7)
    values = [W(f"{rng.randrange(10**9):09d}") for _ in range(2000)]
    values += [f"{rng.randrange(10**10):010d}" for _ in range(3000)]
    values += ["556000-0001", "55600000011", "556000000", "abcdefghij", ""]
    got = pl.DataFrame({"v": values}).select(org_number_ok(pl.col("v")))["v"].to_list()
    assert got == [orgnr.normalise(v) == v for v in values]


def test_vectorised_identity_helpers_agree_with_orgnr():
    rng = random.Random(11)
    values = [W(f"{rng.randrange(10**9):09d}") for _ in range(500)]
    values += [f"{rng.randrange(10**12):012d}" for _ in range(500)]
    values += ["19" + W(f"{rng.randrange(10**9):09d}") for _ in range(200)]
    values += [PNR12, PNR10, "556000-0001", " 165560000001 ", "SE556000000101", "SE5560000001",
               "5560000001 01", "12345", "", "abc", "811224-5678"]
    df = pl.DataFrame({"v": values})
    digits = df.select(bolagsverket.digits_of_expr(pl.col("v")))["v"].to_list()
    personal = df.select(bolagsverket.is_personal_expr(pl.col("v")))["v"].to_list()
    assert digits == [orgnr.digits_of(v) for v in values]
    assert personal == [orgnr.is_personal_number(v) for v in values]


# --- Bolagsverket parse ------------------------------------------------------------------------

@pytest.mark.parametrize("encoded", [b"\xef\xbb\xbf" + TEXT.encode("utf-8"), TEXT.encode("latin-1")],
                         ids=["utf8-bom", "latin1"])
def test_parse_hand_written_text(encoded):
    frames = bolagsverket.parse(encoded, "bolagsverket_bulkfil.txt")
    assert set(frames) == {"bolagsverket_organisation", "bolagsverket_sole_traders",
                           "bolagsverket_rejected"}
    org = frames["bolagsverket_organisation"]
    assert org.schema == pl.Schema(bolagsverket.ORGANISATION_SCHEMA)
    assert org["org_number"].to_list() == [ACME, COOP, FORE, GONE]
    assert org["row_number"].to_list() == [1, 2, 4, 6]
    rows = {r["org_number"]: r for r in org.iter_rows(named=True)}
    assert rows[ACME] == {
        "org_number": ACME, "registration_seq": 1, "name": "Acme AB", "name_count": 1,
        "organisation_form": "AB", "registration_date": date(2020, 1, 1),
        "deregistration_date": None, "deregistration_reason": None, "proceedings": None,
        "description": "Runs acme.se", "postal_town": "STOCKHOLM", "postcode": "11122",
        "row_number": 1}
    coop = rows[COOP]
    assert coop["name"] == "Kooperativet Åby ek. för." and coop["name_count"] == 2
    assert coop["proceedings"] == "KK:2025-03-01|LI:2025-04-01"
    assert (coop["postal_town"], coop["postcode"]) == ("LINKÖPING", "58222")   # parts swapped
    fore = rows[FORE]
    assert fore["name"] == 'Föreningen "Vi i Ydre"'                            # bare quotes kept
    assert fore["description"] == "Bygdegård och café"                          # NUL removed
    assert fore["deregistration_date"] is None                                  # literal null
    assert fore["organisation_form"] == "I" and fore["postal_town"] == "ÖSTERBYMO"
    gone = rows[GONE]
    assert gone["deregistration_date"] == date(2024, 5, 31)
    assert gone["deregistration_reason"] == "KKAV" and gone["description"] is None
    assert frames["bolagsverket_sole_traders"].to_dicts() == [{"count": 3}]
    assert frames["bolagsverket_rejected"].to_dicts() == [
        {"row_number": 8, "reason": "expected 11 fields, found 4"}]
    _assert_no_personal_data(frames, PERSONAL, PERSON_NAMES)


def test_parse_zip_equals_text():
    text_frames = bolagsverket.parse(TEXT.encode("utf-8"), "x.txt")
    zip_frames = bolagsverket.parse(_zip({"bolagsverket_bulkfil.txt": TEXT.encode()}), "x.zip")
    for k, v in text_frames.items():
        assert zip_frames[k].equals(v)


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1"])
def test_streaming_in_tiny_blocks_gives_the_same_frames(block, encoding):
    """Block boundaries inside lines, inside ``\r\n`` and inside a UTF-8 character; a latin-1
    text whose first non-UTF-8 byte comes after several blocks (the whole stream is re-read)."""
    data = TEXT.encode(encoding)
    whole = bolagsverket.parse(data, "x.txt")
    for source in (data, _zip({"bolagsverket_bulkfil.txt": data})):
        got = bolagsverket.parse(source, "x.zip" if source is not data else "x.txt", block=block)
        for k, v in whole.items():
            assert got[k].equals(v), (k, block)
    assert whole["bolagsverket_organisation"]["name"].to_list()[1] == "Kooperativet Åby ek. för."


def test_every_identity_form_in_one_block_is_read_as_orgnr_reads_it():
    """The usual identity (ten or twelve digits, a type) is cut at its "$"; every other form goes
    the long way (strip, upper-case, digits) — both in one block, each as ``orgnr`` reads it."""
    idents = [f"{ACME}$ORGNR-IDORG", f" {ACME} $ORGNR-IDORG", f"{ACME[:6]}-{ACME[6:]}$ORGNR-IDORG",
              f"16{COOP}$ORGNR-IDORG", f"se{FORE}01$ORGNR-IDORG", f"{GONE}$orgnr-idorg",
              f"{W('559000222')}", f"{PNR12}$PERSON-IDORG", f"{PNR10}$ORGNR-IDORG",
              f"{PNR12[2:8]}-{PNR12[8:]}$ORGNR-IDORG", f"{W('559000333')}$PERSON-IDORG", "12345$ORGNR-IDORG"]
    rest = LINES[1].split(";", 1)[1]
    data = "\n".join([HEADER, *(f'"{i}";{rest}' for i in idents)]).encode()
    for block in (64, 1 << 20):
        frames = bolagsverket.parse(data, "x.txt", block=block)
        org = frames["bolagsverket_organisation"]
        assert org["org_number"].to_list() == [ACME, ACME, ACME, COOP, FORE, GONE, W("559000222"),
                                                "12345"]
        assert org["row_number"].to_list() == [1, 2, 3, 4, 5, 6, 7, 12]
        assert frames["bolagsverket_sole_traders"]["count"].to_list() == [4]
        _assert_no_personal_data(frames, PERSONAL)
    # the long way, for the forms it takes, is orgnr's own reading
    for ident, number in zip(idents[:7], org["org_number"].to_list()):
        assert orgnr.digits_of(ident.split("$")[0]) == number


def test_pieces_are_parsed_two_at_a_time_in_order():
    """``ordered_map``: results in the order of the items whatever order the work finishes in; an
    exception reaches the caller at its item; a caller that stops early stops the drawing."""
    import threading
    import time
    from sources import bulkfile

    def slow_first(i: int) -> tuple[int, str]:
        time.sleep(0.05 if i % 2 == 0 else 0)
        return i, threading.current_thread().name

    out = list(bulkfile.ordered_map(slow_first, iter(range(8)), threads=2))
    assert [i for i, _ in out] == list(range(8))
    assert len({name for _, name in out}) == 2                # the work did run on two threads
    assert list(bulkfile.ordered_map(lambda i: i * i, iter(range(5)), threads=1)) == [0, 1, 4, 9, 16]

    def fail_at_3(i: int) -> int:
        if i == 3:
            raise ParseError("piece 3 is broken")
        return i

    got = []
    with pytest.raises(ParseError, match="piece 3 is broken"):
        for i in bulkfile.ordered_map(fail_at_3, iter(range(6)), threads=2):
            got.append(i)
    assert got == [0, 1, 2]
    drawn = []

    def items():
        for i in range(100):
            drawn.append(i)
            yield i

    results = bulkfile.ordered_map(lambda i: i, items(), threads=2)
    assert [next(results), next(results)] == [0, 1]
    results.close()
    assert len(drawn) <= 4

    def reader_fails_after_two():
        yield 1
        yield 2
        raise ParseError("zip member cannot be read")

    got = []
    with pytest.raises(ParseError, match="zip member cannot be read"):
        for i in bulkfile.ordered_map(lambda i: i * 10, reader_fails_after_two(), threads=2):
            got.append(i)
    assert got == [10, 20]                     # what the reader gave comes first, as with map


def test_a_name_typed_twice_loses_every_type_as_before():
    """The usual type at the end comes off first, then any other type before it."""
    for raw, name in [("A$X-ORGNAM$d$FORETAGSNAMN-ORGNAM", "A"), ("A$X-ORGNAM $FORETAGSNAMN-ORGNAM", "A"),
                      (" $FORETAGSNAMN-ORGNAM$2020-01-01$FORETAGSNAMN-ORGNAM", None),
                      ("Acme AB$FORETAGSNAMN-ORGNAM$2020-01-01", "Acme AB"),
                      ("Acme AB $NAMN-ORGNAM ", "Acme AB"), ("Acme$Bolag AB", "Acme$Bolag AB")]:
        line = LINES[1].replace("Acme AB$FORETAGSNAMN-ORGNAM$2020-01-01", raw)
        org = bolagsverket.parse("\n".join([HEADER, line]).encode(), "x.txt")["bolagsverket_organisation"]
        assert org["name"].to_list() == [name], raw


def test_regrouped_blocks_equal_the_blocks_joined():
    from sources import bulkfile
    blocks = list(bolagsverket.parse_blocks(TEXT.encode() * 1, "x.txt", block=64))
    assert len(blocks) > 3
    groups = list(bulkfile.regrouped(iter(blocks), rows=2))
    assert 1 < len(groups) < len(blocks)
    joined, regrouped = bulkfile.concat_blocks(iter(blocks)), bulkfile.concat_blocks(iter(groups))
    for table, frame in joined.items():
        assert regrouped[table].equals(frame), table
    assert bulkfile.renumbered({"t": pl.DataFrame({"row_number": [0, 2]}), "n": pl.DataFrame({"count": [3]})},
                               10)["t"]["row_number"].to_list() == [10, 12]


def test_latin1_detected_late_is_reread_from_the_start():
    rows = [LINES[1]] * 500 + [LINES[4]]            # 'Föreningen' in latin-1 only at the end
    data = "\n".join([HEADER, *rows]).encode("latin-1")
    frames = bolagsverket.parse(data, "x.txt", block=4096)
    org = frames["bolagsverket_organisation"]
    assert org.height == 501 and org["name"][-1] == 'Föreningen "Vi i Ydre"'
    assert org["name"][0] == "Acme AB" and org["row_number"][-1] == 501


def test_bom_but_not_utf8_is_one_line_error_with_offset():
    data = b"\xef\xbb\xbf" + (HEADER + "\n").encode() + LINES[1].encode() + b"\n\xff\n"
    with pytest.raises(ParseError, match=r"byte-order mark but is not UTF-8 \(byte offset \d+\)"):
        bolagsverket.parse(data, "x.txt", block=16)


def test_row_numbers_survive_blank_lines_and_block_edges():
    text = "\r\n".join([HEADER, LINES[1], "", "", LINES[6], "  ", LINES[8]]) + "\r\n\r\n"
    for block in (3, 50, 10_000):
        frames = bolagsverket.parse(text.encode(), "x.txt", block=block)
        assert frames["bolagsverket_organisation"]["row_number"].to_list() == [1, 4]
        assert frames["bolagsverket_rejected"].to_dicts() == [
            {"row_number": 6, "reason": "expected 11 fields, found 4"}]
    headerless = "\n".join([LINES[1], LINES[6]])
    assert bolagsverket.parse(headerless.encode(), "x.txt")["bolagsverket_organisation"][
        "row_number"].to_list() == [1, 2]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_row_numbers_are_exact_with_runs_of_blank_lines_at_every_block_edge(newline):
    """Pieces are cut at newlines, so with runs of empty lines some pieces end in an empty line (or
    are empty): each line still counts once, whatever the block size."""
    rng = random.Random(7)
    lines, expected = [HEADER], []
    for i in range(60):
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            lines.append("")
        lines.append(LINES[1].replace(ACME, W(f"556{i:06d}")))
        expected.append(len(lines) - 1)                  # the header is line 0
    data = newline.join(lines + ["", ""]).encode()
    for block in (1, 2, 5, 17, 64, 333, 4096):
        org = bolagsverket.parse(data, "x.txt", block=block)["bolagsverket_organisation"]
        assert org["row_number"].to_list() == expected, block


def test_semicolons_inside_fields_on_the_first_line_of_a_block():
    """polars takes its column count from a piece's first line: a first line with more ';' than
    fields must neither fail nor lose the fields of later lines, at any block edge."""
    semis = LINES[1].replace('"Runs acme.se"', '"Handel; import; export; konsult"')
    extra = LINES[1].replace(ACME, W("556000123")) + ';"x";"y"'        # 13 fields
    for order in ([semis, LINES[6]], [extra, LINES[6]], [LINES[6], semis]):
        data = "\n".join([HEADER, *order]).encode()
        for block in (32, 64, 300, 10_000):
            frames = bolagsverket.parse(data, "x.txt", block=block)
            org = {r["row_number"]: r for r in frames["bolagsverket_organisation"].to_dicts()}
            if semis in order:
                row = order.index(semis) + 1
                assert org[row]["description"] == "Handel; import; export; konsult", block
            if extra in order:
                assert frames["bolagsverket_rejected"].to_dicts() == [
                    {"row_number": 1, "reason": "expected 11 fields, found 13"}], block
            assert org[order.index(LINES[6]) + 1]["org_number"] == GONE


def test_one_latin1_line_in_the_first_non_ascii_block_does_not_garble_a_utf8_file():
    utf8 = "\n".join([HEADER, LINES[1], LINES[4], LINES[2]]).encode("utf-8")
    stray = LINES[6].replace("Borta AB", "Borta Åkeri AB").encode("latin-1")
    data = utf8 + b"\n" + stray + b"\n"
    org = bolagsverket.parse(data, "x.txt")["bolagsverket_organisation"]
    names = dict(zip(org["org_number"], org["name"]))
    assert names[FORE] == 'Föreningen "Vi i Ydre"' and names[COOP] == "Kooperativet Åby ek. för."
    assert names[GONE] == "Borta Åkeri AB"                   # the latin-1 line, read as latin-1


def test_a_file_without_line_feeds_is_refused_in_one_line(monkeypatch):
    from sources import bulkfile
    monkeypatch.setattr(bulkfile, "MAX_LINE", 1000)
    data = "\r".join([HEADER] + [LINES[1]] * 20).encode()
    with pytest.raises(ParseError, match=r"^no line break in \d+ bytes after byte offset 0 "
                                          r"\(carriage-return line endings, or not a text file\?\)$"):
        bolagsverket.parse(data, "x.txt", block=256)


def test_empty_input_is_refused_so_it_cannot_wipe_the_register():
    with pytest.raises(ParseError, match="file is empty"):
        bolagsverket.parse(b"", "x.txt")


def test_bad_date_is_rejected_without_content():
    line = LINES[1].replace('"2020-01-01";"Runs', '"2020-13-45";"Runs')
    frames = bolagsverket.parse(("\n".join([HEADER, line])).encode(), "x.txt")
    assert frames["bolagsverket_organisation"].height == 0
    assert frames["bolagsverket_rejected"].to_dicts() == [
        {"row_number": 1, "reason": "registreringsdatum is not a date"}]


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_zip_slip_refused(name):
    with pytest.raises(ParseError, match="absolute or contains '..'"):
        bolagsverket.parse(_zip({name: TEXT.encode()}), "b.zip")


def test_zip_bomb_refused():
    bomb = _zip({"bolagsverket_bulkfil.txt": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 200_000
    with pytest.raises(ParseError, match="ratio above 200:1"):
        bolagsverket.parse(bomb, "b.zip")


def test_truncated_and_fake_zip_refused():
    good = _zip({"bolagsverket_bulkfil.txt": TEXT.encode() * 50})
    with pytest.raises(ParseError, match="zip"):
        bolagsverket.parse(good[: len(good) // 2], "b.zip")
    with pytest.raises(ParseError, match="not a zip"):
        bolagsverket.parse(b"<html>maintenance</html>", "b.zip")
    with pytest.raises(ParseError, match="exactly one .txt"):
        bolagsverket.parse(_zip({"a.txt": b"x", "b.txt": b"y"}), "b.zip")


def test_header_drift_is_one_line_error():
    with pytest.raises(ParseError, match="header has 10 columns"):
        bolagsverket.parse(HEADER.rsplit(";", 1)[0].encode(), "x.txt")


# --- the bundled sample ------------------------------------------------------------------------

def _sample_frames():
    return bolagsverket.parse((SAMPLES / "bolagsverket" / "bolagsverket_bulkfil.zip").read_bytes(),
                              "bolagsverket_bulkfil.zip")


def test_sample_zip_counts_and_marker():
    data = (SAMPLES / "bolagsverket" / "bolagsverket_bulkfil.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert b"synthetic" in zf.comment
        assert zf.namelist() == ["bolagsverket_bulkfil.txt"]
        assert zf.read("bolagsverket_bulkfil.txt").startswith(b"\xef\xbb\xbf")
    frames = _sample_frames()
    org = frames["bolagsverket_organisation"]
    assert org.height == 3000
    assert frames["bolagsverket_sole_traders"]["count"].to_list() == [20]
    assert frames["bolagsverket_rejected"].height == 0
    import sample_world
    in_file = [s[0] for s in sample_world.SUPPLIERS if s[4]]
    assert set(in_file) <= set(org["org_number"])
    assert not {s[0] for s in sample_world.SUPPLIERS if not s[4]} & set(org["org_number"])
    assert org.filter(pl.col("name").str.contains('"')).height == 1
    assert org.filter(pl.col("name_count") == 2).height > 50


def test_sample_quarantines_exactly_the_two_bad_check_digits():
    from schemas.validate import validate
    result = validate("bolagsverket_organisation", _sample_frames()["bolagsverket_organisation"],
                      BolagsverketOrganisation)
    assert result.schema_error is None
    assert result.quarantine["row_number"].to_list() == [889, 1650]
    assert result.quarantine["check_name"].to_list() == ["valid_org_number"] * 2
    assert result.good.height == 2998


def test_sample_frames_hold_no_personnummer():
    import samples_organisations as gen
    _, info = gen.bolagsverket_rows(random.Random(gen.SEED))
    assert len(info["personnummer"]) == 19
    numbers = info["personnummer"] + [p[-10:] for p in info["personnummer"]]
    _assert_no_personal_data(_sample_frames(), numbers)


def test_sample_generator_is_deterministic(tmp_path, monkeypatch):
    import samples_organisations as gen
    monkeypatch.setattr(gen, "SAMPLES", tmp_path)
    info = gen.main()
    assert info["invalid_row_numbers"] == [889, 1650]
    for rel in ["bolagsverket/bolagsverket_bulkfil.zip", "wise/wise.csv", "iop/iop.csv",
                "ideburen/ideburen.csv", "scb-register/scb_bulkfil.zip", "ftgstat/ftgstat_oppna.csv"]:
        assert (tmp_path / rel).read_bytes() == (SAMPLES / rel).read_bytes(), rel


# --- schema ------------------------------------------------------------------------------------

def test_schema_failure_cases_name_row_column_check():
    org = bolagsverket.parse(TEXT.encode(), "x.txt")["bolagsverket_organisation"]
    bad = org.with_columns(
        pl.when(pl.col("row_number") == 4).then(pl.lit("8024000990")).otherwise("org_number")
        .alias("org_number"),
        pl.when(pl.col("row_number") == 6).then(pl.lit("XYZ")).otherwise("organisation_form")
        .alias("organisation_form"))
    with pytest.raises(pandera.errors.SchemaErrors) as exc:
        BolagsverketOrganisation.validate(bad, lazy=True)
    cases = exc.value.failure_cases.select("index", "column", "check").sort("index").to_dicts()
    assert cases[0] == {"index": 2, "column": "org_number", "check": "valid_org_number"}
    assert (cases[1]["index"], cases[1]["column"]) == (3, "organisation_form")
    assert cases[1]["check"].startswith("isin(") and len(cases) == 2


def test_iop_end_before_start_and_municipality_code():
    frame = iop.parse(b"municipality_code,partner_org_number,area,start,end\n"
                      b"0580,8024000146,a,2024-01-01,2023-12-31\n"
                      b"58,8024000146,b,2024-01-01,\n", "iop.csv")["iop_agreement"]
    with pytest.raises(pandera.errors.SchemaErrors) as exc:
        IopAgreement.validate(frame, lazy=True)
    cases = exc.value.failure_cases.select("index", "column", "check").sort("index").to_dicts()
    assert cases == [{"index": 0, "column": "end_date", "check": "end_not_before_start"},
                     {"index": 1, "column": "municipality_code", "check": "str_matches('^\\d{4}$')"}]


def test_tables_registry():
    assert set(TABLES) == {"bolagsverket_organisation", "wise_enterprise", "iop_agreement",
                           "ideburen_register", "scb_register_organisation", "ftgstat_registration"}


# --- curated CSVs ------------------------------------------------------------------------------

def test_wise_semicolon_bom_personal_and_malformed():
    data = ("\ufeff# a comment\norg_number;name;source;date\n"
            "769600-0103;Arbetskooperativet Vägen;Coompanion;2026-01-15\n"
            f"{PNR12};Anna Örn;Coompanion;2026-01-15\n"
            "769600-0111;Trasig rad\n"
            "7696000129;Finspångs Återbruk;;\n").encode("utf-8")
    frames = wise.parse(data, "wise.csv")
    got = frames["wise_enterprise"]
    assert got.to_dicts() == [
        {"org_number": "7696000103", "name": "Arbetskooperativet Vägen", "source": "Coompanion",
         "listed_date": date(2026, 1, 15), "row_number": 1},
        {"org_number": "7696000129", "name": "Finspångs Återbruk", "source": None,
         "listed_date": None, "row_number": 4}]
    assert frames["wise_sole_traders"]["count"].to_list() == [1]
    assert frames["wise_rejected"].to_dicts() == [{"row_number": 3, "reason": "expected 4 fields, found 2"}]
    _assert_no_personal_data(frames, PERSONAL, ["Anna Örn"])
    TABLES["wise_enterprise"].validate(got, lazy=True)


def test_iop_and_ideburen_samples():
    i = iop.parse((SAMPLES / "iop" / "iop.csv").read_bytes(), "iop.csv")["iop_agreement"]
    assert i.height == 6 and i["end_date"].null_count() == 5
    assert set(i["municipality_code"]) <= {"0509", "0512", "0513", "0560", "0561", "0562", "0563",
                                           "0580", "0581", "0582", "0583", "0584", "0586"}
    IopAgreement.validate(i, lazy=True)
    r = ideburen.parse((SAMPLES / "ideburen" / "ideburen.csv").read_bytes(), "ideburen.csv")
    reg = r["ideburen_register"]
    import sample_world
    assert reg.height == 23 and set(sample_world.IDEBUREN) <= set(reg["org_number"])
    TABLES["ideburen_register"].validate(reg, lazy=True)
    w = wise.parse((SAMPLES / "wise" / "wise.csv").read_bytes(), "wise.csv")["wise_enterprise"]
    assert w["org_number"].to_list() == sample_world.WISE
    for rel in ["wise/wise.csv", "iop/iop.csv", "ideburen/ideburen.csv"]:
        assert (SAMPLES / rel).read_text(encoding="utf-8").startswith(
            "# synthetic sample generated by scripts/samples_organisations.py\n")


def test_ideburen_comma_and_semicolon_agree():
    comma = b"org_number,name,registered\n802400-0146,Stadsmissionen,2024-01-17\n"
    semi = "\ufefforg_number;name;registered\r\n8024000146;Stadsmissionen;2024-01-17\r\n".encode()
    a = ideburen.parse(comma, "a.csv")["ideburen_register"]
    b = ideburen.parse(semi, "b.csv")["ideburen_register"]
    assert a.equals(b) and a["org_number"].to_list() == ["8024000146"]
    with pytest.raises(ParseError, match="missing column"):
        ideburen.parse(b"orgnr,name\n1,2\n", "c.csv")


@pytest.mark.parametrize("module", [wise, iop, ideburen])
def test_curated_sources_have_no_fetch(module):
    with pytest.raises(ParseError, match="--file"):
        module.fetch(FetchContext())


# --- fetch -------------------------------------------------------------------------------------

def test_bolagsverket_fetch_conditional_get(httpserver):
    path = "/bolagsverket/bolagsverket_bulkfil.zip"
    body = _zip({"bolagsverket_bulkfil.txt": TEXT.encode()})
    httpserver.expect_ordered_request(path, headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304)
    httpserver.expect_ordered_request(path).respond_with_data(
        body, headers={"ETag": '"v2"', "Last-Modified": "Mon, 14 Sep 2026 01:27:00 GMT"})
    base = httpserver.url_for("/")
    assert bolagsverket.fetch(FetchContext(base_url=base, etag='"v1"')) == []
    (got,) = bolagsverket.fetch(FetchContext(base_url=base))
    assert got.data == body and got.ext == "zip" and got.http_status == 200
    assert got.extra == {"etag": '"v2"', "last_modified": "Mon, 14 Sep 2026 01:27:00 GMT"}


def _zip_body(n: int = 300) -> bytes:
    return _zip({"bolagsverket_bulkfil.txt": (TEXT * n).encode()}, zipfile.ZIP_STORED)


def test_bolagsverket_fetch_sends_validators_and_handles_304(httpserver, tmp_path):
    path = "/bolagsverket/bolagsverket_bulkfil.zip"
    httpserver.expect_ordered_request(path, headers={
        "If-None-Match": '"v1"', "If-Modified-Since": "Mon, 07 Sep 2026 01:27:00 GMT"}
    ).respond_with_data("", status=304)
    ctx = FetchContext(base_url=httpserver.url_for("/"), etag='"v1"',
                       last_modified="Mon, 07 Sep 2026 01:27:00 GMT")
    assert bolagsverket.fetch(ctx, folder=tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_bolagsverket_fetch_resumes_an_interrupted_download(httpserver, tmp_path):
    from werkzeug import Response
    path = "/bolagsverket/bolagsverket_bulkfil.zip"
    body = _zip_body()
    cut = len(body) // 3
    seen: list[dict] = []

    def handler(request):
        seen.append({k: request.headers.get(k) for k in ("Range", "If-Range", "If-None-Match")})
        if len(seen) == 1:                                        # dies after a third
            def broken():
                yield body[:cut]
                raise ConnectionResetError("gone")
            return Response(broken(), status=200, headers={
                "ETag": '"v2"', "Last-Modified": "Mon, 14 Sep 2026 01:27:00 GMT",
                "Content-Length": str(len(body))}, direct_passthrough=True)
        start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
        return Response(body[start:], status=206, headers={
            "ETag": '"v2"', "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}",
            "Content-Length": str(len(body) - start)})

    httpserver.expect_request(path).respond_with_handler(handler)
    ctx = FetchContext(base_url=httpserver.url_for("/"), etag='"v1"')
    (got,) = bolagsverket.fetch(ctx, folder=tmp_path)
    assert got.data == body and got.http_status == 206 and got.ext == "zip"
    assert got.extra == {"etag": '"v2"', "last_modified": "Mon, 14 Sep 2026 01:27:00 GMT"}
    assert seen[0] == {"Range": None, "If-Range": None, "If-None-Match": '"v1"'}
    resumed_at = int(seen[1]["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= cut and seen[1]["If-Range"] == '"v2"'      # what had arrived
    assert list(tmp_path.iterdir()) == []                          # partial file cleaned up
    assert bolagsverket.parse(got.data, "b.zip")["bolagsverket_organisation"].height == 4 * 300


def test_bolagsverket_fetch_resumes_a_partial_file_from_an_earlier_run(httpserver, tmp_path):
    import hashlib
    import json
    path = "/bolagsverket/bolagsverket_bulkfil.zip"
    body = _zip_body()
    url = httpserver.url_for(path)
    stem = f"bolagsverket-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
    (tmp_path / f"{stem}.part").write_bytes(body[:1000])
    (tmp_path / f"{stem}.part.json").write_text(json.dumps({"etag": '"v2"', "last_modified": None}))
    httpserver.expect_ordered_request(path, headers={"Range": "bytes=1000-", "If-Range": '"v2"'}
                                      ).respond_with_data(body[1000:], status=206, headers={
                                          "ETag": '"v2"', "Content-Range": f"bytes 1000-{len(body) - 1}/{len(body)}"})
    (got,) = bolagsverket.fetch(FetchContext(base_url=httpserver.url_for("/")), folder=tmp_path)
    assert got.data == body and got.extra["etag"] == '"v2"'


def test_bolagsverket_fetch_size_and_ratio_guards(httpserver, tmp_path, monkeypatch):
    from sources.http import FetchError
    path = "/bolagsverket/bolagsverket_bulkfil.zip"
    base = httpserver.url_for("/")
    httpserver.expect_ordered_request(path).respond_with_data(_zip_body(), headers={"ETag": '"a"'})
    monkeypatch.setattr(bolagsverket, "MAX_DOWNLOAD", 10_000)
    monkeypatch.setattr(bolagsverket.download, "__kwdefaults__",
                        {**bolagsverket.download.__kwdefaults__, "max_bytes": 10_000})
    with pytest.raises(FetchError, match="above the limit of 10000"):
        bolagsverket.fetch(FetchContext(base_url=base), folder=tmp_path)
    monkeypatch.undo()
    bomb = _zip({"bolagsverket_bulkfil.txt": b"\0" * (20 * 1024 * 1024)})
    httpserver.expect_ordered_request(path).respond_with_data(bomb, headers={"ETag": '"b"'})
    with pytest.raises(ParseError, match="ratio above 200:1"):
        bolagsverket.fetch(FetchContext(base_url=base), folder=tmp_path)
    httpserver.expect_ordered_request(path).respond_with_data(b"<html>busy</html>")
    with pytest.raises(ParseError, match="not a zip"):
        bolagsverket.fetch(FetchContext(base_url=base), folder=tmp_path)


# --- reference tables --------------------------------------------------------------------------

def _read(name: str) -> list[dict]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_legal_forms_have_sectors():
    rows = _read("legal_forms.csv")
    sector = {r["jurform"]: r["sector"] for r in rows}
    assert len(sector) == len(rows)
    assert all(r["reason"].strip() and r["name_sv"].strip() for r in rows)
    assert set(sector.values()) <= {"public", "private", "civil_society", "cooperative", "housing", "other"}
    expected = {"00", "10", "21", "22", "23", "31", "32", "41", "42", "43", "49", "51", "52", "53",
                "54", "55", "61", "62", "63", "71", "72", "81", "82", "83", "84", "85", "87", "88",
                "89", "91", "92", "93", "94", "95", "96", "98", "99"}
    assert expected <= set(sector)
    for code, s in sector.items():
        if 81 <= int(code) <= 89:
            assert s == "public", code
    assert {c: sector[c] for c in ["49", "31", "71", "51", "55", "53", "54", "61", "63", "72"]} == {
        "49": "private", "31": "private", "71": "private", "51": "cooperative",
        "55": "cooperative", "53": "housing", "54": "housing", "61": "civil_society",
        "63": "civil_society", "72": "civil_society"}


def test_bolagsverket_forms_map_to_known_jurform():
    forms = _read("bolagsverket_forms.csv")
    jurforms = {r["jurform"] for r in _read("legal_forms.csv")}
    codes = [r["organisationsform"] for r in forms]
    assert codes == sorted(codes) and len(codes) == 29
    assert set(codes) == set("AB BAB BF BFL BRF E EB EEIG EGTS EK FAB FF FL FOF HB I KB KHF MB OFB "
                             "OTPB S SB SCE SE SF TPAB TPF TSF".split())
    assert all(r["jurform"] in jurforms and r["reason"].strip() for r in forms)
    m = {r["organisationsform"]: r["jurform"] for r in forms}
    assert (m["AB"], m["E"], m["EK"], m["BRF"], m["I"], m["TSF"], m["HB"], m["KB"]) == (
        "49", "10", "51", "53", "61", "63", "31", "31")
