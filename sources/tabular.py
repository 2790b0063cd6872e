"""Spreadsheet exports as rows of cells: xlsx workbooks (every sheet) and CSV text (encoding and
separator sniffed), as the statistics portals (Arbetsförmedlingen, Upphandlingsmyndigheten) export them."""
from __future__ import annotations

import csv
import io
import zipfile

from sources.base import ParseError


def sheets(data: bytes) -> list[tuple[str, list[list]]]:
    """(sheet title, rows) of an xlsx workbook, or [("csv", rows)] of CSV text."""
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise ParseError("an old binary Excel (.xls) file: save it as .xlsx or CSV")
    if data[:2] == b"PK":
        return xlsx_sheets(data)
    rows = csv_rows(data)
    if not rows:
        raise ParseError("empty file")
    return [("csv", rows)]


def xlsx_sheets(data: bytes) -> list[tuple[str, list[list]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ParseError(f"not a readable xlsx workbook ({type(exc).__name__})") from None
    try:
        return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets]
    finally:
        wb.close()


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (BOM or not), else cp1252 as Excel on Windows writes it, else latin-1."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="strict") if cp1252_ok(data) else data.decode("latin-1")
    if "\x00" in text:
        raise ParseError("neither an xlsx workbook nor CSV text (binary data)")
    return text


def delimiter(text: str) -> str:
    """The separator most used in the first 4 KB: ``;``, ``,`` or a tab."""
    sample = text[:4096]
    return max(";,\t", key=sample.count)


def csv_rows(data: bytes) -> list[list]:
    text = decode(data)
    return [[c if c.strip() else None for c in row]
            for row in csv.reader(io.StringIO(text), delimiter=delimiter(text))]


def cp1252_ok(data: bytes) -> bool:
    try:
        data.decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False
