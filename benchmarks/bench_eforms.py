"""Benchmark: read a year's worth of eForms notices (≥ 50 000) into the TED tables.

Generates realistic notices with the bundled-sample generator's templates
(``scripts/samples_ted.py``: every procedure shape of the samples, competition and award notices,
ids varied per copy), keeps them in memory, then times on the same bytes
- the floor: lxml parsing each notice with our hardened parser and no extraction;
- a naive peer: ``xml.etree.ElementTree`` with per-field ``findall`` searches for the same fields
  (notice, buyers, lots and reserved/strategic codes, results, winners and values) into dicts —
  what a quick script would do (xmltodict is not installed and is not added);
- ours: ``sources.ted.parse`` per notice (one XML file → five typed polars frames, as ``krafter
  ingest`` of single files does) and on batches (zip packages of ``--batch`` notices, as daily
  packages are read), on one core and on two cores (a process pool over the batches).
Prints notices/s and the ratios. Not a test; run ``python benchmarks/bench_eforms.py
[--notices N] [--batch B]``.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import multiprocessing as mp
import os
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POLARS_MAX_THREADS", "1")   # "one core" means one core; the pool adds the second

from lxml import etree  # noqa: E402

from sources import ted  # noqa: E402

NOTICES: list[bytes] = []
BATCHES: list[bytes] = []


def _generator():
    spec = importlib.util.spec_from_file_location("samples_ted", ROOT / "scripts" / "samples_ted.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["samples_ted"] = module
    spec.loader.exec_module(module)
    return module


def generate(n: int) -> list[bytes]:
    """``n`` eForms notices: copies of the sample procedures with their own ids and dates."""
    gen = _generator()
    out: list[bytes] = []
    copy = 0
    while len(out) < n:
        for p in gen.PROCEDURES:
            copy += 1
            shift = timedelta(days=copy % 700)
            q = dataclasses.replace(p, key=f"B{copy:07d}", cn_date=p.cn_date - shift,
                                    can_date=p.can_date - shift if p.can_date else None)
            for kind, pub in (("cn", q.cn_date), ("can", q.can_date)):
                if pub is None or len(out) >= n:
                    continue
                pubno = f"{len(out) + 1:08d}-{pub.year}"
                out.append(gen.notice_xml(q, kind, pub, pubno).encode())
    return out


def package(notices: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i, data in enumerate(notices):
            zf.writestr(f"{i:08d}.xml", data)
    return buf.getvalue()


# --- the three readers ------------------------------------------------------------------------

def floor(notices: list[bytes]) -> int:
    for data in notices:
        etree.fromstring(data, ted._PARSER)
    return len(notices)


NS = {k: v for k, v in ted.NS.items()}
EXT = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/efext:EformsExtension"


def _text(el, path):
    found = el.find(path, NS)
    return found.text.strip() if found is not None and found.text else None


def naive_one(data: bytes) -> dict:
    root = ET.fromstring(data)
    ext = root.find(EXT, NS)
    orgs = {}
    for org in ext.findall("efac:Organizations/efac:Organization/efac:Company", NS):
        orgs[_text(org, "cac:PartyIdentification/cbc:ID")] = {
            "name": _text(org, "cac:PartyName/cbc:Name"),
            "id": _text(org, "cac:PartyLegalEntity/cbc:CompanyID"),
            "country": _text(org, "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
            "size": _text(org, "efbc:CompanySizeCode")}
    notice = {"id": _text(root, "cbc:ID"), "version": _text(root, "cbc:VersionID"),
              "procedure": _text(root, "cbc:ContractFolderID"),
              "subtype": _text(ext, "efac:NoticeSubType/cbc:SubTypeCode"),
              "date": _text(ext, "efac:Publication/efbc:PublicationDate"),
              "buyers": [orgs.get(_text(p, "cac:Party/cac:PartyIdentification/cbc:ID"))
                         for p in root.findall("cac:ContractingParty", NS)],
              "lots": [], "winners": []}
    for lot in root.findall("cac:ProcurementProjectLot", NS):
        notice["lots"].append({
            "id": _text(lot, "cbc:ID"),
            "cpv": _text(lot, "cac:ProcurementProject/cac:MainCommodityClassification/cbc:ItemClassificationCode"),
            "reserved": [c.text for c in lot.findall(
                "cac:TenderingTerms/cac:TendererQualificationRequest/cac:SpecificTendererRequirement/"
                "cbc:TendererRequirementTypeCode", NS)],
            "codes": [(c.get("listName"), c.text) for c in lot.findall(
                "cac:ProcurementProject/cac:ProcurementAdditionalType/cbc:ProcurementTypeCode", NS)]})
    tenders = {_text(t, "cbc:ID"): t for t in ext.findall("efac:NoticeResult/efac:LotTender", NS)}
    parties = {_text(t, "cbc:ID"): t for t in ext.findall("efac:NoticeResult/efac:TenderingParty", NS)}
    for res in ext.findall("efac:NoticeResult/efac:LotResult", NS):
        if _text(res, "cbc:TenderResultCode") != "selec-w":
            continue
        for ref in res.findall("efac:LotTender/cbc:ID", NS):
            tender = tenders.get(ref.text)
            party = parties.get(_text(tender, "efac:TenderingParty/cbc:ID"))
            for member in party.findall("efac:Tenderer/cbc:ID", NS):
                notice["winners"].append({"lot": _text(res, "efac:TenderLot/cbc:ID"),
                                          "org": orgs.get(member.text),
                                          "value": _text(tender, "cac:LegalMonetaryTotal/cbc:PayableAmount")})
    return notice


def naive(notices: list[bytes]) -> int:
    return len([naive_one(d) for d in notices])


def ours_per_notice(notices: list[bytes]) -> int:
    return sum(ted.parse(d, "n.xml")["ted_notice"].height for d in notices)


def ours_batch(package_bytes: bytes) -> int:
    return ted.parse(package_bytes, "batch.zip")["ted_notice"].height


def ours_batches(packages: list[bytes]) -> int:
    return sum(ours_batch(b) for b in packages)


def timed(fn, *args) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notices", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=2_000, help="notices per zip package")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    NOTICES[:] = generate(args.notices)
    BATCHES[:] = [package(NOTICES[i:i + args.batch]) for i in range(0, len(NOTICES), args.batch)]
    size = sum(map(len, NOTICES))
    print(f"generated {len(NOTICES)} eForms notices ({size / 1e6:.0f} MB, "
          f"{size / len(NOTICES) / 1e3:.1f} kB each) in {time.perf_counter() - t:.1f} s; "
          f"{len(BATCHES)} packages of ≤ {args.batch}")

    rows = []
    t_floor, n = timed(floor, NOTICES)
    rows.append(("floor: lxml parse only (1 core)", t_floor, n))
    t_naive, n = timed(naive, NOTICES)
    rows.append(("peer: ElementTree + findall per field (1 core)", t_naive, n))
    t_one, n = timed(ours_per_notice, NOTICES)
    rows.append(("ours: ted.parse per notice (1 core)", t_one, n))
    t_batch, n = timed(ours_batches, BATCHES)
    rows.append((f"ours: ted.parse per package of {args.batch} (1 core)", t_batch, n))

    # spawn, not fork: polars' thread pool does not survive a fork well (the workers crawl).
    # The bytes travel to the workers inside the timing (as they would from a package reader).
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(abs, range(2))                       # start the workers before timing
        t = time.perf_counter()
        n = sum(pool.map(ours_batch, BATCHES, chunksize=1))
        t_batch2 = time.perf_counter() - t
        rows.append((f"ours: ted.parse per package of {args.batch} (2 cores)", t_batch2, n))
        half = len(NOTICES) // 2
        t = time.perf_counter()
        n = sum(pool.map(ours_per_notice, [NOTICES[:half], NOTICES[half:]]))
        t_one2 = time.perf_counter() - t
        rows.append(("ours: ted.parse per notice (2 cores)", t_one2, n))

    width = max(len(r[0]) for r in rows)
    for label, secs, count in rows:
        print(f"{label:<{width}}  {secs:7.2f} s  {count / secs:9,.0f} notices/s")
    print(f"ours (packages, 1 core) / floor: {t_batch / t_floor:.1f}× the time of lxml alone")
    print(f"ours (per notice, 1 core) / floor: {t_one / t_floor:.1f}×")
    print(f"ours (packages, 1 core) vs peer: {t_naive / t_batch:.2f}× the peer's throughput "
          f"(the peer builds dicts, no typed frames, no hardening checks)")
    print(f"2-core speed-up: packages {t_batch / t_batch2:.2f}×, per notice {t_one / t_one2:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
