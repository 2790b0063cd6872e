-- Every procurement advertised in Sweden, from Upphandlingsmyndigheten's statistics database
-- (`uhm-db`): above and below the EU thresholds, so it shows what TED does not.
-- A procurement id's rows come from the newest snapshot that holds it (exports of a year overlap);
-- its lots are folded together: a flag is true when any lot has it, false when every lot that says
-- says no, and null when none says (the database has no information).
CREATE OR REPLACE TABLE core.national_procurement AS
WITH latest AS (
    SELECT u.* FROM staging.uhm_db_procurement u
    JOIN meta.snapshot s ON s.snapshot_id = u._snapshot_id
    QUALIFY dense_rank() OVER (PARTITION BY u.procurement_id ORDER BY s.fetched_at DESC, u._snapshot_id DESC) = 1
)
SELECT procurement_id, min(year)::VARCHAR AS year, min(publication_date) AS publication_date,
       any_value(title) AS title, count(DISTINCT lot_id) AS lots,
       any_value(contract_kind) AS contract_kind, any_value(main_cpv) AS main_cpv,
       any_value(legal_basis) AS legal_basis, bool_or(directive) AS directive,
       any_value(procedure_type) AS procedure_type, any_value(agreement_type) AS agreement_type,
       bool_or(joint) AS joint,
       bool_or(reserved) AS reserved, bool_or(reserved_execution) AS reserved_execution,
       bool_or(social) AS social, bool_or(innovation) AS innovation, bool_or(green) AS green,
       bool_or(reviewed) AS reviewed, any_value(notice_database) AS notice_database,
       any_value(_snapshot_id) AS _snapshot_id
FROM latest
GROUP BY procurement_id
ORDER BY procurement_id;

-- Its buyers, placed as TED buyers are: the curated county table by org number, else the
-- organisation register's kommun (JurForm 82) / region (84) by registered name, else the name the
-- database gives ("LINKÖPINGS KOMMUN", "REGION ÖSTERGÖTLAND"), else — for what the database calls a
-- municipally or regionally owned organisation (a quarter of all procurements in 2021) — the
-- postal town the registers give the organisation: the municipality of that name, or for a
-- regionally owned one its county. State agencies and others with no such rule count only for the
-- country.
CREATE OR REPLACE TABLE core.national_procurement_buyer AS
WITH b AS (
    SELECT DISTINCT ON (u.procurement_id, u.buyer_org_number)
           u.procurement_id, u.buyer_org_number AS org_number, u.buyer_name AS name,
           u.buyer_sector AS sector, u.buyer_subsector AS subsector, u.buyer_legal_form AS legal_form_name,
           u._snapshot_id
    FROM staging.uhm_db_procurement u
    JOIN core.national_procurement n USING (procurement_id, _snapshot_id)
    ORDER BY u.procurement_id, u.buyer_org_number, u.row_number
),
resolved AS (
    SELECT b.*, cb.municipality_code AS curated_muni, cb.county_code AS curated_county,
           CASE WHEN o.legal_form = '82' THEN municipality_named(o.name) END AS register_muni,
           CASE WHEN o.legal_form = '84' THEN county_named(o.name) END AS register_county,
           municipality_named(b.name) AS name_muni, county_named(b.name) AS name_county,
           CASE WHEN b.subsector IN ('Kommunalt ägd organisation', 'Regionalt ägd organisation') THEN
               (SELECT m.region_code FROM core.region m
                WHERE m.level = 'municipality' AND lower(trim(r.postal_town)) = lower(m.name) LIMIT 1) END AS town_muni
    FROM b
    LEFT JOIN core.county_buyer cb ON cb.org_number = b.org_number
    LEFT JOIN core.organisation o ON o.org_number = b.org_number AND o.legal_form IN ('82', '84')
    LEFT JOIN core.organisation r ON r.org_number = b.org_number
)
SELECT procurement_id, org_number, name, sector, subsector, legal_form_name,
       CASE WHEN curated_muni IS NULL AND (register_county IS NOT NULL OR name_county IS NOT NULL) THEN NULL
            WHEN curated_muni IS NULL AND curated_county IS NULL AND subsector = 'Regionalt ägd organisation' THEN NULL
            ELSE coalesce(curated_muni, register_muni, name_muni, town_muni) END AS municipality_code,
       coalesce(curated_county, left(coalesce(curated_muni, register_muni), 2), register_county,
                left(name_muni, 2), name_county, left(town_muni, 2)) AS county_code,
       CASE WHEN curated_muni IS NOT NULL OR curated_county IS NOT NULL THEN 'curated'
            WHEN register_muni IS NOT NULL OR register_county IS NOT NULL THEN 'register'
            WHEN name_muni IS NOT NULL OR name_county IS NOT NULL THEN 'name'
            WHEN town_muni IS NOT NULL THEN 'town'
            ELSE 'unresolved' END AS location_method,
       _snapshot_id
FROM resolved
ORDER BY procurement_id, org_number;

-- Which regions a procurement counts in: its buyers' municipalities and counties, and the country
-- (every procurement in the database is Swedish).
CREATE OR REPLACE TABLE core.national_procurement_region AS
SELECT DISTINCT procurement_id, region_code FROM (
    SELECT procurement_id, municipality_code AS region_code FROM core.national_procurement_buyer
    WHERE municipality_code IS NOT NULL
    UNION ALL SELECT procurement_id, county_code FROM core.national_procurement_buyer WHERE county_code IS NOT NULL
    UNION ALL SELECT procurement_id, '00' FROM core.national_procurement)
ORDER BY procurement_id, region_code;
