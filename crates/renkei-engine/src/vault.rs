//! The credential vault: hands out working access tokens and keeps connections alive.
//!
//! Every call to a provider goes through [`Vault::call`]: it loads the connection, refreshes
//! the access token first when it is within the provider's margin of expiry, runs the call,
//! and on a 401 refreshes once and runs it again. A refresh happens once per connection at a
//! time across every task and process: tasks of one process queue on a per-connection mutex,
//! processes on the connection row's refresh lease, and whoever waited re-reads the row and
//! uses the winner's token (the row's `version` says whether someone refreshed meanwhile).
//! New credentials — a rotated refresh token above all — are written in the same statement
//! that releases the lease, before any caller uses them, so a crash cannot strand a spent
//! refresh token.
//!
//! Failures are classified: a refused grant (`invalid_grant`, revoked, uninstalled) turns the
//! connection to `needs_reauth` with the provider's reason; a transient failure (network,
//! 5xx, rate limit) is recorded as the last error and leaves the status alone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use renkei_connectors::credentials::{Credentials, GrantMeta};
use renkei_connectors::{ConnectorError, Connectors, CrmUser, Provider, Session};
use renkei_core::{Keyring, MemberId, Millis, TenantId};
use renkei_store::connections::{Connection, ConnectionKey, Refreshed};
use renkei_store::{Store, StoreError};

use crate::clock::Clock;

/// Why the vault could not give a working token or finish a call.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{provider} is not connected")]
    NotConnected { provider: String },
    #[error("the {provider} connection needs to be authorised again: {reason}")]
    NeedsReauth { provider: String, reason: String },
    #[error("the {provider} connection is disabled")]
    Disabled { provider: String },
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored {provider} connection is unreadable: {message}")]
    Corrupt { provider: String, message: String },
    #[error("another process has been refreshing the {provider} token for too long")]
    RefreshBusy { provider: String },
}

impl VaultError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connector(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::RefreshBusy { .. } => true,
            _ => false,
        }
    }

    pub fn needs_reauth(&self) -> bool {
        matches!(self, Self::NeedsReauth { .. })
    }

    /// A stable snake_case code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConnected { .. } => "not_connected",
            Self::NeedsReauth { .. } => "needs_reauth",
            Self::Disabled { .. } => "connection_disabled",
            Self::Connector(e) => e.code(),
            Self::Store(_) => "unavailable",
            Self::Corrupt { .. } => "credentials_unreadable",
            Self::RefreshBusy { .. } => "refresh_busy",
        }
    }
}

/// A connection with its opened credentials, ready for calls.
#[derive(Debug, Clone)]
pub struct Access {
    pub connection: Connection,
    pub provider: Provider,
    pub credentials: Credentials,
    pub meta: GrantMeta,
    /// `provider:account`: the rate budget of the provider account, shared by every
    /// connection to it.
    pub budget: String,
}

impl Access {
    pub fn session(&self) -> Session<'_> {
        Session {
            access_token: &self.credentials.access_token,
            meta: &self.meta,
            budget: Some(&self.budget),
            deadline: None,
        }
    }
}

/// The rate budget of a connection: its provider account, shared by every connection to it.
pub fn budget_key(conn: &Connection) -> String {
    match &conn.account_id {
        Some(a) => format!("{}:{a}", conn.provider),
        None => format!("{}:connection-{}", conn.provider, conn.id),
    }
}

/// Tunables of the vault.
#[derive(Debug, Clone)]
pub struct VaultOptions {
    /// How long a process may hold a connection's refresh lease.
    pub refresh_lease: Duration,
    /// How often a process waiting for another's refresh looks again.
    pub poll: Duration,
}

impl Default for VaultOptions {
    fn default() -> Self {
        Self {
            refresh_lease: Duration::from_secs(30),
            poll: Duration::from_millis(100),
        }
    }
}

/// See the module documentation.
pub struct Vault {
    store: Store,
    keyring: Arc<Keyring>,
    connectors: Arc<Connectors>,
    clock: Arc<dyn Clock>,
    owner: String,
    options: VaultOptions,
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// The provider users of each tenant connection as last listed, for
    /// [`crate::directory::owner_for`]: see [`Vault::cached_users`].
    users: Mutex<HashMap<(String, Provider), ListedUsers>>,
}

/// A listing of a provider's users and when it was made.
type ListedUsers = (Instant, Arc<Vec<CrmUser>>);

/// How long a listing of a provider's users serves owner lookups. Every write-back delivery
/// with a member needs its owner; listing the users each time would double the calls a call
/// log costs. A user added in the CRM becomes an owner within this time.
const USERS_TTL: Duration = Duration::from_secs(60);

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("owner", &self.owner).finish()
    }
}

/// Names a connection by value.
#[derive(Debug, Clone)]
pub struct Target {
    pub tenant: TenantId,
    pub provider: Provider,
    pub member: Option<MemberId>,
}

impl Target {
    pub fn tenant(tenant: &TenantId, provider: Provider) -> Self {
        Self {
            tenant: tenant.clone(),
            provider,
            member: None,
        }
    }

    pub fn key(&self) -> ConnectionKey<'_> {
        ConnectionKey {
            tenant: &self.tenant,
            provider: self.provider.as_str(),
            member: self.member.as_ref(),
        }
    }
}

/// What a keep-alive pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeepaliveReport {
    pub refreshed: u64,
    pub needs_reauth: u64,
    pub failed: u64,
}

impl Vault {
    pub fn new(
        store: Store,
        keyring: Arc<Keyring>,
        connectors: Arc<Connectors>,
        clock: Arc<dyn Clock>,
        options: VaultOptions,
    ) -> Self {
        Self {
            store,
            keyring,
            connectors,
            clock,
            owner: format!(
                "{}-{}",
                std::process::id(),
                renkei_connectors::oauth::random_token(6)
            ),
            options,
            locks: Mutex::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
        }
    }

    /// The users of `tenant`'s `provider` listed less than a minute ago, if any.
    pub fn cached_users(&self, tenant: &TenantId, provider: Provider) -> Option<Arc<Vec<CrmUser>>> {
        let map = self.users.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(tenant.as_str().to_owned(), provider))
            .filter(|(at, _)| at.elapsed() < USERS_TTL)
            .map(|(_, u)| u.clone())
    }

    /// Remembers a fresh listing of `tenant`'s `provider` users.
    pub fn remember_users(&self, tenant: &TenantId, provider: Provider, users: Arc<Vec<CrmUser>>) {
        let mut map = self.users.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (at, _)| at.elapsed() < USERS_TTL);
        map.insert(
            (tenant.as_str().to_owned(), provider),
            (Instant::now(), users),
        );
    }

    pub fn connectors(&self) -> &Connectors {
        &self.connectors
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The connectors, shared (for services that call providers through this vault).
    pub fn shared_connectors(&self) -> &Arc<Connectors> {
        &self.connectors
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Opens a stored connection.
    pub fn open(&self, conn: Connection) -> Result<Access, VaultError> {
        let provider = Provider::parse(&conn.provider).ok_or_else(|| VaultError::Corrupt {
            provider: conn.provider.clone(),
            message: "unknown provider".into(),
        })?;
        let corrupt = |message: String| VaultError::Corrupt {
            provider: conn.provider.clone(),
            message,
        };
        let plain = conn.open(&self.keyring)?;
        let credentials = Credentials::from_sealed_bytes(&plain).map_err(corrupt)?;
        let meta: GrantMeta =
            serde_json::from_str(&conn.meta).map_err(|e| corrupt(format!("meta: {e}")))?;
        Ok(Access {
            budget: budget_key(&conn),
            connection: conn,
            provider,
            credentials,
            meta,
        })
    }

    async fn load(&self, t: &Target) -> Result<Connection, VaultError> {
        let conn =
            self.store
                .get_connection(t.key())
                .await?
                .ok_or_else(|| VaultError::NotConnected {
                    provider: t.provider.to_string(),
                })?;
        check_status(&conn)?;
        Ok(conn)
    }

    fn needs_refresh(&self, a: &Access) -> bool {
        let margin = a.provider.info().refresh_margin.as_millis() as i64;
        match a.connection.token_expires_at {
            Some(exp) => exp.0 - margin <= self.clock.now().0,
            None => false,
        }
    }

    /// A connection with an access token that is not about to expire.
    pub async fn access(&self, t: &Target) -> Result<Access, VaultError> {
        let access = self.open(self.load(t).await?)?;
        if self.needs_refresh(&access) {
            return self.refresh(access.connection, false).await;
        }
        Ok(access)
    }

    /// Runs `f` with a working session: refreshes first when the token is about to expire,
    /// and once more after a 401. Records the use, or the failure.
    pub async fn call<T, F, Fut>(&self, t: &Target, f: F) -> Result<T, VaultError>
    where
        F: Fn(Access) -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let access = self.access(t).await?;
        let id = access.connection.id;
        let first = f(access.clone()).await;
        let result = match first {
            Err(e) if e.is_unauthorized() => {
                tracing::info!(provider = %t.provider, connection = id, "access token refused; refreshing once");
                let fresh = self.refresh(access.connection.clone(), true).await?;
                f(fresh).await
            }
            other => other,
        };
        let now = self.clock.now();
        match &result {
            // Asked of the row read before the call, so that most calls write nothing and do
            // not wait for the database's writer: on SQLite that is one connection, and an
            // import's page fetched ahead would otherwise wait for the previous page's commit
            // (docs/benchmarks.md, "People import").
            Ok(_) if access.connection.touch_due(now) => {
                self.store.touch_connection(id, now).await?
            }
            Ok(_) => {}
            Err(e) if e.needs_reauth() => {
                self.store
                    .mark_needs_reauth(id, e.code(), &e.to_string(), now)
                    .await?
            }
            // A 401 right after a successful refresh means the grant itself is refused.
            Err(e) if e.is_unauthorized() => {
                self.store
                    .mark_needs_reauth(id, e.code(), &e.to_string(), now)
                    .await?;
                return Err(VaultError::NeedsReauth {
                    provider: t.provider.to_string(),
                    reason: e.to_string(),
                });
            }
            Err(e) if e.is_retryable() => {
                self.store
                    .record_connection_error(id, e.code(), &e.to_string(), now)
                    .await?
            }
            Err(_) => {}
        }
        result.map_err(VaultError::from)
    }

    fn local_lock(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id).or_default().clone()
    }

    /// Refreshes `seen` unless someone already did since it was read. `forced` refreshes even
    /// when the stored token looks valid (the provider refused it).
    pub async fn refresh(&self, seen: Connection, forced: bool) -> Result<Access, VaultError> {
        let lock = self.local_lock(seen.id);
        let _guard = lock.lock().await;
        let deadline =
            self.clock.now().0 + 2 * self.options.refresh_lease.as_millis() as i64 + 5_000;
        loop {
            let current = self
                .store
                .get_connection_fresh(seen.id)
                .await?
                .ok_or_else(|| VaultError::NotConnected {
                    provider: seen.provider.clone(),
                })?;
            check_status(&current)?;
            let access = self.open(current)?;
            let stale = self.needs_refresh(&access);
            // Someone refreshed (or reconnected) after our read: use theirs. Without `forced`,
            // a token that is not about to expire needs nothing either.
            if !stale && (access.connection.version != seen.version || !forced) {
                return Ok(access);
            }
            let now = self.clock.now();
            let until = Millis(now.0 + self.options.refresh_lease.as_millis() as i64);
            if self
                .store
                .try_lock_refresh(
                    access.connection.id,
                    access.connection.version,
                    &self.owner,
                    until,
                    now,
                )
                .await?
            {
                return self.refresh_locked(access).await;
            }
            if self.clock.now().0 > deadline {
                return Err(VaultError::RefreshBusy {
                    provider: seen.provider.clone(),
                });
            }
            tokio::time::sleep(self.options.poll).await;
        }
    }

    async fn refresh_locked(&self, access: Access) -> Result<Access, VaultError> {
        let conn = &access.connection;
        let provider = access.provider;
        let unlock = || async {
            // Best effort: the lease expires on its own if this fails.
            let _ = self.store.unlock_refresh(conn.id, &self.owner).await;
        };
        let Some(refresh_token) = access.credentials.refresh_token.clone() else {
            let reason = "the access token expired and the provider gave no refresh token";
            self.store
                .mark_needs_reauth(conn.id, "no_refresh_token", reason, self.clock.now())
                .await?;
            return Err(VaultError::NeedsReauth {
                provider: provider.to_string(),
                reason: reason.into(),
            });
        };
        let ep = self.connectors.registry.endpoints(provider);
        let client = match ep.client_or(access.credentials.client.as_ref()) {
            Ok(c) => c.clone(),
            Err(e) => {
                unlock().await;
                return Err(e.into());
            }
        };
        let started = self.clock.now();
        match self
            .connectors
            .refresh(provider, &client, &refresh_token, &access.meta, started)
            .await
        {
            Ok(grant) => {
                let expires = grant.expires_at;
                let scopes = grant.scopes.as_ref().map(|s| s.join(" "));
                let (creds, meta) = grant.merged_over(&access.credentials, &access.meta);
                let meta_json = serde_json::to_string(&meta).expect("plain fields serialise");
                let sealed = creds.to_sealed_bytes();
                let saved = self
                    .store
                    .save_refreshed(
                        &self.keyring,
                        conn,
                        &Refreshed {
                            credentials: &sealed,
                            meta: &meta_json,
                            scopes: scopes.as_deref(),
                            token_expires_at: expires,
                            now: self.clock.now(),
                        },
                    )
                    .await?;
                metrics::counter!("renkei_token_refreshes_total", "provider" => provider.as_str(), "outcome" => "ok").increment(1);
                tracing::info!(provider = %provider, connection = conn.id, "access token refreshed");
                match saved {
                    Some(row) => Ok(Access {
                        budget: budget_key(&row),
                        connection: row,
                        provider,
                        credentials: creds,
                        meta,
                    }),
                    // Our lease expired and someone else refreshed: theirs is in the row.
                    None => {
                        let row =
                            self.store
                                .get_connection_fresh(conn.id)
                                .await?
                                .ok_or_else(|| VaultError::NotConnected {
                                    provider: provider.to_string(),
                                })?;
                        self.open(row)
                    }
                }
            }
            Err(e) if e.needs_reauth() => {
                metrics::counter!("renkei_token_refreshes_total", "provider" => provider.as_str(), "outcome" => "needs_reauth").increment(1);
                tracing::warn!(provider = %provider, connection = conn.id, code = e.code(), "refresh refused; the connection needs re-authorisation");
                self.store
                    .mark_needs_reauth(conn.id, e.code(), &e.to_string(), self.clock.now())
                    .await?;
                Err(VaultError::NeedsReauth {
                    provider: provider.to_string(),
                    reason: e.to_string(),
                })
            }
            Err(e) => {
                metrics::counter!("renkei_token_refreshes_total", "provider" => provider.as_str(), "outcome" => "error").increment(1);
                tracing::warn!(provider = %provider, connection = conn.id, code = e.code(), error = %e, "refresh failed");
                self.store
                    .record_connection_error(conn.id, e.code(), &e.to_string(), self.clock.now())
                    .await?;
                unlock().await;
                Err(e.into())
            }
        }
    }

    /// Refreshes active connections neither used nor refreshed for `idle`, so that refresh
    /// tokens that die of disuse (Salesforce's "expire if not used for N days" policy, Zoho's
    /// and HubSpot's inactivity rules) never do.
    pub async fn keepalive(
        &self,
        idle: Duration,
        limit: i64,
    ) -> Result<KeepaliveReport, VaultError> {
        let before = Millis(self.clock.now().0 - idle.as_millis() as i64);
        let mut report = KeepaliveReport::default();
        for conn in self.store.idle_connections(before, limit).await? {
            match self.refresh(conn, true).await {
                Ok(_) => report.refreshed += 1,
                Err(e) if e.needs_reauth() => report.needs_reauth += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "keep-alive refresh failed");
                    report.failed += 1
                }
            }
        }
        Ok(report)
    }
}

fn check_status(conn: &Connection) -> Result<(), VaultError> {
    match conn.status.as_str() {
        "active" => Ok(()),
        "needs_reauth" => Err(VaultError::NeedsReauth {
            provider: conn.provider.clone(),
            reason: conn
                .status_reason
                .clone()
                .unwrap_or_else(|| "the provider refused the grant".into()),
        }),
        _ => Err(VaultError::Disabled {
            provider: conn.provider.clone(),
        }),
    }
}
