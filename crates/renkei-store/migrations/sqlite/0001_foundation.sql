-- renkei foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql: the two
-- differ only in types (INTEGER/BLOB here, BIGINT/BYTEA there) and identity columns.
-- All instants are integer milliseconds since the Unix epoch (UTC).

CREATE TABLE tenants (
    id             TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    default_region TEXT NOT NULL,
    locale         TEXT NOT NULL,
    time_zone      TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE members (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    email        TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX members_by_email ON members (tenant_id, email);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    tenant_id   TEXT,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE connections (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL DEFAULT '',
    provider     TEXT NOT NULL,
    status       TEXT NOT NULL,
    account_id   TEXT,
    credentials  BLOB NOT NULL,
    key_id       TEXT NOT NULL,
    settings     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, provider, member_id)
);

CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    type           TEXT NOT NULL,
    occurred_at    INTEGER NOT NULL,
    member_id      TEXT,
    data           TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    routing_status TEXT NOT NULL,
    routing_note   TEXT,
    routed_at      INTEGER,
    routing_runs   INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    connection_id   INTEGER NOT NULL,
    step            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    provider_status INTEGER,
    remote_ids      TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (event_seq, connection_id, step)
);
CREATE INDEX deliveries_by_tenant_status ON deliveries (tenant_id, status, id);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    payload_version INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    run_at          INTEGER NOT NULL,
    concurrency_key TEXT,
    tenant_id       TEXT,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_blocked ON jobs (concurrency_key, id) WHERE state = 'blocked';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state = 'succeeded';
CREATE INDEX jobs_by_state ON jobs (state, created_at);

-- One row per concurrency key: how many of its jobs are admitted (pending or running).
CREATE TABLE job_keys (
    key    TEXT PRIMARY KEY,
    active INTEGER NOT NULL
);
