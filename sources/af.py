"""Arbetsförmedlingen's monthly statistics per kommun, as published: an Excel sheet (or its CSV export).

The layout this reads (AF's files change; the parser finds things by content, never by position):
a few title rows (one names the month, e.g. "… januari 2023", and usually the age range "16-65 år"),
a header row with merged group cells over sub-columns ("Inskrivna arbetslösa", "Öppet arbetslösa",
"Arbetslösa i program", "Utan arbete mer än 6 månader", "… mer än 12 månader", "Registerbaserad
arbetskraft"), optionally a second header row splitting each group by sex (Totalt / Kvinnor / Män),
then one row per region: code + name (kommun, the county ``05`` and the country — a "Riket" row may
have no code), then footnotes. Share columns ("andel", "%") are ignored: shares are computed later
from the counts.

``parse`` gives ``af_observation`` (one row per region × month × measure × sex) and ``af_rejected``
(cells or rows that could not be read, with a reason). Masked small counts (``<5``) and symbols
(``..``, ``-``) keep a null value and the symbol as ``status``; an empty cell is ``missing``.
``age_group`` is as published; the 2023 change from 16–64 to 16–65 is a series break, flagged on the
first month of the new range (``series_break``).

``fetch`` takes ``$KRAFTER_AF_URL`` (a file URL, or a page to scrape) or the statistics page, finds the
``.xlsx`` links on it (AF's file URLs change) whose URL matches ``$KRAFTER_AF_LINK_PATTERN`` (default
``kommun``) and downloads every one of them (the source is in replace mode: each fetch is the whole
dataset).
"""
from __future__ import annotations

import html
import os
import re
import time
import unicodedata
from urllib.parse import unquote, urljoin, urlsplit

import polars as pl

from sources import tabular
from sources.base import Fetched, FetchContext, ParseError, shown
from sources.http import request

SOURCE_ID = "af"
PAGE_URL = "https://arbetsformedlingen.se/statistik/sok-statistik/tidigare-statistik"
LINK_PATTERN = r"(?i)kommun"
PAUSE = 1.0
HEADER_SCAN_ROWS = 40

# (pattern on the normalised group header, measure); the first match wins
MEASURES: list[tuple[re.Pattern, str]] = [(re.compile(p), m) for p, m in [
    (r"(?<!\d)12\s*m[åa]n", "unemployed_12m"),
    (r"(?<!\d)6\s*m[åa]n", "unemployed_6m"),
    (r"inskrivna arbetsl[öo]sa", "registered_unemployed"),
    (r"[öo]ppet arbetsl[öo]sa", "open_unemployed"),
    (r"(arbetsl[öo]sa|s[öo]kande) i program", "in_programmes"),
    (r"arbetskraft", "registered_labour_force"),
]]
SHARE = re.compile(r"andel|%|procent")
SEX_LABELS = {"totalt": "T", "samtliga": "T", "båda könen": "T", "alla": "T", "kvinnor": "K", "män": "M"}
CODE_HEADER = re.compile(r"^(kommun|län|region)?\s*-?kod$|^kod\b|^kommunnr$|^länskod$")
NAME_HEADER = re.compile(r"^(kommun|kommunnamn|län|region|namn|område)$")
PERIOD_HEADER = re.compile(r"^(period|månad|år\s*-?\s*månad|tid)$")
COUNTRY_NAMES = {"riket", "hela riket", "hela landet", "sverige", "totalt riket"}
MONTHS = {name: i + 1 for i, name in enumerate(
    ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
     "november", "december"])}
_MONTH_WORD = re.compile(r"\b(" + "|".join(MONTHS) + r")\s+(\d{4})\b")
_ISO_MONTH = re.compile(r"\b(\d{4})\s*[-M]\s*(0[1-9]|1[0-2])\b")
_AGE = re.compile(r"\b(\d{2})\s*[-–—]\s*(\d{2})\s*år")
SYMBOL = re.compile(r"^(<\s*\d+|\.\.|\.|-|–|x|×)$")
BREAKS = {("2023-01", "16-65")}          # (first month, new age range)

SCHEMA = {"region_code": pl.String, "period": pl.String, "measure": pl.String, "sex": pl.String,
          "age_group": pl.String, "series_break": pl.Boolean, "value": pl.Float64, "status": pl.String,
          "row_number": pl.Int64}
REJECTED_SCHEMA = {"row_number": pl.Int64, "reason": pl.String}


class _NoHeader(ParseError):
    pass


def norm(cell) -> str:
    if cell is None:
        return ""
    text = unicodedata.normalize("NFC", str(cell)).replace("\xa0", " ")
    return re.sub(r"\s+", " ", text).strip().casefold()


def measure_of(label: str) -> str | None:
    if not label or SHARE.search(label):
        return None
    for pattern, measure in MEASURES:
        if pattern.search(label):
            return measure
    return None


def period_in(text: str) -> str | None:
    m = _MONTH_WORD.search(text)
    if m:
        return f"{m.group(2)}-{MONTHS[m.group(1)]:02d}"
    m = _ISO_MONTH.search(text)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    return None


def default_age_group(period: str) -> str:
    return "16-64" if period < "2023-01" else "16-65"


def region_of(code, name) -> str | None:
    """A region code from the code cell (Excel may store 0509 as the number 509), else "Riket"."""
    if isinstance(code, bool):
        return None
    if isinstance(code, (int, float)) and float(code).is_integer():
        n = int(code)
        return None if n < 0 or n > 9999 else (f"{n:02d}" if n < 100 else f"{n:04d}")
    text = norm(code)
    if re.fullmatch(r"\d{1,4}", text):
        if len(text) in (2, 4):
            return text
        return region_of(int(text), name)
    if not text and norm(name) in COUNTRY_NAMES:
        return "00"
    return None


def number(cell) -> tuple[float | None, str | None]:
    """(value, status) of a cell; ValueError when it is neither a number nor a known symbol."""
    if cell is None:
        return None, "missing"
    if isinstance(cell, bool):
        raise ValueError(repr(cell))
    if isinstance(cell, (int, float)):
        return float(cell), None
    text = str(cell).replace("\xa0", " ").strip()
    if not text:
        return None, "missing"
    if SYMBOL.match(text):
        return None, re.sub(r"\s+", "", text)
    compact = text.replace(" ", "").replace(",", ".")
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        return float(compact), None
    raise ValueError(repr(shown(text)))


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def parse_grid(rows: list[list], where: str, start: int = 0) -> tuple[list[tuple], list[tuple[int, str]]]:
    """One sheet (or CSV) as rows of cells → (observation tuples, rejects). ``start`` continues the
    row numbering of earlier sheets."""
    def is_header(r: list) -> bool:       # a title row may name a measure too: ask for two, or a code column
        cells = [norm(c) for c in r]
        named = sum(1 for c in cells if measure_of(c))
        return named >= 2 or (named == 1 and any(CODE_HEADER.search(c) for c in cells if c))

    header_i = next((i for i, r in enumerate(rows[:HEADER_SCAN_ROWS]) if is_header(r)), None)
    if header_i is None:
        raise _NoHeader(f"{where}: no header row naming a measure (e.g. 'Inskrivna arbetslösa') in the "
                        f"first {HEADER_SCAN_ROWS} rows")
    header = [norm(c) for c in rows[header_i]]
    width = max(len(r) for r in rows)
    header += [""] * (width - len(header))
    below = [norm(c) for c in (rows[header_i + 1] if header_i + 1 < len(rows) else [])]
    below += [""] * (width - len(below))
    has_sex_row = any(c in SEX_LABELS for c in below)
    data_i = header_i + (2 if has_sex_row else 1)

    def find(pattern: re.Pattern) -> int | None:
        for row in (header, below):
            for j, c in enumerate(row):
                if c and pattern.search(c):
                    return j
        return None

    code_col, name_col, period_col = find(CODE_HEADER), find(NAME_HEADER), find(PERIOD_HEADER)
    if code_col is None:
        raise ParseError(f"{where}: no region code column (e.g. 'Kommunkod', 'Kod') in the header row")
    # merged group cells: only the top-left cell has the label; carry it right over empty cells
    columns: dict[tuple[str, str], int] = {}
    group = ""
    for j in range(width):
        if header[j]:
            group = header[j]
        if j in (code_col, name_col, period_col):
            group = ""
            continue
        measure = measure_of(group)
        if measure is None:
            continue
        sex = SEX_LABELS.get(below[j]) if has_sex_row else "T"
        if has_sex_row and sex is None:
            if below[j]:
                continue                         # a sub-column we do not use (e.g. "Andel")
            sex = "T"                            # a group without a split
        if (measure, sex) in columns:
            raise ParseError(f"{where}: two columns for {measure} ({sex}): "
                             f"{_col_letter(columns[(measure, sex)])} and {_col_letter(j)}")
        columns[(measure, sex)] = j
    if not columns:
        raise ParseError(f"{where}: the header names no measure column by sex")

    title = " ".join(norm(c) for r in rows[:header_i] for c in r if c is not None)
    sheet_period = period_in(title)
    if sheet_period is None and period_col is None:
        raise ParseError(f"{where}: no period (month and year) in the title rows or a 'Månad' column")
    age = _AGE.search(title)
    published_age = f"{age.group(1)}-{age.group(2)}" if age else None

    out: list[tuple] = []
    rejected: list[tuple[int, str]] = []
    n = start
    for i in range(data_i, len(rows)):
        r = list(rows[i]) + [None] * (width - len(rows[i]))
        cells = {k: r[j] for k, j in columns.items()}
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in r):
            continue
        name = r[name_col] if name_col is not None else None
        region = region_of(r[code_col], name)
        filled = [c for c in cells.values() if c is not None and str(c).strip()]
        if region is None:
            if filled:
                n += 1
                rejected.append((n, f"{where} row {i + 1}: no region code in '{r[code_col] or name or ''}'"))
            continue                              # footnotes, notes, blank separators
        period = sheet_period
        if period_col is not None:
            period = period_in(norm(r[period_col])) or sheet_period
        if period is None:
            n += 1
            rejected.append((n, f"{where} row {i + 1}: no period in '{r[period_col]}'"))
            continue
        age_group = published_age or default_age_group(period)
        brk = (period, age_group) in BREAKS
        for (measure, sex), j in columns.items():
            n += 1
            try:
                value, status = number(r[j])
            except ValueError as exc:
                rejected.append((n, f"{where} cell {_col_letter(j)}{i + 1}: {exc} is not a number"))
                continue
            out.append((region, period, measure, sex, age_group, brk, value, status, n))
    return out, rejected


# --- readers ------------------------------------------------------------------------------------

def parse(data: bytes, name: str = "") -> dict[str, pl.DataFrame]:
    sheets = tabular.sheets(data)
    observations: list[tuple] = []
    rejected: list[tuple[int, str]] = []
    misses: list[str] = []
    for title, rows in sheets:
        if not rows:
            misses.append(title)
            continue
        try:
            obs, rej = parse_grid(rows, f"sheet '{title}'" if title != "csv" else "csv",
                                  start=max([o[-1] for o in observations] + [r[0] for r in rejected] + [0]))
        except _NoHeader:
            misses.append(title)
            continue
        observations += obs
        rejected += rej
    if not observations and not rejected:
        if len(sheets) == 1 and sheets[0][0] == "csv":
            raise ParseError("csv: no header row naming a measure (e.g. 'Inskrivna arbetslösa')")
        raise ParseError(f"no sheet with a header row naming a measure (e.g. 'Inskrivna arbetslösa'); "
                         f"sheets: {', '.join(misses) or '(none)'}")
    return {"af_observation": pl.DataFrame(observations, schema=SCHEMA, orient="row"),
            "af_rejected": pl.DataFrame(rejected, schema=REJECTED_SCHEMA, orient="row")}


# --- live fetch ---------------------------------------------------------------------------------

_HREF = re.compile(r"""href\s*=\s*["']([^"'#]+?\.xlsx(?:\?[^"'#]*)?)["']""", re.IGNORECASE)


def xlsx_links(page: str, page_url: str, pattern: str = LINK_PATTERN) -> list[str]:
    """Absolute ``.xlsx`` links on an HTML page whose URL matches ``pattern``, in page order."""
    out: list[str] = []
    for m in _HREF.finditer(page):
        link = urljoin(page_url, html.unescape(m.group(1)).strip())
        if re.search(pattern, unquote(link)) and link not in out:
            out.append(link)
    return out


def fetch(ctx: FetchContext) -> list[Fetched]:
    url = os.environ.get("KRAFTER_AF_URL") or ctx.base_url or PAGE_URL
    pattern = os.environ.get("KRAFTER_AF_LINK_PATTERN") or LINK_PATTERN
    if re.search(r"\.(xlsx|csv)$", urlsplit(url).path, re.IGNORECASE):
        links = [url]
    else:
        page = request(SOURCE_ID, "GET", url)
        links = xlsx_links(page.text, url, pattern)
        if not links:
            raise ParseError(f"{url}: no .xlsx links matching '{pattern}' on the page")
        time.sleep(PAUSE)
    out: list[Fetched] = []
    for link in links:
        resp = request(SOURCE_ID, "GET", link)
        name = unquote(urlsplit(link).path.rsplit("/", 1)[-1]) or "af.xlsx"
        ext = "csv" if name.lower().endswith(".csv") else "xlsx"
        out.append(Fetched(resp.content, ext, url=link, http_status=resp.status_code, name=name,
                           extra={"page": url} if link != url else {}))
        time.sleep(PAUSE)
    return out
