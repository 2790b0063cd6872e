"""uhm source: Upphandlingsmyndigheten's published national figures (bundled CSV, parse, fetch)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from schemas.procurement import TABLES, UhmNationalFigure
from sources import registry, uhm
from sources.base import FetchContext, ParseError

SAMPLE = Path(__file__).resolve().parents[1] / "sources" / "samples" / "uhm" / "uhm_national.csv"
URL_2021 = ("https://www.upphandlingsmyndigheten.se/statistik/upphandlingsstatistik/"
            "statistik-om-annonserade-upphandlingar-i-sverige-2021/hallbar-offentlig-upphandling/")


def figures() -> pl.DataFrame:
    return uhm.parse(SAMPLE.read_bytes(), SAMPLE.name)["uhm_national_figure"]


def test_bundled_figures_are_the_published_ones():
    f = figures()
    UhmNationalFigure.validate(f, lazy=True)
    assert dict(f.schema) == uhm.SCHEMAS["uhm_national_figure"]
    got = {(r["year"], r["measure"]): (r["value"], r["unit"]) for r in f.to_dicts()}
    assert got == {
        (2021, "advertised_procurements"): (Decimal("18421.00"), "procurements"),
        (2021, "procurements_with_social_requirements_at_least"): (Decimal("1500.00"), "procurements"),
        (2021, "share_with_social_requirements"): (Decimal("8.00"), "percent"),
        (2022, "advertised_procurements"): (Decimal("17203.00"), "procurements"),
        (2022, "contracted_value"): (Decimal("270.00"), "SEK bn"),
        (2024, "advertised_procurements"): (Decimal("17575.00"), "procurements"),
        (2024, "contracted_value"): (Decimal("389.30"), "SEK bn"),
    }
    row = f.filter(pl.col("measure") == "procurements_with_social_requirements_at_least").to_dicts()[0]
    assert row["source_url"] == URL_2021 and row["published"] == date(2022, 3, 24)
    assert f.filter(pl.col("year") == 2024)["published"].to_list() == [date(2026, 2, 5)] * 2
    assert f.filter(pl.col("year") == 2022)["published"].null_count() == 2
    assert all(u.startswith("https://www.upphandlingsmyndigheten.se/statistik/") for u in f["source_url"])


def test_bundled_file_says_it_is_transcribed_not_synthetic():
    first = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    assert first == ("# transcribed from Upphandlingsmyndigheten's published statistics pages "
                     "(see source_url); not synthetic")


def test_table_is_registered_and_the_source_is_implemented():
    assert TABLES["uhm_national_figure"] is UhmNationalFigure
    assert registry.implemented(registry.get("uhm"))


def test_bad_files_are_one_line_errors():
    with pytest.raises(ParseError, match="header must be year,measure,value,unit,source_url,published"):
        uhm.parse(b"year;measure;value\n2021;x;1\n", "semicolon.csv")
    with pytest.raises(ParseError, match="line 3: year, value or published date unreadable"):
        uhm.parse(b"# c\nyear,measure,value,unit,source_url,published\n"
                  b"2021,advertised_procurements,18 421,procurements,https://x,\n", "bad.csv")
    with pytest.raises(ParseError, match="not UTF-8"):
        uhm.parse("year,measure\n2021,å\n".encode("latin-1"), "latin1.csv")


def test_validation_catches_bad_rows():
    f = uhm.parse(b"year,measure,value,unit,source_url,published\n"
                  b"2021,advertised_procurements,-1,procurements,http://insecure,\n"
                  b"2021,advertised_procurements,5,things,https://ok,\n", "x.csv")["uhm_national_figure"]
    with pytest.raises(Exception) as err:
        UhmNationalFigure.validate(f, lazy=True)
    text = str(err.value)
    assert "value" in text and "source_url" in text and "unit" in text


def test_fetch_explains_how_to_load_the_figures():
    with pytest.raises(ParseError) as err:
        uhm.fetch(FetchContext())
    message = str(err.value)
    assert "\n" not in message
    assert "krafter ingest uhm --file" in message and "`uhm-db`" in message
