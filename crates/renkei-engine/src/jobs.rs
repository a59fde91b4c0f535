//! Typed, versioned job payloads and the registry of handlers.
//!
//! A job is stored as `(kind, payload_version, payload JSON)`. Each payload type implements
//! [`JobPayload`], naming its kind and current version and decoding every older version it
//! still accepts, so jobs queued by the previous release still run after an upgrade. A job
//! whose kind or version this process does not know (queued by a newer release during a
//! rolling upgrade) is put back for a minute rather than failed: a newer worker will take it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use renkei_core::{Millis, TenantId};
use renkei_store::queue::{ClaimedJob, ConcurrencyKey, Lease, NewJob, ReapedJob};
use renkei_store::{Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::Clock;

/// A job payload type.
pub trait JobPayload: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored `kind`; never change it once released.
    const KIND: &'static str;
    /// The version written by this release.
    const VERSION: i64;
    /// Attempts before the job is dead.
    const MAX_ATTEMPTS: i64 = 20;

    /// The concurrency key and its limit, if this job must not run alongside too many others
    /// of the same key (limit 1 makes the key FIFO).
    fn concurrency(&self) -> Option<ConcurrencyKey> {
        None
    }

    fn tenant(&self) -> Option<TenantId> {
        None
    }

    /// Decodes a stored payload of `version`. The default accepts only the current version;
    /// a type that changed overrides this to upgrade the older shapes.
    fn decode(version: i64, json: &str) -> Result<Self, DecodeError> {
        if version != Self::VERSION {
            return Err(DecodeError::UnknownVersion {
                version,
                newest: Self::VERSION,
            });
        }
        serde_json::from_str(json).map_err(|e| DecodeError::Invalid(e.to_string()))
    }

    /// Called once when the queue gives up on this job without its handler knowing: the
    /// lease of its last attempt expired (the worker crashed, hung or was killed every time),
    /// so the reaper declared it dead with `error`. A payload whose job mirrors its state
    /// elsewhere (a delivery's status) records the death there; the default does nothing.
    fn on_abandoned<'a>(
        &'a self,
        _store: &'a Store,
        _error: &'a str,
        _now: Millis,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    /// The job to enqueue for this payload, due at `run_at`.
    fn to_job(&self, run_at: Millis) -> NewJob {
        NewJob {
            kind: Self::KIND.to_owned(),
            // Serialising a plain struct of ours cannot fail.
            payload: serde_json::to_string(self).unwrap_or_default(),
            payload_version: Self::VERSION,
            run_at,
            max_attempts: Self::MAX_ATTEMPTS,
            concurrency: self.concurrency(),
            tenant: self.tenant(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload version {version} is newer than this release knows (up to {newest})")]
    UnknownVersion { version: i64, newest: i64 },
    #[error("payload does not decode: {0}")]
    Invalid(String),
}

/// What a handler reports when it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The runtime records the success.
    Completed,
    /// The handler already recorded it with [`Store::complete_job_in`], in the transaction
    /// of its own effect.
    CompletedInTx,
}

/// Why a job did not succeed, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Try again later. `after` overrides the backoff, e.g. with a provider's `Retry-After`.
    #[error("{error}")]
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Wait without spending an attempt (the job was not at fault).
    #[error("snoozed: {reason}")]
    Snooze { reason: String, until: Millis },
    /// Retrying cannot help; the job is dead.
    #[error("{0}")]
    Permanent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JobError {
    pub fn retry(error: impl Into<String>) -> Self {
        JobError::Retry {
            error: error.into(),
            after: None,
        }
    }
}

/// What a handler gets to work with.
pub struct JobContext<'a> {
    pub store: &'a Store,
    pub job: &'a ClaimedJob,
    pub clock: &'a dyn Clock,
}

impl JobContext<'_> {
    pub fn lease(&self) -> Lease {
        self.job.lease()
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler of one job kind, type-erased.
pub trait Handler: Send + Sync + 'static {
    fn run<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, Result<Done, JobError>>;

    /// Tells the payload that the reaper declared its job dead ([`JobPayload::on_abandoned`]).
    fn abandoned<'a>(
        &'a self,
        store: &'a Store,
        job: &'a ReapedJob,
        now: Millis,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// A function handling jobs of payload type `P`: what [`Registry::register`] takes.
pub trait HandlerFn<P>:
    for<'a> Fn(JobContext<'a>, P) -> BoxFuture<'a, Result<Done, JobError>> + Send + Sync + 'static
{
}

impl<P, F> HandlerFn<P> for F where
    F: for<'a> Fn(JobContext<'a>, P) -> BoxFuture<'a, Result<Done, JobError>>
        + Send
        + Sync
        + 'static
{
}

struct Typed<P, F> {
    f: F,
    _p: std::marker::PhantomData<fn() -> P>,
}

impl<P, F> Handler for Typed<P, F>
where
    P: JobPayload,
    F: HandlerFn<P>,
{
    fn run<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, Result<Done, JobError>> {
        match P::decode(ctx.job.payload_version, &ctx.job.payload) {
            Ok(p) => (self.f)(ctx, p),
            Err(DecodeError::UnknownVersion { version, newest }) => {
                let until = ctx.now().plus_ms(60_000);
                Box::pin(async move {
                    Err(JobError::Snooze {
                        reason: format!(
                            "payload version {version} is newer than this release (up to {newest})"
                        ),
                        until,
                    })
                })
            }
            Err(e) => Box::pin(async move { Err(JobError::Permanent(e.to_string())) }),
        }
    }

    fn abandoned<'a>(
        &'a self,
        store: &'a Store,
        job: &'a ReapedJob,
        now: Millis,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // A payload this release cannot read has nothing of ours to update either.
            match P::decode(job.payload_version, &job.payload) {
                Ok(p) => p.on_abandoned(store, job.error, now).await,
                Err(_) => Ok(()),
            }
        })
    }
}

/// Maps job kinds to their handlers.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of payload type `P`.
    pub fn register<P, F>(&mut self, f: F) -> &mut Self
    where
        P: JobPayload,
        F: HandlerFn<P>,
    {
        self.handlers.insert(
            P::KIND,
            Arc::new(Typed {
                f,
                _p: std::marker::PhantomData,
            }),
        );
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(kind).cloned()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.handlers.keys().copied().collect();
        k.sort();
        k
    }
}
