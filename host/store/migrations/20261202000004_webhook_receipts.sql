-- HR webhooks already taken, by a digest of what their signature covers,
-- kept for longer than any plugin's timestamp window: the same signed
-- request sent again is a replay (store::integrations::Store::first_receipt).
CREATE TABLE webhook_receipts (
    integration_id  TEXT NOT NULL,
    digest          TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (integration_id, digest)
);
CREATE INDEX webhook_receipts_by_expiry ON webhook_receipts (expires_at);
