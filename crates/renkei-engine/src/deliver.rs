//! Deliveries at work: the `deliver` job that runs one delivery's recipe step, the rules that
//! turn its errors into the delivery's status, and the retry of a finished delivery.
//!
//! **Ordering.** A delivery's job runs under its `record_key` as a FIFO concurrency key
//! (limit 1), so the writes about one remote record (or one caller, room or booking company)
//! never overtake each other and never race to create the same record twice.
//!
//! **Errors are data.** A recipe step returns a typed error and this module decides:
//! - rate limited → the job snoozes until the provider's time; no attempt is spent;
//! - the connection needs a new consent (or a member's connection is missing) → the job
//!   snoozes and the delivery says `waiting_reauth`; no attempt is spent; the tenant health
//!   already shows why;
//! - refused input (the provider's validation, a template that does not render, data the
//!   recipe cannot use) → `failed`, naming the field, never retried;
//! - anything transient → retried with backoff, `dead` once the attempts are spent.
//!
//! **Exactly once.** Every record a step writes is saved on the delivery the moment it lands
//! ([`Writer::save`]); a retried step skips what is saved and, before writing again what is
//! not, asks the provider whether an earlier attempt's write landed anyway (the connectors'
//! deterministic keys, see `renkei_connectors::records`). [`Writer::resumed`] says when that
//! check is needed: any attempt after the first, including the one after a crash.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use renkei_connectors::records::RecordRef;
use renkei_connectors::{ConnectorError, Connectors, Provider};
use renkei_core::{MemberId, Millis, TenantId};
use renkei_store::connections::Connection;
use renkei_store::deliveries::{Attempt, Delivery, DeliveryStatus};
use renkei_store::events::StoredEvent;
use renkei_store::queue::ConcurrencyKey;
use renkei_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jobs::{BoxFuture, Done, JobContext, JobError, JobPayload, Registry};
use crate::settings::ConnectionSettings;
use crate::vault::{Access, Target, Vault, VaultError};

/// Runs one delivery's recipe step. Payload version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverJob {
    pub tenant: TenantId,
    pub delivery_id: i64,
    /// The delivery's FIFO key.
    #[serde(default)]
    pub record_key: Option<String>,
}

impl JobPayload for DeliverJob {
    const KIND: &'static str = "deliver";
    const VERSION: i64 = 1;
    const MAX_ATTEMPTS: i64 = 12;

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
        Box::pin(abandon(store, &self.tenant, self.delivery_id, error, now))
    }
}

/// Marks a delivery `dead` whose job the queue gave up on behind the handler's back (every
/// attempt's lease expired), so that it shows what happened and can be retried, instead of
/// staying `pending` with no job left to run it. A delivery that already ended is left alone.
pub(crate) async fn abandon(
    store: &Store,
    tenant: &TenantId,
    id: i64,
    error: &str,
    now: Millis,
) -> Result<(), StoreError> {
    match store.get_delivery(tenant, id).await? {
        Some(d) if d.status == DeliveryStatus::Pending => {
            tracing::warn!(
                delivery = id,
                "delivery dead: its job's every attempt stopped"
            );
            store
                .record_delivery_attempt(
                    id,
                    attempt(DeliveryStatus::Dead, None, Some(error), None),
                    now,
                )
                .await
        }
        _ => Ok(()),
    }
}

/// How long a delivery whose connection needs a new consent waits before looking again.
const REAUTH_WAIT: Duration = Duration::from_secs(60);
/// How long a rate-limited delivery waits when the provider did not say.
const RATE_WAIT: Duration = Duration::from_secs(10);

/// Why a recipe step did not write.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A provider call failed (classified by the connector) or the connection is unusable.
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The step cannot be done with this input or configuration; retrying cannot help.
    /// `field` names the culprit (`data.customer_phone`, `call_logging.subject`).
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The step must wait for another delivery (a transcript for its call's activity).
    #[error("{0}")]
    Wait(String),
}

impl StepError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StepError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<ConnectorError> for StepError {
    fn from(e: ConnectorError) -> Self {
        StepError::Vault(VaultError::Connector(e))
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything the step was for is at the provider (saved in the delivery's remote ids).
    Written,
    /// Nothing was to be written; the reason is a stable code, a colon and a sentence.
    Skipped(String),
}

/// What a recipe step works with: the delivery, its event, connection, settings and tenant,
/// and the provider calls, with every landed write saved as it lands.
pub struct Writer<'a> {
    vault: &'a Vault,
    pub store: &'a Store,
    pub now: Millis,
    pub provider: Provider,
    pub delivery: Delivery,
    pub event: StoredEvent,
    pub connection: Connection,
    pub settings: ConnectionSettings,
    pub region: String,
    pub locale: String,
    /// Whose connection the calls use: the tenant's, or a member's (HubSpot deal-room
    /// activity, PRODUCT.md 4.1). [`Writer::as_member`] switches.
    pub target: Target,
    /// An earlier attempt of this delivery ran (or may have run) provider writes, so every
    /// create must first look for what that attempt may have written.
    pub resumed: bool,
}

impl Writer<'_> {
    /// The vault the calls go through.
    pub fn vault(&self) -> &Vault {
        self.vault
    }

    /// Runs one provider call with a working session of the current target.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, StepError>
    where
        F: Fn(Arc<Connectors>, Access) -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let connectors = self.vault.shared_connectors().clone();
        Ok(self
            .vault
            .call(&self.target, move |a| f(connectors.clone(), a))
            .await?)
    }

    /// Makes the following calls with `member`'s own connection.
    pub fn as_member(&mut self, member: &MemberId) {
        self.target = Target {
            tenant: self.event.tenant.clone(),
            provider: self.provider,
            member: Some(member.clone()),
        };
    }

    /// The record saved under `name` by this or an earlier attempt.
    pub fn saved(&self, name: &str) -> Option<RecordRef> {
        serde_json::from_value(self.delivery.remote_ids.get(name)?.clone()).ok()
    }

    /// Saves `r` under `name` on the delivery, at once: a retry will not write it again.
    pub async fn save(&mut self, name: &str, r: &RecordRef) -> Result<(), StepError> {
        self.delivery.remote_ids.insert(
            name.to_owned(),
            serde_json::to_value(r).unwrap_or(Value::Null),
        );
        self.store
            .save_delivery_remote(self.delivery.id, &self.delivery.remote_ids, self.now)
            .await?;
        Ok(())
    }

    /// Saves a fact that is not a record (`"url_written": true`).
    pub async fn save_value(&mut self, name: &str, v: Value) -> Result<(), StepError> {
        self.delivery.remote_ids.insert(name.to_owned(), v);
        self.store
            .save_delivery_remote(self.delivery.id, &self.delivery.remote_ids, self.now)
            .await?;
        Ok(())
    }

    /// The record `key` is linked to on this connection.
    pub async fn link(&self, key: &str) -> Result<Option<RecordRef>, StepError> {
        Ok(self
            .store
            .get_link(self.connection.id, key)
            .await?
            .map(|l| RecordRef::new(l.object, l.remote_id)))
    }

    /// Links `key` to `r` on this connection.
    pub async fn put_link(&self, key: &str, r: &RecordRef) -> Result<(), StepError> {
        self.store
            .put_link(
                &self.event.tenant,
                self.connection.id,
                key,
                &renkei_store::links::Link {
                    object: r.object.clone(),
                    remote_id: r.id.clone(),
                },
                self.now,
            )
            .await?;
        Ok(())
    }
}

/// Why a finished delivery cannot be retried.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such delivery")]
    NotFound,
    #[error("the delivery is {}; only failed, dead or skipped deliveries can be retried", .0.as_str())]
    NotRetryable(DeliveryStatus),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves a failed, dead or skipped delivery back to `pending` and queues its job, in one
/// transaction. Returns the delivery as it is now.
pub async fn retry(
    store: &Store,
    tenant: &TenantId,
    id: i64,
    now: Millis,
) -> Result<Delivery, RetryError> {
    let d = store
        .get_delivery(tenant, id)
        .await?
        .ok_or(RetryError::NotFound)?;
    if matches!(
        d.status,
        DeliveryStatus::Pending | DeliveryStatus::Succeeded
    ) {
        return Err(RetryError::NotRetryable(d.status));
    }
    let job = if d.step == crate::writeback::STEP {
        let event = store
            .get_event_by_seq(tenant, d.event_seq)
            .await?
            .ok_or(RetryError::NotFound)?;
        crate::writeback::job_for(&d, &event).to_job(now)
    } else {
        DeliverJob {
            tenant: tenant.clone(),
            delivery_id: d.id,
            record_key: d.record_key.clone(),
        }
        .to_job(now)
    };
    let mut tx = store.begin().await?;
    if !store.reopen_delivery(&mut tx, tenant, id, now).await? {
        return Err(RetryError::NotRetryable(d.status));
    }
    store.enqueue(&mut tx, &job, now).await?;
    tx.commit().await?;
    store
        .get_delivery(tenant, id)
        .await?
        .ok_or(RetryError::NotFound)
}

fn attempt<'a>(
    status: DeliveryStatus,
    provider_status: Option<u16>,
    error: Option<&'a str>,
    reason: Option<&'a str>,
) -> Attempt<'a> {
    Attempt {
        status,
        provider_status: provider_status.map(i64::from),
        error,
        reason,
    }
}

async fn run(vault: &Vault, ctx: JobContext<'_>, job: DeliverJob) -> Result<Done, JobError> {
    let store = ctx.store;
    let now = ctx.now();
    let Some(delivery) = store.get_delivery(&job.tenant, job.delivery_id).await? else {
        return Ok(Done::Completed);
    };
    if delivery.status.is_final() {
        return Ok(Done::Completed);
    }
    let id = delivery.id;
    let fail = |error: String| async move {
        store
            .record_delivery_attempt(
                id,
                attempt(DeliveryStatus::Failed, None, Some(&error), None),
                now,
            )
            .await
    };
    let Some(event) = store
        .get_event_by_seq(&job.tenant, delivery.event_seq)
        .await?
    else {
        return Ok(Done::Completed);
    };
    let Some(connection) = store.get_connection_fresh(delivery.connection_id).await? else {
        fail("connection_deleted: the connection was removed before the write".into()).await?;
        return Ok(Done::Completed);
    };
    let Some(provider) = Provider::parse(&connection.provider) else {
        fail(format!("provider_unsupported: {}", connection.provider)).await?;
        return Ok(Done::Completed);
    };
    let (region, locale) = match store.get_tenant(&job.tenant).await? {
        Some(t) => (t.default_region, t.locale),
        None => return Ok(Done::Completed),
    };
    let settings = match ConnectionSettings::effective(provider, &locale, &connection.settings) {
        Ok(s) => s,
        Err(e) => {
            fail(format!("settings_invalid: {} ({})", e.message, e.field)).await?;
            return Ok(Done::Completed);
        }
    };
    let resumed = ctx.job.attempt > 1 || delivery.attempts > 0;
    let step = delivery.step.clone();
    let mut w = Writer {
        vault,
        store,
        now,
        provider,
        target: Target::tenant(&job.tenant, provider),
        delivery,
        event,
        connection,
        settings,
        region,
        locale,
        resumed,
    };
    let result = crate::recipes::run_step(&mut w).await;
    let outcome = |status: &'static str| {
        metrics::counter!("renkei_deliveries_total", "provider" => provider.as_str(),
            "step" => step.clone(), "outcome" => status)
        .increment(1);
    };
    match result {
        Ok(Outcome::Written) => {
            store
                .record_delivery_attempt(
                    id,
                    attempt(DeliveryStatus::Succeeded, None, None, None),
                    now,
                )
                .await?;
            outcome("succeeded");
            Ok(Done::Completed)
        }
        Ok(Outcome::Skipped(reason)) => {
            store
                .record_delivery_attempt(
                    id,
                    attempt(DeliveryStatus::Skipped, None, None, Some(&reason)),
                    now,
                )
                .await?;
            outcome("skipped");
            Ok(Done::Completed)
        }
        Err(StepError::Store(e)) => Err(JobError::Store(e)),
        Err(StepError::Invalid { field, message }) => {
            let error = format!("invalid_input: {message} (field {field})");
            store
                .record_delivery_attempt(
                    id,
                    attempt(DeliveryStatus::Failed, None, Some(&error), None),
                    now,
                )
                .await?;
            outcome("failed");
            Ok(Done::Completed)
        }
        Err(StepError::Wait(why)) => {
            store
                .set_delivery_reason(id, Some(&format!("waiting: {why}")), now)
                .await?;
            Err(JobError::Snooze {
                reason: why,
                until: now.plus_ms(5_000),
            })
        }
        Err(StepError::Vault(e)) => on_vault_error(store, &ctx, id, e, now, outcome).await,
    }
}

async fn on_vault_error(
    store: &Store,
    ctx: &JobContext<'_>,
    id: i64,
    e: VaultError,
    now: Millis,
    outcome: impl Fn(&'static str),
) -> Result<Done, JobError> {
    let connector = match &e {
        VaultError::Connector(c) => Some(c),
        _ => None,
    };
    let status = connector.and_then(ConnectorError::http_status);
    if let Some(ConnectorError::RateLimited { retry_after, .. }) = connector {
        let wait = retry_after.unwrap_or(RATE_WAIT);
        store
            .set_delivery_reason(
                id,
                Some(&format!(
                    "rate_limited: the provider asked to wait {} s",
                    wait.as_secs()
                )),
                now,
            )
            .await?;
        return Err(JobError::Snooze {
            reason: "rate limited".into(),
            until: now.plus_ms(wait.as_millis() as i64),
        });
    }
    let waits_for_consent = e.needs_reauth()
        || connector.is_some_and(ConnectorError::needs_reauth)
        || matches!(
            e,
            VaultError::NotConnected { .. } | VaultError::Disabled { .. }
        );
    if waits_for_consent {
        store
            .set_delivery_reason(id, Some(&format!("waiting_reauth: {e}")), now)
            .await?;
        return Err(JobError::Snooze {
            reason: format!("waiting for the connection: {}", e.code()),
            until: now.plus_ms(REAUTH_WAIT.as_millis() as i64),
        });
    }
    let error = format!("{}: {e}", e.code());
    if e.is_retryable() {
        if ctx.job.attempt < ctx.job.max_attempts {
            store
                .record_delivery_attempt(
                    id,
                    attempt(DeliveryStatus::Pending, status, Some(&error), None),
                    now,
                )
                .await?;
            return Err(JobError::Retry {
                error,
                after: connector.and_then(ConnectorError::retry_after),
            });
        }
        store
            .record_delivery_attempt(
                id,
                attempt(DeliveryStatus::Dead, status, Some(&error), None),
                now,
            )
            .await?;
        outcome("dead");
        return Ok(Done::Completed);
    }
    store
        .record_delivery_attempt(
            id,
            attempt(DeliveryStatus::Failed, status, Some(&error), None),
            now,
        )
        .await?;
    outcome("failed");
    Ok(Done::Completed)
}

/// Registers the `deliver` handler.
pub fn register(r: &mut Registry, vault: Arc<Vault>) {
    r.register::<DeliverJob, _>(move |ctx, job| -> BoxFuture<'_, Result<Done, JobError>> {
        let vault = vault.clone();
        Box::pin(async move { run(&vault, ctx, job).await })
    });
}
