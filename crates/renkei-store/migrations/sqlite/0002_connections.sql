-- Connections issue (SQLite). Keep in step with ../postgres/0002_connections.sql.

-- What a connection is, besides its sealed credentials: the account it reaches, the provider
-- metadata that must survive refreshes (JSON, not secret), token timing, the last error, and
-- the refresh lease that makes one process at a time refresh a connection.
ALTER TABLE connections ADD COLUMN status_reason TEXT;
ALTER TABLE connections ADD COLUMN account_name TEXT;
ALTER TABLE connections ADD COLUMN identity TEXT NOT NULL DEFAULT '{}';
ALTER TABLE connections ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
ALTER TABLE connections ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN connected_by TEXT;
ALTER TABLE connections ADD COLUMN connected_at INTEGER;
ALTER TABLE connections ADD COLUMN last_used_at INTEGER;
ALTER TABLE connections ADD COLUMN last_refreshed_at INTEGER;
ALTER TABLE connections ADD COLUMN token_expires_at INTEGER;
ALTER TABLE connections ADD COLUMN last_error TEXT;
ALTER TABLE connections ADD COLUMN last_error_code TEXT;
ALTER TABLE connections ADD COLUMN last_error_at INTEGER;
ALTER TABLE connections ADD COLUMN failure_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE connections ADD COLUMN refresh_owner TEXT;
ALTER TABLE connections ADD COLUMN refresh_until INTEGER;
CREATE INDEX connections_idle ON connections (status, last_used_at);

-- One-time links to the connect page. `id` is the SHA-256 of the token in the link; the
-- token itself is never stored.
CREATE TABLE connect_sessions (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL DEFAULT '',
    provider     TEXT NOT NULL,
    return_url   TEXT,
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    completed_at INTEGER
);

-- OAuth `state` values in flight: single use, expiring, with their secrets (PKCE verifier,
-- a tenant's own client) sealed like credentials.
CREATE TABLE oauth_states (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    member_id      TEXT NOT NULL DEFAULT '',
    provider       TEXT NOT NULL,
    switch_account INTEGER NOT NULL,
    data_centre    TEXT,
    sealed         BLOB NOT NULL,
    key_id         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    consumed_at    INTEGER
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- Manual pairing of a member with a provider user; wins over matching by email.
CREATE TABLE user_mappings (
    tenant_id  TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    provider   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, member_id, provider),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id) ON DELETE CASCADE
);
