-- Every process sharing this database must hold the same secret key: the
-- first one records a value derived from its key (one-way, it tells
-- nothing of the key) and the others check theirs against it at start,
-- instead of failing later on every secret they cannot open.
CREATE TABLE server_key (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    key_check    TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL
);
