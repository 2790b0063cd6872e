-- How each organisation was classified, snapshot to snapshot. The registers' bulk files hold only
-- the present (no legal-form history), so the work database keeps it: rows are closed and opened by
-- transforms/sql/35_organisation_history.sql when a build sees a classification change. Never
-- rebuilt from staging (staging holds only the latest register snapshots).
CREATE SCHEMA IF NOT EXISTS history;
CREATE TABLE IF NOT EXISTS history.organisation_class (
    org_number            VARCHAR NOT NULL,
    legal_form            VARCHAR,        -- SCB JurForm
    organisation_form     VARCHAR,        -- Bolagsverket organisationsform
    sector                VARCHAR NOT NULL,
    is_ideburen           BOOLEAN NOT NULL,
    in_ideburen_register  BOOLEAN NOT NULL,
    is_wise               BOOLEAN NOT NULL,
    valid_from            DATE NOT NULL,  -- date of the register snapshot that first said so
    valid_to              DATE,           -- date of the snapshot that said otherwise (exclusive); NULL = still so
    _snapshot_id          VARCHAR
);
