-- What an identity provider pushed to an integration's inbound SCIM
-- endpoint (host/server/src/scim/): one row per User or Group, the
-- resource as JSON without its meta. `name_key` is the lower-cased
-- userName of a User (unique per integration, as SCIM asks); NULL for
-- Groups. `version` grows by one per change and makes the ETag.
CREATE TABLE pushed_resources (
    integration_id  TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    id              TEXT NOT NULL,
    name_key        TEXT,
    external_id     TEXT,
    body            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (integration_id, resource_type, id)
);
CREATE UNIQUE INDEX pushed_resources_by_name ON pushed_resources (integration_id, resource_type, name_key);
