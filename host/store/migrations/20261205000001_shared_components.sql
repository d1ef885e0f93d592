-- A component is kept once however many tenants upload it: a thousand
-- tenants with the same Python rule held a thousand copies of its 19 MB.
-- Plugin versions name their component by content hash (BLAKE3 of the
-- bytes, as the runtime computes it).
CREATE TABLE plugin_components (
    content_hash  TEXT PRIMARY KEY,
    component     BYTEA NOT NULL
);
INSERT INTO plugin_components (content_hash, component)
    SELECT DISTINCT content_hash, component FROM plugins;
ALTER TABLE plugins DROP COLUMN component;
