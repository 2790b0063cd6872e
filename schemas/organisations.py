"""pandera models for the organisation registers and curated lists (staging tables).

Every org-number column must hold a valid organisation number, i.e. ``orgnr.normalise(x) == x``:
10 digits, third digit >= 2 (else it is a personal identity number) and a valid Luhn check digit.
The check is vectorised in polars (``valid_org_number``) and pinned against ``orgnr.normalise``
in the tests.
"""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandera.polars as pa
import polars as pl

_REFERENCE = Path(__file__).resolve().parents[1] / "sources" / "reference"


def _codes(file: str, column: str) -> list[str]:
    with open(_REFERENCE / file, encoding="utf-8", newline="") as fh:
        return [row[column] for row in csv.DictReader(fh)]


BOLAGSVERKET_FORMS = _codes("bolagsverket_forms.csv", "organisationsform")
JURFORMS = _codes("legal_forms.csv", "jurform")
FTGSTAT_EVENTS = ["new", "registered", "closed"]


def org_number_ok(col: pl.Expr) -> pl.Expr:
    """True where ``col`` is a valid 10-digit organisation number (same rule as orgnr.normalise)."""
    d = [col.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    terms = []
    for i in range(9):
        if i % 2 == 0:
            x = d[i] * 2
            terms.append(pl.when(x > 9).then(x - 9).otherwise(x))
        else:
            terms.append(d[i])
    check = (10 - pl.sum_horizontal(terms) % 10) % 10
    shape = col.str.contains(r"^\d{2}[2-9]\d{7}$")
    return (shape & (check == d[9])).fill_null(False)


def _org_check(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(org_number_ok(pl.col(data.key)))


class _OrgNumbered(pa.DataFrameModel):
    """Base: every row names an organisation whose number must be valid, and its row in the file."""
    org_number: str
    row_number: int = pa.Field(ge=1)

    @pa.check("org_number", name="valid_org_number")
    def valid_org_number(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _org_check(data)

    class Config:
        strict = True


class BolagsverketOrganisation(_OrgNumbered):
    registration_seq: pl.Int32 = pa.Field(ge=1)
    name: str
    name_count: pl.Int32 = pa.Field(ge=1)
    organisation_form: str = pa.Field(isin=BOLAGSVERKET_FORMS)
    registration_date: date = pa.Field(nullable=True)
    deregistration_date: date = pa.Field(nullable=True)
    deregistration_reason: str = pa.Field(nullable=True)
    proceedings: str = pa.Field(nullable=True)
    description: str = pa.Field(nullable=True)
    postal_town: str = pa.Field(nullable=True)
    postcode: str = pa.Field(nullable=True)


class WiseEnterprise(_OrgNumbered):
    name: str = pa.Field(nullable=True)
    source: str = pa.Field(nullable=True)
    listed_date: date = pa.Field(nullable=True)


class IopAgreement(pa.DataFrameModel):
    municipality_code: str = pa.Field(str_matches=r"^\d{4}$")
    partner_org_number: str
    area: str = pa.Field(nullable=True)
    start_date: date
    end_date: date = pa.Field(nullable=True)
    row_number: int = pa.Field(ge=1)

    @pa.check("partner_org_number", name="valid_org_number")
    def valid_org_number(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _org_check(data)

    @pa.check("end_date", name="end_not_before_start")
    def end_not_before_start(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("end_date").is_null() | pl.col("start_date").is_null()
             | (pl.col("end_date") >= pl.col("start_date"))).alias("end_date"))

    class Config:
        strict = True


class IdeburenRegister(_OrgNumbered):
    name: str = pa.Field(nullable=True)
    registered_date: date = pa.Field(nullable=True)


class ScbRegisterOrganisation(_OrgNumbered):
    """SCB's company register (natural persons are removed in the parser, never validated)."""
    name: str = pa.Field(nullable=True)
    jurform: str = pa.Field(isin=JURFORMS)
    sni: str = pa.Field(nullable=True, str_matches=r"^\d{5}$")
    active: bool
    postcode: str = pa.Field(nullable=True)
    postal_town: str = pa.Field(nullable=True)
    registration_date: date = pa.Field(nullable=True)


class FtgstatRegistration(pa.DataFrameModel):
    """Bolagsverket's registration statistics, one row per month × event × municipality × form
    (× registration family when the file has one)."""
    year: pl.Int32 = pa.Field(ge=1900, le=2100)
    month: pl.Int32 = pa.Field(ge=1, le=12)
    event: str = pa.Field(isin=FTGSTAT_EVENTS)
    municipality_code: str = pa.Field(str_matches=r"^\d{4}$")
    registration_family: str = pa.Field(nullable=True)
    organisation_form: str = pa.Field(isin=BOLAGSVERKET_FORMS)
    count: pl.Int64 = pa.Field(ge=0)
    row_number: int = pa.Field(ge=1)

    class Config:
        strict = True


TABLES = {
    "bolagsverket_organisation": BolagsverketOrganisation,
    "wise_enterprise": WiseEnterprise,
    "iop_agreement": IopAgreement,
    "ideburen_register": IdeburenRegister,
    "scb_register_organisation": ScbRegisterOrganisation,
    "ftgstat_registration": FtgstatRegistration,
}
