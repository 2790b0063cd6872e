"""Benchmark: Bolagsverket's bulk file at national size (default 3 M rows, ≈ 1 GB of text).

Generates a synthetic file in the real format (UTF-8 with BOM, ``;``-separated, quoted, ``$``/``|``
packing, ≈ 20 % sole traders, a bare quote now and then) in a temporary folder, as the zip the
portal serves and as the bare text, then runs each contender in its own process (so that its peak
resident memory is its own) and prints rows/s, peak RSS and ratios (GitHub issue 3):

- ours, ingest of the .txt — the same file the floor reads: ``flows.ingest.ingest_snapshots`` on
  a temporary home holding it as a snapshot — parse (``sources.bolagsverket.parse_blocks``, read
  from disk block by block) + pandera validation per block + landing through
  ``warehouse.load.land`` (a writer thread inserts one block while the next is parsed) into the
  home's DuckDB file (``PREFECT_API_URL`` is emptied so no Prefect server starts); the parse and
  validate shares are printed;
- ours, ingest of the .zip as the portal serves it (adds inflating ≈ 1 GB);
- ours, parse only (zip), to separate parse from the rest;
- floor: DuckDB ``CREATE TABLE t AS SELECT * FROM read_csv(...)`` of the text into a DuckDB file,
  every column VARCHAR, the exact separator ``";"`` (multi-byte delimiter), no quote handling —
  what DuckDB alone needs to split and land the same bytes (outer quotes and ``$`` packing left
  in, sole traders kept);
- dlt, row path: a resource yielding one dict per row from the ``csv`` module, into DuckDB;
- dlt, Arrow path: a resource yielding pyarrow tables (``pyarrow.csv`` streaming reader, every
  column string), into DuckDB. dlt is optional: ``pip install dlt`` (not a project dependency).
- (``--extra``) polars ``read_csv`` and the ``csv`` module building dicts, the earlier floor/peer.

Goal (issue 3): ours within 1.3× of the floor, ahead of dlt's fastest path, peak RSS ≤ 1.5 GB.
Peak memory is the child's ``ru_maxrss`` (itself and any children it waited for; includes the
interpreter and the input bytes). Not a test; run
``python benchmarks/bench_bolagsverket.py [--rows N] [--keep DIR] [--skip a,b] [--extra] [--repeat N]``
(``--repeat``: N rounds of every contender in turn; the median run and the median of the
rounds' ratios are reported — the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
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

def run_ours_parse(zpath: str) -> dict:
    from sources import bolagsverket
    t = time.perf_counter()
    organisations = sole = 0
    for frames in bolagsverket.parse_blocks(Path(zpath), "bolagsverket_bulkfil.zip"):
        organisations += frames["bolagsverket_organisation"].height
        if "bolagsverket_sole_traders" in frames:
            sole = int(frames["bolagsverket_sole_traders"]["count"][0])
    seconds = time.perf_counter() - t
    return {"rows": organisations + sole, "organisations": organisations, "seconds": seconds}


def run_ours_ingest(path: str, work: str) -> dict:
    """What ``krafter ingest bolagsverket --file <path>`` does after the snapshot is stored: the
    snapshot is read from disk block by block by a parse thread; the main thread validates each
    block and hands it to the writer thread that lands it, so the three overlap. Printed beside the
    total: the time spent parsing (in its thread) and validating (in the main thread)."""
    from flows import ingest
    from schemas import prepare
    from sources import registry
    from sources.snapshot import SnapshotStore
    home = Path(work) / "home"
    spec = registry.get("bolagsverket")
    stored = ingest.store_files(SnapshotStore(home), spec, [Path(path)], "synthetic")
    spent = {"parse": 0.0, "validate": 0.0}
    module = spec.load()
    parse_blocks, validate_block = module.parse_blocks, prepare.validate_block

    def timed_parse_blocks(*a, **k):
        blocks = parse_blocks(*a, **k)
        while True:
            t0 = time.perf_counter()
            try:
                frames = next(blocks)
            except StopIteration:
                return
            finally:
                spent["parse"] += time.perf_counter() - t0
            yield frames

    def timed_validate(*a, **k):
        t0 = time.perf_counter()
        try:
            return validate_block(*a, **k)
        finally:
            spent["validate"] += time.perf_counter() - t0

    module.parse_blocks, prepare.validate_block = timed_parse_blocks, timed_validate
    t = time.perf_counter()
    summary = ingest.ingest_snapshots(home, spec, stored)
    seconds = time.perf_counter() - t
    module.parse_blocks, prepare.validate_block = parse_blocks, validate_block
    if summary.status != "loaded":
        raise SystemExit(f"ingest did not load: {summary.status} {summary.message}")
    from warehouse.db import work_path
    import duckdb
    con = duckdb.connect(str(work_path(home)), read_only=True)
    landed = con.execute("SELECT count(*) FROM staging.bolagsverket_organisation").fetchall()[0][0]
    sole = con.execute("SELECT sum(count) FROM staging.bolagsverket_sole_traders").fetchall()[0][0]
    con.close()
    return {"rows": landed + sole + summary.quarantined, "organisations": landed,
            "quarantined": summary.quarantined, "seconds": seconds, "parse_s": spent["parse"],
            "validate_s": spent["validate"]}


def run_duckdb(txt: str, work: str) -> dict:
    import duckdb
    con = duckdb.connect(str(Path(work) / "floor.duckdb"))
    t = time.perf_counter()
    n = con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, delim='\";\"', quote='', escape='', "
                    "header=true, all_varchar=true, strict_mode=false, null_padding=true)",
                    [txt]).fetchall()[0][0]
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t
    con.close()
    return {"rows": n, "seconds": seconds}


def _dlt_pipeline(work: str, name: str):
    import dlt
    os.environ["DLT_DATA_DIR"] = str(Path(work) / "dlt-data")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    return dlt.pipeline(pipeline_name=name, pipelines_dir=str(Path(work) / "dlt-pipelines"),
                        destination=dlt.destinations.duckdb(str(Path(work) / f"{name}.duckdb")),
                        dataset_name="bench")


def run_dlt_rows(txt: str, work: str) -> dict:
    import csv
    import dlt
    pipeline = _dlt_pipeline(work, "dlt_rows")

    @dlt.resource(name="organisation", write_disposition="replace")
    def rows():
        with open(txt, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=";")
            header = next(reader)
            for rec in reader:
                yield dict(zip(header, rec))

    t = time.perf_counter()
    pipeline.run(rows())
    seconds = time.perf_counter() - t
    with pipeline.sql_client() as client:
        n = client.execute_sql("SELECT count(*) FROM organisation")[0][0]
    return {"rows": n, "seconds": seconds}


def run_dlt_arrow(txt: str, work: str) -> dict:
    import dlt
    import pyarrow as pa
    import pyarrow.csv as pacsv
    pipeline = _dlt_pipeline(work, "dlt_arrow")
    header = [h.strip('"') for h in HEADER.split(";")]

    @dlt.resource(name="organisation", write_disposition="replace")
    def tables():
        reader = pacsv.open_csv(
            txt, read_options=pacsv.ReadOptions(block_size=16 << 20, encoding="utf-8"),
            parse_options=pacsv.ParseOptions(delimiter=";", quote_char='"', invalid_row_handler=lambda r: "skip"),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False))
        for batch in reader:
            yield pa.Table.from_batches([batch])

    t = time.perf_counter()
    pipeline.run(tables())
    seconds = time.perf_counter() - t
    with pipeline.sql_client() as client:
        n = client.execute_sql("SELECT count(*) FROM organisation")[0][0]
    return {"rows": n, "seconds": seconds}


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


CONTENDERS = ["ours", "ours-zip", "ours-parse", "duckdb", "dlt-rows", "dlt-arrow"]
EXTRA = ["polars", "naive"]
LABELS = {"ours": "ours: ingest of the .txt", "ours-zip": "ours: ingest of the .zip",
          "ours-parse": "ours: parse only (.zip)",
          "duckdb": "floor: DuckDB read_csv", "dlt-rows": "dlt, row path", "dlt-arrow": "dlt, Arrow path",
          "polars": "polars read_csv", "naive": "csv module dicts"}


def child(name: str, zpath: str, txt: str, work: str) -> dict:
    if name.startswith("dlt"):
        try:
            import dlt  # noqa: F401
        except ImportError:
            return {"skipped": "dlt not installed: pip install dlt"}
    fn = {"ours": lambda: run_ours_ingest(txt, work), "ours-zip": lambda: run_ours_ingest(zpath, work),
          "ours-parse": lambda: run_ours_parse(zpath),
          "duckdb": lambda: run_duckdb(txt, work), "dlt-rows": lambda: run_dlt_rows(txt, work),
          "dlt-arrow": lambda: run_dlt_arrow(txt, work), "polars": lambda: run_polars(txt),
          "naive": lambda: run_naive(zpath)}[name]
    out = fn()
    out["peak_rss_mb"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                             resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    ap.add_argument("--skip", default="", help="comma-separated contenders to skip: " + ",".join(CONTENDERS))
    ap.add_argument("--extra", action="store_true", help="also polars read_csv and the csv-module dicts")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of every contender; medians are reported")
    ap.add_argument("--child", nargs=4, metavar=("NAME", "ZIP", "TXT", "WORK"), help=argparse.SUPPRESS)
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
    with open(txt, "rb") as fh:
        lines = sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 24), b"")) - 1
    print(f"rows: {lines:,}  text: {txt.stat().st_size / 1e6:,.0f} MB  zip: {zpath.stat().st_size / 1e6:,.0f} MB")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": ""}
    results = {}
    names = [n for n in CONTENDERS + (EXTRA if args.extra else []) if n not in args.skip.split(",")]
    # rounds: every contender once per round, so that a change in the machine's load (it may be
    # shared) falls on all of them alike; the ratios are also taken per round
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(args.repeat):
        for name in list(names):
            work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=folder))
            try:
                out = subprocess.run([sys.executable, __file__, "--child", name, str(zpath), str(txt), str(work)],
                                     capture_output=True, text=True, env=env)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if out.returncode:
                print(f"{LABELS[name]:27s} failed: {out.stderr.strip().splitlines()[-1:]}")
                names.remove(name)
                continue
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            if "skipped" in runs[name][-1]:
                names.remove(name)
    print(f"{'contender':27s} {'seconds':>8s} {'rows/s':>11s} {'peak RSS':>10s}")
    for name, done in runs.items():
        if not done:
            continue
        if "skipped" in done[0]:
            print(f"{LABELS[name]:27s} skipped — {done[0]['skipped']}")
            continue
        # the median run by time, with the highest peak memory seen
        r = dict(sorted(done, key=lambda x: x["seconds"])[len(done) // 2])
        r["runs"] = [x["seconds"] for x in done]
        r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in done)
        results[name] = r
        extra = ""
        if "validate_s" in r:
            extra = (f"  (parse thread {r['parse_s']:.1f} s, validation {r['validate_s']:.1f} s, overlapping "
                     f"each other and the writer; {r['organisations']:,} organisations landed)")
        if len(r["runs"]) > 1:
            extra += f"  [median of {len(r['runs'])}: {min(r['runs']):.1f}–{max(r['runs']):.1f} s]"
        print(f"{LABELS[name]:27s} {r['seconds']:7.1f}s {r['rows'] / r['seconds']:11,.0f} {r['peak_rss_mb']:7,.0f} MB{extra}")
    ours = results.get("ours")
    if ours:
        def time_ratio(peer: str) -> float:
            """The median of the rounds' ratios (each round ran both under the same load)."""
            pairs = sorted(a["seconds"] / b["seconds"] for a, b in zip(runs["ours"], runs[peer]))
            return pairs[len(pairs) // 2]

        def ratio(peer: str) -> str:
            p = results[peer]
            pairs = sorted(a["seconds"] / b["seconds"] for a, b in zip(runs["ours"], runs[peer]))
            spread = f" (rounds: {pairs[0]:.2f}–{pairs[-1]:.2f}×)" if len(pairs) > 1 else ""
            return (f"{time_ratio(peer):.2f}× time{spread}, "
                    f"{ours['peak_rss_mb'] / p['peak_rss_mb']:.2f}× peak memory")
        if "duckdb" in results:
            r = time_ratio("duckdb")
            print(f"ours / floor (DuckDB read_csv): {ratio('duckdb')}  — goal ≤ 1.3×: {'met' if r <= 1.3 else 'missed'}")
        dlts = [n for n in ("dlt-rows", "dlt-arrow") if n in results]
        if dlts:
            best = min(dlts, key=lambda n: results[n]["seconds"])
            r = time_ratio(best)
            print(f"ours / dlt fastest ({LABELS[best]}): {ratio(best)}  — goal < 1×: {'met' if r < 1 else 'missed'}")
        for peer in EXTRA:
            if peer in results:
                print(f"ours / {LABELS[peer]}: {ratio(peer)}")
        print(f"ours peak RSS {ours['peak_rss_mb']:,.0f} MB — goal ≤ 1536 MB: "
              f"{'met' if ours['peak_rss_mb'] <= 1536 else 'missed'}")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
