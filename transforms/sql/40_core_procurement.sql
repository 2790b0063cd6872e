-- Procurement modelled per procedure (BT-04): notices, lots, buyers, awards.

-- The latest version of every notice (change notices republish the whole notice).
CREATE OR REPLACE TABLE core.notice AS
SELECT * EXCLUDE (rn) FROM (
    SELECT n.notice_id, n.notice_version, n.procedure_id, n.notice_subtype, n.notice_type, n.form_type,
           n.legal_basis, n.procedure_type, n.issue_date, n.publication_date, n.publication_number,
           n.notice_total_amount, n.notice_total_currency, n.sdk_version,
           coalesce(n.publication_date, n.issue_date) AS notice_date,
           CASE WHEN try_cast(n.notice_subtype AS INTEGER) BETWEEN 1 AND 9 THEN 'planning'
                WHEN try_cast(n.notice_subtype AS INTEGER) BETWEEN 10 AND 14
                  OR try_cast(n.notice_subtype AS INTEGER) BETWEEN 16 AND 24 THEN 'competition'
                WHEN try_cast(n.notice_subtype AS INTEGER) BETWEEN 25 AND 37 THEN 'result'
                WHEN try_cast(n.notice_subtype AS INTEGER) BETWEEN 38 AND 40 THEN 'modification'
                ELSE 'other' END AS stage,
           n._snapshot_id,
           row_number() OVER (PARTITION BY n.notice_id
                              ORDER BY try_cast(n.notice_version AS INTEGER) DESC NULLS LAST,
                                       n.notice_version DESC, n._loaded_at DESC, n._snapshot_id) AS rn
    FROM staging.ted_notice n)
WHERE rn = 1
ORDER BY procedure_id, notice_date, notice_id;

CREATE OR REPLACE TABLE core.lot AS
SELECT n.procedure_id, n.stage, n.notice_date, l.* EXCLUDE (_loaded_at)
FROM staging.ted_lot l
JOIN core.notice n USING (notice_id, notice_version, _snapshot_id)
ORDER BY n.procedure_id, l.notice_id, l.lot_id;

CREATE OR REPLACE TABLE core.lot_result AS
SELECT n.procedure_id, n.notice_date, r.* EXCLUDE (_loaded_at)
FROM staging.ted_lot_result r
JOIN core.notice n USING (notice_id, notice_version, _snapshot_id)
ORDER BY n.procedure_id, r.notice_id, r.lot_id, r.result_id;

-- One row per procedure. Reserved participation (BT-71) and reserved execution (BT-736) exist only
-- in competition notices and PINs, so an award takes its reserved status from here, whenever the
-- competition notice arrived. Absent optional flags mean "not stated", kept apart from "no".
CREATE OR REPLACE TABLE core.procedure AS
WITH lots AS (
    SELECT procedure_id, stage,
           list_has_any(coalesce(reserved_participation, []), ['res-ws', 'res-pub-ser'])
               OR coalesce(reserved_execution = 'yes', false) AS reserved,
           reserved_participation IS NOT NULL OR reserved_execution IS NOT NULL AS reserved_stated,
           list_contains(coalesce(strategic, []), 'soc-obj') OR len(coalesce(social, [])) > 0 AS social,
           strategic IS NOT NULL OR social IS NOT NULL AS social_stated,
           list_contains(coalesce(strategic, []), 'inn-pur') OR len(coalesce(innovation, [])) > 0 AS innovation,
           strategic IS NOT NULL OR innovation IS NOT NULL AS innovation_stated,
           list_contains(coalesce(strategic, []), 'env-imp')
               OR len(list_filter(coalesce(green, []), lambda c: c <> 'none')) > 0 AS green,
           strategic IS NOT NULL OR green IS NOT NULL AS green_stated
    FROM core.lot
),
flags AS (
    SELECT procedure_id,
           bool_or(reserved) FILTER (WHERE stage IN ('competition', 'planning')) AS reserved,
           bool_or(reserved_stated) FILTER (WHERE stage IN ('competition', 'planning')) AS reserved_stated,
           bool_or(social) AS social, bool_or(social_stated) AS social_stated,
           bool_or(innovation) AS innovation, bool_or(innovation_stated) AS innovation_stated,
           bool_or(green) AS green, bool_or(green_stated) AS green_stated
    FROM lots GROUP BY procedure_id
),
notices AS (
    SELECT procedure_id,
           min(notice_date) FILTER (WHERE stage = 'competition') AS first_competition_date,
           min(notice_date) FILTER (WHERE stage = 'result') AS first_result_date,
           min(notice_date) AS first_notice_date,
           count(*) AS notices,
           coalesce(bool_or(stage = 'competition'), false) AS has_competition_notice,
           coalesce(bool_or(stage = 'result'), false) AS has_result_notice,
           arg_min(procedure_type, notice_date) FILTER (WHERE stage = 'competition') AS procedure_type,
           arg_min(legal_basis, notice_date) AS legal_basis,
           coalesce(bool_or(sdk_version LIKE 'eforms%'), false) AS has_eforms,
           list(notice_id ORDER BY notice_date, notice_id) AS notice_ids
    FROM core.notice GROUP BY procedure_id
)
SELECT n.procedure_id, n.first_competition_date, n.first_result_date, n.first_notice_date,
       year(coalesce(n.first_competition_date, n.first_notice_date))::VARCHAR AS year,
       n.has_competition_notice, n.has_result_notice, n.procedure_type, n.legal_basis, n.notices, n.has_eforms,
       coalesce(f.reserved, false) AS reserved, coalesce(f.reserved_stated, false) AS reserved_stated,
       coalesce(f.social, false) AS social, coalesce(f.social_stated, false) AS social_stated,
       coalesce(f.innovation, false) AS innovation, coalesce(f.innovation_stated, false) AS innovation_stated,
       coalesce(f.green, false) AS green, coalesce(f.green_stated, false) AS green_stated,
       n.notice_ids
FROM notices n LEFT JOIN flags f USING (procedure_id)
ORDER BY n.procedure_id;

-- Buyers with a class and a place: curated table by org number, else the registered name of the
-- org number when the organisation register says it is a kommun (JurForm 82) or a region (84) —
-- so "Utbildningsförvaltningen" with Linköping's org number is placed by "Linköpings kommun" —,
-- else the buyer's name as written ("Linköpings kommun", "Region Östergötland"), else its town,
-- else NUTS3 (county only).
CREATE OR REPLACE TEMP MACRO municipality_named(n) AS (
    SELECT m.region_code FROM core.region m
    WHERE m.level = 'municipality'
      AND lower(n) IN (lower(m.name) || ' kommun', lower(m.name) || 's kommun',
                       lower(m.name) || ' stad', lower(m.name) || 's stad')
    LIMIT 1);
CREATE OR REPLACE TEMP MACRO county_named(n) AS (
    SELECT c.region_code FROM core.region c
    WHERE c.level = 'county'
      AND lower(n) IN ('region ' || lower(regexp_replace(c.name, 's? län$', '')),
                       'region ' || lower(regexp_replace(c.name, 's? län$', '')) || 's län',
                       lower(regexp_replace(c.name, 's? län$', '')) || 's läns landsting')
    LIMIT 1);

CREATE OR REPLACE TABLE core.buyer AS
WITH b AS (
    SELECT DISTINCT ON (n.procedure_id, coalesce(tb.org_number, lower(tb.name)))
           n.procedure_id, tb.org_number, tb.company_id, tb.name, tb.country, tb.nuts, tb.town,
           tb.postcode, tb.activity, tb.notice_id, tb._snapshot_id,
           -- legacy CA_TYPE REGIONAL_AUTHORITY means "regional or local": no class can be read from it
           CASE WHEN n.sdk_version LIKE 'R2.%' AND tb.legal_type IN ('ra', 'la') THEN NULL
                ELSE tb.legal_type END AS legal_type
    FROM staging.ted_buyer tb
    JOIN core.notice n USING (notice_id, notice_version, _snapshot_id)
    ORDER BY n.procedure_id, coalesce(tb.org_number, lower(tb.name)), n.notice_date DESC, tb.position
),
public_body AS (SELECT org_number, name AS registered_name, legal_form FROM core.organisation
                WHERE legal_form IN ('82', '84')),
resolved AS (
    SELECT b.*,
           cb.municipality_code AS curated_muni, cb.county_code AS curated_county, cb.buyer_class AS curated_class,
           CASE WHEN pb.legal_form = '82' THEN municipality_named(pb.registered_name) END AS register_muni,
           CASE WHEN pb.legal_form = '84' THEN county_named(pb.registered_name) END AS register_county,
           municipality_named(b.name) AS name_muni,
           county_named(b.name) AS name_county,
           (SELECT m.region_code FROM core.region m
             WHERE m.level = 'municipality' AND lower(trim(b.town)) = lower(m.name) LIMIT 1) AS town_muni,
           (SELECT c.region_code FROM core.region c WHERE c.level = 'county' AND c.nuts3 = b.nuts LIMIT 1) AS nuts_county
    FROM b
    LEFT JOIN core.county_buyer cb ON cb.org_number = b.org_number
    LEFT JOIN public_body pb ON pb.org_number = b.org_number
)
SELECT procedure_id, org_number, company_id, name, country, nuts, town, postcode, legal_type, activity,
       -- a region serves its whole county: not the municipality its office happens to be in
       CASE WHEN country <> 'SWE' THEN NULL
            WHEN curated_muni IS NULL AND (register_county IS NOT NULL OR name_county IS NOT NULL) THEN NULL
            ELSE coalesce(curated_muni, register_muni, name_muni, town_muni) END AS municipality_code,
       CASE WHEN country <> 'SWE' THEN NULL
            ELSE coalesce(curated_county, left(coalesce(curated_muni, register_muni), 2), register_county,
                          left(name_muni, 2), name_county, left(town_muni, 2), nuts_county) END AS county_code,
       CASE WHEN country <> 'SWE' THEN 'foreign'
            WHEN curated_county IS NOT NULL OR curated_muni IS NOT NULL THEN 'curated'
            WHEN register_muni IS NOT NULL OR register_county IS NOT NULL THEN 'register'
            WHEN name_muni IS NOT NULL OR name_county IS NOT NULL THEN 'name'
            WHEN town_muni IS NOT NULL THEN 'town'
            WHEN nuts_county IS NOT NULL THEN 'nuts3'
            ELSE 'unresolved' END AS location_method,
       CASE WHEN curated_class IS NOT NULL THEN curated_class
            WHEN register_muni IS NOT NULL OR name_muni IS NOT NULL THEN 'municipality'
            WHEN register_county IS NOT NULL OR name_county IS NOT NULL THEN 'region'
            WHEN legal_type = 'cga' THEN 'state_agency'
            WHEN legal_type = 'ra' THEN 'region'
            WHEN legal_type = 'la' THEN 'municipality'
            WHEN legal_type LIKE '%-la' OR legal_type LIKE '%-ra' THEN 'municipal_company'
            ELSE 'other' END AS buyer_class,
       notice_id, _snapshot_id
FROM resolved
ORDER BY procedure_id, name;

-- Which regions a procedure counts in: its buyers' municipalities, their counties and the country.
CREATE OR REPLACE TABLE core.procedure_region AS
SELECT DISTINCT procedure_id, region_code FROM (
    SELECT procedure_id, municipality_code AS region_code FROM core.buyer WHERE municipality_code IS NOT NULL
    UNION ALL SELECT procedure_id, county_code FROM core.buyer WHERE county_code IS NOT NULL
    UNION ALL SELECT procedure_id, '00' FROM core.buyer WHERE country = 'SWE')
ORDER BY procedure_id, region_code;

-- One row per winning organisation per awarded lot. A consortium's tender value is counted once:
-- on its group leader (or its first member when no leader is flagged). Winners are classified as
-- the registers said on the award notice's date (history.organisation_class, kept snapshot to
-- snapshot); an award older than the first register snapshot takes the first classification
-- known, one in a gap (the organisation in no register then) the nearest — `classification_basis`
-- says which and `classified_as_of` from when. `winner_status_at_award` says whether the
-- organisation was registered and not yet deregistered on that date.
CREATE OR REPLACE TABLE core.award AS
WITH awarded AS (
    SELECT a.*, n.procedure_id, n.notice_date
    FROM staging.ted_award a
    JOIN core.notice n USING (notice_id, notice_version, _snapshot_id)
),
wanted AS (SELECT DISTINCT winner_org_number AS org_number, notice_date FROM awarded
           WHERE winner_org_number IS NOT NULL),
class_on_date AS (
    SELECT w.org_number, w.notice_date, h.sector, h.is_ideburen, h.is_wise, h.valid_from AS classified_as_of,
           CASE WHEN h.valid_from <= w.notice_date AND (h.valid_to IS NULL OR w.notice_date < h.valid_to)
                    THEN 'on the award date'
                WHEN h.valid_from > w.notice_date THEN 'first register snapshot after the award'
                ELSE 'last register snapshot before the award' END AS classification_basis
    FROM wanted w
    JOIN history.organisation_class h USING (org_number)
    QUALIFY row_number() OVER (
        PARTITION BY w.org_number, w.notice_date
        ORDER BY CASE WHEN h.valid_from > w.notice_date THEN h.valid_from - w.notice_date
                      WHEN h.valid_to IS NULL OR w.notice_date < h.valid_to THEN 0
                      ELSE w.notice_date - h.valid_to + 1 END, h.valid_from) = 1
)
SELECT a.procedure_id, a.notice_date AS award_notice_date, year(a.notice_date)::VARCHAR AS year,
       a.notice_id, a.notice_version, a.result_id, a.lot_id, a.tender_id, a.tendering_party_id,
       a.winner_org_ref, a.winner_org_number, a.winner_name, a.winner_country, a.winner_size,
       a.group_lead, a.group_size, a.tender_value, a.tender_currency,
       row_number() OVER (PARTITION BY a.notice_id, a.lot_id, a.tender_id
                          ORDER BY coalesce(a.group_lead, false) DESC, a.winner_org_ref) = 1 AS counts_value,
       c.org_number IS NOT NULL OR o.org_number IS NOT NULL AS matched,
       coalesce(c.sector, o.sector) AS sector, coalesce(c.is_ideburen, o.is_ideburen) AS is_ideburen,
       coalesce(c.is_wise, o.is_wise) AS is_wise, c.classified_as_of,
       CASE WHEN c.org_number IS NOT NULL THEN c.classification_basis
            WHEN o.org_number IS NOT NULL THEN 'current registers (no history)' END AS classification_basis,
       CASE WHEN c.org_number IS NULL AND o.org_number IS NULL THEN NULL
            WHEN o.org_number IS NULL THEN 'no longer in the registers'
            WHEN o.registration_date > a.notice_date THEN 'registered after the award'
            WHEN o.deregistration_date <= a.notice_date THEN 'deregistered before the award'
            ELSE 'registered' END AS winner_status_at_award,
       a._snapshot_id
FROM awarded a
LEFT JOIN class_on_date c ON c.org_number = a.winner_org_number AND c.notice_date = a.notice_date
LEFT JOIN core.organisation o ON o.org_number = a.winner_org_number
ORDER BY a.procedure_id, a.notice_id, a.lot_id, a.tender_id, a.winner_org_ref;
