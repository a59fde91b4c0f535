//! The routing job: decides which connections an event writes to.
//!
//! Routing creates one delivery per (event, connection, step) that the event causes, each with
//! its `deliver` job under the delivery's FIFO key, and records on the event what it decided.
//! `customer.updated` goes back to the person's CRM record ([`crate::writeback`]); every other
//! event goes to each tenant-level connection whose settings enable a recipe for it
//! ([`crate::recipes::plan`]). An event no connection applies to is recorded, visibly, as such.
//!
//! **In order.** Routing jobs run concurrently, but a tenant's events are routed one at a time
//! and in the order they were stored: a job takes the tenant's routing lock and routes every
//! event of the tenant still pending up to its own, oldest first. Deliveries are queued under
//! their FIFO keys as they are routed, so two events about one record (a room linked, then
//! relinked) are written in the order the host app posted them, whichever of their routing
//! jobs a worker claimed first. A job finding its event routed already completes with
//! nothing to do, and an event whose own job died is routed by the tenant's next one.
//!
//! The record and the job's completion commit in one transaction, so a routing job that runs
//! twice (its worker died after the commit was sent) changes nothing the second time, and the
//! event's `routing_runs` counter proves it.

use renkei_core::TenantId;
use serde::{Deserialize, Serialize};

use renkei_connectors::Provider;
use renkei_store::deliveries::NewDelivery;
use renkei_store::events::StoredEvent;
use renkei_store::{Store, StoreError, Tx};

use crate::deliver::DeliverJob;
use crate::jobs::{BoxFuture, Done, JobContext, JobError, JobPayload, Registry};
use crate::settings::ConnectionSettings;

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

/// How many events one routing transaction routes at most. A job behind a long backlog of its
/// tenant's unrouted events routes them in transactions of this size, so SQLite's write lock
/// is never held for the whole backlog.
const ROUTE_BATCH: i64 = 64;

async fn route(ctx: JobContext<'_>, p: RouteEvent) -> Result<Done, JobError> {
    let store = ctx.store;
    let now = ctx.now();
    let mut routed = Vec::new();
    loop {
        let mut tx = store.begin().await?;
        store.lock_routing(&mut tx, &p.tenant).await?;
        // Its own event last: every earlier event of the tenant still pending is routed first,
        // in order, so deliveries sharing a FIFO key are queued in the order the host app
        // posted their events (a relinked room's second link is the one that stays), even
        // when the routing jobs of those events were claimed in another order. The event is
        // missing when its tenant was deleted after the job was queued; there is nothing to
        // route then, and the job still completes.
        let pending = store
            .pending_events_through(&mut tx, &p.tenant, p.event_seq, ROUTE_BATCH)
            .await?;
        let last = pending.len() < ROUTE_BATCH as usize;
        for event in &pending {
            let (note, deliveries) = if event.event_type == "customer.updated" {
                let r =
                    crate::writeback::route_customer_updated(store, &mut tx, event, now).await?;
                (r.note, r.deliveries)
            } else {
                route_recipes(store, &mut tx, event, now).await?
            };
            if let Some(event_type) = store
                .mark_event_routed(&mut tx, &p.tenant, event.seq, &note, now)
                .await?
            {
                routed.push((event_type, deliveries));
            }
        }
        if last {
            store.complete_job_in(&mut tx, &ctx.lease(), now).await?;
            tx.commit().await?;
            break;
        }
        tx.commit().await?;
    }
    for (event_type, deliveries) in routed {
        metrics::counter!("renkei_events_routed_total", "type" => event_type,
            "deliveries" => deliveries.to_string())
        .increment(1);
    }
    Ok(Done::CompletedInTx)
}

const NO_RECIPES: &str =
    "no connection applies: no connection of this tenant has a recipe enabled for this event type";

/// Routes `event` to the recipes of the tenant's connections, in `tx`. Returns the note and
/// the number of deliveries created.
async fn route_recipes(
    store: &Store,
    tx: &mut Tx,
    event: &StoredEvent,
    now: renkei_core::Millis,
) -> Result<(String, usize), StoreError> {
    let Some(tenant) = store.get_tenant(&event.tenant).await? else {
        return Ok((NO_RECIPES.to_owned(), 0));
    };
    let mut lines = Vec::new();
    let mut count = 0;
    for conn in store.list_connections(&event.tenant).await? {
        if conn.member_id.is_some() {
            continue;
        }
        let Some(provider) = Provider::parse(&conn.provider) else {
            continue;
        };
        let settings = match ConnectionSettings::effective(provider, &tenant.locale, &conn.settings)
        {
            Ok(s) => s,
            Err(e) => {
                lines.push(format!(
                    "{}: settings invalid ({}), not routed",
                    provider.as_str(),
                    e.message
                ));
                continue;
            }
        };
        let planned = crate::recipes::plan(
            &event.event_type,
            &event.data,
            conn.id,
            provider,
            &settings,
            &tenant.default_region,
        );
        for p in planned {
            let Some(delivery_id) = store
                .insert_delivery(
                    tx,
                    &NewDelivery {
                        tenant: &event.tenant,
                        event_seq: event.seq,
                        connection_id: conn.id,
                        step: p.step,
                        subject: Some(&p.subject),
                        record_key: Some(&p.record_key),
                        member: event.member.as_ref(),
                        skipped: p.skipped.as_deref(),
                    },
                    now,
                )
                .await?
            else {
                continue;
            };
            count += 1;
            match &p.skipped {
                Some(reason) => lines.push(format!(
                    "{} {} skipped: {reason}",
                    provider.as_str(),
                    p.step
                )),
                None => {
                    let job = DeliverJob {
                        tenant: event.tenant.clone(),
                        delivery_id,
                        record_key: Some(p.record_key.clone()),
                    };
                    store.enqueue(tx, &job.to_job(now), now).await?;
                    lines.push(format!("{} {} ({})", provider.as_str(), p.step, p.subject));
                }
            }
        }
    }
    if count == 0 && lines.is_empty() {
        return Ok((NO_RECIPES.to_owned(), 0));
    }
    let head = match count {
        1 => "1 delivery".to_owned(),
        n => format!("{n} deliveries"),
    };
    Ok((format!("{head}: {}", lines.join("; ")), count))
}
