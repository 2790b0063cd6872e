-- core.organisation: exactly one row per organisation number, classified by legal form.
-- Bolagsverket gives names, forms and deregistrations of companies and cooperatives; SCB's register
-- overlays the legal form (JurForm) and industry and adds what Bolagsverket lacks (ideella
-- föreningar, stiftelser, trossamfund, public bodies). Sole traders never reach staging (removed in
-- the parsers); they exist only as anonymous counts.
CREATE OR REPLACE TABLE core.organisation AS
WITH bolagsverket AS (
    SELECT * EXCLUDE (rn) FROM (
        SELECT b.*, row_number() OVER (PARTITION BY org_number
                                       ORDER BY deregistration_date IS NULL DESC, registration_seq DESC,
                                                row_number) AS rn
        FROM staging.bolagsverket_organisation b)
    WHERE rn = 1
),
scb AS (SELECT DISTINCT ON (org_number) * FROM staging.scb_register_organisation ORDER BY org_number, row_number),
register AS (SELECT DISTINCT ON (org_number) * FROM staging.ideburen_register ORDER BY org_number, row_number),
wise AS (SELECT DISTINCT ON (org_number) * FROM staging.wise_enterprise ORDER BY org_number, row_number),
known AS (
    SELECT org_number FROM bolagsverket UNION SELECT org_number FROM scb
    UNION SELECT org_number FROM register UNION SELECT org_number FROM wise
),
classified AS (
    SELECT k.org_number,
           coalesce(b.name, s.name, r.name, w.name) AS name,
           coalesce(s.jurform, f.jurform) AS legal_form,
           b.organisation_form,
           s.sni,
           b.org_number IS NOT NULL AS in_bolagsverket, s.org_number IS NOT NULL AS in_scb_register,
           r.org_number IS NOT NULL AS in_ideburen_register, w.org_number IS NOT NULL AS is_wise,
           CASE WHEN b.org_number IS NOT NULL AND b.deregistration_date IS NOT NULL THEN 'deregistered'
                WHEN b.org_number IS NOT NULL THEN 'active'
                WHEN s.org_number IS NOT NULL AND s.active THEN 'active'
                WHEN s.org_number IS NOT NULL THEN 'inactive'
                ELSE 'unknown' END AS status,
           coalesce(b.registration_date, s.registration_date) AS registration_date,
           b.deregistration_date, b.deregistration_reason,
           coalesce(s.postal_town, b.postal_town) AS postal_town,
           CASE WHEN b.org_number IS NOT NULL THEN 'bolagsverket' WHEN s.org_number IS NOT NULL THEN 'scb-register'
                WHEN r.org_number IS NOT NULL THEN 'ideburen' ELSE 'wise' END AS source,
           coalesce(b._snapshot_id, s._snapshot_id, r._snapshot_id, w._snapshot_id) AS _snapshot_id
    FROM known k
    LEFT JOIN bolagsverket b USING (org_number)
    LEFT JOIN scb s USING (org_number)
    LEFT JOIN register r USING (org_number)
    LEFT JOIN wise w USING (org_number)
    LEFT JOIN core.bolagsverket_form f ON f.organisationsform = b.organisation_form
)
SELECT c.org_number, c.name, c.legal_form, c.organisation_form,
       coalesce(lf.sector, CASE WHEN c.in_ideburen_register THEN 'civil_society' ELSE 'other' END) AS sector,
       (coalesce(lf.sector, '') = 'civil_society' OR c.in_ideburen_register OR c.is_wise) AS is_ideburen,
       c.in_ideburen_register, c.is_wise, c.sni, c.status, c.registration_date, c.deregistration_date,
       c.deregistration_reason, c.postal_town, c.in_bolagsverket, c.in_scb_register, c.source, c._snapshot_id
FROM classified c
LEFT JOIN core.legal_form lf ON lf.jurform = c.legal_form
ORDER BY c.org_number;

-- Sole traders: anonymous counts only, per register (the two registers overlap).
CREATE OR REPLACE TABLE core.sole_trader_count AS
SELECT (SELECT coalesce(sum("count"), 0) FROM staging.bolagsverket_sole_traders)::BIGINT AS bolagsverket,
       (SELECT coalesce(sum("count"), 0) FROM staging.scb_register_sole_traders)::BIGINT AS scb_register;

-- Registrations per municipality, month, event and organisation form (Bolagsverket's statistics).
-- Counts of registrations are exact, so county and country totals may be summed.
CREATE OR REPLACE TABLE core.registration_stat AS
SELECT r.year, r.month, r.event, r.municipality_code, m.county_code, r.organisation_form,
       sum(r."count")::BIGINT AS registrations, min(r._snapshot_id) AS _snapshot_id
FROM staging.ftgstat_registration r
JOIN core.region m ON m.region_code = r.municipality_code AND m.level = 'municipality'
GROUP BY ALL
ORDER BY r.year, r.month, r.event, r.municipality_code, r.organisation_form;
