"""pandera models for labour-market observations."""
from __future__ import annotations

import pandera.polars as pa
import polars as pl


class PxwebObservation(pa.DataFrameModel):
    row_number: int = pa.Field(ge=1)
    table_id: str = pa.Field(str_matches=r"^TAB\d+$")
    region_code: str = pa.Field(str_matches=r"^(\d{2}|\d{4})$")
    period: str = pa.Field(str_matches=r"^\d{4}(-(0[1-9]|1[0-2]))?$")
    measure: str = pa.Field(isin=["employed", "unemployed", "population", "labour_force"])
    sex: str = pa.Field(isin=["T", "K", "M"])
    age_group: str = pa.Field(str_matches=r"^\d{2}-\d{2}$")
    value: float = pa.Field(nullable=True, ge=0)
    status: str = pa.Field(nullable=True)
    unit: str
    source_updated: str = pa.Field(nullable=True)

    @pa.dataframe_check(error="a null value must carry a status symbol")
    def null_value_has_status(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("value").is_not_null() | pl.col("status").is_not_null())

    class Config:
        strict = True
        unique = ["table_id", "region_code", "period", "measure", "sex", "age_group"]


TABLES = {"pxweb_observation": PxwebObservation}
