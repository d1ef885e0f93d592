-- Every configuration an installation or an integration has had, to list,
-- compare and restore through the admin API. `config` is the versioned
-- part as JSON: an installation's plugin version, config, granted hosts and
-- the names (never the values) of its secrets; an integration's name,
-- installations, options, schedule, time zone and notify settings.
CREATE TABLE config_versions (
    tenant_id   TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    config      TEXT NOT NULL,
    PRIMARY KEY (subject_id, version)
);
