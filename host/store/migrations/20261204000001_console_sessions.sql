-- Sessions of the admin console: signing in with an API key opens one. The
-- cookie holds a random token; only its hash is kept. A session ends when
-- it expires, when its member signs out, or when the key it was opened
-- with is revoked or its member removed (the lookup joins both).
CREATE TABLE console_sessions (
    hash        TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
