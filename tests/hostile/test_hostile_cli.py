"""Hostile files through the command line on a home that already has a published warehouse:
`krafter ingest ID --file PATH` exits 1 with one line `krafter: error: <source>: snapshot
<source>:<sha256 prefix>: <reason>`, no traceback, and the published warehouse is byte-identical."""
from __future__ import annotations

import hashlib
import re

import pytest
from typer.testing import CliRunner

from flows.cli import app
from hostile_corpus import BOLAGSVERKET_ZIP, PERSONNUMMER, zip_of

runner = CliRunner()

XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE ContractNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       b"<ContractNotice>&xxe;</ContractNotice>")
URL = "https://www.upphandlingsmyndigheten.se/statistik/"

CASES = {
    "bolagsverket-zip-bomb": ("bolagsverket", "bolagsverket_bulkfil.zip",
                              lambda: zip_of({}, zeros=("bolagsverket_bulkfil.txt", 16)),
                              r"snapshot bolagsverket:[0-9a-f]{12}: zip member 'bolagsverket_bulkfil.txt' has "
                              r"compression ratio above 200:1 \(zip bomb\?\)$"),
    "bolagsverket-zip-to-pxweb": ("pxweb", "bolagsverket_bulkfil.zip", BOLAGSVERKET_ZIP.read_bytes,
                                  r"snapshot pxweb:[0-9a-f]{12}: not UTF-8 text$"),
    "ted-xxe": ("ted", "notice.xml", lambda: XXE, r"snapshot ted:[0-9a-f]{12}: DTD/entities are refused$"),
    "wise-invalid-org-numbers": ("wise", "wise.csv", lambda: (
        "org_number,name,source,date\n769600-0103,Vägen,curated,2026-01-15\n7696000104,Fel,curated,2026-01-15\n"
        f"12345,Kort,curated,2026-01-15\nABCDEFGHIJ,Bokstäver,curated,2026-01-15\n{PERSONNUMMER},Anna,x,2026-01-15\n"
    ).encode(), r"3 of 4 rows failed validation \(75\.0% > threshold 20%\); see meta\.quarantine$"),
    "uhm-absurd-years": ("uhm", "uhm.csv", lambda: (
        "year,measure,value,unit,source_url,published\n"
        f"2024,advertised_procurements,17575,procurements,{URL},2026-02-05\n"
        f"1850,advertised_procurements,10,procurements,{URL},\n2150,contracted_value,5,SEK bn,{URL},\n"
    ).encode(), r"2 of 3 rows failed validation \(66\.7% > threshold 5%\); see meta\.quarantine$"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rejected_file_exits_1_with_one_line_and_leaves_the_published_warehouse(published_home, tmp_path, case):
    source_id, name, make, reason = CASES[case]
    bad = tmp_path / name
    bad.write_bytes(make())
    warehouse = published_home / "warehouse.duckdb"
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    result = runner.invoke(app, ["ingest", source_id, "--file", str(bad), "--home", str(published_home)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [ln for ln in result.output.splitlines() if "krafter: error:" in ln]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"krafter: error: {source_id}: "), errors[0]
    assert re.search(reason, errors[0]), errors[0]
    assert "19800101" not in result.output
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert not (published_home / "warehouse.next.duckdb").exists()


def test_inspect_billion_laughs_is_one_line_naming_source_file_and_reason(tmp_path):
    lol = ['<!ENTITY a0 "lol">'] + [f'<!ENTITY a{i} "{("&a%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    bad = tmp_path / "lol.xml"
    bad.write_text(f'<?xml version="1.0"?><!DOCTYPE x [{"".join(lol)}]><ContractNotice>&a9;</ContractNotice>')
    result = runner.invoke(app, ["inspect", "eforms", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"krafter: error: ted: {bad}: DTD/entities are refused"]
