//! Starting and stopping a renkei process: store, migrations, workers, HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use renkei_connectors::{Connectors, ProvidersConfig};
use renkei_core::Keyring;
use renkei_engine::connect::{ConnectConfig, ConnectService};
use renkei_engine::sync::{SyncOptions, SyncService};
use renkei_engine::vault::{Vault, VaultOptions};
use renkei_engine::{Runtime, SystemClock, Wake};
use renkei_store::{Store, StoreOptions};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

use crate::config::{Config, ConfigError};
use crate::error::ApiError;
use crate::{auth, routes, telemetry};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    /// Signals the local workers that jobs were committed.
    pub wake: Wake,
    /// Group commit for event intake.
    pub intake: renkei_engine::intake::IntakeQueue,
    /// Credentials and provider calls.
    pub vault: Arc<Vault>,
    /// The connect flow.
    pub connect: Arc<ConnectService>,
    /// People import and sync.
    pub sync: Arc<SyncService>,
    /// The URL browsers and providers reach renkei at (no trailing slash).
    pub public_url: String,
    /// How long an action may take.
    pub action_deadline: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database: {0}")]
    Store(#[from] renkei_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The HTTP router, without the listener.
pub fn router(state: AppState, max_body_bytes: usize, mounts: Vec<Mount>) -> Router {
    let v1 = routes::v1().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    let mut app = Router::new()
        .merge(routes::ops())
        .merge(routes::connect())
        .merge(routes::webhooks())
        .merge(v1);
    for Mount { path, service, .. } in mounts {
        app = app.nest_service(path, service);
    }
    app.fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(telemetry::track))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the request id identifies it in the logs",
            )
            .into_response()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, telemetry::MakeId))
        .with_state(state)
}

/// A started process.
pub struct RunningApp {
    /// The address the API listens on (`None` for a worker-only process).
    pub addr: Option<SocketAddr>,
    pub store: Store,
    stop: tokio::sync::watch::Sender<bool>,
    http: Option<tokio::task::JoinHandle<()>>,
    workers: Option<renkei_engine::worker::RuntimeHandle>,
    keepalive: Option<tokio::task::JoinHandle<()>>,
    scheduler: Option<tokio::task::JoinHandle<()>>,
}

/// A service mounted beside renkei's API, outside its API-key authentication: the sandbox
/// (`renkei serve --sandbox`). It keeps the request ids, metrics and body limit of the API.
pub struct Mount {
    /// A path prefix no API route uses, e.g. `/sandbox`.
    pub path: &'static str,
    pub service: axum::Router,
    /// Adjusts the providers' configuration once the address is known (the sandbox points
    /// the providers at its emulators, under the origin it is served from).
    pub configure: Option<ConfigureProviders>,
}

/// See [`Mount::configure`]. Called with the public origin, e.g. `http://127.0.0.1:8080`.
pub type ConfigureProviders = Box<dyn FnOnce(&str, &mut ProvidersConfig) + Send>;

/// Opens the store, migrates it, and starts the workers and the API as the role says.
pub async fn start(config: &Config) -> Result<RunningApp, StartError> {
    start_with(config, Vec::new()).await
}

/// [`start`], with `mounts` served beside the API.
pub async fn start_with(config: &Config, mut mounts: Vec<Mount>) -> Result<RunningApp, StartError> {
    config.validate()?;
    let keyring = Arc::new(config.keyring()?);
    let store = Store::connect(
        &config.database_url,
        &StoreOptions {
            max_connections: config.database_pool_size(),
            ..StoreOptions::default()
        },
    )
    .await?;
    store.migrate().await?;
    let _ = telemetry::prometheus();

    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let mut addr = None;
    let mut http = None;
    let listener = if config.role.runs_api() {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        addr = Some(local);
        Some(listener)
    } else {
        None
    };
    let public_url = match (&config.public_url, addr) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(a)) => format!("http://{a}"),
        (None, None) => format!("http://{}", config.listen),
    };
    let mut providers = config.providers.clone();
    for m in &mut mounts {
        if let Some(f) = m.configure.take() {
            f(&public_url, &mut providers);
        }
    }
    let connectors = Connectors::new(&providers, renkei_connectors::http::HttpConfig::default())
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let vault = Arc::new(Vault::new(
        store.clone(),
        keyring.clone(),
        Arc::new(connectors),
        Arc::new(SystemClock),
        VaultOptions::default(),
    ));
    let sync = Arc::new(SyncService::new(
        vault.clone(),
        SyncOptions {
            slice: Duration::from_secs(config.sync.slice_seconds.max(1)),
            overlap: Duration::from_secs(config.sync.overlap_seconds),
        },
    ));
    let mut registry = renkei_engine::registry();
    renkei_engine::sync::register(&mut registry, sync.clone());
    renkei_engine::writeback::register(&mut registry, vault.clone());
    renkei_engine::deliver::register(&mut registry, vault.clone());
    let runtime = Runtime::new(store.clone(), registry, config.worker_config());
    let wake = runtime.wake();
    let workers = config.role.runs_workers().then(|| runtime.start());
    let scheduler = config.role.runs_workers().then(|| {
        spawn_scheduler(
            sync.clone(),
            wake.clone(),
            Duration::from_secs(config.sync.scheduler_interval_seconds.max(1)),
            stop.subscribe(),
        )
    });
    let keepalive = config.role.runs_workers().then(|| {
        spawn_keepalive(
            vault.clone(),
            Duration::from_secs(config.connections.keepalive_after_seconds),
            Duration::from_secs(config.connections.keepalive_interval_seconds.max(1)),
            stop.subscribe(),
        )
    });
    if let Some(listener) = listener {
        let local = addr.expect("bound with the listener");
        let connect = Arc::new(ConnectService::new(
            vault.clone(),
            ConnectConfig {
                public_url: url::Url::parse(&public_url)
                    .map_err(|e| ConfigError::Invalid(format!("public_url: {e}")))?,
                session_ttl: Duration::from_secs(config.connections.connect_link_ttl_seconds),
                state_ttl: Duration::from_secs(config.connections.oauth_state_ttl_seconds),
            },
        ));
        let signal = wake.clone();
        let intake =
            renkei_engine::intake::IntakeQueue::start(store.clone(), move || signal.notify());
        let app = router(
            AppState {
                store: store.clone(),
                keyring,
                wake,
                intake,
                vault,
                connect,
                sync,
                public_url: public_url.clone(),
                action_deadline: Duration::from_millis(
                    config.connections.action_deadline_ms.max(1),
                ),
            },
            config.max_body_bytes,
            mounts,
        );
        let grace = Duration::from_secs(config.http_grace_seconds);
        let mut stopping = stop.subscribe();
        http = Some(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let serve = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .into_future();
            tokio::pin!(serve);
            tokio::select! {
                r = &mut serve => {
                    if let Err(e) = r {
                        tracing::error!(error = %e, "HTTP server failed");
                    }
                    return;
                }
                _ = stopping.wait_for(|s| *s) => {}
            }
            // Stopping: in-flight requests get the grace period, then are dropped.
            if tokio::time::timeout(grace, serve).await.is_err() {
                tracing::warn!(
                    grace_seconds = grace.as_secs(),
                    "requests still in flight after the grace period were dropped"
                );
            }
        }));
        tracing::info!(addr = %local, "listening");
    }
    tracing::info!(role = ?config.role, database = %renkei_store::redact_url(&config.database_url),
        backend = ?store.backend(), "renkei started");
    Ok(RunningApp {
        addr,
        store,
        stop,
        http,
        workers,
        keepalive,
        scheduler,
    })
}

/// Runs the keep-alive pass every `every` until `stop`. Several processes may run it at once:
/// the refresh lease and the row version make a connection refresh once.
fn spawn_keepalive(
    vault: Arc<Vault>,
    idle: Duration,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(every) => {}
            }
            match vault.keepalive(idle, 500).await {
                Ok(r) if r != Default::default() => tracing::info!(
                    refreshed = r.refreshed,
                    needs_reauth = r.needs_reauth,
                    failed = r.failed,
                    "keep-alive pass"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "keep-alive pass failed"),
            }
        }
    })
}

/// Starts the runs that are due, every `every` until `stop` (`[sync]
/// scheduler_interval_seconds`; each connection's own interval is in its settings, default five
/// minutes, and this only bounds how late a run may start). Several processes
/// may run it at once: a connection has at most one active run (a unique index), and each
/// start moves the connection's next time forward.
fn spawn_scheduler(
    sync: Arc<SyncService>,
    wake: Wake,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(every) => {}
            }
            match sync.schedule_due(100).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(started = n, "scheduled sync runs");
                    wake.notify();
                }
                Err(e) => tracing::warn!(code = e.code(), error = %e, "sync scheduler pass failed"),
            }
        }
    })
}

impl RunningApp {
    /// Stops accepting requests, lets in-flight requests and jobs finish within their grace
    /// periods, hands back unfinished jobs, and closes the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.http {
            let _ = h.await;
        }
        if let Some(w) = self.workers {
            w.shutdown().await;
        }
        if let Some(k) = self.keepalive {
            let _ = k.await;
        }
        if let Some(k) = self.scheduler {
            let _ = k.await;
        }
        self.store.close().await;
        tracing::info!("renkei stopped");
    }
}
