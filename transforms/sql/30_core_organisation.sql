-- core.organisation: exactly one row per organisation number, classified by legal form.
-- Sole traders never reach staging (removed in the parser); they exist only as an anonymous count.
CREATE OR REPLACE TABLE core.organisation AS
WITH bolagsverket AS (
    SELECT * EXCLUDE (rn) FROM (
        SELECT b.*, row_number() OVER (PARTITION BY org_number
                                       ORDER BY deregistration_date IS NULL DESC, registration_seq DESC,
                                                row_number) AS rn
        FROM staging.bolagsverket_organisation b)
    WHERE rn = 1
),
register AS (SELECT DISTINCT ON (org_number) org_number, name FROM staging.ideburen_register ORDER BY org_number, row_number),
wise AS (SELECT DISTINCT ON (org_number) org_number, name FROM staging.wise_enterprise ORDER BY org_number, row_number),
known AS (
    SELECT org_number FROM bolagsverket UNION SELECT org_number FROM register UNION SELECT org_number FROM wise
)
SELECT k.org_number,
       coalesce(b.name, r.name, w.name) AS name,
       f.jurform AS legal_form,
       b.organisation_form,
       coalesce(lf.sector, CASE WHEN r.org_number IS NOT NULL THEN 'civil_society' ELSE 'other' END) AS sector,
       (coalesce(lf.sector, '') = 'civil_society' OR r.org_number IS NOT NULL OR w.org_number IS NOT NULL) AS is_ideburen,
       r.org_number IS NOT NULL AS in_ideburen_register,
       w.org_number IS NOT NULL AS is_wise,
       CASE WHEN b.org_number IS NULL THEN 'unknown'
            WHEN b.deregistration_date IS NULL THEN 'active' ELSE 'deregistered' END AS status,
       b.registration_date, b.deregistration_date, b.deregistration_reason,
       CASE WHEN b.org_number IS NOT NULL THEN 'bolagsverket'
            WHEN r.org_number IS NOT NULL THEN 'ideburen' ELSE 'wise' END AS source,
       coalesce(b._snapshot_id, r_s._snapshot_id, w_s._snapshot_id) AS _snapshot_id
FROM known k
LEFT JOIN bolagsverket b USING (org_number)
LEFT JOIN register r USING (org_number)
LEFT JOIN wise w USING (org_number)
LEFT JOIN (SELECT DISTINCT ON (org_number) org_number, _snapshot_id FROM staging.ideburen_register) r_s USING (org_number)
LEFT JOIN (SELECT DISTINCT ON (org_number) org_number, _snapshot_id FROM staging.wise_enterprise) w_s USING (org_number)
LEFT JOIN core.bolagsverket_form f ON f.organisationsform = b.organisation_form
LEFT JOIN core.legal_form lf ON lf.jurform = f.jurform
ORDER BY k.org_number;

CREATE OR REPLACE TABLE core.sole_trader_count AS
SELECT coalesce(sum("count"), 0)::BIGINT AS sole_traders, min(_snapshot_id) AS _snapshot_id
FROM staging.bolagsverket_sole_traders;
