-- One account belongs to at most one employee (docs/integration.md,
-- "Identity"). Links remember the e-mail and user name of their account,
-- normalized, so that an incremental run knows which values are taken
-- without reading every account; `manual` is a new origin.
ALTER TABLE links ADD COLUMN email TEXT;
ALTER TABLE links ADD COLUMN user_name TEXT;

-- Earlier versions could link two employees to one account. Keep the link
-- of the lowest HR id; the next run reports the other employee's conflict.
DELETE FROM links
WHERE EXISTS (
    SELECT 1 FROM links AS other
    WHERE other.integration_id = links.integration_id
      AND other.account_id = links.account_id
      AND other.hr_id < links.hr_id
);
CREATE UNIQUE INDEX links_by_account ON links (integration_id, account_id);
