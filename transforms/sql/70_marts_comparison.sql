-- Comparisons: each municipality against its county, the country and a group of comparable
-- municipalities (size groups by population 20–64, core.municipality_group_definition).
CREATE OR REPLACE TABLE core.municipality_group AS
WITH latest AS (
    SELECT region_code, arg_max(value, period) AS population, max(period) AS period
    FROM core.labour_market
    WHERE source LIKE 'pxweb:%' AND measure = 'population' AND sex = 'T' AND age_group = '20-64'
      AND value IS NOT NULL AND length(region_code) = 4
    GROUP BY region_code
)
SELECT l.region_code, g.group_id, g.name_sv, g.name_en, l.population, l.period AS population_period
FROM latest l
JOIN core.municipality_group_definition g
  ON l.population BETWEEN g.min_population::DOUBLE AND g.max_population::DOUBLE
ORDER BY l.region_code;

-- The group value pools the members' numerators and denominators (no published total exists for a
-- group); counts are summed; published county and country values are used as they are.
CREATE OR REPLACE TABLE marts.indicator_comparison AS
WITH m AS (
    SELECT v.*, r.county_code, g.group_id
    FROM marts.indicator_value v
    JOIN core.region r ON r.region_code = v.region_code AND r.level = 'municipality'
    LEFT JOIN core.municipality_group g ON g.region_code = v.region_code
),
grp AS (
    SELECT m.indicator_id, m.group_id, m.period, m.sex,
           sum(m.numerator) AS numerator, sum(m.denominator) AS denominator, count(*) AS members,
           count(*) FILTER (WHERE m.numerator IS NOT NULL) AS members_with_value
    FROM m WHERE m.group_id IS NOT NULL
    GROUP BY ALL
)
SELECT m.indicator_id, m.region_code, m.period, m.sex, m.value, m.status,
       c.value AS county_value, n.value AS country_value,
       m.group_id,
       CASE WHEN k.kind IN ('count', 'sum_value') THEN NULL
            WHEN grp.denominator IS NULL OR grp.denominator = 0 THEN NULL
            WHEN k.kind = 'density' THEN round(10000 * grp.numerator / grp.denominator, 1)
            ELSE round(100 * grp.numerator / grp.denominator, 1) END::DECIMAL(18,4) AS group_value,
       grp.members AS group_members, grp.members_with_value AS group_members_with_value
FROM m
JOIN marts.indicator k USING (indicator_id)
LEFT JOIN marts.indicator_value c ON c.indicator_id = m.indicator_id AND c.region_code = m.county_code
                                 AND c.period = m.period AND c.sex = m.sex
LEFT JOIN marts.indicator_value n ON n.indicator_id = m.indicator_id AND n.region_code = '00'
                                 AND n.period = m.period AND n.sex = m.sex
LEFT JOIN grp ON grp.indicator_id = m.indicator_id AND grp.group_id = m.group_id
             AND grp.period = m.period AND grp.sex = m.sex
ORDER BY m.indicator_id, m.region_code, m.period, m.sex;
