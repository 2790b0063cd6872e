"""Hostile files handed to the parsers: each is refused with a one-line ParseError naming the
reason, or its bad rows/members are set aside with a reason while the rest is kept."""
from __future__ import annotations

import time

import pytest

from hostile_corpus import (BOLAGSVERKET_ZIP, HTML_ERROR, KOLADA_SAMPLE, PERSONNUMMER, PXWEB_SAMPLE,
                            SCB_ZIP, TED_NOTICE, as_json, bolagsverket_text, jsonstat_doc, one_line,
                            zip_of)
from sources import (af, bolagsverket, ftgstat, ideburen, iop, kolada, pxweb, scb_register, ted, uhm,
                     wise)
from sources.base import ParseError

PARSERS = {"pxweb": pxweb, "kolada": kolada, "af": af, "ted": ted, "uhm": uhm,
           "bolagsverket": bolagsverket, "scb-register": scb_register, "ftgstat": ftgstat,
           "ideburen": ideburen, "wise": wise, "iop": iop}


def refused(module, data: bytes, name: str, *reason: str) -> str:
    """Assert ``module.parse`` raises a one-line ParseError whose message contains every ``reason``."""
    with pytest.raises(ParseError) as err:
        module.parse(data, name)
    msg = one_line(str(err.value))
    for r in reason:
        assert r in msg, msg
    return msg


# --- XML: external entities, entity expansion, DTDs ----------------------------------------------

def test_xxe_file_entity_is_refused_and_never_read():
    doc = (b'<?xml version="1.0"?>\n<!DOCTYPE ContractNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b"<ContractNotice><cbc:ID>&xxe;</cbc:ID></ContractNotice>")
    msg = refused(ted, doc, "xxe.xml", "DTD/entities are refused")
    assert "root:" not in msg


def test_xxe_http_entity_is_refused_without_a_request(httpserver):
    url = httpserver.url_for("/steal")
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE ContractNotice [<!ENTITY xxe SYSTEM "{url}">]>\n'
           f"<ContractNotice>&xxe;</ContractNotice>").encode()
    refused(ted, doc, "xxe.xml", "DTD/entities are refused")
    assert httpserver.log == []


def test_billion_laughs_is_refused_at_once():
    lol = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    doc = f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{"".join(lol)}]>\n<ContractNotice>&lol9;</ContractNotice>'
    started = time.perf_counter()
    refused(ted, doc.encode(), "lol.xml", "DTD/entities are refused")
    assert time.perf_counter() - started < 2


def test_external_dtd_alone_is_refused_without_a_request(httpserver):
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE ContractNotice SYSTEM "{httpserver.url_for("/notice.dtd")}">\n'
           f"<ContractNotice/>").encode()
    refused(ted, doc, "dtd.xml", "DTD/entities are refused")
    assert httpserver.log == []


def test_dtd_hidden_behind_a_long_comment_is_refused():
    doc = (b'<?xml version="1.0"?>\n<!--' + b"padding " * 2000 + b'-->\n'
           b'<!DOCTYPE ContractNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b"<ContractNotice>&xxe;</ContractNotice>")
    refused(ted, doc, "hidden.xml", "DTD/entities are refused")


def test_xxe_in_utf16_is_refused():
    doc = ('<?xml version="1.0" encoding="UTF-16"?>\n'
           '<!DOCTYPE ContractNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           "<ContractNotice>&xxe;</ContractNotice>").encode("utf-16")
    refused(ted, doc, "xxe16.xml", "DTD/entities are refused")


def test_xxe_member_of_a_package_is_set_aside_and_the_good_notice_kept():
    xxe = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ContractNotice>&e;</ContractNotice>'
    frames = ted.parse(zip_of({"good.xml": TED_NOTICE.read_bytes(), "evil.xml": xxe}), "package.zip")
    assert frames["ted_notice"].height == 1
    assert frames["ted_rejected"].to_dicts() == [{"member": "evil.xml", "reason": "DTD/entities are refused"}]


def test_truncated_xml_is_one_line_error():
    data = TED_NOTICE.read_bytes()
    refused(ted, data[: len(data) // 2], "cut.xml", "not well-formed XML")


# --- archives: zip bombs, zip slip, truncation, empty ---------------------------------------------

@pytest.mark.parametrize("module, member", [(bolagsverket, "bolagsverket_bulkfil.txt"),
                                            (scb_register, "scb_bulkfil_JE.txt")],
                         ids=["bolagsverket", "scb-register"])
def test_zip_bomb_is_refused_before_it_is_inflated(module, member):
    bomb = zip_of({}, zeros=(member, 16))        # 16 MB of zeros → ~16 KB: ratio ≈ 1000:1
    assert len(bomb) < 100_000
    started = time.perf_counter()
    refused(module, bomb, "bulk.zip", f"zip member '{member}' has compression ratio above 200:1")
    assert time.perf_counter() - started < 2


def test_zip_bomb_member_of_a_ted_package_is_set_aside_and_the_good_notice_kept(monkeypatch):
    # TED's per-member guard is its size limit (50 MB; 8 MB here): the member is refused unread
    monkeypatch.setattr(ted, "MAX_MEMBER_BYTES", 8 * 1024 * 1024)
    bomb = zip_of({"good.xml": TED_NOTICE.read_bytes()}, zeros=("bomb.xml", 16))
    frames = ted.parse(bomb, "package.zip")
    assert frames["ted_notice"].height == 1
    assert frames["ted_rejected"].to_dicts() == [
        {"member": "bomb.xml", "reason": f"member larger than {8 * 1024 * 1024} bytes"}]


@pytest.mark.parametrize("member", ["../../etc/passwd", "/etc/passwd", "C:\\Windows\\evil.txt",
                                    "..\\..\\evil.txt"],
                         ids=["dotdot", "absolute", "drive-letter", "backslash-dotdot"])
@pytest.mark.parametrize("module", [bolagsverket, scb_register], ids=["bolagsverket", "scb-register"])
def test_zip_slip_member_names_are_refused(module, member):
    data = zip_of({member: bolagsverket_text()})
    refused(module, data, "bulk.zip", "is absolute or contains '..'")


@pytest.mark.parametrize("module, path", [(bolagsverket, BOLAGSVERKET_ZIP), (scb_register, SCB_ZIP)],
                         ids=["bolagsverket", "scb-register"])
def test_truncated_zip_is_one_line_error(module, path):
    data = path.read_bytes()
    refused(module, data[: len(data) // 2], path.name, "not a readable zip archive (truncated or corrupt)")


def test_zip_with_a_corrupt_member_is_one_line_error():
    data = bytearray(zip_of({"bolagsverket_bulkfil.txt": bolagsverket_text()}))
    start = 30 + len("bolagsverket_bulkfil.txt")          # local header + name: the deflate stream
    data[start + 100:start + 400] = b"\xff" * 300
    refused(bolagsverket, bytes(data), "bulk.zip", "cannot be read (truncated or corrupt)")


def test_truncated_ted_package_is_one_line_error():
    data = zip_of({f"{i}.xml": TED_NOTICE.read_bytes() for i in range(3)})
    refused(ted, data[: len(data) // 2], "package.zip", "unreadable zip archive")


@pytest.mark.parametrize("source_id, name, reason", [
    ("bolagsverket", "bolagsverket_bulkfil.zip", "not a zip archive"),
    ("scb-register", "scb_bulkfil.zip", "not a zip archive"),
    ("ted", "package.zip", "not well-formed XML"),
    ("af", "af.xlsx", "empty file"),
], ids=["bolagsverket", "scb-register", "ted", "af"])
def test_zero_byte_zip_is_one_line_error(source_id, name, reason):
    refused(PARSERS[source_id], b"", name, reason)


EMPTY = [("pxweb", "not valid JSON"), ("kolada", "not valid JSON"), ("af", "empty file"),
         ("ted", "not well-formed XML"), ("uhm", "no header line"), ("bolagsverket", "file is empty"),
         ("scb-register", "file is empty"), ("ftgstat", "no header line"), ("ideburen", "no header line"),
         ("wise", "no header line"), ("iop", "no header line")]


@pytest.mark.parametrize("source_id, reason", EMPTY, ids=[s for s, _ in EMPTY])
def test_empty_file_is_one_line_error(source_id, reason):
    refused(PARSERS[source_id], b"", "empty.txt", reason)


def test_zip_holding_an_empty_register_is_refused():
    refused(bolagsverket, zip_of({"bolagsverket_bulkfil.txt": b""}), "bulk.zip", "file is empty")


# --- truncated / malformed JSON and JSON-stat ----------------------------------------------------

@pytest.mark.parametrize("module, path", [(pxweb, PXWEB_SAMPLE), (kolada, KOLADA_SAMPLE)], ids=["pxweb", "kolada"])
def test_truncated_json_is_one_line_error(module, path):
    data = path.read_bytes()
    refused(module, data[: len(data) // 2], path.name, "not valid JSON")


GOOD = jsonstat_doc(["0580", "0581"], ["1", "2"], ["2025M01"], [1, 2, 3, 4])


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d.update(value=[1, 2, 3]), "value has 3 entries but the dimension sizes give 4 cells"),
    (lambda d: d.update(size=[3, 2, 1, 1, 1]), "dimension 'Region' has 2 categories but size 3"),
    (lambda d: d.update(size=[2, 2, 1, 1]), "'id' and 'size' must be arrays of the same length"),
    (lambda d: d.update(value={"0": 1, "7": 2}), "value index 7 is outside 0..3"),
    (lambda d: d.update(value=[1, 2, "x", 4]), "value 'x' is not a number or null"),
    (lambda d: d["dimension"]["Region"]["category"].update(index={"0580": 0, "0581": 0}),
     "dimension 'Region' has an inconsistent category index"),
], ids=["value-short", "size-vs-categories", "id-vs-size", "sparse-index-out-of-range", "value-not-number",
        "index-positions-clash"])
def test_jsonstat_with_inconsistent_size_and_value_is_one_line_error(mutate, reason):
    import copy
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    refused(pxweb, as_json(doc), "TAB6471_x.json", reason)


# --- wrong encodings -----------------------------------------------------------------------------

@pytest.mark.parametrize("module, path", [(pxweb, PXWEB_SAMPLE), (kolada, KOLADA_SAMPLE)], ids=["pxweb", "kolada"])
def test_latin1_where_utf8_is_required_is_one_line_error(module, path):
    text = path.read_bytes().decode("utf-8")
    assert any(ord(c) > 127 for c in text)
    refused(module, text.encode("latin-1", errors="replace"), path.name, "not UTF-8 text")


def test_latin1_uhm_figures_is_one_line_error_with_offset():
    data = "year,measure,value,unit,source_url,published\n# källa\n".encode("latin-1")
    refused(uhm, data, "uhm.csv", "uhm.csv: not UTF-8", "at byte")


@pytest.mark.parametrize("source_id, data, name, reason", [
    ("pxweb", PXWEB_SAMPLE.read_bytes().decode().encode("utf-16"), "p.json", "not UTF-8 text"),
    ("kolada", KOLADA_SAMPLE.read_bytes().decode().encode("utf-16"), "k.json", "not UTF-8 text"),
    ("wise", "org_number,name,source,date\n7696000103,Vägen,x,2026-01-15\n".encode("utf-16"), "w.csv",
     "file is UTF-16 text"),
    ("ftgstat", "armanad,handelse,SATEKOMMUN,AB\n202501,1,0580,3\n".encode("utf-16"), "f.csv", "file is UTF-16 text"),
    ("bolagsverket", bolagsverket_text().decode("utf-8-sig").encode("utf-16"), "b.txt", "file is UTF-16 text"),
], ids=["pxweb", "kolada", "wise", "ftgstat", "bolagsverket"])
def test_utf16_is_one_line_error_naming_the_encoding(source_id, data, name, reason):
    refused(PARSERS[source_id], data, name, reason)


# --- an HTML error page saved as the file --------------------------------------------------------

@pytest.mark.parametrize("source_id, name, reason", [
    ("pxweb", "TAB6260.json", "not valid JSON"),
    ("kolada", "kolada.json", "not valid JSON"),
    ("ted", "notice.xml", "DTD/entities are refused"),      # <!DOCTYPE html> is a DTD too
    ("bolagsverket", "bolagsverket_bulkfil.zip", "file is named .zip but is not a zip archive"),
    ("scb-register", "scb_bulkfil.zip", "file is named .zip but is not a zip archive"),
    ("af", "af.xlsx", "no header row naming a measure"),
    ("wise", "wise.csv", "missing column(s)"),
], ids=["pxweb", "kolada", "ted", "bolagsverket", "scb-register", "af", "wise"])
def test_html_error_page_as_a_file_is_one_line_error(source_id, name, reason):
    refused(PARSERS[source_id], HTML_ERROR, name, reason)


# --- a file of another source --------------------------------------------------------------------

@pytest.mark.parametrize("source_id, reason", [
    ("pxweb", "not UTF-8 text"), ("kolada", "not UTF-8 text"), ("af", "not a readable xlsx workbook"),
    ("uhm", "not UTF-8"), ("ftgstat", "not a readable CSV"), ("wise", "missing column(s)"),
    ("scb-register", "header lacks column(s) PeOrgNr"),
], ids=["pxweb", "kolada", "af", "uhm", "ftgstat", "wise", "scb-register"])
def test_bolagsverket_zip_given_to_another_source_is_one_line_error(source_id, reason):
    refused(PARSERS[source_id], BOLAGSVERKET_ZIP.read_bytes(), BOLAGSVERKET_ZIP.name, reason)


def test_scb_register_zip_given_to_bolagsverket_is_one_line_error():
    refused(bolagsverket, SCB_ZIP.read_bytes(), SCB_ZIP.name, "header has 1 columns, expected 11")


def test_bolagsverket_zip_given_to_ted_sets_its_member_aside():
    frames = ted.parse(BOLAGSVERKET_ZIP.read_bytes(), BOLAGSVERKET_ZIP.name)
    assert frames["ted_notice"].height == 0
    [rej] = frames["ted_rejected"].to_dicts()
    assert rej["member"] == "bolagsverket_bulkfil.txt" and rej["reason"].startswith("not well-formed XML")


# --- personal identity numbers never reach an error message --------------------------------------

@pytest.mark.parametrize("source_id", ["wise", "iop", "ideburen", "ftgstat", "uhm"])
def test_headerless_list_starting_with_a_personnummer_keeps_it_out_of_the_error(source_id):
    data = f"{PERSONNUMMER},Anna Andersson,x,2024-01-01\n".encode()
    msg = refused(PARSERS[source_id], data, "list.csv")
    assert PERSONNUMMER not in msg and "19800101" not in msg and "<12 digits>" in msg


def test_a_personnummer_in_an_af_cell_is_not_quoted_in_the_reject_reason():
    data = ("Arbetslösa januari 2024\nKommunkod;Kommun;Inskrivna arbetslösa;Öppet arbetslösa\n"
            f"0580;Linköping;{PERSONNUMMER};5\n").encode()
    frames = af.parse(data, "af.csv")
    [reason] = frames["af_rejected"]["reason"].to_list()
    assert "19800101" not in reason and "is not a number" in reason
    assert frames["af_observation"].height == 1          # the other cell of the row is kept
