//! Accepting host-app events: each stored event and its routing job commit together.
//!
//! This is the transactional outbox of PRODUCT.md section 2: because the routing job is
//! enqueued in the transaction that stores the event, a crash can lose neither (both or
//! nothing committed), and the host app's retry of an unacknowledged post finds the event
//! already stored and is told it is a duplicate.

use renkei_core::event::Event;
use renkei_core::{EventId, Millis, TenantId};
use renkei_store::events::NewEvent;
use renkei_store::{Store, StoreError};

use crate::jobs::JobPayload as _;
use crate::routing::RouteEvent;

/// Which events were stored now and which the tenant already had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    pub accepted: Vec<EventId>,
    pub duplicates: Vec<EventId>,
}

/// Stores `events` for `tenant` in one transaction (all or nothing) with one routing job per
/// new event.
pub async fn accept_events(
    store: &Store,
    tenant: &TenantId,
    events: &[Event],
    now: Millis,
) -> Result<Accepted, StoreError> {
    let mut out = Accepted::default();
    let mut tx = store.begin().await?;
    for ev in events {
        let data =
            serde_json::to_string(&ev.data).map_err(|e| StoreError::Decode(e.to_string()))?;
        let row = NewEvent {
            id: &ev.id,
            event_type: ev.event_type().as_str(),
            occurred_at: Millis::from_timestamp(ev.occurred_at),
            member: ev.member.as_ref(),
            data,
        };
        match store.insert_event(&mut tx, tenant, &row, now).await? {
            Some(seq) => {
                let job = RouteEvent {
                    tenant: tenant.clone(),
                    event_seq: seq,
                }
                .to_job(now);
                store.enqueue(&mut tx, &job, now).await?;
                out.accepted.push(ev.id.clone());
            }
            None => out.duplicates.push(ev.id.clone()),
        }
    }
    tx.commit().await?;
    metrics::counter!("renkei_events_accepted_total").increment(out.accepted.len() as u64);
    metrics::counter!("renkei_events_duplicate_total").increment(out.duplicates.len() as u64);
    Ok(out)
}
