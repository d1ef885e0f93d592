-- The scheduler looks for runs left `running` by a process that died
-- (store::integrations::Store::interrupt_orphaned_runs) every lease period;
-- only the few running runs are indexed, not the whole history.
CREATE INDEX runs_running ON runs (integration_id) WHERE status = 'running';
