-- Actions (postgres). Keep in step with ../sqlite/0007_action_requests.sql.

-- One row per idempotency key of a tenant's action requests: the request's fingerprint, and
-- the answer once there is one (NULL while the first request is still running). A second
-- request with the key waits for that answer instead of writing again; rows older than a day
-- no longer count and are pruned (crates/renkei-engine/src/actions.rs).
CREATE TABLE action_requests (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key  TEXT NOT NULL,
    action           TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    answer           TEXT,
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    PRIMARY KEY (tenant_id, idempotency_key)
);
