"""JSON-stat 2.0 decoder: a dataset to one row per cell.

Dimension order comes from ``id``/``size``; a category ``index`` may be an object (code → position)
or an array (codes in order); ``value`` and ``status`` may be arrays or sparse objects keyed by the
zero-based cell index, and ``status`` may be a single string for every cell. Status symbols stay
flags beside a null value; they are never turned into numbers.
"""
from __future__ import annotations

from math import prod

import polars as pl

from sources.base import ParseError, load_json


def _categories(dim_id: str, dim: dict, size: int) -> list[str]:
    index = dim.get("category", {}).get("index")
    if index is None:
        labels = dim.get("category", {}).get("label") or {}
        if len(labels) == 1 and size == 1:   # a single category may omit its index
            return list(labels)
        raise ParseError(f"dimension '{dim_id}' has no category index")
    if isinstance(index, list):
        codes = list(index)
        if len(set(codes)) != len(codes):
            raise ParseError(f"dimension '{dim_id}' repeats a category code in its index")
    elif isinstance(index, dict):
        codes = [None] * len(index)
        for code, pos in index.items():
            if not isinstance(pos, int) or not 0 <= pos < len(index) or codes[pos] is not None:
                raise ParseError(f"dimension '{dim_id}' has an inconsistent category index")
            codes[pos] = code
    else:
        raise ParseError(f"dimension '{dim_id}' category index is neither object nor array")
    if len(codes) != size:
        raise ParseError(f"dimension '{dim_id}' has {len(codes)} categories but size {size}")
    return codes


def _cells(obj, n: int, what: str) -> list:
    if obj is None:
        return [None] * n
    if isinstance(obj, list):
        if len(obj) != n:
            raise ParseError(f"{what} has {len(obj)} entries but the dimension sizes give {n} cells")
        return obj
    if isinstance(obj, dict):
        out = [None] * n
        for key, v in obj.items():
            try:
                i = int(key)
            except ValueError:
                raise ParseError(f"{what} key '{key}' is not a cell index") from None
            if not 0 <= i < n:
                raise ParseError(f"{what} index {i} is outside 0..{n - 1}")
            out[i] = v
        return out
    if isinstance(obj, str) and what == "status":
        return [obj] * n
    raise ParseError(f"{what} is neither an array nor an object")


def load(data: bytes) -> dict:
    doc = load_json(data)
    if not isinstance(doc, dict) or doc.get("class", "dataset") != "dataset" or "id" not in doc:
        raise ParseError("not a JSON-stat 2.0 dataset (no 'id'/'size'/'dimension')")
    return doc


def decode(doc: dict) -> pl.DataFrame:
    """One row per cell: a string column per dimension (category code), ``value`` (Float64, null
    when missing) and ``status`` (symbol or null)."""
    ids, sizes = doc.get("id"), doc.get("size")
    dims = doc.get("dimension") or {}
    if not isinstance(ids, list) or not isinstance(sizes, list) or len(ids) != len(sizes):
        raise ParseError("'id' and 'size' must be arrays of the same length")
    missing = [d for d in ids if d not in dims]
    if missing:
        raise ParseError(f"dimension(s) {', '.join(missing)} listed in 'id' but not described")
    codes = [_categories(d, dims[d], s) for d, s in zip(ids, sizes)]
    n = prod(sizes)
    values = _cells(doc.get("value"), n, "value")
    status = _cells(doc.get("status"), n, "status")
    for v in values:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ParseError(f"value {v!r} is not a number or null")
    # row-major: the last dimension varies fastest, so dimension k's position in cell i is
    # (i // stride_k) % size_k with stride_k the product of the later sizes
    position = pl.int_range(n, dtype=pl.Int64, eager=True)
    columns, stride = {}, 1
    for d, c in reversed(list(zip(ids, codes))):
        columns[d] = pl.Series(d, c, dtype=pl.String).gather((position // stride) % len(c)) if n else \
            pl.Series(d, [], dtype=pl.String)
        stride *= len(c)
    frame = pl.DataFrame({**{d: columns[d] for d in ids},
                          "value": pl.Series("value", values, dtype=pl.Float64),
                          "status": pl.Series("status", [None if s in (None, "") else str(s) for s in status],
                                              dtype=pl.String)})
    return frame


def cells_as_json(doc: dict) -> list[dict]:
    """What ``krafter inspect pxweb`` prints: one object per cell."""
    return decode(doc).to_dicts()


def units(doc: dict, metric_dim: str = "ContentsCode") -> dict[str, str]:
    cat = (doc.get("dimension", {}).get(metric_dim) or {}).get("category", {})
    return {code: (u or {}).get("base", "") for code, u in (cat.get("unit") or {}).items()}


def labels(doc: dict, dim: str) -> dict[str, str]:
    return dict((doc.get("dimension", {}).get(dim) or {}).get("category", {}).get("label") or {})
