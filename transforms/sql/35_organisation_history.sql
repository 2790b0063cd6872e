-- history.organisation_class: each organisation's classification (legal form, sector, idéburen,
-- WISE) over time, so that a winner is classified as it was on the award date. The bulk files hold
-- only the present; each build compares core.organisation with the open history rows and, where
-- the classification changed (or the organisation left every register), closes the open row and
-- opens a new one, dated by the newest register snapshot behind core.organisation (its fetch date).
-- A build on the same date replaces that date's rows; a build whose snapshots are older than the
-- history's newest date leaves the history alone (the past is not rewritten).
-- The date: the newest snapshot among the registers feeding core.organisation (a new WISE list or
-- idéburen register changes classifications of organisations whose row names an older snapshot);
-- rows staged without a snapshot record (hand-staged fixtures) are dated by the build.
SET VARIABLE history_as_of = (
    SELECT CASE WHEN (SELECT count(*) FROM core.organisation) > 0 THEN coalesce(max(s.fetched_at)::DATE, current_date) END
    FROM meta.snapshot s
    WHERE s.snapshot_id IN (SELECT _snapshot_id FROM staging.bolagsverket_organisation
                            UNION SELECT _snapshot_id FROM staging.scb_register_organisation
                            UNION SELECT _snapshot_id FROM staging.ideburen_register
                            UNION SELECT _snapshot_id FROM staging.wise_enterprise));
SET VARIABLE history_ok = getvariable('history_as_of') IS NOT NULL
    AND getvariable('history_as_of') >= coalesce((SELECT max(valid_from) FROM history.organisation_class),
                                                 DATE '0001-01-01');

-- what a history row records (NULLs compare as values)
CREATE OR REPLACE TEMP MACRO class_of(r) AS (r.legal_form, r.organisation_form, r.sector, r.is_ideburen,
                                             r.in_ideburen_register, r.is_wise);

CREATE OR REPLACE TEMP TABLE _history_changed AS
SELECT o.org_number, o.legal_form, o.organisation_form, o.sector, o.is_ideburen, o.in_ideburen_register,
       o.is_wise, o._snapshot_id
FROM core.organisation o
LEFT JOIN history.organisation_class h ON h.org_number = o.org_number AND h.valid_to IS NULL
WHERE getvariable('history_ok')
  AND (h.org_number IS NULL OR class_of(h) IS DISTINCT FROM class_of(o));

CREATE OR REPLACE TEMP TABLE _history_ended AS
SELECT org_number FROM _history_changed
UNION ALL
SELECT h.org_number FROM history.organisation_class h ANTI JOIN core.organisation o USING (org_number)
WHERE getvariable('history_ok') AND h.valid_to IS NULL;

DELETE FROM history.organisation_class
WHERE valid_to IS NULL AND valid_from = getvariable('history_as_of')
  AND org_number IN (SELECT org_number FROM _history_ended);
UPDATE history.organisation_class SET valid_to = getvariable('history_as_of')
WHERE valid_to IS NULL AND org_number IN (SELECT org_number FROM _history_ended);
INSERT INTO history.organisation_class
SELECT org_number, legal_form, organisation_form, sector, is_ideburen, in_ideburen_register, is_wise,
       getvariable('history_as_of'), NULL, _snapshot_id
FROM _history_changed;
-- a change and its reversal on the same date leave no trace: the earlier row is open again
CREATE OR REPLACE TEMP TABLE _history_reverted AS
SELECT o.org_number FROM history.organisation_class o
JOIN history.organisation_class c ON c.org_number = o.org_number AND c.valid_to = o.valid_from
WHERE getvariable('history_ok') AND o.valid_to IS NULL AND o.valid_from = getvariable('history_as_of')
  AND class_of(c) IS NOT DISTINCT FROM class_of(o);
DELETE FROM history.organisation_class
WHERE valid_to IS NULL AND valid_from = getvariable('history_as_of')
  AND org_number IN (SELECT org_number FROM _history_reverted);
UPDATE history.organisation_class SET valid_to = NULL
WHERE valid_to = getvariable('history_as_of') AND org_number IN (SELECT org_number FROM _history_reverted);
DROP TABLE _history_changed;
DROP TABLE _history_ended;
DROP TABLE _history_reverted;

-- published for analysts (the history schema itself stays in the work database)
CREATE OR REPLACE TABLE core.organisation_history AS
SELECT * FROM history.organisation_class ORDER BY org_number, valid_from;
