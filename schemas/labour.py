"""pandera models for labour-market observations."""
from __future__ import annotations

import pandera.polars as pa
import polars as pl


def _null_value_has_status(data) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col("value").is_not_null() | pl.col("status").is_not_null())


class PxwebObservation(pa.DataFrameModel):
    row_number: int = pa.Field(ge=1)
    table_id: str = pa.Field(str_matches=r"^TAB\d+$")
    region_code: str = pa.Field(str_matches=r"^(\d{2}|\d{4})$")
    period: str = pa.Field(str_matches=r"^(19[5-9]\d|20\d{2})(-(0[1-9]|1[0-2]))?$")   # 1950–2099
    # population_total: TAB6471, all ages (age_group 'total'); population: TAB6260 'antal totalt'
    measure: str = pa.Field(isin=["employed", "unemployed", "population", "labour_force", "population_total"])
    sex: str = pa.Field(isin=["T", "K", "M"])
    age_group: str = pa.Field(str_matches=r"^(\d{2}-\d{2}|total)$")
    value: float = pa.Field(nullable=True, ge=0)
    status: str = pa.Field(nullable=True)
    unit: str
    source_updated: str = pa.Field(nullable=True)

    @pa.dataframe_check(error="a null value must carry a status symbol")
    def null_value_has_status(cls, data) -> pl.LazyFrame:
        return _null_value_has_status(data)

    class Config:
        strict = True
        unique = ["table_id", "region_code", "period", "measure", "sex", "age_group"]


class KoladaValue(pa.DataFrameModel):
    """One Kolada v3 value: KPI × region × year × gender. Region codes follow SCB: ``00`` riket,
    ``05`` a county (Kolada's region ``0005``), ``0580`` a kommun."""
    kpi: str = pa.Field(str_matches=r"^[A-Z]\d{5}$")
    region_code: str = pa.Field(str_matches=r"^(\d{2}|\d{4})$")
    period: str = pa.Field(str_matches=r"^(19[5-9]\d|20\d{2})$")
    sex: str = pa.Field(isin=["T", "K", "M"])
    value: float = pa.Field(nullable=True)
    status: str = pa.Field(nullable=True)
    count: int = pa.Field(nullable=True, ge=0)
    row_number: int = pa.Field(ge=1)

    @pa.dataframe_check(error="a null value must carry a status (Kolada's, or 'Missing')")
    def null_value_has_status(cls, data) -> pl.LazyFrame:
        return _null_value_has_status(data)

    class Config:
        strict = True
        unique = ["kpi", "region_code", "period", "sex"]


class AfObservation(pa.DataFrameModel):
    """Arbetsförmedlingen's monthly statistics per kommun (and county/country totals as published).
    ``age_group`` as published (16-64 through 2022, 16-65 from 2023); ``series_break`` marks the first
    month of a new age range."""
    region_code: str = pa.Field(str_matches=r"^(\d{2}|\d{4})$")
    period: str = pa.Field(str_matches=r"^(19[5-9]\d|20\d{2})-(0[1-9]|1[0-2])$")
    measure: str = pa.Field(isin=["registered_unemployed", "open_unemployed", "in_programmes",
                                  "unemployed_6m", "unemployed_12m", "registered_labour_force"])
    sex: str = pa.Field(isin=["T", "K", "M"])
    age_group: str = pa.Field(str_matches=r"^\d{2}-\d{2}$")
    series_break: bool
    value: float = pa.Field(nullable=True, ge=0)
    status: str = pa.Field(nullable=True)
    row_number: int = pa.Field(ge=1)

    @pa.dataframe_check(error="a null value must carry a status ('<5', '..', 'missing')")
    def null_value_has_status(cls, data) -> pl.LazyFrame:
        return _null_value_has_status(data)

    class Config:
        strict = True
        unique = ["region_code", "period", "measure", "sex", "age_group"]


TABLES = {"pxweb_observation": PxwebObservation, "kolada_value": KoladaValue, "af_observation": AfObservation}
