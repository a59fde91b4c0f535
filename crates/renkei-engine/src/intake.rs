//! Accepting host-app events: each stored event and its routing job commit together.
//!
//! This is the transactional outbox of PRODUCT.md section 2: because the routing job is
//! enqueued in the transaction that stores the event, a crash can lose neither (both or
//! nothing committed), and the host app's retry of an unacknowledged post finds the event
//! already stored and is told it is a duplicate.
//!
//! [`IntakeQueue`] adds group commit: requests that arrive while a transaction is being
//! written wait for the next one and share it, so under load the database sees one
//! transaction of a few multi-row statements for many requests instead of one transaction per
//! request. Each request's answer is still its own: duplicates and unknown tenants are decided
//! per request, and a request is answered only after the transaction holding its events
//! committed.

use std::collections::{HashMap, HashSet};

use renkei_core::event::Event;
use renkei_core::{EventId, Millis, TenantId};
use renkei_store::events::NewEvent;
use renkei_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

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
    /// The shared transaction of a group commit failed; `retryable` says whether trying again
    /// may succeed (the database was busy or unreachable).
    #[error("storing the events failed: {message}")]
    Group { retryable: bool, message: String },
    #[error("renkei is shutting down")]
    ShuttingDown,
}

/// Stores `events` for `tenant` in one transaction (all or nothing) with one routing job per
/// new event.
pub async fn accept_events(
    store: &Store,
    tenant: &TenantId,
    events: &[Event],
    now: Millis,
) -> Result<Accepted, IntakeError> {
    let mut results = accept_groups(store, &[(tenant, events)], now).await?;
    results.pop().unwrap_or_else(|| Ok(Accepted::default()))
}

/// Stores the events of several requests in one transaction. Returns one result per request,
/// in order; `Err` when the transaction itself failed, in which case nothing was stored.
///
/// Unknown tenants are found with one read before the transaction; their requests are
/// answered [`IntakeError::UnknownTenant`] and take no part in it. The foreign key on
/// `events.tenant_id` remains the guarantee: a tenant deleted in between fails the whole
/// transaction, and every request in it gets an error it can retry.
pub async fn accept_groups(
    store: &Store,
    requests: &[(&TenantId, &[Event])],
    now: Millis,
) -> Result<Vec<Result<Accepted, IntakeError>>, StoreError> {
    let mut wanted: Vec<&TenantId> = requests.iter().map(|(t, _)| *t).collect();
    wanted.sort();
    wanted.dedup();
    let known: HashSet<TenantId> = store.existing_tenants(&wanted).await?.into_iter().collect();

    // Canonical data first: rows borrow it.
    let mut datas: Vec<Vec<String>> = Vec::with_capacity(requests.len());
    for (_, events) in requests {
        let d: Vec<String> = events
            .iter()
            .map(|ev| serde_json::to_string(&ev.data))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Decode(e.to_string()))?;
        datas.push(d);
    }

    // One row per (tenant, id) across the group: a second request carrying an id that an
    // earlier request of the same group stores is a duplicate, exactly as if it had arrived
    // a moment later.
    let mut rows: Vec<NewEvent<'_>> = Vec::new();
    let mut first_row: HashMap<(&str, &str), usize> = HashMap::new();
    // For each request and event: the row that stores it and whether this event owns it.
    let mut plan: Vec<Option<Vec<(usize, bool)>>> = Vec::with_capacity(requests.len());
    for ((tenant, events), data) in requests.iter().zip(&datas) {
        if !known.contains(*tenant) {
            plan.push(None);
            continue;
        }
        let mut mine = Vec::with_capacity(events.len());
        for (ev, data) in events.iter().zip(data) {
            match first_row.get(&(tenant.as_str(), ev.id.as_str())) {
                Some(&row) => mine.push((row, false)),
                None => {
                    first_row.insert((tenant.as_str(), ev.id.as_str()), rows.len());
                    mine.push((rows.len(), true));
                    rows.push(NewEvent {
                        tenant,
                        id: &ev.id,
                        event_type: ev.event_type().as_str(),
                        occurred_at: Millis::from_timestamp(ev.occurred_at),
                        member: ev.member.as_ref(),
                        data: data.clone(),
                    });
                }
            }
        }
        plan.push(Some(mine));
    }

    let mut seqs = Vec::new();
    if !rows.is_empty() {
        let mut tx = store.begin().await?;
        seqs = store.insert_events(&mut tx, &rows, now).await?;
        let jobs: Vec<_> = rows
            .iter()
            .zip(&seqs)
            .filter_map(|(row, seq)| {
                seq.map(|event_seq| {
                    RouteEvent {
                        tenant: row.tenant.clone(),
                        event_seq,
                    }
                    .to_job(now)
                })
            })
            .collect();
        store.enqueue_many(&mut tx, &jobs, now).await?;
        tx.commit().await?;
    }

    let mut results = Vec::with_capacity(requests.len());
    for ((tenant, events), mine) in requests.iter().zip(plan) {
        let Some(mine) = mine else {
            results.push(Err(IntakeError::UnknownTenant((*tenant).clone())));
            continue;
        };
        let mut out = Accepted::default();
        for (ev, (row, owner)) in events.iter().zip(mine) {
            if owner && seqs[row].is_some() {
                out.accepted.push(ev.id.clone());
            } else {
                out.duplicates.push(ev.id.clone());
            }
        }
        metrics::counter!("renkei_events_accepted_total").increment(out.accepted.len() as u64);
        metrics::counter!("renkei_events_duplicate_total").increment(out.duplicates.len() as u64);
        results.push(Ok(out));
    }
    Ok(results)
}

struct Submission {
    tenant: TenantId,
    events: Vec<Event>,
    reply: oneshot::Sender<Result<Accepted, IntakeError>>,
}

/// Group commit for intake: a handle to a task that writes the events of concurrent requests
/// in shared transactions. Cheap to clone; the task ends when every handle is dropped.
#[derive(Clone)]
pub struct IntakeQueue {
    tx: mpsc::Sender<Submission>,
}

/// Requests per shared transaction at most. Large enough to amortise the transaction, small
/// enough that the first request of a group does not wait long for the last.
const GROUP_MAX: usize = 64;

impl IntakeQueue {
    /// Starts the writer task on the current Tokio runtime. `on_commit` runs after every
    /// transaction that stored events (the API uses it to wake the local workers).
    pub fn start(store: Store, on_commit: impl Fn() + Send + 'static) -> Self {
        let (tx, mut rx) = mpsc::channel::<Submission>(1024);
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(GROUP_MAX);
            while rx.recv_many(&mut group, GROUP_MAX).await > 0 {
                let requests: Vec<(&TenantId, &[Event])> = group
                    .iter()
                    .map(|s| (&s.tenant, s.events.as_slice()))
                    .collect();
                metrics::histogram!("renkei_intake_group_size").record(requests.len() as f64);
                let outcome = accept_groups(&store, &requests, Millis::now()).await;
                drop(requests);
                match outcome {
                    Ok(results) => {
                        if results
                            .iter()
                            .any(|r| r.as_ref().is_ok_and(|a| !a.accepted.is_empty()))
                        {
                            on_commit();
                        }
                        for (s, r) in group.drain(..).zip(results) {
                            let _ = s.reply.send(r);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, requests = group.len(), "storing a group of events failed");
                        let (retryable, message) = (e.is_retryable(), e.to_string());
                        for s in group.drain(..) {
                            let _ = s.reply.send(Err(IntakeError::Group {
                                retryable,
                                message: message.clone(),
                            }));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Stores `events` for `tenant`, sharing a transaction with concurrent callers.
    pub async fn submit(
        &self,
        tenant: TenantId,
        events: Vec<Event>,
    ) -> Result<Accepted, IntakeError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Submission {
                tenant,
                events,
                reply,
            })
            .await
            .map_err(|_| IntakeError::ShuttingDown)?;
        answer.await.map_err(|_| IntakeError::ShuttingDown)?
    }
}
