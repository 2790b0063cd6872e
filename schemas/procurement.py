"""pandera (polars) models for the procurement tables: TED (``sources.ted.parse``; eForms and
legacy TED-XML land in the same tables) and Upphandlingsmyndigheten's national figures
(``sources.uhm.parse``).

Dtypes match ``sources.ted.SCHEMAS``: amounts are ``Decimal(18, 2)``, code lists
``List(String)`` (null = not stated, never an empty list). Both dtypes validate natively in
pandera 0.35 + polars 2.1, so no workaround was needed. Checks on list columns are done on the
exploded values with a dataframe-wide custom check.
"""
from __future__ import annotations

import polars as pl
import pandera.polars as pa

CURRENCY = r"^[A-Z]{3}$"
COUNTRY = r"^[A-Z]{3}$"
ORG_NUMBER = r"^\d{10}$"
WINNER_SIZES = ["micro", "small", "medium", "large", "sme"]
RESERVED_EXECUTION = ["yes", "no", "not-known"]
WINNER_STATUS = ["selec-w", "clos-nw", "open-nw"]
RESERVED_PARTICIPATION = ["none", "res-pub-ser", "res-ws"]
STRATEGIC = ["env-imp", "soc-obj", "inn-pur", "none"]
DEC = pl.Decimal(18, 2)
STRS = pl.List(pl.String)


class TedNotice(pa.DataFrameModel):
    notice_id: str = pa.Field(nullable=False)
    notice_version: str = pa.Field(nullable=True)
    # eForms ``cbc:CustomizationID`` (any SDK version is accepted) or the TED-XML schema release
    sdk_version: str = pa.Field(nullable=True, str_matches=r"^(eforms-sdk-\S+|R2\.0\.\d)$")
    notice_subtype: str = pa.Field(nullable=False)
    notice_type: str = pa.Field(nullable=True)
    form_type: str = pa.Field(nullable=True)
    legal_basis: str = pa.Field(nullable=True)
    procedure_id: str = pa.Field(nullable=False)
    procedure_type: str = pa.Field(nullable=True)
    issue_date: pl.Date = pa.Field(nullable=False)
    publication_date: pl.Date = pa.Field(nullable=True)
    publication_number: str = pa.Field(nullable=True, str_matches=r"^\d{1,8}-\d{4}$")
    notice_total_amount: DEC = pa.Field(nullable=True, ge=0)
    notice_total_currency: str = pa.Field(nullable=True, str_matches=CURRENCY)

    class Config:
        strict = True
        unique = ["notice_id", "notice_version"]


class TedBuyer(pa.DataFrameModel):
    notice_id: str = pa.Field(nullable=False)
    notice_version: str = pa.Field(nullable=True)
    position: pl.Int32 = pa.Field(nullable=False, ge=1)
    org_ref: str = pa.Field(nullable=False)
    company_id: str = pa.Field(nullable=True)
    org_number: str = pa.Field(nullable=True, str_matches=ORG_NUMBER)
    name: str = pa.Field(nullable=False)
    country: str = pa.Field(nullable=False, str_matches=COUNTRY)
    nuts: str = pa.Field(nullable=True)
    town: str = pa.Field(nullable=True)
    postcode: str = pa.Field(nullable=True)
    legal_type: str = pa.Field(nullable=True)
    activity: str = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["notice_id", "notice_version", "position"]


class TedLot(pa.DataFrameModel):
    notice_id: str = pa.Field(nullable=False)
    notice_version: str = pa.Field(nullable=True)
    lot_id: str = pa.Field(nullable=False)
    lot_kind: str = pa.Field(nullable=False, isin=["Lot", "Part"])
    title: str = pa.Field(nullable=True)
    main_cpv: str = pa.Field(nullable=True, str_matches=r"^\d{8}$")
    place_nuts: str = pa.Field(nullable=True)
    place_country: str = pa.Field(nullable=True, str_matches=COUNTRY)
    reserved_participation: STRS = pa.Field(nullable=True)
    reserved_execution: str = pa.Field(nullable=True, isin=RESERVED_EXECUTION)
    strategic: STRS = pa.Field(nullable=True)
    social: STRS = pa.Field(nullable=True)
    innovation: STRS = pa.Field(nullable=True)
    green: STRS = pa.Field(nullable=True)
    estimated_value: DEC = pa.Field(nullable=True, ge=0)
    estimated_currency: str = pa.Field(nullable=True, str_matches=CURRENCY)

    @pa.dataframe_check
    def reserved_codes(cls, data: pa.PolarsData) -> pl.LazyFrame:
        col = pl.col("reserved_participation")
        ok = col.is_null() | col.list.eval(pl.element().is_in(RESERVED_PARTICIPATION)).list.all()
        return data.lazyframe.select(ok.alias("reserved_participation"))

    @pa.dataframe_check
    def strategic_codes(cls, data: pa.PolarsData) -> pl.LazyFrame:
        col = pl.col("strategic")
        ok = col.is_null() | col.list.eval(pl.element().is_in(STRATEGIC)).list.all()
        return data.lazyframe.select(ok.alias("strategic"))

    @pa.dataframe_check
    def lists_null_not_empty(cls, data: pa.PolarsData) -> pl.LazyFrame:
        cols = ["reserved_participation", "strategic", "social", "innovation", "green"]
        ok = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).list.len() > 0) for c in cols])
        return data.lazyframe.select(ok.alias("lists_null_not_empty"))

    class Config:
        strict = True
        unique = ["notice_id", "notice_version", "lot_id"]


class TedLotResult(pa.DataFrameModel):
    notice_id: str = pa.Field(nullable=False)
    notice_version: str = pa.Field(nullable=True)
    result_id: str = pa.Field(nullable=False)
    lot_id: str = pa.Field(nullable=False)
    winner_selection_status: str = pa.Field(nullable=True, isin=WINNER_STATUS)
    tenders_received: pl.Int32 = pa.Field(nullable=True, ge=0)
    non_award_reason: str = pa.Field(nullable=True)

    class Config:
        strict = True


class TedAward(pa.DataFrameModel):
    notice_id: str = pa.Field(nullable=False)
    notice_version: str = pa.Field(nullable=True)
    result_id: str = pa.Field(nullable=True)
    lot_id: str = pa.Field(nullable=False)
    tender_id: str = pa.Field(nullable=False)
    tendering_party_id: str = pa.Field(nullable=True)
    winner_org_ref: str = pa.Field(nullable=False)
    winner_company_id: str = pa.Field(nullable=True)
    winner_org_number: str = pa.Field(nullable=True, str_matches=ORG_NUMBER)
    winner_name: str = pa.Field(nullable=True)
    winner_country: str = pa.Field(nullable=True, str_matches=COUNTRY)
    winner_size: str = pa.Field(nullable=True, isin=WINNER_SIZES)
    group_lead: bool = pa.Field(nullable=True)
    group_size: pl.Int32 = pa.Field(nullable=False, ge=1)
    tender_value: DEC = pa.Field(nullable=True, ge=0)
    tender_currency: str = pa.Field(nullable=True, str_matches=CURRENCY)

    @pa.dataframe_check
    def no_personal_number(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A winner identifier that looks like a personnummer must have been dropped."""
        digits = pl.col("winner_company_id").str.replace_all(r"\D", "")
        looks_personal = ((digits.str.len_chars() == 10) & digits.str.slice(2, 1).is_in(["0", "1"])
                          & ~pl.col("winner_company_id").str.to_uppercase().str.starts_with("SE")) \
            | ((digits.str.len_chars() == 12) & digits.str.slice(0, 2).is_in(["18", "19", "20"]))
        return data.lazyframe.select((pl.col("winner_company_id").is_null()
                                      | ~looks_personal.fill_null(False)).alias("no_personal_number"))

    class Config:
        strict = True
        unique = ["notice_id", "notice_version", "result_id", "lot_id", "tender_id", "winner_org_ref"]


class UhmNationalFigure(pa.DataFrameModel):
    """Upphandlingsmyndigheten's published national figures (``sources.uhm``): one value per year
    and measure, with the page it was transcribed from."""
    year: pl.Int32 = pa.Field(nullable=False, ge=2000, le=2100)
    measure: str = pa.Field(nullable=False, str_matches=r"^[a-z][a-z0-9_]*$")
    value: DEC = pa.Field(nullable=False, ge=0)
    unit: str = pa.Field(nullable=False, isin=["procurements", "percent", "SEK bn", "organisations",
                                              "bidders per procurement"])
    source_url: str = pa.Field(nullable=False, str_startswith="https://")
    published: pl.Date = pa.Field(nullable=True)
    row_number: int = pa.Field(ge=1)       # line in the file: schemas.validate names failing rows by it

    class Config:
        strict = True
        unique = ["year", "measure"]


class UhmDbProcurement(pa.DataFrameModel):
    """Upphandlingsmyndigheten's statistics database (``sources.uhm_db``): one advertised
    procurement (or lot) with its buyer and flags; flags are null where the database has no
    information."""
    procurement_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 64})
    lot_id: str = pa.Field(nullable=True)
    year: pl.Int32 = pa.Field(nullable=False, ge=2000, le=2100)
    publication_date: pl.Date = pa.Field(nullable=True)
    title: str = pa.Field(nullable=True)
    buyer_org_number: str = pa.Field(nullable=False, str_matches=ORG_NUMBER)
    buyer_name: str = pa.Field(nullable=True)
    buyer_sector: str = pa.Field(nullable=True)
    buyer_subsector: str = pa.Field(nullable=True)
    buyer_legal_form: str = pa.Field(nullable=True)
    contract_kind: str = pa.Field(nullable=True)
    main_cpv: str = pa.Field(nullable=True, str_matches=r"^\d{8}$")
    legal_basis: str = pa.Field(nullable=True)
    directive: bool = pa.Field(nullable=True)
    procedure_type: str = pa.Field(nullable=True)
    agreement_type: str = pa.Field(nullable=True)
    joint: bool = pa.Field(nullable=True)
    green: bool = pa.Field(nullable=True)
    social: bool = pa.Field(nullable=True)
    innovation: bool = pa.Field(nullable=True)
    reserved: bool = pa.Field(nullable=True)
    reserved_execution: bool = pa.Field(nullable=True)
    notice_database: str = pa.Field(nullable=True)
    reviewed: bool = pa.Field(nullable=True)
    procurements: pl.Int64 = pa.Field(nullable=False, ge=0)
    row_number: int = pa.Field(ge=1)

    class Config:
        strict = True
        unique = ["procurement_id", "lot_id", "buyer_org_number"]


TABLES: dict[str, type[pa.DataFrameModel]] = {
    "uhm_national_figure": UhmNationalFigure,
    "uhm_db_procurement": UhmDbProcurement,
    "ted_notice": TedNotice,
    "ted_buyer": TedBuyer,
    "ted_lot": TedLot,
    "ted_lot_result": TedLotResult,
    "ted_award": TedAward,
}
