"""Provenance: the rows behind one indicator value, and the queries that find them.

Reads the published warehouse only. Record-based indicators (procurement) list their procedures
or lots from ``marts.indicator_input`` with notices, buyers and winners; published statistics
(labour) list the ``core.labour_market`` observations with their snapshots.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.db import published_path

# which observations each labour indicator divides (numerator measure, denominator measures, age)
LABOUR_INPUTS = {
    "lm_unemployment_rate": (("unemployed", "employed", "labour_force"), "20-64"),
    "lm_youth_unemployment_rate": (("unemployed", "employed", "labour_force"), "20-24"),
    "lm_employment_rate": (("employed", "population"), "20-64"),
}

VALUE_SQL = ("SELECT indicator_id, region_code, period, sex, value, numerator, denominator, n, unit, coverage, "
             "status FROM marts.indicator_value WHERE indicator_id = ? AND region_code = ? AND period = ? AND sex = ?")
RECORDS_SQL = """SELECT i.record_type, i.record_id, i.yes, i.stated, i.amount,
       p.notice_ids, coalesce(p.first_competition_date, np.publication_date) AS first_competition_date,
       CASE WHEN i.record_type = 'procurement'
            THEN (SELECT string_agg(DISTINCT nb.name, '; ') FROM core.national_procurement_buyer nb
                  WHERE nb.procurement_id = i.record_id)
            ELSE (SELECT string_agg(DISTINCT b.name, '; ') FROM core.buyer b WHERE b.procedure_id = p.procedure_id)
       END AS buyers,
       (SELECT string_agg(DISTINCT coalesce(a.winner_name, '(natural person)'), '; ') FROM core.award a
         WHERE a.procedure_id = p.procedure_id
           AND (i.record_type = 'procedure' OR a.lot_id = split_part(i.record_id, '/', 2))) AS winners
FROM marts.indicator_input i
LEFT JOIN core.procedure p ON i.record_type <> 'procurement' AND p.procedure_id = split_part(i.record_id, '/', 1)
LEFT JOIN core.national_procurement np ON i.record_type = 'procurement' AND np.procurement_id = i.record_id
WHERE i.indicator_id = ? AND i.region_code = ? AND i.period = ?
ORDER BY i.record_id"""
LABOUR_SQL = """SELECT l.region_code, l.period, l.measure, l.sex, l.age_group, l.value, l.status, l.source_status,
       l.source, l._snapshot_id, s.kind, s.fetched_at
FROM core.labour_market l LEFT JOIN meta.snapshot s ON s.snapshot_id = l._snapshot_id
WHERE l.region_code = ? AND l.period = ? AND l.sex = ? AND l.age_group = ? AND list_contains(?, l.measure)
ORDER BY l.measure"""


class ExplainError(LookupError):
    pass


@dataclass
class Explanation:
    indicator: dict
    value: dict
    rows: list[dict] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


def _dicts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def explain(home: Path, indicator_id: str, region: str, period: str, sex: str = "T") -> Explanation:
    path = published_path(home)
    if not path.exists():
        raise ExplainError(f"{path}: no published warehouse yet")
    con = duckdb.connect(str(path), read_only=True)
    try:
        ind = _dicts(con.execute("SELECT * FROM marts.indicator WHERE indicator_id = ?", [indicator_id]))
        if not ind:
            known = [r[0] for r in con.execute("SELECT indicator_id FROM marts.indicator ORDER BY 1").fetchall()]
            raise ExplainError(f"unknown indicator '{indicator_id}': known are {', '.join(known)}")
        value = _dicts(con.execute(VALUE_SQL, [indicator_id, region, period, sex]))
        if not value:
            raise ExplainError(f"{indicator_id}: no value for region {region}, period {period}, sex {sex}")
        out = Explanation(ind[0], value[0], queries=[VALUE_SQL])
        if indicator_id in LABOUR_INPUTS:
            measures, age = LABOUR_INPUTS[indicator_id]
            out.rows = _dicts(con.execute(LABOUR_SQL, [region, period, sex, age, list(measures)]))
            out.queries.append(LABOUR_SQL)
            out.models = ["transforms/sql/20_core_labour_market.sql", "transforms/sql/60_marts_indicator_value.sql"]
        else:
            out.rows = _dicts(con.execute(RECORDS_SQL, [ind[0].get("base") or indicator_id, region, period]))
            out.queries.append(RECORDS_SQL)
            out.models = ["transforms/sql/40_core_procurement.sql", "transforms/sql/50_marts_indicator_input.sql",
                          "transforms/sql/60_marts_indicator_value.sql"]
        return out
    finally:
        con.close()
