//! Two-way fields: a `customer.updated` event written back to the CRM record of the person
//! (PRODUCT.md 4.3: name, phone, email and description sync both ways; address and a
//! contact's company are import-only).
//!
//! Routing decides in its own transaction: the event's `customer_id` is a person id of the
//! people API; the fields it changes are kept only where the connection's settings say `sync`;
//! if any remain, one delivery (`person_update`) is recorded and a `person_writeback` job
//! queued with it. The job writes the fields with the provider's update call (a PATCH/PUT of
//! the same values, so a retry after an ambiguous failure writes nothing new), records each
//! attempt on the delivery, and leaves the person's stored copy to the next sync, which reads
//! back what the CRM now holds.

use std::sync::Arc;
use std::time::Duration;

use renkei_connectors::people::{PersonObject, PersonUpdate};
use renkei_connectors::{ConnectorError, Provider};
use renkei_core::event::CustomerUpdated;
use renkei_core::{Millis, TenantId, split_name};
use renkei_store::connections::ConnectionKey;
use renkei_store::deliveries::{Attempt, Delivery, DeliveryStatus, NewDelivery};
use renkei_store::events::StoredEvent;
use renkei_store::queue::ConcurrencyKey;
use renkei_store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jobs::{BoxFuture, Done, JobContext, JobError, JobPayload, Registry};
use crate::settings::{ConnectionSettings, FieldMode, PersonField};
use crate::vault::{Target, Vault, VaultError};

/// The delivery step of a two-way write.
pub const STEP: &str = "person_update";

/// Writes one delivery's fields to the CRM. Payload version 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WritebackJob {
    pub tenant: TenantId,
    pub delivery_id: i64,
    pub event_seq: i64,
    pub person_id: i64,
    /// The FIFO key of the person's record ([`record_key`]); absent in jobs queued before
    /// deliveries were ordered.
    #[serde(default)]
    pub record_key: Option<String>,
}

/// The FIFO key of writes to one remote record of a connection.
pub fn record_key(connection_id: i64, object: &str, remote_id: &str) -> String {
    format!("{connection_id}:{object}:{remote_id}")
}

impl JobPayload for WritebackJob {
    const KIND: &'static str = "person_writeback";
    const VERSION: i64 = 1;
    const MAX_ATTEMPTS: i64 = 10;
    fn tenant(&self) -> Option<TenantId> {
        Some(self.tenant.clone())
    }
    fn concurrency(&self) -> Option<ConcurrencyKey> {
        self.record_key
            .clone()
            .map(|key| ConcurrencyKey { key, limit: 1 })
    }

    fn on_abandoned<'a>(
        &'a self,
        store: &'a Store,
        error: &'a str,
        now: Millis,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(crate::deliver::abandon(
            store,
            &self.tenant,
            self.delivery_id,
            error,
            now,
        ))
    }
}

/// What routing decided for a `customer.updated` event.
pub struct Routed {
    /// The note recorded on the event.
    pub note: String,
    pub deliveries: usize,
}

/// The fields of `changes` that the settings let renkei write.
fn sync_fields(c: &CustomerUpdated, s: &ConnectionSettings) -> (PersonUpdate, Vec<&'static str>) {
    let mut u = PersonUpdate::default();
    let mut names = Vec::new();
    let on = |f: PersonField| s.mode(f) == FieldMode::Sync;
    if let Some(n) = &c.changes.name
        && on(PersonField::Name)
    {
        let (family, given) = split_name(n);
        u.last_name = family;
        // A name without a given part clears the CRM's given name rather than leaving a stale
        // one beside the new family name.
        u.first_name = Some(given.unwrap_or_default());
        names.push("name");
    }
    if let Some(p) = &c.changes.phone
        && on(PersonField::Phone)
    {
        u.phone = Some(p.clone());
        names.push("phone");
    }
    if let Some(e) = &c.changes.email
        && on(PersonField::Email)
    {
        u.email = Some(e.as_str().to_owned());
        names.push("email");
    }
    if let Some(d) = &c.changes.description
        && on(PersonField::Description)
    {
        u.description = Some(d.clone());
        names.push("description");
    }
    (u, names)
}

/// Routes a `customer.updated` event in the routing transaction `tx`.
pub async fn route_customer_updated(
    store: &Store,
    tx: &mut Tx,
    event: &StoredEvent,
    now: Millis,
) -> Result<Routed, StoreError> {
    let none = |note: String| Routed {
        note,
        deliveries: 0,
    };
    let data: CustomerUpdated = match serde_json::from_value(event.data.clone()) {
        Ok(d) => d,
        Err(e) => return Ok(none(format!("unreadable customer.updated data: {e}"))),
    };
    let id = data.customer_id.as_str();
    let Some(person) = (match id.parse::<i64>() {
        Ok(n) => store.get_person(&event.tenant, n).await?,
        Err(_) => None,
    }) else {
        return Ok(none(format!(
            "customer {id:?} is not a person imported by renkei; nothing to write back"
        )));
    };
    let Some(provider) = Provider::parse(&person.provider) else {
        return Ok(none(format!("unknown provider {}", person.provider)));
    };
    let Some(conn) = store
        .get_connection(ConnectionKey {
            tenant: &event.tenant,
            provider: provider.as_str(),
            member: None,
        })
        .await?
    else {
        return Ok(none(format!(
            "{} is no longer connected; nothing to write back",
            provider.as_str()
        )));
    };
    let locale = store
        .get_tenant(&event.tenant)
        .await?
        .map(|t| t.locale)
        .unwrap_or_else(|| "ja".into());
    let settings = match ConnectionSettings::effective(provider, &locale, &conn.settings) {
        Ok(s) => s,
        Err(e) => return Ok(none(format!("the connection's settings are invalid: {e}"))),
    };
    let (update, fields) = sync_fields(&data, &settings);
    if update.is_empty() {
        return Ok(none(
            "only import-only fields changed; renkei does not write them back".to_owned(),
        ));
    }
    let key = record_key(conn.id, &person.object, &person.remote_id);
    let Some(delivery_id) = store
        .insert_delivery(
            tx,
            &NewDelivery {
                tenant: &event.tenant,
                event_seq: event.seq,
                connection_id: conn.id,
                step: STEP,
                subject: Some(&format!("customer:{id}")),
                record_key: Some(&key),
                member: event.member.as_ref(),
                skipped: None,
            },
            now,
        )
        .await?
    else {
        return Ok(none("already routed".to_owned()));
    };
    let job = WritebackJob {
        tenant: event.tenant.clone(),
        delivery_id,
        event_seq: event.seq,
        person_id: person.id,
        record_key: Some(key),
    };
    store.enqueue(tx, &job.to_job(now), now).await?;
    Ok(Routed {
        note: format!(
            "1 delivery: {} of {} {} {} ({})",
            STEP,
            provider.as_str(),
            person.object,
            person.remote_id,
            fields.join(", ")
        ),
        deliveries: 1,
    })
}

/// The job that (re)runs delivery `d` of `event` (a retry).
pub fn job_for(d: &Delivery, event: &StoredEvent) -> WritebackJob {
    let person_id = serde_json::from_value::<CustomerUpdated>(event.data.clone())
        .ok()
        .and_then(|c| c.customer_id.as_str().parse::<i64>().ok())
        // A delivery exists only for a readable event naming a person; should that ever not
        // hold, the job finds no person and fails the delivery saying so.
        .unwrap_or(0);
    WritebackJob {
        tenant: d.tenant.clone(),
        delivery_id: d.id,
        event_seq: d.event_seq,
        person_id,
        record_key: d.record_key.clone(),
    }
}

async fn run(vault: &Vault, ctx: JobContext<'_>, job: WritebackJob) -> Result<Done, JobError> {
    let store = ctx.store;
    let now = ctx.now();
    let Some(event) = store.get_event_by_seq(&job.tenant, job.event_seq).await? else {
        return Ok(Done::Completed);
    };
    let Some(person) = store.get_person(&job.tenant, job.person_id).await? else {
        store
            .record_delivery_attempt(
                job.delivery_id,
                Attempt {
                    status: DeliveryStatus::Failed,
                    provider_status: None,
                    error: Some("person_removed: the person was removed from renkei"),
                    reason: None,
                },
                now,
            )
            .await?;
        return Ok(Done::Completed);
    };
    let (Some(provider), Some(object)) = (
        Provider::parse(&person.provider),
        PersonObject::parse(&person.object),
    ) else {
        return Err(JobError::Permanent("unknown provider or object".into()));
    };
    let data: CustomerUpdated = serde_json::from_value(event.data.clone())
        .map_err(|e| JobError::Permanent(format!("unreadable event data: {e}")))?;
    let locale = store
        .get_tenant(&job.tenant)
        .await?
        .map(|t| t.locale)
        .unwrap_or_else(|| "ja".into());
    let conn = store
        .get_connection(ConnectionKey {
            tenant: &job.tenant,
            provider: provider.as_str(),
            member: None,
        })
        .await?;
    let settings = conn
        .as_ref()
        .and_then(|c| ConnectionSettings::effective(provider, &locale, &c.settings).ok())
        .unwrap_or_else(|| ConnectionSettings::defaults(provider, &locale));
    let (update, _) = sync_fields(&data, &settings);
    let remote_id = person.remote_id.clone();
    let connectors = vault.shared_connectors().clone();
    let result = vault
        .call(&Target::tenant(&job.tenant, provider), move |a| {
            let connectors = connectors.clone();
            let update = update.clone();
            let remote_id = remote_id.clone();
            async move {
                connectors
                    .update_person(provider, a.session(), object, &remote_id, &update)
                    .await
            }
        })
        .await;
    let remote = json!({"object": person.object, "id": person.remote_id});
    match result {
        Ok(()) => {
            let mut remote_ids = serde_json::Map::new();
            remote_ids.insert("person".into(), remote);
            store
                .save_delivery_remote(job.delivery_id, &remote_ids, now)
                .await?;
            store
                .record_delivery_attempt(
                    job.delivery_id,
                    Attempt {
                        status: DeliveryStatus::Succeeded,
                        provider_status: Some(200),
                        error: None,
                        reason: None,
                    },
                    now,
                )
                .await?;
            metrics::counter!("renkei_deliveries_total", "provider" => provider.as_str(),
                "step" => STEP, "outcome" => "succeeded")
            .increment(1);
            Ok(Done::Completed)
        }
        Err(VaultError::Connector(ConnectorError::RateLimited { retry_after, .. })) => {
            let wait = retry_after.unwrap_or(Duration::from_secs(30));
            Err(JobError::Snooze {
                reason: "rate limited".into(),
                until: now.plus_ms(wait.as_millis() as i64),
            })
        }
        Err(e) if e.is_retryable() && ctx.job.attempt < ctx.job.max_attempts => {
            let msg = e.to_string();
            store
                .record_delivery_attempt(
                    job.delivery_id,
                    Attempt {
                        status: DeliveryStatus::Pending,
                        provider_status: None,
                        error: Some(&msg),
                        reason: None,
                    },
                    now,
                )
                .await?;
            Err(JobError::Retry {
                error: msg,
                after: match &e {
                    VaultError::Connector(c) => c.retry_after(),
                    _ => None,
                },
            })
        }
        Err(e) => {
            let msg = format!("{}: {e}", e.code());
            store
                .record_delivery_attempt(
                    job.delivery_id,
                    Attempt {
                        status: DeliveryStatus::Failed,
                        provider_status: None,
                        error: Some(&msg),
                        reason: None,
                    },
                    now,
                )
                .await?;
            metrics::counter!("renkei_deliveries_total", "provider" => provider.as_str(),
                "step" => STEP, "outcome" => "failed")
            .increment(1);
            Ok(Done::Completed)
        }
    }
}

/// Registers the `person_writeback` handler.
pub fn register(r: &mut Registry, vault: Arc<Vault>) {
    r.register::<WritebackJob, _>(move |ctx, job| -> BoxFuture<'_, Result<Done, JobError>> {
        let vault = vault.clone();
        Box::pin(async move { run(&vault, ctx, job).await })
    });
}
