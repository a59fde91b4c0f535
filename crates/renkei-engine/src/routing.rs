//! The routing job: decides which connections an event writes to.
//!
//! Routing creates one delivery per (event, connection, step) that the event causes, and
//! records on the event what it decided. Today one event type writes anywhere:
//! `customer.updated`, whose two-way fields go back to the person's CRM record
//! ([`crate::writeback`]). The recipes of the write-back issue (calls, notes, bookings) are not
//! built yet, so every other event is recorded, visibly, as applying to no connection instead
//! of pretending to have been written anywhere.
//!
//! The record and the job's completion commit in one transaction, so a routing job that runs
//! twice (its worker died after the commit was sent) changes nothing the second time, and the
//! event's `routing_runs` counter proves it.

use renkei_core::TenantId;
use serde::{Deserialize, Serialize};

use crate::jobs::{BoxFuture, Done, JobContext, JobError, JobPayload, Registry};

/// Route one stored event. Payload version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEvent {
    pub tenant: TenantId,
    pub event_seq: i64,
}

impl JobPayload for RouteEvent {
    const KIND: &'static str = "route_event";
    const VERSION: i64 = 1;

    fn tenant(&self) -> Option<TenantId> {
        Some(self.tenant.clone())
    }
}

pub fn register(r: &mut Registry) {
    r.register::<RouteEvent, _>(|ctx, p| -> BoxFuture<'_, _> { Box::pin(route(ctx, p)) });
}

async fn route(ctx: JobContext<'_>, p: RouteEvent) -> Result<Done, JobError> {
    let store = ctx.store;
    let now = ctx.now();
    let event = store.get_event_by_seq(&p.tenant, p.event_seq).await?;
    let mut tx = store.begin().await?;
    let (note, deliveries) = match &event {
        Some(e) if e.event_type == "customer.updated" => {
            let r = crate::writeback::route_customer_updated(store, &mut tx, e, now).await?;
            (r.note, r.deliveries)
        }
        _ => (NO_RECIPES.to_owned(), 0),
    };
    // A missing event (its tenant was deleted after the job was queued) has nothing to route;
    // the job still completes.
    let routed = store
        .mark_event_routed(&mut tx, &p.tenant, p.event_seq, &note, now)
        .await?;
    store.complete_job_in(&mut tx, &ctx.lease(), now).await?;
    tx.commit().await?;
    if let Some(event_type) = routed {
        metrics::counter!("renkei_events_routed_total", "type" => event_type,
            "deliveries" => deliveries.to_string())
        .increment(1);
    }
    Ok(Done::CompletedInTx)
}

const NO_RECIPES: &str =
    "no connection applies: no connection of this tenant has a recipe enabled for this event type";
