"""Privacy end to end (DESIGN §8): "no personnummer anywhere in the warehouse, quarantine, logs,
artifacts or report"; sole traders' names are personal data too.

Inputs with planted personal identity numbers in every place they can appear are taken through the
chain with `krafter ingest ID --file PATH` (CliRunner, in-process, under the session's Prefect test
harness), then every output is scanned for each planted number in all its forms (12 and 10 digits,
with and without the dash) and for the planted names. The raw snapshot bytes themselves may keep
the source bytes (§8 removes numbers "before validation"); their sidecars may not.
"""
from __future__ import annotations

import io
import json
import logging
import random
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from sources import orgnr
from tests.conftest import REPO, SAMPLES

W = orgnr.with_check_digit


@dataclass(frozen=True)
class Person:
    number: str          # 12 digits, century included
    name: str            # as written in the source
    surname: str         # what the scan looks for (case-insensitive)


# One planted person per place a personnummer can enter.
BOLAGSVERKET = Person("19" + W("670415123"), "Greta Hjortsberg Städ", "Hjortsberg")      # PERSON-IDORG
SCB = Person("19" + W("711130456"), "Vinterqvist, Olle", "Vinterqvist")                 # JurForm 10
WISE = Person("19" + W("560229789"), "Berit Ramnefalk Hemtjänst", "Ramnefalk")          # curated org number
IOP = Person("19" + W("450101345"), "", "")                                              # curated partner
TED_NATURAL = Person("19" + W("810517234"), "Sven Ekhagen Måleri", "Ekhagen")           # BT-633 true
TED_UNFLAGGED = Person("19" + W("900823345"), "Karin Stjernsvik Konsult", "Stjernsvik")  # no BT-633
FREE_TEXT = Person("19" + W("580612567"), "", "")                                        # quarantined text
PLANTED = [BOLAGSVERKET, SCB, WISE, IOP, TED_NATURAL, TED_UNFLAGGED, FREE_TEXT]
# Free text of a valid organisation row (Bolagsverket's verksamhetsbeskrivning): passes validation.
IN_VALID_TEXT = Person("19" + W("620907123"), "", "")
VALID_TEXT_ORG = W("559912345")


def forms(number: str) -> list[str]:
    """A 12-digit personnummer as it can be written: 12 or 10 digits, with or without the dash."""
    ten = number[2:]
    return [number, f"{number[:8]}-{number[8:]}", ten, f"{ten[:6]}-{ten[6:]}"]


def dashed10(p: Person) -> str:
    return forms(p.number)[3]


# --- inputs ------------------------------------------------------------------------------------

def _zip(name: str, body: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, body)
    return buf.getvalue()


def _unzip(path: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        name = zf.namelist()[0]
        return name, zf.read(name)


def bolagsverket_file(folder: Path) -> Path:
    """The bundled bulk file plus two rows of a sole trader (PERSON-IDORG, 12 digits)."""
    name, body = _unzip(SAMPLES / "bolagsverket" / "bolagsverket_bulkfil.zip")
    text = body.decode("utf-8")
    nl = "\r\n" if "\r\n" in text else "\n"
    p = BOLAGSVERKET
    rows = [f'"{p.number}$PERSON-IDORG";"1";"SE-LAND";"{p.name}$FORETAGSNAMN-ORGNAM$2001-01-01";"E-ORGFO";'
            f'"";"";"";"2001-01-01";"Städning";"Gatan 2$$MJÖLBY$59530$SE-LAND"',
            f'"{p.number}$PERSON-IDORG";"2";"SE-LAND";"Greta Hjortsberg Catering$FORETAGSNAMN-ORGNAM$2005-01-01";'
            f'"E-ORGFO";"";"";"";"2005-01-01";"Catering";""',
            f'"{VALID_TEXT_ORG}$ORGNR-IDORG";"1";"SE-LAND";"Redovisningsbyrån Kontot AB$FORETAGSNAMN-ORGNAM$2015-01-01";'
            f'"AB-ORGFO";"";"";"";"2015-01-01";"Redovisning. Firmatecknare {dashed10(IN_VALID_TEXT)}";'
            f'"Box 7$$LINKÖPING$58222$SE-LAND"']
    path = folder / "bolagsverket_bulkfil.zip"
    path.write_bytes(_zip(name, (text.rstrip("\r\n") + nl + nl.join(rows) + nl).encode("utf-8")))
    return path


def scb_file(folder: Path) -> Path:
    """The bundled SCB register plus a natural person (name and personnummer, JurForm 10)."""
    name, body = _unzip(SAMPLES / "scb-register" / "scb_bulkfil.zip")
    text = body.decode("latin-1")
    header = text.split("\r\n", 1)[0].split("\t")
    row = dict.fromkeys(header, "")
    row.update(Namn=SCB.name, Foretagsnamn="Olle Vinterqvist Bygg", FtgStat="1", JurForm="10", Ng1="41200",
               PeOrgNr=SCB.number, PostNr="58222", PostOrt="LINKÖPING", RegDatKtid="20010101")
    path = folder / "scb_bulkfil.zip"
    path.write_bytes(_zip(name, (text.rstrip("\r\n") + "\r\n" + "\t".join(row[c] for c in header) + "\r\n")
                          .encode("latin-1")))
    return path


def wise_file(folder: Path) -> Path:
    path = folder / "wise.csv"
    path.write_text((SAMPLES / "wise" / "wise.csv").read_text(encoding="utf-8")
                    + f'{dashed10(WISE)},"{WISE.name}",curated (test),2026-01-15\n', encoding="utf-8")
    return path


def iop_file(folder: Path) -> Path:
    """A partner whose org number is a personnummer, and a municipality code holding free text with
    one, which fails validation (^\\d{4}$) and is quarantined."""
    path = folder / "iop.csv"
    path.write_text((SAMPLES / "iop" / "iop.csv").read_text(encoding="utf-8")
                    + f"0580,{IOP.number},hemtjänst,2024-01-01,\n"
                    + f'"0580 kontakt {forms(FREE_TEXT.number)[1]}",8024000146,mötesplats,2024-01-01,\n',
                    encoding="utf-8")
    return path


PLANTED_NOTICE_ID = "a683cb5f-1378-523e-a943-28700000000"      # + 1 or 2 (BT-701 notice id)


def ted_folder(folder: Path) -> Path:
    """Two award notices made from the bundled P07 award (LOT-0001 won by a natural person): one
    whose winner is flagged a natural person (BT-633) and one whose CompanyID is a personnummer
    with the flag false."""
    template = next(p for p in sorted((SAMPLES / "ted").glob("*.xml"))
                    if "<efbc:NaturalPersonIndicator>true" in p.read_text(encoding="utf-8"))
    xml = template.read_text(encoding="utf-8")
    old_number = next(line for line in xml.replace("><", ">\n<").splitlines()
                      if "<cbc:CompanyID>19" in line).split(">")[1].split("<")[0]
    old_name = "Anna Andersson Måleri (enskild firma)"
    assert old_name in xml and old_number in xml
    pub = template.stem
    out = folder / "ted"
    out.mkdir()
    for i, (person, flag) in enumerate([(TED_NATURAL, "true"), (TED_UNFLAGGED, "false")], start=1):
        number = forms(person.number)[1] if flag == "true" else person.number
        new_pub = f"{90000000 + i:08d}-2024"
        x = (xml.replace(old_number, number).replace(old_name, person.name).replace(pub, new_pub)
             .replace("<efbc:NaturalPersonIndicator>true", f"<efbc:NaturalPersonIndicator>{flag}")
             .replace("a683cb5f-1378-523e-a943-287de8bf6c85", f"{PLANTED_NOTICE_ID}{i}")
             .replace("380c14ae-4141-5a87-824e-dfba09d19622", f"380c14ae-4141-5a87-824e-dfba0900000{i}"))
        (out / f"{new_pub}.xml").write_text(x, encoding="utf-8")
    return out


def sample_persons() -> tuple[list[str], list[str]]:
    """The sole traders and natural persons the bundled sample generator planted (numbers, names)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import samples_organisations as gen
    bv_rows, bv = gen.bolagsverket_rows(random.Random(gen.SEED))
    _, scb = gen.scb_rows(random.Random(gen.SEED + 1), bv_rows)
    names = [f"{n.split(' ', 1)[1]}, {n.split(' ', 1)[0]}" for n in scb["person_names"]]   # as in the file
    return bv["personnummer"] + scb["personnummer"], names


# --- the scanner -------------------------------------------------------------------------------

class Scanner:
    def __init__(self, numbers: list[str], names: list[str]):
        self.needles = sorted({f for n in numbers for f in forms(n)} | {n.lower() for n in names if n})
        self.hits: list[tuple[str, str]] = []
        self.scanned: list[str] = []

    def text(self, where: str, text: str) -> None:
        self.scanned.append(where)
        low = text.lower()
        self.hits += [(where, n) for n in self.needles if n in low]

    def duckdb_file(self, path: Path, where: str) -> None:
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL").fetchall()
            for schema, table in tables:
                rows = con.execute(f'SELECT COLUMNS(*)::VARCHAR FROM "{schema}"."{table}"').fetchall()
                self.text(f"{where}:{schema}.{table}", "\n".join("|".join(map(str, r)) for r in rows))
        finally:
            con.close()

    def file(self, path: Path, where: str) -> None:
        data = path.read_bytes()
        self.text(where, data.decode("utf-8", "replace"))            # every file as bytes, too
        if path.suffix == ".duckdb":
            self.duckdb_file(path, where)
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    self.text(f"{where}!{member}", zf.read(member).decode("utf-8", "replace"))
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            self.text(f"{where}(parquet)", frame.select(pl.all().cast(pl.String)).write_csv())
        elif path.suffix == ".csv":
            self.text(f"{where}(text)", data.decode("utf-8-sig", "replace"))

    def home(self, home: Path) -> None:
        for path in sorted(p for p in home.rglob("*") if p.is_file()):
            rel = str(path.relative_to(home))
            if rel.startswith("raw/") and not path.name.endswith(".json"):
                continue                                             # the source bytes themselves
            self.file(path, rel)


# --- the run -----------------------------------------------------------------------------------

@dataclass
class Run:
    home: Path
    inputs: dict[str, Path]
    logs: list[tuple[str, str]]     # (where, text)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.name} {record.levelname} {record.getMessage()} "
                              f"{record.exc_text or ''}")
        except Exception as exc:  # a record that cannot format is still worth a line
            self.lines.append(f"{record.name} unformattable: {exc}")


@pytest.fixture(scope="module")
def run(prefect_harness, tmp_path_factory) -> Run:
    from flows.cli import app
    import publish.report as report

    inputs_dir = tmp_path_factory.mktemp("planted-inputs")
    home = tmp_path_factory.mktemp("privacy-home")
    inputs = {"bolagsverket": bolagsverket_file(inputs_dir), "scb-register": scb_file(inputs_dir),
              "wise": wise_file(inputs_dir), "iop": iop_file(inputs_dir), "ted": ted_folder(inputs_dir)}
    # our own loggers at DEBUG; Prefect's as configured (its API log handler must not see more)
    handler = _Collect()
    ours = [logging.getLogger(n) for n in ("krafter", "flows", "sources", "schemas", "warehouse",
                                           "transforms", "publish")]
    loggers = [logging.getLogger(), logging.getLogger("prefect"), *ours]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
    for lg in ours:
        lg.setLevel(logging.DEBUG)
    logs: list[tuple[str, str]] = []
    real_render = report._render_pngs

    runner = CliRunner()
    try:
        for i, (source, path) in enumerate(inputs.items()):
            # PNGs (headless Chromium, slow) only for the last report, which is the one kept
            report._render_pngs = real_render if i == len(inputs) - 1 else (lambda jobs, cache: False)
            result = runner.invoke(app, ["ingest", source, "--file", str(path), "--home", str(home)])
            logs.append((f"cli {source} stdout", result.stdout))
            logs.append((f"cli {source} stderr", getattr(result, "stderr", "") or ""))
            assert result.exit_code == 0, (source, result.output, getattr(result, "stderr", ""))
    finally:
        report._render_pngs = real_render
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    logs.append(("python logging", "\n".join(handler.lines)))
    logs += prefect_records()
    return Run(home, inputs, logs)


def prefect_records() -> list[tuple[str, str]]:
    """Flow-run logs and artifacts as the Prefect server stored them."""
    from prefect.client.orchestration import get_client
    out = []
    with get_client(sync_client=True) as client:
        logs, offset = [], 0
        while True:
            page = client.read_logs(limit=200, offset=offset)
            logs += page
            offset += len(page)
            if len(page) < 200:
                break
        out.append(("prefect server logs", "\n".join(f"{log.name} {log.message}" for log in logs)))
        artifacts = client.read_artifacts()
        out.append(("prefect artifacts", "\n".join(f"{a.key} {a.description} {a.data}" for a in artifacts)))
    # the run-summary artifacts carry each ingest's message; the server's logs are what the
    # harness's level (PREFECT_LOGGING_LEVEL, WARNING in tests/conftest.py) lets through, maybe none
    assert artifacts, "the Prefect server recorded no artifacts: nothing was scanned there"
    return out


# --- tests -------------------------------------------------------------------------------------

def test_the_planted_records_really_went_through_the_chain(run):
    """Not vacuous: the files were read, the persons removed and counted, the rest landed."""
    con = duckdb.connect(str(run.home / "work.duckdb"), read_only=True)
    try:
        counts = dict(con.execute("SELECT source, sum(rows_loaded) FROM meta.loads WHERE status = 'loaded' "
                                  "GROUP BY source").fetchall())
        assert set(counts) == set(run.inputs)
        # the curated sole traders are counted, never stored
        assert con.execute("SELECT sum(count) FROM staging.wise_sole_traders").fetchall()[0][0] == 1
        assert con.execute("SELECT sum(count) FROM staging.iop_sole_traders").fetchall()[0][0] == 1
        # the free-text personnummer is quarantined, redacted to its length
        q = con.execute("SELECT column_name, value FROM meta.quarantine WHERE source = 'iop'").fetchall()
        assert ("municipality_code", "0580 kontakt <12 digits>") in q, q
        # both planted awards landed, without a winner identity
        awards = con.execute("SELECT notice_id, winner_company_id, winner_org_number, winner_name "
                             "FROM staging.ted_award WHERE notice_id LIKE ? AND lot_id = 'LOT-0001' ORDER BY notice_id",
                             [f"{PLANTED_NOTICE_ID}_"]).fetchall()
        assert awards == [(f"{PLANTED_NOTICE_ID}{i}", None, None, None) for i in (1, 2)]
    finally:
        con.close()
    manifest = json.loads((run.home / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["warehouse"]["version"] == len(run.inputs)
    edition = run.home / "report" / "editions" / manifest["report"]["edition"]
    png = json.loads((edition / "manifest.json").read_text(encoding="utf-8"))["png"]
    assert isinstance(png, dict) and png, "the last report was meant to render PNGs with alt text"


def test_no_personnummer_or_sole_trader_name_in_any_output(run):
    sample_numbers, sample_names = sample_persons()
    scanner = Scanner([p.number for p in PLANTED] + sample_numbers,
                      [p.surname for p in PLANTED] + ["Greta Hjortsberg", "Olle Vinterqvist"] + sample_names)
    scanner.home(run.home)
    for where, text in run.logs:
        scanner.text(where, text)
    scanned = set(scanner.scanned)
    # every kind of output was looked at
    for expected in ("warehouse.duckdb:marts.indicator_value", "warehouse.duckdb:meta.quarantine",
                     "work.duckdb:meta.quarantine", "work.duckdb:staging.bolagsverket_organisation",
                     "work.duckdb:core.award", "manifest.json", "report/index.html",
                     "prefect server logs", "prefect artifacts", "python logging", "cli ted stdout"):
        assert expected in scanned, expected
    suffixes = {Path(w.split("!")[0].split("(")[0]).suffix for w in scanned if w.startswith("report/")}
    assert {".html", ".csv", ".xlsx", ".parquet", ".png", ".json"} <= suffixes, suffixes
    assert any(w.startswith("raw/") and w.endswith(".json") for w in scanned)        # sidecars
    assert scanner.hits == []


def test_the_scanner_finds_what_it_looks_for(run, tmp_path):
    """The scan is not vacuous: a planted number in each kind of file is found, and the raw source
    bytes (allowed to keep them) do hold every planted number."""
    scanner = Scanner([p.number for p in PLANTED], [p.surname for p in PLANTED])
    (tmp_path / "note.txt").write_text(f"kontakt {dashed10(TED_NATURAL)}", encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "scratch.duckdb"))
    con.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT ?::BIGINT AS n, 'x' AS y", [int(IOP.number[2:])])
    con.close()
    pl.DataFrame({"who": ["Karin Stjernsvik"]}).write_parquet(tmp_path / "scratch.parquet", compression="zstd")
    pl.DataFrame({"n": [SCB.number]}).write_excel(tmp_path / "scratch.xlsx")
    for name in ("note.txt", "scratch.duckdb", "scratch.parquet", "scratch.xlsx"):
        scanner.file(tmp_path / name, name)
    found = {where.split(":")[0].split("(")[0].split("!")[0] for where, _ in scanner.hits}
    assert found == {"note.txt", "scratch.duckdb", "scratch.parquet", "scratch.xlsx"}

    raw = Scanner([p.number for p in PLANTED], [])
    for path in (run.home / "raw").rglob("*"):
        if path.is_file() and not path.name.endswith(".json"):
            data = path.read_bytes()
            if path.suffix == ".zip":
                data = b"".join(zipfile.ZipFile(path).read(m) for m in zipfile.ZipFile(path).namelist())
            raw.text(str(path), data.decode("latin-1"))
    for p in PLANTED:
        assert any(needle in forms(p.number) for _, needle in raw.hits), p


class Leak(AssertionError):
    """A planted personnummer was found in an output."""


def test_a_personnummer_in_free_text_of_a_valid_row_does_not_land(run):
    con = duckdb.connect(str(run.home / "work.duckdb"), read_only=True)
    try:   # the row itself landed (it is a valid organisation)
        assert con.execute("SELECT count(*) FROM staging.bolagsverket_organisation WHERE org_number = ?",
                           [VALID_TEXT_ORG]).fetchall()[0][0] == 1
    finally:
        con.close()
    scanner = Scanner([IN_VALID_TEXT.number], [])
    scanner.home(run.home)
    for where, text in run.logs:
        scanner.text(where, text)
    if scanner.hits:
        raise Leak(sorted({where for where, _ in scanner.hits}))


def test_free_text_redaction_scans_only_values_that_can_hold_a_number_and_misses_none():
    """The pattern runs only on values with six digits in a row (a personnummer's date part): the
    result is what running it on every value gives, and values without a number are left as they are."""
    from schemas.prepare import PERSONNUMMER_IN_TEXT, redact_free_text
    rng = random.Random(3)
    alphabet = "ab -+Å0123456789"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24))) for _ in range(3000)]
    values += ["Ägare 19900101-1234 driver", "900101+1234", "Å199001011234", "tel 013-123456",
               "org 556000-0001", "Box 12345", None, ""]
    frame = pl.DataFrame({"description": values, "name": list(reversed(values)), "count": range(len(values))})
    got = redact_free_text(frame)
    marker = "<personnummer borttaget>"
    for column in ("description", "name"):
        every = frame.select(pl.col(column).str.replace_all(PERSONNUMMER_IN_TEXT, marker))[column]
        assert got[column].to_list() == every.to_list()
    assert got["count"].equals(frame["count"])
    assert got["description"][3000:3006].to_list() == [
        f"Ägare {marker} driver", marker, f"Å{marker}", "tel 013-123456", "org 556000-0001", "Box 12345"]
    assert frame["description"][3000] == "Ägare 19900101-1234 driver"      # the input is not changed
