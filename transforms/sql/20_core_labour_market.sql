-- core.labour_market: one tidy row per region, period, measure, sex and age group.
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
)
SELECT region_code, period, measure, sex, age_group, value, unit,
       CASE WHEN value IS NULL THEN 'suppressed' ELSE 'preliminary' END AS status,
       source_status, source, _snapshot_id
FROM (SELECT * FROM obs UNION ALL BY NAME SELECT * FROM labour_force)
ORDER BY region_code, period, measure, sex, age_group;
