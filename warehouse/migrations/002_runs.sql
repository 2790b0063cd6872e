-- Every pipeline step that ran: what operators and the event-chain test count.
CREATE TABLE IF NOT EXISTS meta.runs (
    run_id       VARCHAR,            -- Prefect flow-run id when run under Prefect
    step         VARCHAR NOT NULL,   -- ingest:<source> | build-marts | publish-report
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    status       VARCHAR NOT NULL,   -- loaded | unchanged | rejected | failed | published | written
    detail       VARCHAR
);
