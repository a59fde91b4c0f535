-- People issue (SQLite). Keep in step with ../postgres/0003_people.sql.

-- People imported from the CRMs: one row per remote lead or contact. Raw values are kept as the
-- provider has them; the `*_key` columns are the normalised matching keys (E.164, case-folded
-- email, company key) the lookups use. `identity_key` is the key of the connection's identity
-- rule; among live rows sharing one, exactly one is `chosen` (the host app's customer), the
-- others point at it with `duplicate_of`. `content_hash` lets a re-fetched, unchanged record
-- cost no write and no change-feed entry.
CREATE TABLE people (
    id                INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider          TEXT NOT NULL,
    object            TEXT NOT NULL,
    remote_id         TEXT NOT NULL,
    display_name      TEXT,
    last_name         TEXT,
    first_name        TEXT,
    company           TEXT,
    emails            TEXT NOT NULL,
    phones            TEXT NOT NULL,
    address           TEXT,
    department        TEXT,
    title             TEXT,
    description       TEXT,
    owner_id          TEXT,
    remote_created_at INTEGER,
    remote_updated_at INTEGER NOT NULL,
    deleted           INTEGER NOT NULL,
    phone_key         TEXT,
    phone2_key        TEXT,
    email_key         TEXT,
    company_key       TEXT,
    name_key          TEXT,
    identity_key      TEXT,
    chosen            INTEGER NOT NULL,
    duplicate_of      INTEGER,
    content_hash      TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (tenant_id, provider, object, remote_id)
);
CREATE INDEX people_phone ON people (tenant_id, phone_key);
CREATE INDEX people_phone2 ON people (tenant_id, phone2_key);
CREATE INDEX people_email ON people (tenant_id, email_key);
CREATE INDEX people_company ON people (tenant_id, company_key);
CREATE INDEX people_identity ON people (tenant_id, provider, identity_key);
-- A page is looked up by remote id across its objects (the unique key leads with the object).
CREATE INDEX people_remote ON people (tenant_id, provider, remote_id);

-- The change feed: what became visible (created), changed (updated) or stopped being visible
-- (deleted) to the host app, in commit order. `seq` is allocated from `tenants.change_seq` in
-- the writing transaction, which holds that row's lock until commit, so a reader never sees a
-- later seq before an earlier one commits.
ALTER TABLE tenants ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE person_changes (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    person_id  INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Import passes. `plan` is the list of steps (object + query), `step` and `cursor` the
-- checkpoint written in the same transaction as each page's people, so a restarted run goes on
-- from the page after the last committed one.
CREATE TABLE sync_runs (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    status        TEXT NOT NULL,
    plan          TEXT NOT NULL,
    step          INTEGER NOT NULL,
    cursor        TEXT,
    progress      TEXT NOT NULL,
    error_code    TEXT,
    error         TEXT,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX sync_runs_connection ON sync_runs (connection_id, id);
-- At most one queued or running run per connection.
CREATE UNIQUE INDEX sync_runs_active ON sync_runs (connection_id) WHERE status IN ('queued', 'running');

-- Per connection and object: from when the next incremental run asks for changes and
-- deletions. `next_sync_at` on the connection is when the scheduler starts that run.
CREATE TABLE sync_cursors (
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    object        TEXT NOT NULL,
    changed_since INTEGER NOT NULL,
    deleted_since INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (connection_id, object)
);
ALTER TABLE connections ADD COLUMN next_sync_at INTEGER;
