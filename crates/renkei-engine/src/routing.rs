//! The routing job: decides which connections an event writes to.
//!
//! Routing will create one delivery per (event, connection, recipe step) for every connection
//! of the tenant whose settings enable a recipe for the event's type. No recipe exists in this
//! release (they arrive with the write-back capability), so no connection applies to any
//! event; routing records exactly that on the event, visibly, instead of pretending to have
//! written anywhere.
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
    let mut tx = store.begin().await?;
    // A missing event (its tenant was deleted after the job was queued) has nothing to route;
    // the job still completes.
    let routed = store
        .mark_event_routed(&mut tx, &p.tenant, p.event_seq, NO_RECIPES, now)
        .await?;
    store.complete_job_in(&mut tx, &ctx.lease(), now).await?;
    tx.commit().await?;
    if let Some(event_type) = routed {
        metrics::counter!("renkei_events_routed_total", "type" => event_type, "deliveries" => "0")
            .increment(1);
    }
    Ok(Done::CompletedInTx)
}

const NO_RECIPES: &str =
    "no connection applies: no connection of this tenant has a recipe enabled for this event type";
