-- The integration's effective configuration (plugins, their configs, the
-- options) as of the last full read: a run after a change reads everyone,
-- as the change may concern anyone.
ALTER TABLE cursors ADD COLUMN config_hash TEXT;
