-- Audit events form a hash chain: each has its place in the chain, the hash
-- of the event before it and its own hash over both and its content, so an
-- edited, removed or inserted event breaks the chain (`hrsync audit verify`).
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_by_seq ON audit_events (seq);

-- The head of the chain, one row. An append updates it first, which locks
-- it (a row lock in PostgreSQL; SQLite has one writer), so two writers never
-- fork the chain; and removing the newest events shows against it.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis');
