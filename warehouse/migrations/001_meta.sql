-- Schemas and the bookkeeping every load relies on.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS meta;

CREATE TABLE IF NOT EXISTS meta.loads (
    source        VARCHAR NOT NULL,
    batch_key     VARCHAR NOT NULL,   -- sha256 over the code version and the batch's snapshot hashes
    code_version  VARCHAR NOT NULL,
    snapshots     VARCHAR[] NOT NULL,
    rows_in       BIGINT NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    status        VARCHAR NOT NULL,   -- loaded | rejected
    message       VARCHAR,
    loaded_at     TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR,
    PRIMARY KEY (source, batch_key)
);

CREATE TABLE IF NOT EXISTS meta.snapshot (
    source        VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL,
    snapshot_id   VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,   -- captured | synthetic
    fetched_at    TIMESTAMPTZ,
    url           VARCHAR,
    name          VARCHAR,
    size_bytes    BIGINT,
    licence       VARCHAR,
    PRIMARY KEY (source, sha256)
);

CREATE TABLE IF NOT EXISTS meta.quarantine (
    source        VARCHAR NOT NULL,
    snapshot_id   VARCHAR NOT NULL,
    table_name    VARCHAR NOT NULL,
    row_number    BIGINT,
    column_name   VARCHAR,
    check_name    VARCHAR NOT NULL,
    value         VARCHAR,            -- redacted: long digit runs are replaced by their length
    quarantined_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS meta.marts_build (
    build_id      BIGINT PRIMARY KEY,
    input_key     VARCHAR NOT NULL,   -- ledger state + transform code version the build read
    built_at      TIMESTAMPTZ NOT NULL,
    demo          BOOLEAN NOT NULL
);
