-- The same SQL runs on SQLite and PostgreSQL: text ids made by the host,
-- times as BIGINT milliseconds since the Unix epoch, JSON as TEXT.

CREATE TABLE integrations (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE installations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    plugin_version  TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- HR employee <-> target account, per integration.
CREATE TABLE links (
    integration_id  TEXT NOT NULL,
    hr_id           TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    origin          TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (integration_id, hr_id)
);

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL,
    run_trigger     TEXT NOT NULL,
    started_by      TEXT,
    status          TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    error           TEXT,
    counts          TEXT NOT NULL
);
CREATE INDEX runs_by_integration ON runs (integration_id, started_at);

-- One row per planned change, with its outcome.
CREATE TABLE run_items (
    run_id      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hr_id       TEXT,
    kind        TEXT NOT NULL,
    summary     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    error       TEXT,
    attempts    BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE audit_events (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    detail          TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit_events (at);

-- Where the next incremental read starts; advanced only after a run
-- succeeded.
CREATE TABLE cursors (
    integration_id  TEXT PRIMARY KEY,
    cursor_value    TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);
