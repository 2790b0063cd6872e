-- Run inside the newly written warehouse file before it is published: readable views per theme
-- and COMMENT ON for every table analysts rely on. Names are unqualified so they resolve in
-- whatever catalog the analyst opened the file as.

CREATE OR REPLACE VIEW marts.v_indicator AS
SELECT v.indicator_id, i.theme, i.name_sv, i.name_en, v.region_code, r.name AS region_name, r.level AS region_level,
       v.period, v.sex, v.value, v.unit, v.numerator, v.denominator, v.n, v.coverage, v.status, v.computed_at
FROM marts.indicator_value v
JOIN marts.indicator i USING (indicator_id)
LEFT JOIN core.region r USING (region_code);

CREATE OR REPLACE VIEW marts.v_social_procurement AS SELECT * FROM marts.v_indicator WHERE theme = 'social_procurement';
CREATE OR REPLACE VIEW marts.v_sector_collaboration AS SELECT * FROM marts.v_indicator WHERE theme = 'sector_collaboration';
CREATE OR REPLACE VIEW marts.v_social_economy AS SELECT * FROM marts.v_indicator WHERE theme = 'social_economy';
CREATE OR REPLACE VIEW marts.v_labour_market AS SELECT * FROM marts.v_indicator WHERE theme = 'labour_market';

-- Provenance: the records behind each record-based value.
CREATE OR REPLACE VIEW marts.v_indicator_records AS
SELECT i.indicator_id, i.region_code, i.period, i.record_type, i.record_id, i.yes, i.stated, i.amount,
       p.notice_ids, coalesce(p.first_competition_date, np.publication_date) AS first_competition_date,
       np.title AS procurement_title
FROM marts.indicator_input i
LEFT JOIN core.procedure p ON i.record_type <> 'procurement' AND p.procedure_id = split_part(i.record_id, '/', 1)
LEFT JOIN core.national_procurement np ON i.record_type = 'procurement' AND np.procurement_id = i.record_id;

COMMENT ON TABLE marts.indicator_value IS 'One value per indicator, region (0580 kommun, 05 county, 00 country), period (2025 or 2025-01) and sex; numerator, denominator, n, coverage and status (final, preliminary, break, suppressed) travel with every value.';
COMMENT ON COLUMN marts.indicator_value.indicator_id IS 'Indicator id, see marts.indicator';
COMMENT ON COLUMN marts.indicator_value.region_code IS 'Official code: 4-digit kommun, 2-digit county, 00 for Sweden';
COMMENT ON COLUMN marts.indicator_value.period IS 'Year (2025) or month (2025-01)';
COMMENT ON COLUMN marts.indicator_value.sex IS 'T total, K women, M men';
COMMENT ON COLUMN marts.indicator_value.value IS 'The value in unit; NULL when suppressed or not computable';
COMMENT ON COLUMN marts.indicator_value.numerator IS 'Count or amount over which the share is taken';
COMMENT ON COLUMN marts.indicator_value.denominator IS 'Count or amount the share is taken of';
COMMENT ON COLUMN marts.indicator_value.n IS 'Number of underlying records (procedures, lots); NULL for published statistics';
COMMENT ON COLUMN marts.indicator_value.coverage IS 'Share of underlying records where the needed input was known (flag stated, winner matched)';
COMMENT ON COLUMN marts.indicator_value.status IS 'final, preliminary, break or suppressed (n below the minimum, or a suppressed source cell)';
COMMENT ON COLUMN marts.indicator_value.computed_at IS 'When this warehouse version was built';
COMMENT ON TABLE marts.indicator IS 'Indicator catalogue: names (sv/en), definition, numerator, denominator, unit, sources, coverage note, caveats, Agenda 2030 target';
COMMENT ON TABLE marts.indicator_input IS 'Records behind every record-based indicator value: yes/stated per procedure or lot, and SEK amounts';
COMMENT ON TABLE core.region IS 'Sweden (00), its 21 counties and 290 municipalities with NUTS3 codes';
COMMENT ON TABLE core.organisation IS 'One row per organisation number with legal form and sector (public, private, civil_society, cooperative, housing, other); sole traders are never stored';
COMMENT ON COLUMN core.organisation.org_number IS '10-digit organisation number (Luhn-checked)';
COMMENT ON COLUMN core.organisation.legal_form IS 'SCB juridisk form code (e.g. 49 aktiebolag, 51 ekonomisk förening, 61 ideell förening)';
COMMENT ON COLUMN core.organisation.sector IS 'public, private, civil_society, cooperative, housing or other (see core.legal_form)';
COMMENT ON COLUMN core.organisation.is_ideburen IS 'Civil-society legal form, in Kammarkollegiet''s register, or a known work-integration social enterprise';
COMMENT ON COLUMN core.organisation.in_ideburen_register IS 'Registered with Kammarkollegiet as an idea-based organisation';
COMMENT ON COLUMN core.organisation.is_wise IS 'On the curated list of work-integration social enterprises';
COMMENT ON TABLE core.labour_market IS 'Labour-market observations per region, period, measure, sex and age group (SCB BAS), with status';
COMMENT ON TABLE core.procedure IS 'One row per procurement procedure (BT-04) with reserved/social/innovation/green flags and whether each was stated';
COMMENT ON TABLE core.notice IS 'Latest version of every procurement notice (eForms)';
COMMENT ON TABLE core.lot IS 'Lots of every notice with raw flag codes (NULL = not stated)';
COMMENT ON TABLE core.buyer IS 'Buyers per procedure with class, municipality/county and how the place was found (location_method)';
COMMENT ON TABLE core.organisation_history IS 'Each organisation''s classification over time, [valid_from, valid_to) by register snapshot date; kept by the warehouse because the bulk files hold only the present';
COMMENT ON COLUMN core.award.classification_basis IS 'How sector/is_ideburen/is_wise were chosen: on the award date, first register snapshot after the award (award older than the history), or last snapshot before it';
COMMENT ON TABLE core.award IS 'One row per winning organisation per awarded lot; counts_value marks the one row carrying a tender''s value';
COMMENT ON TABLE meta.loads IS 'Loads ledger: every batch of snapshots landed or rejected, with rows and quarantined counts';
COMMENT ON TABLE meta.quarantine IS 'Rows that failed validation: source, snapshot, row number, column, check and a redacted value';
COMMENT ON TABLE meta.snapshot IS 'Raw snapshots behind the loaded data (sha256, fetched at, captured or synthetic)';
COMMENT ON TABLE marts.indicator_comparison IS 'Each municipality''s value beside its county, the country and its comparison group (size group by population 20–64; the group value pools members'' numerators and denominators)';
COMMENT ON TABLE core.municipality_group IS 'Comparison group of every municipality: size group by population aged 20–64 (SCB BAS, latest month); definitions in core.municipality_group_definition';
COMMENT ON TABLE marts.data_coverage IS 'Per year: how buyers were placed (location_method), how many winners matched an organisation, which currencies tender values are in';
COMMENT ON TABLE core.national_procurement IS 'Every procurement advertised in Sweden (Upphandlingsmyndigheten''s statistics database, uhm-db), lots folded; flags NULL where the database has no information';
COMMENT ON TABLE core.national_procurement_buyer IS 'Buyers of the advertised procurements with Upphandlingsmyndigheten''s sub-sector and our placement (location_method)';
COMMENT ON TABLE core.national_procurement_region IS 'Regions an advertised procurement counts in: its buyers'' municipalities and counties, and 00';
COMMENT ON TABLE marts.ted_coverage IS 'Per region and year: advertised procurements of the region''s buyers (uhm-db), TED procedures placed there, TED''s share';
COMMENT ON TABLE marts.national_benchmark IS 'Upphandlingsmyndigheten''s national figures beside what TED holds for Sweden (ted_share_percent: how much of all advertised procurement the sp_ indicators see)';
