-- marts.indicator_value: one value per indicator, region, period and sex, with its numerator,
-- denominator, n, coverage and status. Record-based values exist for every region and every period
-- the indicator has data for anywhere; below the catalogue's minimum n they are suppressed.
CREATE OR REPLACE TABLE marts.indicator_value AS
-- an indicator with a `base` reads its base's records (e.g. the "of stated" reading of a share)
WITH kinds AS (SELECT indicator_id, kind, min_n, unit, coalesce(base, indicator_id) AS input_id FROM marts.indicator),
agg AS (
    SELECT i.indicator_id, i.region_code, i.period,
           count(*) AS records,
           count(*) FILTER (WHERE i.yes) AS yes_records,
           count(*) FILTER (WHERE i.stated) AS stated_records,
           count(*) FILTER (WHERE i.amount IS NOT NULL) AS valued_records,
           count(*) FILTER (WHERE i.amount IS NOT NULL AND i.stated) AS valued_stated,
           coalesce(sum(i.amount) FILTER (WHERE i.yes), 0) AS yes_amount,
           coalesce(sum(i.amount), 0) AS amount
    FROM marts.indicator_input i GROUP BY ALL
),
grid AS (
    SELECT k.indicator_id, r.region_code, p.period
    FROM kinds k
    JOIN (SELECT DISTINCT indicator_id AS input_id, period FROM marts.indicator_input) p USING (input_id)
    CROSS JOIN core.region r
),
records AS (
    SELECT g.indicator_id, g.region_code, g.period, k.kind, k.min_n, k.unit,
           coalesce(a.records, 0) AS records, coalesce(a.yes_records, 0) AS yes_records,
           coalesce(a.stated_records, 0) AS stated_records, coalesce(a.valued_records, 0) AS valued_records,
           coalesce(a.valued_stated, 0) AS valued_stated,
           coalesce(a.yes_amount, 0) AS yes_amount, coalesce(a.amount, 0) AS amount
    FROM grid g JOIN kinds k USING (indicator_id)
    LEFT JOIN agg a ON a.indicator_id = k.input_id AND a.region_code = g.region_code AND a.period = g.period
),
record_values AS (
    SELECT indicator_id, region_code, period, 'T' AS sex,
           CASE WHEN kind IN ('share_count', 'share_stated', 'count_records') THEN yes_records::DECIMAL(18,2)
                WHEN kind IN ('share_value', 'sum_value') THEN yes_amount END AS numerator,
           CASE WHEN kind = 'share_count' THEN records::DECIMAL(18,2)
                WHEN kind = 'share_stated' THEN stated_records::DECIMAL(18,2)
                WHEN kind = 'share_value' THEN amount
                ELSE NULL END AS denominator,
           CASE WHEN kind = 'share_count' THEN records
                WHEN kind = 'share_stated' THEN stated_records
                WHEN kind = 'count_records' THEN records ELSE valued_records END AS n,
           unit, min_n,
           CASE WHEN records = 0 OR kind = 'count_records' THEN NULL
                WHEN kind IN ('share_count', 'share_stated') THEN round(stated_records / records, 4)
                ELSE round(valued_stated / records, 4) END::DECIMAL(9,4) AS coverage,
           kind
    FROM records
),
labour AS (
    SELECT region_code, period, sex,
           max(value) FILTER (WHERE measure = 'unemployed' AND age_group = '20-64') AS unemployed,
           max(value) FILTER (WHERE measure = 'labour_force' AND age_group = '20-64') AS labour_force,
           max(value) FILTER (WHERE measure = 'unemployed' AND age_group = '20-24') AS unemployed_youth,
           max(value) FILTER (WHERE measure = 'labour_force' AND age_group = '20-24') AS labour_force_youth,
           max(value) FILTER (WHERE measure = 'employed' AND age_group = '20-64') AS employed,
           max(value) FILTER (WHERE measure = 'population' AND age_group = '20-64') AS population,
           bool_or(status = 'break') AS has_break
    FROM core.labour_market WHERE source LIKE 'pxweb:%'
    GROUP BY ALL
),
af_labour AS (
    SELECT region_code, period, sex,
           max(value) FILTER (WHERE measure = 'registered_unemployed') AS registered_unemployed,
           max(value) FILTER (WHERE measure = 'registered_labour_force') AS registered_labour_force,
           max(value) FILTER (WHERE measure = 'unemployed_12m') AS unemployed_12m,
           bool_or(status = 'break') AS has_break
    FROM core.labour_market WHERE source = 'af'
    GROUP BY ALL
),
labour_values AS (
    SELECT 'lm_unemployment_rate' AS indicator_id, region_code, period, sex, unemployed AS numerator, labour_force AS denominator, has_break, 'preliminary' AS base_status FROM labour
    UNION ALL SELECT 'lm_youth_unemployment_rate', region_code, period, sex, unemployed_youth, labour_force_youth, has_break, 'preliminary' FROM labour
    UNION ALL SELECT 'lm_employment_rate', region_code, period, sex, employed, population, has_break, 'preliminary' FROM labour
    UNION ALL SELECT 'lm_registered_unemployment_rate', region_code, period, sex, registered_unemployed, registered_labour_force, has_break, 'final' FROM af_labour
    UNION ALL SELECT 'lm_long_term_unemployed_count', region_code, period, sex, unemployed_12m, NULL, has_break, 'final' FROM af_labour
    UNION ALL SELECT 'lm_long_term_unemployed_share', region_code, period, sex, unemployed_12m, registered_unemployed, has_break, 'final' FROM af_labour
),
-- IOP agreements in force during each year, from the curated list. A municipality the list does not
-- cover has no value (NULL, coverage 0); a county or the country sums the covered municipalities and
-- says how many of its municipalities the list covers.
iop_years AS (
    SELECT unnest(range(min(year(start_date)), greatest(max(year(coalesce(end_date, start_date))),
                                                       max(year(start_date))) + 1)) AS year
    FROM staging.iop_agreement
),
iop_covered AS (SELECT DISTINCT municipality_code FROM staging.iop_agreement),
iop_municipal AS (
    SELECT m.region_code, m.county_code, y.year, c.municipality_code IS NOT NULL AS covered,
           (SELECT count(*) FROM staging.iop_agreement a WHERE a.municipality_code = m.region_code
              AND a.start_date <= make_date(y.year::INTEGER, 12, 31)
              AND (a.end_date IS NULL OR a.end_date >= make_date(y.year::INTEGER, 1, 1))) AS agreements
    FROM core.region m CROSS JOIN iop_years y
    LEFT JOIN iop_covered c ON c.municipality_code = m.region_code
    WHERE m.level = 'municipality' AND m.county_code IN (SELECT left(municipality_code, 2) FROM iop_covered)
),
iop_values AS (
    SELECT 'sc_iop_agreements' AS indicator_id, region_code, year::VARCHAR AS period, 'T' AS sex,
           CASE WHEN covered THEN agreements END AS value, CASE WHEN covered THEN 1.0 ELSE 0.0 END AS coverage
    FROM iop_municipal
    UNION ALL
    SELECT 'sc_iop_agreements', county_code, year::VARCHAR, 'T', sum(agreements) FILTER (WHERE covered),
           round(count(*) FILTER (WHERE covered) / count(*), 4)
    FROM iop_municipal GROUP BY county_code, year
    UNION ALL
    SELECT 'sc_iop_agreements', '00', year::VARCHAR, 'T', sum(agreements) FILTER (WHERE covered),
           round(count(*) FILTER (WHERE covered) / 290, 4)
    FROM iop_municipal GROUP BY year
),
-- Social economy: registrations (Bolagsverket's statistics), per municipality, county and country.
registrations AS (
    SELECT year, month, event, organisation_form, municipality_code AS region_code, registrations FROM core.registration_stat
    UNION ALL SELECT year, month, event, organisation_form, county_code, registrations FROM core.registration_stat
    UNION ALL SELECT year, month, event, organisation_form, '00', registrations FROM core.registration_stat
),
last_month AS (SELECT year, max(month) AS month FROM core.registration_stat GROUP BY year),
-- stock at the last reported month of each year: ideella föreningar (I), stiftelser (S),
-- ekonomiska föreningar (EK) and europakooperativ (SCE) registered with Bolagsverket
ideburen_stock AS (
    SELECT r.region_code, r.year, sum(r.registrations) AS registered, any_value(l.month) AS month
    FROM registrations r JOIN last_month l USING (year, month)
    WHERE r.event = 'registered' AND r.organisation_form IN ('I', 'S', 'EK', 'SCE')
    GROUP BY ALL
),
-- population 20–64 at the latest month SCB has published for that year
population AS (
    SELECT region_code, left(period, 4)::INTEGER AS year, arg_max(value, period) AS value
    FROM core.labour_market
    WHERE source LIKE 'pxweb:%' AND measure = 'population' AND sex = 'T' AND age_group = '20-64'
      AND value IS NOT NULL
    GROUP BY ALL
),
social_economy_values AS (
    SELECT 'se_ideburen_density' AS indicator_id, s.region_code, s.year::VARCHAR AS period, 'T' AS sex,
           s.registered::DECIMAL(18,2) AS numerator, p.value::DECIMAL(18,2) AS denominator,
           s.registered::BIGINT AS n,
           CASE WHEN p.value IS NULL OR p.value = 0 THEN NULL
                ELSE round(10000 * s.registered::DECIMAL(18,2) / p.value::DECIMAL(18,2), 1) END AS value,
           CASE WHEN s.month < 12 THEN 'preliminary' ELSE 'final' END AS status
    FROM ideburen_stock s
    LEFT JOIN population p ON p.region_code = s.region_code AND p.year = s.year
    UNION ALL
    SELECT 'se_new_cooperatives', region_code, year::VARCHAR, 'T', sum(registrations)::DECIMAL(18,2), NULL,
           sum(registrations)::BIGINT, sum(registrations)::DECIMAL(18,2),
           CASE WHEN max(month) < 12 THEN 'preliminary' ELSE 'final' END
    FROM registrations WHERE event = 'new' AND organisation_form IN ('EK', 'SCE')
    GROUP BY region_code, year
)
SELECT indicator_id, region_code, period, sex,
       -- sums and counts of records are zero where there are none; shares need records
       CASE WHEN kind IN ('sum_value', 'count_records') AND n = 0 THEN numerator
            WHEN n < min_n OR n = 0 THEN NULL
            WHEN kind IN ('sum_value', 'count_records') THEN numerator
            WHEN denominator = 0 THEN NULL
            ELSE round(100 * numerator / denominator, 1) END::DECIMAL(18,4) AS value,
       numerator, denominator, n, unit, coverage,
       CASE WHEN kind IN ('sum_value', 'count_records') AND n = 0 THEN 'final'
            WHEN n < min_n OR n = 0 THEN 'suppressed' ELSE 'final' END AS status,
       'records' AS basis
FROM record_values
UNION ALL
SELECT l.indicator_id, l.region_code, l.period, l.sex,
       CASE WHEN k.kind = 'count' THEN l.numerator::DECIMAL(18,2)
            WHEN l.numerator IS NULL OR l.denominator IS NULL OR l.denominator = 0 THEN NULL
            ELSE round(100 * l.numerator::DECIMAL(18,2) / l.denominator::DECIMAL(18,2), 1) END::DECIMAL(18,4),
       l.numerator::DECIMAL(18,2), l.denominator::DECIMAL(18,2), NULL::BIGINT, k.unit, NULL::DECIMAL(9,4),
       CASE WHEN l.numerator IS NULL OR (l.denominator IS NULL AND k.kind <> 'count') THEN 'suppressed'
            WHEN l.has_break THEN 'break' ELSE l.base_status END,
       'published statistics'
FROM labour_values l JOIN kinds k USING (indicator_id)
UNION ALL
SELECT e.indicator_id, e.region_code, e.period, e.sex, e.value::DECIMAL(18,4), e.numerator, e.denominator,
       e.n, k.unit, NULL::DECIMAL(9,4), e.status, 'registrations'
FROM social_economy_values e JOIN kinds k USING (indicator_id)
UNION ALL
SELECT i.indicator_id, i.region_code, i.period, i.sex, i.value::DECIMAL(18,4), i.value::DECIMAL(18,2), NULL,
       i.value::BIGINT, k.unit, i.coverage::DECIMAL(9,4), 'final', 'curated list'
FROM iop_values i JOIN kinds k USING (indicator_id)
ORDER BY indicator_id, region_code, period, sex;

ALTER TABLE marts.indicator_value ADD COLUMN computed_at TIMESTAMPTZ;
UPDATE marts.indicator_value SET computed_at = getvariable('computed_at');
