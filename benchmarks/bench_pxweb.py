"""Benchmark: decode + validate a national-size SCB BAS response (JSON-stat2).

Generates a TAB6260-shaped document for Sweden, its 21 counties and 290 municipalities × 44 months
× 3 sexes × 2 age bands × 3 contents (≈ 247 000 cells), then times
- the floor: ``json.loads`` of the same bytes (no decoding into rows),
- a naive peer: a per-cell Python loop building dicts (what a quick script would do),
- our path: ``sources.pxweb.parse`` + pandera validation.
Prints cells/s and the ratios. Not a test; run ``python benchmarks/bench_pxweb.py``.
"""
from __future__ import annotations

import csv
import json
import sys
import time
from importlib import resources
from itertools import product
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.labour import PxwebObservation  # noqa: E402
from schemas.validate import validate  # noqa: E402
from sources import pxweb  # noqa: E402


def national_doc() -> bytes:
    regions = [r["region_code"] for r in csv.DictReader(
        (resources.files("sources") / "reference" / "regions.csv").open(encoding="utf-8"))]
    months = [f"{y}M{m:02d}" for y in range(2023, 2027) for m in range(1, 13) if (y, m) <= (2026, 8)]
    dims = {"Region": regions, "Alder": ["20-64", "20-24"], "Kon": ["1", "2", "1+2"],
            "ContentsCode": ["000006HI", "000004YH", "TOTALT"], "Tid": months}
    labels = {"000006HI": "antal sysselsatta", "000004YH": "antal arbetslösa", "TOTALT": "antal totalt"}
    n = 1
    for v in dims.values():
        n *= len(v)
    doc = {"version": "2.0", "class": "dataset", "id": list(dims), "size": [len(v) for v in dims.values()],
           "dimension": {d: {"category": {"index": {c: i for i, c in enumerate(v)},
                                          **({"label": labels} if d == "ContentsCode" else {})}}
                         for d, v in dims.items()},
           "extension": {"px": {"tableid": "TAB6260"}},
           "value": [float(i % 9973) for i in range(n)]}
    return json.dumps(doc).encode()


def naive(data: bytes) -> list[dict]:
    doc = json.loads(data)
    cats = [list(doc["dimension"][d]["category"]["index"]) for d in doc["id"]]
    return [{**dict(zip(doc["id"], combo)), "value": v} for combo, v in zip(product(*cats), doc["value"])]


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    data = national_doc()
    cells = len(json.loads(data)["value"])
    floor = best_of(lambda: json.loads(data))
    peer = best_of(lambda: naive(data))

    def ours():
        frame = pxweb.parse(data)["pxweb_observation"]
        v = validate("pxweb_observation", frame, PxwebObservation)
        assert v.good.height == cells, (v.schema_error, v.quarantine)

    path = best_of(ours)
    print(f"cells: {cells:,} ({len(data) / 1e6:.1f} MB)")
    for name, secs in (("floor json.loads", floor), ("naive per-cell dicts", peer), ("ours parse+validate", path)):
        print(f"{name:24s} {secs:7.3f} s  {cells / secs:12,.0f} cells/s")
    print(f"ours / floor: {path / floor:.2f}×   ours / naive peer: {path / peer:.2f}×")


if __name__ == "__main__":
    main()
