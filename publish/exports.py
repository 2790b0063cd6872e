"""Exports of every report table: CSV for Swedish Excel, XLSX, Parquet, and PNG with alt text.

PNG goes through great-tables' ``gtsave`` (headless Chromium via nokap). As root Chromium needs
``--no-sandbox``: we point ``CHROME_PATH`` at a small wrapper that adds the flags.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import polars as pl
from great_tables import GT

CHROMIUM_FLAGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def write_tabular(frame: pl.DataFrame, folder: Path, name: str) -> list[str]:
    """CSV (UTF-8 with BOM, ';', decimal comma, '..' for missing), XLSX and Parquet; returns file names."""
    frame.write_parquet(folder / f"{name}.parquet")
    text = frame.with_columns(
        [pl.col(c).cast(pl.String).str.replace(r"\.", ",") for c, dt in frame.schema.items() if dt.is_float()]
    ).write_csv(separator=";", null_value="..")
    (folder / f"{name}.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))
    frame.write_excel(folder / f"{name}.xlsx", worksheet=name[:31], autofit=True)
    return [f"{name}.csv", f"{name}.xlsx", f"{name}.parquet"]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _wrapper(cache: Path, browser: str) -> Path:
    """A launcher adding the flags headless Chromium needs here (``--no-sandbox`` as root)."""
    cache.mkdir(parents=True, exist_ok=True)
    flags = CHROMIUM_FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    script = cache / "chromium-headless.sh"
    script.write_text(f'#!/bin/sh\nexec "{browser}" {" ".join(flags)} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def write_png(gt: GT, path: Path, cache: Path) -> bool:
    """Render ``gt`` to PNG; False when no Chromium is installed (the manifest says so)."""
    browser = os.environ.get("CHROME_PATH") or chromium()
    if browser is None:
        return False
    if "CHROME_PATH" not in os.environ:
        os.environ["CHROME_PATH"] = str(_wrapper(cache, browser))
    gt.gtsave(str(path), zoom=1.5, expand=10, vwidth=1200)
    return True
