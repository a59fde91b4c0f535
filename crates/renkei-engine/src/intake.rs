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

/// Why events were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("tenant {0} does not exist")]
    UnknownTenant(TenantId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores `events` for `tenant` in one transaction (all or nothing) with one routing job per
/// new event. The tenant's existence is checked by the foreign key on the insert itself rather
/// than by a read before it: one round trip less on every request.
pub async fn accept_events(
    store: &Store,
    tenant: &TenantId,
    events: &[Event],
    now: Millis,
) -> Result<Accepted, IntakeError> {
    let datas: Vec<String> = events
        .iter()
        .map(|ev| serde_json::to_string(&ev.data))
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Decode(e.to_string()))?;
    let rows: Vec<NewEvent<'_>> = events
        .iter()
        .zip(datas)
        .map(|(ev, data)| NewEvent {
            id: &ev.id,
            event_type: ev.event_type().as_str(),
            occurred_at: Millis::from_timestamp(ev.occurred_at),
            member: ev.member.as_ref(),
            data,
        })
        .collect();
    let mut tx = store.begin().await?;
    let seqs = match store.insert_events(&mut tx, tenant, &rows, now).await {
        Err(e) if e.is_foreign_key_violation() => {
            return Err(IntakeError::UnknownTenant(tenant.clone()));
        }
        other => other?,
    };
    let mut out = Accepted::default();
    let mut jobs = Vec::new();
    for (ev, seq) in events.iter().zip(seqs) {
        match seq {
            Some(event_seq) => {
                jobs.push(
                    RouteEvent {
                        tenant: tenant.clone(),
                        event_seq,
                    }
                    .to_job(now),
                );
                out.accepted.push(ev.id.clone());
            }
            None => out.duplicates.push(ev.id.clone()),
        }
    }
    store.enqueue_many(&mut tx, &jobs, now).await?;
    tx.commit().await?;
    metrics::counter!("renkei_events_accepted_total").increment(out.accepted.len() as u64);
    metrics::counter!("renkei_events_duplicate_total").increment(out.duplicates.len() as u64);
    Ok(out)
}
