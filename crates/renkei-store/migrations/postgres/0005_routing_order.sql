-- Routing in event order (postgres). Keep in step with ../sqlite/0005_routing_order.sql.

-- A routing job routes its tenant's events that are still pending up to its own, oldest
-- first (crates/renkei-engine/src/routing.rs). This partial index finds them without reading
-- the tenant's routed events, which are all but a few.
CREATE INDEX events_unrouted ON events (tenant_id, seq) WHERE routing_status = 'pending';
