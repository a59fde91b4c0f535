-- Write-back issue (postgres). Keep in step with ../sqlite/0004_writeback.sql.

-- What a delivery is about and how it is ordered. `subject` names the host-app thing the
-- event is about (`call:{call_id}`, `room:{room_id}`, `meeting:{meeting_id}`,
-- `booking:{booking_id}`, `customer:{id}`); `record_key` is the FIFO key its job runs
-- under (deliveries of one remote record run in order); `member_id` is the event's member;
-- `reason` says why a delivery was skipped or is waiting (a stable code, a colon, a sentence).
ALTER TABLE deliveries ADD COLUMN subject TEXT;
ALTER TABLE deliveries ADD COLUMN record_key TEXT;
ALTER TABLE deliveries ADD COLUMN member_id TEXT;
ALTER TABLE deliveries ADD COLUMN reason TEXT;
CREATE INDEX deliveries_by_subject ON deliveries (connection_id, subject);
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, id);

-- Links: a host-app thing (`customer:…`, `room:…`, `booking:…`, `meeting:…`,
-- `call:…`, `phone:…`) and the CRM record a recipe found or created for it, per
-- connection, so that the next event about the same thing writes to the same record.
CREATE TABLE links (
    connection_id   BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    link_key        TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    object          TEXT NOT NULL,
    remote_id       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (connection_id, link_key)
);
