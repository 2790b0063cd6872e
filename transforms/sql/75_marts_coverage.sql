-- What the procurement numbers rest on: how many buyers could be placed, how many winners matched
-- an organisation, which currencies the values are in — per year.
CREATE OR REPLACE TABLE marts.data_coverage AS
WITH facts AS (
    SELECT p.year, 'buyers' AS subject, 'placed by ' || b.location_method AS metric
    FROM core.buyer b JOIN core.procedure p USING (procedure_id) WHERE b.country = 'SWE'
    UNION ALL
    SELECT year, 'winners', CASE WHEN matched THEN 'matched to an organisation'
                                 WHEN winner_name IS NULL AND winner_org_number IS NULL
                                     THEN 'natural person or withheld (not matched by design)'
                                 ELSE 'not matched' END
    FROM core.award
    UNION ALL
    SELECT year, 'tender values', 'in ' || coalesce(tender_currency, 'no value') FROM core.award WHERE counts_value
),
counted AS (SELECT year, subject, metric, count(*) AS records FROM facts GROUP BY year, subject, metric)
SELECT year, subject, metric, records,
       round(records / sum(records) OVER (PARTITION BY year, subject), 4)::DECIMAL(9,4) AS share
FROM counted
ORDER BY year, subject, metric;

-- Upphandlingsmyndigheten's national figures (all advertised procurements, above and below the EU
-- thresholds) beside what TED holds for Sweden: the TED share says how much the sp_ indicators see.
CREATE OR REPLACE TABLE marts.national_benchmark AS
WITH uhm AS (
    SELECT year::VARCHAR AS year, measure, value, unit, source_url FROM staging.uhm_national_figure
),
ted AS (
    SELECT p.year, count(DISTINCT p.procedure_id) AS ted_procedures
    FROM core.procedure p JOIN core.procedure_region r USING (procedure_id)
    WHERE r.region_code = '00' AND p.has_competition_notice GROUP BY p.year
),
social AS (
    SELECT period AS year, value FROM marts.indicator_value
    WHERE indicator_id = 'sp_social_share' AND region_code = '00' AND sex = 'T'
)
SELECT u.year, u.measure, u.value AS national_value, u.unit, u.source_url,
       CASE WHEN u.measure = 'advertised_procurements' THEN t.ted_procedures END AS ted_value,
       CASE WHEN u.measure = 'advertised_procurements' AND u.value > 0
            THEN round(100 * t.ted_procedures / u.value, 1) END::DECIMAL(9,1) AS ted_share_percent,
       CASE WHEN u.measure = 'share_with_social_requirements' THEN s.value END AS ted_social_share
FROM uhm u LEFT JOIN ted t ON t.year = u.year LEFT JOIN social s ON s.year = u.year
ORDER BY u.year, u.measure;

-- How much of what is advertised TED holds, per region and year: the procurements of the region's
-- buyers in Upphandlingsmyndigheten's statistics database against the TED procedures with a
-- competition notice placed in the same region. A low share means the sp_ indicators from TED see
-- little of the region's procurement; the *_all indicators see all of it.
CREATE OR REPLACE TABLE marts.ted_coverage AS
WITH advertised AS (
    SELECT r.region_code, n.year, count(*) AS advertised,
           count(*) FILTER (WHERE n.directive) AS advertised_above_thresholds
    FROM core.national_procurement n JOIN core.national_procurement_region r USING (procurement_id)
    GROUP BY ALL
),
-- TED procedures counted in a region only through buyers placed as uhm-db buyers can be (curated,
-- register, name; by town only municipal companies), so that both sides count the same buyers
ted AS (
    SELECT r.region_code, p.year, count(DISTINCT p.procedure_id) AS ted_procedures
    FROM core.procedure p
    JOIN core.buyer b USING (procedure_id)
    CROSS JOIN LATERAL (SELECT unnest([b.municipality_code, b.county_code]) AS region_code,
                               unnest([true, false]) AS is_municipality) r
    WHERE p.has_competition_notice AND b.country = 'SWE' AND r.region_code IS NOT NULL
      AND (b.location_method IN ('curated', 'register', 'name')
           OR (b.location_method = 'town' AND b.buyer_class = 'municipal_company'
               AND (NOT r.is_municipality OR b.legal_type LIKE '%-la')))
    GROUP BY ALL
    UNION ALL
    SELECT '00', p.year, count(DISTINCT p.procedure_id)
    FROM core.procedure p JOIN core.procedure_region r USING (procedure_id)
    WHERE p.has_competition_notice AND r.region_code = '00' GROUP BY ALL
)
SELECT a.region_code, a.year, a.advertised, a.advertised_above_thresholds,
       coalesce(t.ted_procedures, 0) AS ted_procedures,
       round(100 * coalesce(t.ted_procedures, 0) / a.advertised, 1)::DECIMAL(9,1) AS ted_share_percent
FROM advertised a LEFT JOIN ted t USING (region_code, year)
ORDER BY a.region_code, a.year;
