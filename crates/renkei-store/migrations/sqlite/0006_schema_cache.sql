-- Schema discovery (sqlite). Keep in step with ../postgres/0006_schema_cache.sql.

-- What a provider said about a connection's objects and fields (`objects`, or
-- `fields:{object}`), as renkei's own JSON, so that a settings screen does not describe the
-- CRM on every render. Refreshed on demand or when older than the engine's limit
-- (crates/renkei-engine/src/schema.rs).
CREATE TABLE schema_cache (
    connection_id   INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    cache_key       TEXT NOT NULL,
    body            TEXT NOT NULL,
    fetched_at      INTEGER NOT NULL,
    PRIMARY KEY (connection_id, cache_key)
);
