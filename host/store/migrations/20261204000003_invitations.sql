-- Accounts the app was asked to invite (on create, or later by an admin):
-- "not yet invited" is an account the integration created without one.
CREATE TABLE invitations (
    integration_id  TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    invited_at      BIGINT NOT NULL,
    PRIMARY KEY (integration_id, account_id)
);
