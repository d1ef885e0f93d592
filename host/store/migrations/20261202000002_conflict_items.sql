-- Every run reads the conflicts the integration's last run left open
-- (store::Store::open_conflicts); after a first sync of 100,000 employees
-- that run holds 400,000 items, and finding its few conflicts should not
-- mean reading them all.
CREATE INDEX run_items_by_kind ON run_items (run_id, kind);
