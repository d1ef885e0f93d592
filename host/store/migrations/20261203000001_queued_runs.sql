-- Runs wait for a free slot as `queued` (`hrsync serve --max-concurrent-runs`);
-- a process that dies leaves them like running ones, so the index of runs
-- that may be orphaned covers both.
DROP INDEX runs_running;
CREATE INDEX runs_unfinished ON runs (integration_id) WHERE status IN ('running', 'queued');
