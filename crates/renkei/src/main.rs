//! The `renkei` command: a thin CLI over the library crates.
//!
//! It parses flags and environment (clap), layers them over the config file, sets up logging,
//! and calls into `renkei-server` (serve), `renkei-store` (migrate, keys, jobs) or the HTTP
//! API (events send, deliveries). No behaviour lives here that a library crate could test.

mod alloc;

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use renkei_core::api_key::NewApiKey;
use renkei_core::{Millis, Secret, TenantId};
use renkei_server::Config;
use renkei_server::config::{LogFormat, Role};
use renkei_store::queue::JobState;
use renkei_store::{Store, StoreOptions};

/// renkei: a self-hosted CRM integration engine.
#[derive(Parser)]
#[command(name = "renkei", version, about, propagate_version = true)]
struct Cli {
    /// TOML configuration file (see renkei.example.toml).
    #[arg(long, global = true, env = "RENKEI_CONFIG")]
    config: Option<PathBuf>,
    /// sqlite://FILE or postgres://… [default: sqlite://renkei.db]
    #[arg(long, global = true, env = "RENKEI_DATABASE_URL")]
    database_url: Option<String>,
    /// The URL browsers reach renkei at; connect links and the OAuth redirect URI are built
    /// from it [default: http://LISTEN]
    #[arg(long, global = true, env = "RENKEI_PUBLIC_URL")]
    public_url: Option<String>,
    /// Log output: text or json.
    #[arg(long, global = true, env = "RENKEI_LOG_FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the workers.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Send host-app events to a running renkei.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Inspect the write-back deliveries of a running renkei and retry finished ones.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Inspect the job queue and retry dead jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Serve only the vendor emulators (HubSpot, Salesforce, Zoho CRM) under /sandbox.
    Sandbox(SandboxArgs),
    /// Print a one-time link to the connect page of TENANT for PROVIDER.
    Connect(ConnectArgs),
    /// Start an import of TENANT's people from PROVIDER and show its progress until it ends.
    Sync(SyncArgs),
}

#[derive(Args)]
struct SyncArgs {
    tenant: String,
    /// hubspot, salesforce or zoho_crm.
    provider: String,
    /// Import everything again (default: incremental once the first import is done).
    #[arg(long)]
    initial: bool,
    /// Start the run and return without waiting.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Args)]
struct ConnectArgs {
    tenant: String,
    /// hubspot, salesforce or zoho_crm.
    provider: String,
    /// A member's personal connection (HubSpot).
    #[arg(long)]
    member: Option<String>,
    /// Where the admin returns afterwards.
    #[arg(long)]
    return_url: Option<String>,
}

#[derive(Args)]
struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, env = "RENKEI_SANDBOX_LISTEN", default_value = "127.0.0.1:9900")]
    listen: std::net::SocketAddr,
    /// People (and companies) to seed into each emulator's default account at start.
    #[arg(long, default_value_t = 0)]
    seed: usize,
    /// The seed number the demo data is generated from.
    #[arg(long, default_value_t = 1)]
    seed_number: u64,
    /// The origin to put in URLs the emulators answer, when behind a proxy
    /// (default: the request's Host).
    #[arg(long, env = "RENKEI_SANDBOX_PUBLIC_URL")]
    public_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "RENKEI_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// all (API and workers), api, or worker [default: all]
    #[arg(long, env = "RENKEI_ROLE", value_parser = ["all", "api", "worker"])]
    role: Option<String>,
    /// Jobs in flight per process [default: 16]
    #[arg(long, env = "RENKEI_WORKER_CONCURRENCY")]
    worker_concurrency: Option<usize>,
    /// Seconds before a crashed worker's jobs run again [default: 60]
    #[arg(long, env = "RENKEI_WORKER_LEASE_SECONDS")]
    worker_lease_seconds: Option<u64>,
    /// Also serve the vendor emulators under /sandbox, seed them with demo data, and create
    /// and print an API key: a complete demo with no vendor account.
    #[arg(long)]
    sandbox: bool,
    /// People to seed into each emulator with --sandbox.
    #[arg(long, default_value_t = 100, requires = "sandbox")]
    sandbox_seed: usize,
    /// Point every provider at the emulators of a separate `renkei sandbox` at this URL
    /// (http://HOST:PORT): unlike --sandbox, they keep their data when renkei restarts.
    #[arg(long, env = "RENKEI_SANDBOX_URL", conflicts_with = "sandbox")]
    sandbox_url: Option<String>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (it is shown only once).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// Limit the key to one tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Print one JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (the 8 hex digits after rk_).
    Revoke { id: String },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Post the events in FILE (a JSON event, a JSON array, or one event per line; - for stdin).
    Send {
        tenant: String,
        file: PathBuf,
        /// renkei's base URL.
        #[arg(long, env = "RENKEI_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// API key.
        #[arg(long, env = "RENKEI_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Events per request (at most 1000).
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

/// Where the API is and the key to call it with.
#[derive(Args)]
struct ApiArgs {
    /// renkei's base URL.
    #[arg(long, env = "RENKEI_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key.
    #[arg(long, env = "RENKEI_API_KEY", hide_env_values = true)]
    api_key: String,
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// List TENANT's deliveries, newest first.
    List {
        tenant: String,
        /// pending, succeeded, failed, dead or skipped.
        #[arg(long)]
        status: Option<String>,
        /// Only the deliveries of this event id.
        #[arg(long)]
        event: Option<String>,
        /// At most this many (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The page after the one that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Print the API's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run a failed, dead or skipped delivery again.
    Retry {
        tenant: String,
        id: String,
        /// Print the API's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// blocked, pending, running, succeeded or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Give a dead job a fresh set of attempts.
    Retry { id: i64 },
}

fn main() -> std::process::ExitCode {
    alloc::configure();
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Defaults < config file < environment < flags (clap already merged the last two).
fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(url) = &cli.public_url {
        config.public_url = Some(url.clone());
    }
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    if let Some(f) = &cli.log_format {
        config.log_format = if f == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
    }
    if let Ok(filter) = std::env::var("RENKEI_LOG") {
        config.log = filter;
    }
    if let Ok(path) = std::env::var("RENKEI_SECRET_KEY_FILE") {
        config.secret_key_file = PathBuf::from(path);
    }
    if let Ok(key) = std::env::var("RENKEI_SECRET_KEY") {
        config.secret_key = Some(Secret::new(key));
    }
    if let Command::Serve(args) = &cli.command {
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(role) = args.role.as_deref().and_then(Role::parse) {
            config.role = role;
        }
        if let Some(n) = args.worker_concurrency {
            config.worker.concurrency = n;
        }
        if let Some(n) = args.worker_lease_seconds {
            config.worker.lease_seconds = n;
        }
    }
    config.validate()?;
    Ok(config)
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|e| {
        eprintln!(
            "warning: invalid log filter {:?} ({e}); using info",
            config.log
        );
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(
        &config.database_url,
        &StoreOptions {
            max_connections: 2,
            ..StoreOptions::default()
        },
    )
    .await
    .with_context(|| format!("opening {}", renkei_store::redact_url(&config.database_url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) if args.sandbox => serve_with_sandbox(config, args.sandbox_seed).await,
        Command::Serve(ServeArgs {
            sandbox_url: Some(url),
            ..
        }) => serve(with_external_sandbox(config, &url).await?).await,
        Command::Serve(_) => serve(config).await,
        Command::Sandbox(args) => sandbox(args).await,
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.close().await;
            eprintln!(
                "migrations applied to {}",
                renkei_store::redact_url(&config.database_url)
            );
            Ok(())
        }
        Command::Keys(cmd) => keys(cmd, &config).await,
        Command::Events(EventsCommand::Send {
            tenant,
            file,
            url,
            api_key,
            batch,
        }) => send_events(&tenant, &file, &url, &api_key, batch).await,
        Command::Deliveries(cmd) => deliveries(cmd).await,
        Command::Jobs(cmd) => jobs(cmd, &config).await,
        Command::Connect(args) => connect(args, &config).await,
        Command::Sync(args) => sync(args, &config).await,
    }
}

/// `renkei sync TENANT PROVIDER`: starts a run in the database the server uses (its workers
/// do the work) and follows it with a progress line until it ends. Exits non-zero when the
/// run fails.
async fn sync(args: SyncArgs, config: &Config) -> anyhow::Result<()> {
    use renkei_engine::sync::{Progress, RunKind, SyncOptions, SyncService};
    let provider = renkei_connectors::Provider::parse(&args.provider).with_context(|| {
        format!(
            "unknown provider {:?}; renkei imports from hubspot, salesforce and zoho_crm",
            args.provider
        )
    })?;
    let tenant = TenantId::parse(&args.tenant).context("TENANT")?;
    let store = open_store(config).await?;
    if store.get_tenant(&tenant).await?.is_none() {
        bail!("no tenant {tenant}; create it first with PUT /v1/tenants/{tenant}");
    }
    let connectors = renkei_connectors::Connectors::new(
        &config.providers,
        renkei_connectors::http::HttpConfig::default(),
    )?;
    let vault = std::sync::Arc::new(renkei_engine::vault::Vault::new(
        store.clone(),
        std::sync::Arc::new(config.keyring()?),
        std::sync::Arc::new(connectors),
        std::sync::Arc::new(renkei_engine::SystemClock),
        Default::default(),
    ));
    let service = SyncService::new(vault, SyncOptions::default());
    let kind = args.initial.then_some(RunKind::Initial);
    let started = service
        .start(&tenant, provider, kind, "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
    let id = started.run.id;
    if started.created {
        eprintln!("started {} sync run {id}", started.run.kind);
    } else {
        eprintln!(
            "run {id} ({}) was already under way; following it",
            started.run.kind
        );
    }
    if args.no_wait {
        println!("{id}");
        store.close().await;
        return Ok(());
    }
    // Providers do not say how many records a listing holds, so the bar counts up.
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let started_at = std::time::Instant::now();
    let mut last_change = std::time::Instant::now();
    let mut last_pages = u64::MAX;
    let run = loop {
        let run = store
            .get_sync_run(id)
            .await?
            .context("the run disappeared (was the connection removed?)")?;
        let p: Progress = serde_json::from_str(&run.progress).unwrap_or_default();
        let skipped: u64 = p.skipped.values().sum();
        let rate = p.fetched as f64 / started_at.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "{} · fetched {} · imported {} · updated {} · removed {} · skipped {} · pages {} · API calls {} · {:.0}/s{}",
            run.status,
            p.fetched,
            p.imported,
            p.updated,
            p.removed,
            skipped,
            p.pages,
            p.api_calls,
            rate,
            p.waiting.as_deref().map(|w| format!(" · waiting: {w}")).unwrap_or_default(),
        ));
        if !run.is_active() {
            break run;
        }
        if p.pages != last_pages {
            last_pages = p.pages;
            last_change = std::time::Instant::now();
        } else if last_change.elapsed() > Duration::from_secs(60) && run.status == "queued" {
            bar.println("no progress for a minute: is a renkei worker (`renkei serve`) running on this database?");
            last_change = std::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    bar.finish();
    store.close().await;
    let p: Progress = serde_json::from_str(&run.progress).unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "id": run.id, "status": run.status, "kind": run.kind, "progress": p,
            "error": run.error_code.as_ref().map(|c| serde_json::json!({"code": c, "message": run.error})),
        })
    );
    if run.status != "succeeded" {
        bail!(
            "sync run {id} {}: {}",
            run.status,
            run.error.as_deref().unwrap_or("no reason recorded")
        );
    }
    Ok(())
}

/// `renkei connect TENANT PROVIDER`: a connect link for operators, made in the database the
/// running server uses (the link is served by that server, at `public_url`).
async fn connect(args: ConnectArgs, config: &Config) -> anyhow::Result<()> {
    use renkei_engine::connect::{ConnectConfig, ConnectService, NewSession};
    let provider = renkei_connectors::Provider::parse(&args.provider).with_context(|| {
        format!(
            "unknown provider {:?}; renkei connects to hubspot, salesforce and zoho_crm",
            args.provider
        )
    })?;
    let tenant = TenantId::parse(&args.tenant).context("TENANT")?;
    let member = args
        .member
        .as_deref()
        .map(renkei_core::MemberId::parse)
        .transpose()
        .context("--member")?;
    let store = open_store(config).await?;
    if store.get_tenant(&tenant).await?.is_none() {
        bail!("no tenant {tenant}; create it first with PUT /v1/tenants/{tenant}");
    }
    if let Some(m) = &member
        && store.get_member(&tenant, m).await?.is_none()
    {
        bail!("tenant {tenant} has no member {m}");
    }
    let keyring = std::sync::Arc::new(config.keyring()?);
    let connectors = renkei_connectors::Connectors::new(
        &config.providers,
        renkei_connectors::http::HttpConfig::default(),
    )?;
    let vault = std::sync::Arc::new(renkei_engine::vault::Vault::new(
        store.clone(),
        keyring,
        std::sync::Arc::new(connectors),
        std::sync::Arc::new(renkei_engine::SystemClock),
        Default::default(),
    ));
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let service = ConnectService::new(
        vault,
        ConnectConfig {
            public_url: url::Url::parse(&public_url).context("public_url")?,
            session_ttl: Duration::from_secs(config.connections.connect_link_ttl_seconds),
            state_ttl: Duration::from_secs(config.connections.oauth_state_ttl_seconds),
        },
    );
    let (url, expires_at) = service
        .create_session(NewSession {
            tenant,
            member,
            provider,
            return_url: args.return_url,
            created_by: Some("cli".into()),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    println!("{url}");
    eprintln!("valid until {}", expires_at.to_rfc3339());
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = renkei_server::start(&config).await?;
    if let Some(addr) = app.addr {
        // Tests and scripts read this line to learn the port when listening on port 0.
        eprintln!("renkei listening on http://{addr}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.shutdown().await;
    Ok(())
}

/// `serve --sandbox`: renkei and the emulators in one process, seeded, with a fresh API key.
async fn serve_with_sandbox(config: Config, seed: usize) -> anyhow::Result<()> {
    if !config.role.runs_api() {
        bail!("--sandbox needs the API: use --role all or api");
    }
    let sandbox = renkei_sandbox::Sandbox::new(renkei_sandbox::SandboxOptions::default());
    if seed > 0 {
        sandbox
            .seed_all(seed, 1)
            .map_err(|e| anyhow::anyhow!("seeding the sandbox: {e}"))?;
    }
    let app = renkei_server::start_with(
        &config,
        vec![renkei_server::Mount {
            path: "/sandbox",
            service: sandbox.service(),
            configure: Some(Box::new({
                let sandbox = sandbox.clone();
                move |origin: &str, providers: &mut renkei_connectors::ProvidersConfig| {
                    renkei_connectors::sandbox_directory::apply(
                        &sandbox.directory(origin),
                        providers,
                    )
                }
            })),
        }],
    )
    .await?;
    let addr = app.addr.context("the API is not listening")?;
    let key = NewApiKey::generate()?;
    app.store
        .create_api_key(&key.id, "sandbox", &key.hash, None, Millis::now())
        .await
        .context("creating the sandbox API key")?;
    eprintln!("renkei listening on http://{addr}");
    eprint!(
        "{}",
        sandbox_banner(&sandbox, &origin_for(addr), Some(key.token.expose()))
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.shutdown().await;
    Ok(())
}

/// `serve --sandbox-url URL`: the providers as the sandbox's directory (`{URL}/sandbox`)
/// describes them, read once at start.
async fn with_external_sandbox(mut config: Config, url: &str) -> anyhow::Result<Config> {
    let base = url.trim_end_matches('/').trim_end_matches("/sandbox");
    let directory: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/sandbox"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("reading the sandbox directory at {base}/sandbox"))?
        .json()
        .await
        .with_context(|| format!("{base}/sandbox is not a sandbox directory"))?;
    if !directory["providers"].is_object() {
        bail!("{base}/sandbox is not a sandbox directory: it lists no providers");
    }
    renkei_connectors::sandbox_directory::apply(&directory, &mut config.providers);
    Ok(config)
}

/// `renkei sandbox`: the emulators alone.
async fn sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let sandbox = renkei_sandbox::Sandbox::new(renkei_sandbox::SandboxOptions {
        public_url: args.public_url.clone(),
    });
    if args.seed > 0 {
        sandbox
            .seed_all(args.seed, args.seed_number)
            .map_err(|e| anyhow::anyhow!("seeding the sandbox: {e}"))?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    eprintln!("renkei sandbox listening on http://{addr}/sandbox");
    let origin = args.public_url.unwrap_or_else(|| origin_for(addr));
    eprint!("{}", sandbox_banner(&sandbox, &origin, None));
    renkei_sandbox::serve(listener, sandbox, shutdown_signal())
        .await
        .context("serving the sandbox")
}

/// A browser-usable origin for a listening address (`0.0.0.0` is not one).
fn origin_for(addr: std::net::SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    format!("http://{}", std::net::SocketAddr::new(host, addr.port()))
}

/// The lines a person needs to start: each emulator's OAuth and UI URLs, and the API key.
fn sandbox_banner(
    sandbox: &renkei_sandbox::Sandbox,
    origin: &str,
    api_key: Option<&str>,
) -> String {
    let dir = sandbox.directory(origin);
    let mut out = format!("sandbox directory: {origin}/sandbox\n");
    if let Some(providers) = dir["providers"].as_object() {
        for (name, p) in providers {
            let url = |k: &str| p["urls"][k].as_str().unwrap_or("-").to_owned();
            out.push_str(&format!(
                "  {name:<11} authorize {}  token {}  api {}  ui {}\n",
                url("authorize"),
                url("token"),
                url("api"),
                url("ui")
            ));
            out.push_str(&format!(
                "  {:<11} client_id {}  client_secret {}\n",
                "",
                p["client_id"].as_str().unwrap_or("-"),
                p["client_secret"].as_str().unwrap_or("-"),
            ));
        }
    }
    if let Some(key) = api_key {
        out.push_str(&format!(
            "API key (shown once; it is stored hashed): {key}\n\
             try: curl -X PUT -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n\
             \x20     -d '{{\"display_name\": \"Demo\"}}' {origin}/v1/tenants/demo\n"
        ));
    }
    out
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn keys(cmd: KeysCommand, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        KeysCommand::Create { name, tenant, json } => {
            let tenant = tenant
                .map(|t| TenantId::parse(&t))
                .transpose()
                .context("--tenant")?;
            let key = NewApiKey::generate()?;
            store
                .create_api_key(&key.id, &name, &key.hash, tenant.as_ref(), Millis::now())
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": key.id, "token": key.token.expose(), "name": name,
                                       "tenant": tenant.as_ref().map(TenantId::as_str)})
                );
            } else {
                println!("{}", key.token.expose());
                eprintln!(
                    "created key {} ({name}); store it now: it cannot be shown again",
                    key.id
                );
            }
        }
        KeysCommand::List { json } => {
            for k in store.list_api_keys().await? {
                let tenant = k.tenant.as_ref().map_or("*", TenantId::as_str).to_owned();
                let revoked = k.revoked_at.map(Millis::to_rfc3339);
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"id": k.id, "name": k.name, "tenant": k.tenant.as_ref().map(TenantId::as_str),
                                           "created_at": k.created_at.to_rfc3339(), "revoked_at": revoked})
                    );
                } else {
                    let state =
                        revoked.map_or_else(|| "active".to_owned(), |r| format!("revoked {r}"));
                    println!(
                        "{}\t{}\ttenant={tenant}\tcreated {}\t{state}",
                        k.id,
                        k.name,
                        k.created_at.to_rfc3339()
                    );
                }
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_api_key(&id, Millis::now()).await? {
                bail!("no active key with id {id:?} (see `renkei keys list`)");
            }
            eprintln!("revoked key {id}");
        }
    }
    store.close().await;
    Ok(())
}

async fn jobs(cmd: JobsCommand, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        JobsCommand::List { state, limit } => {
            let state = state
                .map(|s| JobState::parse(&s).with_context(|| format!("unknown state {s:?}")))
                .transpose()?;
            for j in store.list_jobs(state, limit).await? {
                println!(
                    "{}\t{}\t{}\tattempts {}/{}\trun_at {}\t{}",
                    j.id,
                    j.kind,
                    j.state.as_str(),
                    j.attempts,
                    j.max_attempts,
                    j.run_at.to_rfc3339(),
                    j.last_error.unwrap_or_default()
                );
            }
        }
        JobsCommand::Retry { id } => {
            if !store.retry_dead_job(id, Millis::now()).await? {
                bail!("job {id} is not dead (only dead jobs can be retried)");
            }
            eprintln!("job {id} will run again");
        }
    }
    store.close().await;
    Ok(())
}

/// Reads events from a JSON document (object or array) or from JSON Lines.
fn read_events(file: &PathBuf) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => Ok(items),
        Ok(v @ serde_json::Value::Object(_)) => Ok(vec![v]),
        Ok(_) => bail!(
            "{}: expected an event object, an array of events, or one event per line",
            file.display()
        ),
        Err(whole) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| {
                    format!(
                        "{}: line {} is not JSON (nor is the whole file: {whole})",
                        file.display(),
                        i + 1
                    )
                })
            })
            .collect(),
    }
}

async fn send_events(
    tenant: &str,
    file: &PathBuf,
    url: &str,
    api_key: &str,
    batch: usize,
) -> anyhow::Result<()> {
    let events = read_events(file)?;
    if events.is_empty() {
        bail!("{}: no events", file.display());
    }
    let batch = batch.clamp(1, 1000);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let endpoint = format!("{}/v1/tenants/{tenant}/events", url.trim_end_matches('/'));
    let (mut accepted, mut duplicates) = (0usize, 0usize);
    for (n, chunk) in events.chunks(batch).enumerate() {
        let resp = client
            .post(&endpoint)
            .bearer_auth(api_key)
            .json(&chunk)
            .send()
            .await
            .with_context(|| format!("posting to {endpoint}"))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if status.as_u16() != 202 {
            let first = n * batch;
            bail!(
                "events {first}..{} were refused ({status}); {accepted} events accepted before them: {}",
                first + chunk.len(),
                body["error"]["message"]
                    .as_str()
                    .unwrap_or("no error message")
            );
        }
        accepted += body["accepted"].as_array().map_or(0, Vec::len);
        duplicates += body["duplicates"].as_array().map_or(0, Vec::len);
    }
    println!(
        "{}",
        serde_json::json!({"accepted": accepted, "duplicates": duplicates})
    );
    Ok(())
}

/// Calls the API and returns its JSON answer; an error answer becomes `code: message`.
async fn api_call(
    api: &ApiArgs,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let endpoint = format!("{}{path}", api.url.trim_end_matches('/'));
    let resp = client
        .request(method, &endpoint)
        .bearer_auth(&api.api_key)
        .query(query)
        .send()
        .await
        .with_context(|| format!("calling {endpoint}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        match (
            body["error"]["code"].as_str(),
            body["error"]["message"].as_str(),
        ) {
            (Some(code), Some(message)) => bail!("{code}: {message}"),
            _ => bail!("{endpoint} answered {status}"),
        }
    }
    Ok(body)
}

/// Path segments the user typed (tenant ids, delivery ids) are encoded so that a stray `/` or
/// `?` reaches the API as part of the value, where it is refused with a clear error.
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

async fn deliveries(cmd: DeliveriesCommand) -> anyhow::Result<()> {
    match cmd {
        DeliveriesCommand::List {
            tenant,
            status,
            event,
            limit,
            cursor,
            json,
            api,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(status.map(|s| ("status", s)));
            query.extend(event.map(|e| ("event", e)));
            query.extend(cursor.map(|c| ("cursor", c)));
            let path = format!("/v1/tenants/{}/deliveries", segment(&tenant));
            let page = api_call(&api, reqwest::Method::GET, &path, &query).await?;
            if json {
                println!("{page}");
                return Ok(());
            }
            let rows = page["deliveries"].as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                eprintln!("no deliveries");
            } else {
                print!("{}", delivery_table(&rows));
            }
            if let Some(next) = page["next_cursor"].as_str() {
                eprintln!("more: add --cursor {next}");
            }
        }
        DeliveriesCommand::Retry {
            tenant,
            id,
            json,
            api,
        } => {
            let path = format!(
                "/v1/tenants/{}/deliveries/{}/retry",
                segment(&tenant),
                segment(&id)
            );
            let d = api_call(&api, reqwest::Method::POST, &path, &[]).await?;
            if json {
                println!("{d}");
            } else {
                print!("{}", delivery_table(std::slice::from_ref(&d)));
                eprintln!("delivery {id} is pending again; its job is queued");
            }
        }
    }
    Ok(())
}

/// The longest reason or error a table row shows; `--json` has the whole text.
const DETAIL_CHARS: usize = 60;

/// Deliveries as the API answers them, as an aligned table: one line each, the reason or
/// error (the error wins: it is what a retry is about) last and cut to [`DETAIL_CHARS`].
fn delivery_table(rows: &[serde_json::Value]) -> String {
    const HEADER: [&str; 8] = [
        "ID", "EVENT", "TYPE", "PROVIDER", "STEP", "STATUS", "ATTEMPTS", "DETAIL",
    ];
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|d| {
            let detail = match (d["error"].as_str(), d["reason"].as_str()) {
                (Some(e), _) => e,
                (None, Some(r)) => r,
                (None, None) => "",
            };
            // Newlines in a provider's message would break the table.
            let detail: String = detail
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let detail = if detail.chars().count() > DETAIL_CHARS {
                let cut: String = detail.chars().take(DETAIL_CHARS - 1).collect();
                format!("{cut}…")
            } else {
                detail
            };
            [
                text(&d["id"]),
                text(&d["event"]["id"]),
                text(&d["event"]["type"]),
                text(&d["provider"]),
                text(&d["step"]),
                text(&d["status"]),
                text(&d["attempts"]),
                detail,
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: [&str; 8]| {
        let mut out = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == row.len() - 1 {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(HEADER);
    for row in &cells {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_table_aligns_columns_and_cuts_long_details() {
        let rows = [
            serde_json::json!({
                "id": 12, "event": {"id": "cu-1", "type": "customer.updated"},
                "provider": "salesforce", "step": "person_update", "status": "failed",
                "attempts": 1, "reason": null,
                "error": format!("duplicate: the\nrecord {}", "x".repeat(80)),
            }),
            serde_json::json!({
                "id": 3, "event": {"id": "call-77", "type": "call.ended"},
                "provider": null, "step": "activity", "status": "skipped",
                "attempts": 0, "reason": "no_owner: 山田 has no CRM user", "error": null,
            }),
        ];
        let table = delivery_table(&rows);
        let expected = format!(
            "ID  EVENT    TYPE              PROVIDER    STEP           STATUS   ATTEMPTS  DETAIL\n\
             12  cu-1     customer.updated  salesforce  person_update  failed   1         duplicate: the record {}…\n\
             3   call-77  call.ended        -           activity       skipped  0         no_owner: 山田 has no CRM user\n",
            "x".repeat(DETAIL_CHARS - 1 - "duplicate: the record ".len())
        );
        assert_eq!(table, expected);
        assert_eq!(
            delivery_table(&[]),
            "ID  EVENT  TYPE  PROVIDER  STEP  STATUS  ATTEMPTS  DETAIL\n"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("acme"), "acme");
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
