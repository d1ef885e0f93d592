-- When the last successful full read happened: incremental runs in between,
-- a full read again when it is older than the integration allows.
ALTER TABLE cursors ADD COLUMN full_read_at BIGINT;
