"""Benchmark: Bolagsverket's bulk file at national size (default 2.5 M rows, ≈ 0.85 GB of text).

Generates a synthetic file in the real format (UTF-8 with BOM, ``;``-separated, quoted, ``$``/``|``
packing, ≈ 20 % sole traders, a bare quote now and then) in a temporary folder, as the zip the
portal serves and as the bare text, then runs each contender in its own process (so that its peak
resident memory is its own) and prints rows/s, peak RSS and ratios:

- ours, zip: ``sources.bolagsverket.parse`` on the zip bytes (streamed decompression) + pandera
  validation (``schemas.validate.validate``) — what an ingest does;
- ours, parse only (zip), to separate parse from validation;
- floor: DuckDB ``read_csv`` of the text, every column VARCHAR, no quote handling (what DuckDB alone
  needs to split the same bytes into columns), and polars ``read_csv`` with ``quote_char=None``;
- naive peer: the ``csv`` module's row loop building one dict per row (what a quick script does).

Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child process (includes the
interpreter and the input bytes; the input bytes are also reported). Not a test; run
``python benchmarks/bench_bolagsverket.py [--rows N] [--keep DIR]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ('"organisationsidentitet";"namnskyddslopnummer";"registreringsland";"organisationsnamn";'
          '"organisationsform";"avregistreringsdatum";"avregistreringsorsak";'
          '"pagandeAvvecklingsEllerOmstruktureringsforfarande";"registreringsdatum";'
          '"verksamhetsbeskrivning";"postadress"')
WORDS = ("bygg konsult data transport städ vård omsorg fastighet handel import export café restaurang "
         "redovisning snickeri måleri el rör design reklam utbildning hälsa skog jordbruk frisör "
         "åkeri plåt golv tak trädgård ventilation tryck musik film foto").split()
TOWNS = [("LINKÖPING", "582"), ("NORRKÖPING", "602"), ("STOCKHOLM", "114"), ("GÖTEBORG", "411"),
         ("MALMÖ", "211"), ("UPPSALA", "753"), ("MOTALA", "591"), ("ÖREBRO", "702")]
FORMS = ["AB"] * 60 + ["HB"] * 6 + ["EK"] * 3 + ["BRF"] * 4 + ["KB"] * 2 + ["I"] * 2 + ["S"] + ["E"] * 22


def luhn_digit(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def generate(rows: int, folder: Path) -> tuple[Path, Path]:
    rng = random.Random(1)
    txt, zpath = folder / "bolagsverket_bulkfil.txt", folder / "bolagsverket_bulkfil.zip"
    with open(txt, "w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff" + HEADER + "\r\n")
        batch = []
        for i in range(rows):
            form = rng.choice(FORMS)
            year = rng.randint(1950, 2026)
            reg = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            w = rng.sample(WORDS, 3)
            if form == "E":
                nine = f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randrange(1000):03d}"
                ident = f"19{nine}{luhn_digit(nine)}$PERSON-IDORG"
                name = f"Förnamn Efternamn {w[0].capitalize()}"
            else:
                nine = f"{rng.choice('5789')}{rng.randint(20, 99)}{rng.randrange(10**6):06d}"
                ident = f"{nine}{luhn_digit(nine)}$ORGNR-IDORG"
                name = f"{w[0].capitalize()} {w[1].capitalize()} {form}"
                if rng.random() < 0.001:
                    name = f'{w[0].capitalize()} "{w[1]}" {form}'            # bare quote
            names = f"{name}$FORETAGSNAMN-ORGNAM${reg}"
            if rng.random() < 0.05:
                names += f"|{w[2].capitalize()} {w[0]}$SARS_FORNAMN-ORGNAM${reg}"
            dereg = reason = proc = ""
            r = rng.random()
            if r < 0.3:
                dereg, reason = f"{rng.randint(year, 2026)}-06-30", rng.choice(["KKAV", "LIAV", "FUAV", "OVERK"]) + "-AVORG"
            elif r < 0.33:
                proc = f"|KK-AVOMFO${rng.randint(2020, 2026)}-03-01"
            desc = (f"Bolaget ska bedriva {w[0]}, {w[1]} och {w[2]}verksamhet samt därmed förenlig "
                    f"verksamhet, äga och förvalta fast och lös egendom samt {rng.choice(WORDS)}.")
            town, pc = rng.choice(TOWNS)
            addr = f"{rng.choice(['Storgatan', 'Box', 'Ågatan'])} {rng.randint(1, 999)}$${town}${pc}{rng.randrange(100):02d}$SE-LAND"
            batch.append(f'"{ident}";"1";"SE-LAND";"{names}";"{form}-ORGFO";"{dereg}";"{reason}";'
                         f'"{proc}";"{reg}";"{desc}";"{addr}"')
            if len(batch) == 100_000:
                fh.write("\r\n".join(batch) + "\r\n")
                batch = []
        if batch:
            fh.write("\r\n".join(batch) + "\r\n")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.write(txt, "bolagsverket_bulkfil.txt")
    return txt, zpath


# --- contenders (each runs in a child process) -------------------------------------------------

def run_ours(zpath: str, validate_too: bool) -> dict:
    from schemas.organisations import BolagsverketOrganisation
    from schemas.validate import validate
    from sources import bolagsverket
    data = Path(zpath).read_bytes()
    t = time.perf_counter()
    frames = bolagsverket.parse(data, "bolagsverket_bulkfil.zip")
    parsed = time.perf_counter() - t
    org = frames["bolagsverket_organisation"]
    rows = org.height + int(frames["bolagsverket_sole_traders"]["count"][0])
    out = {"rows": rows, "organisations": org.height, "parse_s": parsed, "input_bytes": len(data)}
    if validate_too:
        t2 = time.perf_counter()
        v = validate("bolagsverket_organisation", org, BolagsverketOrganisation)
        out.update(validate_s=time.perf_counter() - t2, good=v.good.height,
                   quarantined=v.quarantine.height, schema_error=v.schema_error)
    out["seconds"] = time.perf_counter() - t
    return out


def run_duckdb(txt: str) -> dict:
    import duckdb
    con = duckdb.connect()
    t = time.perf_counter()
    n = con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, delim=';', quote='', escape='', "
                    "header=true, all_varchar=true, strict_mode=false, null_padding=true)",
                    [txt]).fetchall()[0][0]
    return {"rows": n, "seconds": time.perf_counter() - t}


def run_polars(txt: str) -> dict:
    import polars as pl
    t = time.perf_counter()
    df = pl.read_csv(txt, separator=";", quote_char=None, infer_schema=False, has_header=True,
                     truncate_ragged_lines=True)
    return {"rows": df.height, "seconds": time.perf_counter() - t}


def run_naive(zpath: str) -> dict:
    import csv
    import io
    t = time.perf_counter()
    rows = []
    with zipfile.ZipFile(zpath) as zf, zf.open("bolagsverket_bulkfil.txt") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig"), delimiter=";")
        header = next(reader)
        for rec in reader:
            rows.append(dict(zip(header, rec)))
    return {"rows": len(rows), "seconds": time.perf_counter() - t}


def child(name: str, zpath: str, txt: str) -> dict:
    fn = {"ours": lambda: run_ours(zpath, True), "ours-parse": lambda: run_ours(zpath, False),
          "duckdb": lambda: run_duckdb(txt), "polars": lambda: run_polars(txt),
          "naive": lambda: run_naive(zpath)}[name]
    out = fn()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_500_000)
    ap.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    ap.add_argument("--skip", default="", help="comma-separated contenders to skip (e.g. naive)")
    ap.add_argument("--child", nargs=3, metavar=("NAME", "ZIP", "TXT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-bolagsverket-"))
    folder.mkdir(parents=True, exist_ok=True)
    txt, zpath = folder / "bolagsverket_bulkfil.txt", folder / "bolagsverket_bulkfil.zip"
    if not (txt.exists() and zpath.exists()):
        t = time.perf_counter()
        generate(args.rows, folder)
        print(f"generated in {time.perf_counter() - t:.0f} s")
    print(f"rows: {args.rows:,}  text: {txt.stat().st_size / 1e6:,.0f} MB  zip: {zpath.stat().st_size / 1e6:,.0f} MB")
    results = {}
    for name in ["ours", "ours-parse", "duckdb", "polars", "naive"]:
        if name in args.skip.split(","):
            continue
        out = subprocess.run([sys.executable, __file__, "--child", name, str(zpath), str(txt)],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        results[name] = r = json.loads(out.stdout.strip().splitlines()[-1])
        extra = ""
        if "parse_s" in r:
            extra = f"  (parse {r['parse_s']:.1f} s" + (f", validate {r['validate_s']:.1f} s" if "validate_s" in r else "") + ")"
        print(f"{name:11s} {r['seconds']:7.1f} s  {r['rows'] / r['seconds']:11,.0f} rows/s  "
              f"peak RSS {r['peak_rss_mb']:7,.0f} MB{extra}")
    ours = results.get("ours")
    if ours:
        for peer in ("duckdb", "polars", "naive"):
            if peer in results:
                print(f"ours (parse+validate) / {peer}: {ours['seconds'] / results[peer]['seconds']:.2f}× time, "
                      f"{ours['peak_rss_mb'] / results[peer]['peak_rss_mb']:.2f}× peak memory")
    if not args.keep:
        for p in (txt, zpath):
            p.unlink(missing_ok=True)
        folder.rmdir()


if __name__ == "__main__":
    main()
