-- marts.indicator_input: the records behind every record-based indicator value (provenance).
-- One row per indicator, region, period and record: is it a "yes", was the input known ("stated"),
-- and, for value shares, its SEK amount.
CREATE OR REPLACE TABLE marts.indicator_input AS
WITH competed AS (
    SELECT p.*, pr.region_code FROM core.procedure p JOIN core.procedure_region pr USING (procedure_id)
    WHERE p.has_competition_notice
),
awarded_lot AS (
    SELECT procedure_id, lot_id, any_value(year) AS year,
           bool_or(coalesce(is_ideburen, false)) AS ideburen,
           bool_or(coalesce(is_ideburen, false) OR sector = 'cooperative') AS social_economy,
           bool_or(winner_size IN ('micro', 'small', 'medium', 'sme')) AS sme,
           bool_and(winner_size IS NOT NULL) AS size_stated,
           bool_and(matched) AS matched,
           sum(tender_value) FILTER (WHERE counts_value AND tender_currency = 'SEK') AS sek_amount,
           list(DISTINCT notice_id) AS notice_ids
    FROM (SELECT *, dense_rank() OVER (PARTITION BY procedure_id, lot_id ORDER BY award_notice_date DESC, notice_id DESC) AS latest
          FROM core.award)
    WHERE latest = 1
    GROUP BY procedure_id, lot_id
),
awarded AS (SELECT a.*, pr.region_code FROM awarded_lot a JOIN core.procedure_region pr USING (procedure_id)),
bid AS (
    SELECT DISTINCT ON (procedure_id, lot_id) procedure_id, lot_id, year(notice_date)::VARCHAR AS year, tenders_received
    FROM core.lot_result WHERE winner_selection_status = 'selec-w' OR winner_selection_status IS NULL
    ORDER BY procedure_id, lot_id, notice_date DESC
)
SELECT 'sp_reserved_share' AS indicator_id, region_code, year AS period, 'procedure' AS record_type,
       procedure_id AS record_id, reserved AS yes, reserved_stated AS stated, NULL::DECIMAL(18,2) AS amount
FROM competed
-- social, innovation and green fields exist only in eForms: legacy TED-XML procedures would only
-- dilute the coverage, so these series start with eForms
UNION ALL SELECT 'sp_social_share', region_code, year, 'procedure', procedure_id, social, social_stated, NULL FROM competed WHERE has_eforms
UNION ALL SELECT 'sp_innovation_share', region_code, year, 'procedure', procedure_id, innovation, innovation_stated, NULL FROM competed WHERE has_eforms
UNION ALL SELECT 'sp_green_share', region_code, year, 'procedure', procedure_id, green, green_stated, NULL FROM competed WHERE has_eforms
UNION ALL SELECT 'sp_single_bidder_share', pr.region_code, b.year, 'lot', b.procedure_id || '/' || b.lot_id,
                 coalesce(b.tenders_received = 1, false), b.tenders_received IS NOT NULL, NULL
          FROM bid b JOIN core.procedure_region pr USING (procedure_id)
UNION ALL SELECT 'sc_ideburen_award_share_lots', region_code, year, 'lot', procedure_id || '/' || lot_id, ideburen, matched, NULL FROM awarded
UNION ALL SELECT 'sc_social_economy_award_share_lots', region_code, year, 'lot', procedure_id || '/' || lot_id, social_economy, matched, NULL FROM awarded
UNION ALL SELECT 'sc_sme_award_share_lots', region_code, year, 'lot', procedure_id || '/' || lot_id, sme, size_stated, NULL FROM awarded
UNION ALL SELECT 'sc_ideburen_award_share_value', region_code, year, 'lot', procedure_id || '/' || lot_id, ideburen, matched, sek_amount FROM awarded
UNION ALL SELECT 'sc_social_economy_award_share_value', region_code, year, 'lot', procedure_id || '/' || lot_id, social_economy, matched, sek_amount FROM awarded
-- trade links: distinct public buyer × idea-based winner pairs with an award, where the buyer is
UNION ALL SELECT DISTINCT 'sc_public_civil_contracts', r.region_code, a.year, 'pair',
                 coalesce(b.org_number, b.name) || '×' || a.winner_org_number, true, true, NULL::DECIMAL(18,2)
          FROM core.award a
          JOIN core.buyer b USING (procedure_id)
          CROSS JOIN LATERAL (SELECT unnest([b.municipality_code, b.county_code,
                                             CASE WHEN b.country = 'SWE' THEN '00' END]) AS region_code) r
          WHERE a.is_ideburen AND r.region_code IS NOT NULL
            AND b.buyer_class IN ('municipality', 'region', 'state_agency', 'municipal_company',
                                  'central_purchasing_body')
UNION ALL SELECT 'sc_reserved_award_value', a.region_code, a.year, 'lot', a.procedure_id || '/' || a.lot_id,
                 coalesce(p.reserved, false), coalesce(p.reserved_stated, false), a.sek_amount
          FROM awarded a JOIN core.procedure p USING (procedure_id)
-- every advertised procurement (Upphandlingsmyndigheten's statistics database), where its buyers are
UNION ALL SELECT 'sp_reserved_share_all', r.region_code, n.year, 'procurement', n.procurement_id,
                 coalesce(n.reserved OR n.reserved_execution, false),
                 n.reserved IS NOT NULL OR n.reserved_execution IS NOT NULL, NULL
          FROM core.national_procurement n JOIN core.national_procurement_region r USING (procurement_id)
UNION ALL SELECT 'sp_social_share_all', r.region_code, n.year, 'procurement', n.procurement_id,
                 coalesce(n.social, false), n.social IS NOT NULL, NULL
          FROM core.national_procurement n JOIN core.national_procurement_region r USING (procurement_id)
ORDER BY indicator_id, region_code, period, record_id;
