-- The admin API: tenants, their members and API keys, uploaded plugins,
-- installations and scheduled integrations, and the lease that keeps one
-- run per integration across several `hrsync serve` processes.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE members (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX members_by_email ON members (tenant_id, email);

-- Only a hash of each key is kept; the key itself is shown once.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    mode        TEXT NOT NULL,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    hash        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE UNIQUE INDEX api_keys_by_hash ON api_keys (hash);

-- Uploaded components, one row per version, the bytes in the database so
-- that every `hrsync serve` process sees them.
CREATE TABLE plugins (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    wit_version   TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    manifest      TEXT NOT NULL,
    component     BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX plugins_by_version ON plugins (tenant_id, name, version);

-- The first migration's placeholders, never used, replaced.
DROP TABLE installations;
DROP TABLE integrations;

-- Secrets: a JSON object of name -> ciphertext (ChaCha20-Poly1305 under the
-- server's key, bound to the installation and the name).
CREATE TABLE installations (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    mode              TEXT NOT NULL,
    name              TEXT NOT NULL,
    plugin            TEXT NOT NULL,
    plugin_version    TEXT NOT NULL,
    previous_version  TEXT,
    config            TEXT NOT NULL,
    secrets           TEXT NOT NULL,
    allowed_hosts     TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX installations_by_name ON installations (tenant_id, name);

-- state: inactive, active (scheduled), paused (a failed run; the reason in
-- paused_reason until an admin resumes or a manual run succeeds).
CREATE TABLE integrations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    mode            TEXT NOT NULL,
    name            TEXT NOT NULL,
    source          TEXT NOT NULL,
    rules           TEXT NOT NULL,
    target          TEXT NOT NULL,
    options         TEXT NOT NULL,
    schedule        TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    state           TEXT NOT NULL,
    paused_reason   TEXT,
    next_run_at     BIGINT,
    notify          TEXT NOT NULL,
    secrets         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX integrations_by_name ON integrations (tenant_id, name);
CREATE INDEX integrations_due ON integrations (state, next_run_at);

-- One active run per integration: a process holds the lease while its run
-- goes on and renews it; a lease that is not renewed expires, so a crashed
-- process does not block the integration for ever.
CREATE TABLE run_leases (
    integration_id  TEXT PRIMARY KEY,
    holder          TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);

-- Audit events of the admin API belong to a tenant.
ALTER TABLE audit_events ADD COLUMN tenant_id TEXT;
CREATE INDEX audit_by_tenant ON audit_events (tenant_id, seq);
