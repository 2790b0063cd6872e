-- core.labour_market: one tidy row per region, period, measure, sex, age group and source.
-- The labour force is employed + unemployed of the same published cell group (never a sum over regions).
CREATE OR REPLACE TABLE core.labour_market AS
WITH obs AS (
    SELECT region_code, period, measure, sex, age_group, value, unit, status AS source_status,
           'pxweb:' || table_id AS source, _snapshot_id
    FROM staging.pxweb_observation
),
labour_force AS (
    SELECT region_code, period, 'labour_force' AS measure, sex, age_group,
           CASE WHEN count(value) = 2 THEN sum(value) END AS value, 'antal' AS unit,
           CASE WHEN count(value) < 2 THEN '..' END AS source_status,
           min(source) AS source, min(_snapshot_id) AS _snapshot_id
    FROM obs WHERE measure IN ('employed', 'unemployed')
    GROUP BY region_code, period, sex, age_group
    HAVING count(*) = 2
),
pxweb AS (
    SELECT region_code, period, measure, sex, age_group, value, unit,
           CASE WHEN value IS NULL THEN 'suppressed' ELSE 'preliminary' END AS status,
           source_status, source, _snapshot_id
    FROM (SELECT * FROM obs UNION ALL BY NAME SELECT * FROM labour_force)
),
-- Arbetsförmedlingen publishes one file per month; a re-published month replaces the earlier one.
af_latest AS (
    SELECT DISTINCT ON (region_code, period, measure, sex, age_group) *
    FROM staging.af_observation
    ORDER BY region_code, period, measure, sex, age_group, _loaded_at DESC, _snapshot_id DESC
),
af AS (
    SELECT region_code, period, measure, sex, age_group, value, 'antal' AS unit,
           CASE WHEN value IS NULL AND status = 'missing' THEN 'missing'
                WHEN value IS NULL THEN 'suppressed'
                WHEN series_break THEN 'break' ELSE 'final' END AS status,
           status AS source_status, 'af' AS source, _snapshot_id
    FROM af_latest
),
kolada_kpi(kpi, measure, age_group) AS (
    VALUES ('N03926', 'long_term_unemployment_25_64_pct', '25-64'),
           ('N00914', 'gainfully_employed_20_64_pct', '20-64')
),
kolada AS (
    SELECT v.region_code, v.period, k.measure, v.sex, k.age_group, v.value, 'percent' AS unit,
           CASE WHEN v.value IS NULL AND lower(v.status) = 'missing' THEN 'missing'
                WHEN v.value IS NULL THEN 'suppressed' ELSE 'final' END AS status,
           v.status AS source_status, 'kolada:' || v.kpi AS source, v._snapshot_id
    FROM staging.kolada_value v JOIN kolada_kpi k USING (kpi)
)
SELECT * FROM pxweb
UNION ALL BY NAME SELECT * FROM af
UNION ALL BY NAME SELECT * FROM kolada
ORDER BY region_code, period, measure, sex, age_group, source;
