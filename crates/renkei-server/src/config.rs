//! Configuration: flags > environment (`RENKEI_…`) > config file > defaults.
//!
//! The binary parses flags and environment with clap and applies them over a [`Config`]
//! loaded from the TOML file (`--config`, `RENKEI_CONFIG`). Every field has a default, so an
//! empty file and no file are the same. `renkei.example.toml` at the repository root lists
//! every setting and is parsed by a test, so it cannot drift from this struct.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use renkei_core::{Keyring, Secret};
use renkei_engine::WorkerConfig;
use serde::Deserialize;

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// API and workers (the default).
    #[default]
    All,
    /// Only the HTTP API; jobs are run by other processes.
    Api,
    /// Only workers.
    Worker,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Role::All),
            "api" => Some(Role::Api),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }

    pub fn runs_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }

    pub fn runs_workers(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The PostgreSQL pool size (SQLite: reader connections). Default:
    /// [`Config::database_pool_size`].
    pub database_max_connections: Option<u32>,
    pub role: Role,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `renkei=debug,sqlx=warn`.
    pub log: String,
    /// Where the generated secret key lives when `RENKEI_SECRET_KEY` is not set.
    pub secret_key_file: PathBuf,
    /// Request bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight HTTP requests.
    pub http_grace_seconds: u64,
    pub worker: WorkerSettings,
    /// The URL browsers reach renkei at (`https://renkei.example.com`): connect links and the
    /// OAuth redirect URI (`{public_url}/oauth/callback`) are built from it. Default:
    /// `http://{listen}`.
    pub public_url: Option<String>,
    /// OAuth clients and URL overrides per provider (`[providers.hubspot]` …).
    pub providers: renkei_connectors::ProvidersConfig,
    pub connections: ConnectionSettings,
    pub sync: SyncSettings,
    /// The keyring material from `RENKEI_SECRET_KEY`; never read from the file, so that a
    /// config file can be committed or shared without leaking the key.
    #[serde(skip)]
    pub secret_key: Option<Secret<String>>,
}

/// The token lifecycle and the connect flow.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionSettings {
    /// A connection neither used nor refreshed for this long is refreshed by the keep-alive
    /// pass, so that an idle grant never dies of inactivity. Default 7 days.
    pub keepalive_after_seconds: u64,
    /// How often the keep-alive pass runs. Default hourly.
    pub keepalive_interval_seconds: u64,
    /// How long a connect link works. Default 30 minutes.
    pub connect_link_ttl_seconds: u64,
    /// How long the admin may take at the provider's consent page. Default 15 minutes.
    pub oauth_state_ttl_seconds: u64,
    /// How long an action (`POST …/actions/{action}`) may take before it answers `failure`.
    /// Default 10,000 ms.
    pub action_deadline_ms: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            keepalive_after_seconds: 7 * 24 * 3600,
            keepalive_interval_seconds: 3600,
            connect_link_ttl_seconds: 1800,
            oauth_state_ttl_seconds: 900,
            action_deadline_ms: 10_000,
        }
    }
}

/// People import and sync (the per-connection choices are in each connection's settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// How often worker processes look for connections whose sync is due. Default 30 s.
    pub scheduler_interval_seconds: u64,
    /// How long one sync job pages before handing over to the next. Default 20 s.
    pub slice_seconds: u64,
    /// How far before a run's start the next incremental window begins. Default 300 s.
    pub overlap_seconds: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            scheduler_interval_seconds: 30,
            slice_seconds: 20,
            overlap_seconds: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub claim_batch: usize,
    pub poll_interval_ms: u64,
    pub lease_seconds: u64,
    pub job_timeout_seconds: u64,
    pub grace_seconds: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_seconds: u64,
    pub reap_interval_ms: u64,
    pub retention_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://renkei.db".into(),
            database_max_connections: None,
            role: Role::All,
            log_format: LogFormat::Text,
            log: "info".into(),
            secret_key_file: PathBuf::from("renkei.key"),
            max_body_bytes: 1024 * 1024,
            http_grace_seconds: 10,
            worker: WorkerSettings::default(),
            public_url: None,
            providers: renkei_connectors::ProvidersConfig::default(),
            connections: ConnectionSettings::default(),
            sync: SyncSettings::default(),
            secret_key: None,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        let w = WorkerConfig::default();
        Self {
            concurrency: w.concurrency,
            claim_batch: w.claim_batch,
            poll_interval_ms: w.poll_interval.as_millis() as u64,
            lease_seconds: w.lease.as_secs(),
            job_timeout_seconds: w.job_timeout.as_secs(),
            grace_seconds: w.grace.as_secs(),
            backoff_base_ms: w.backoff_base.as_millis() as u64,
            backoff_cap_seconds: w.backoff_cap.as_secs(),
            reap_interval_ms: w.reap_interval.as_millis() as u64,
            retention_seconds: w.retention.as_secs(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("RENKEI_SECRET_KEY is invalid: {0}")]
    SecretKey(renkei_core::KeyringError),
    #[error("secret key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// The database pool size: `database_max_connections` when set, else enough for every
    /// worker task to hold a transaction and read beside it (routing reads the tenant's
    /// connections inside the transaction that writes its deliveries), plus the claim loop,
    /// the reaper and the API: `2 × worker.concurrency + 6`, at least 10.
    ///
    /// On PostgreSQL a pool smaller than the workers' need starves them: with the old fixed
    /// pool of 10 and 16 workers, jobs that held a transaction waited for a second connection
    /// that only other such jobs held, until the acquire timed out, and the intake's 503s
    /// followed (docs/benchmarks.md, "Write-back").
    pub fn database_pool_size(&self) -> u32 {
        self.database_max_connections.unwrap_or_else(|| {
            let workers = if self.role.runs_workers() {
                u32::try_from(self.worker.concurrency).unwrap_or(u32::MAX)
            } else {
                0
            };
            workers.saturating_mul(2).saturating_add(6).max(10)
        })
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let w = &self.worker;
        if w.concurrency == 0 || w.claim_batch == 0 {
            return Err(ConfigError::Invalid(
                "worker.concurrency and worker.claim_batch must be at least 1".into(),
            ));
        }
        if w.lease_seconds == 0 {
            return Err(ConfigError::Invalid(
                "worker.lease_seconds must be at least 1".into(),
            ));
        }
        if let Some(u) = &self.public_url {
            let parsed = url::Url::parse(u)
                .map_err(|e| ConfigError::Invalid(format!("public_url {u:?} is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(format!(
                    "public_url must be an http(s) URL, not {u:?}"
                )));
            }
        }
        renkei_connectors::Registry::new(&self.providers)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    pub fn worker_config(&self) -> WorkerConfig {
        let w = &self.worker;
        WorkerConfig {
            concurrency: w.concurrency,
            claim_batch: w.claim_batch,
            poll_interval: Duration::from_millis(w.poll_interval_ms),
            lease: Duration::from_secs(w.lease_seconds),
            job_timeout: Duration::from_secs(w.job_timeout_seconds),
            grace: Duration::from_secs(w.grace_seconds),
            backoff_base: Duration::from_millis(w.backoff_base_ms),
            backoff_cap: Duration::from_secs(w.backoff_cap_seconds),
            reap_interval: Duration::from_millis(w.reap_interval_ms),
            retention: Duration::from_secs(w.retention_seconds),
            ..WorkerConfig::default()
        }
    }

    /// The keyring: from `RENKEI_SECRET_KEY` when set, else from the key file, which is
    /// created (mode 0600) with a fresh key on first start.
    pub fn keyring(&self) -> Result<Keyring, ConfigError> {
        if let Some(key) = &self.secret_key {
            return Keyring::parse(key.expose()).map_err(ConfigError::SecretKey);
        }
        let path = &self.secret_key_file;
        let key_err = |message: String| ConfigError::KeyFile {
            path: path.clone(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                Keyring::parse(text.trim()).map_err(|e| key_err(e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Keyring::generate_key().map_err(|e| key_err(e.to_string()))?;
                write_private(path, &format!("{key}\n"))
                    .map_err(|e| key_err(format!("cannot create it: {e}")))?;
                tracing::warn!(path = %path.display(),
                    "RENKEI_SECRET_KEY is not set: generated a new secret key file; back it up, since stored \
                     credentials cannot be decrypted without it, and prefer RENKEI_SECRET_KEY in production");
                Keyring::parse(&key).map_err(|e| key_err(e.to_string()))
            }
            Err(e) => Err(key_err(e.to_string())),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o600);
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"),
                "the secret key file is readable by other users; chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../renkei.example.toml"
        ));
        let example = Config::load(path).unwrap();
        let default = Config::default();
        // The example documents the defaults: any difference is a documentation bug.
        assert_eq!(format!("{example:?}"), format!("{default:?}"));
        example.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = Config::from_toml(
            "listen = \"127.0.0.1:1\"\nlisten_addr = 1\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
        let err = Config::from_toml("[worker]\nconcurency = 2\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
        assert!(Config::from_toml("role = \"boss\"", Path::new("x.toml")).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            secret_key_file: dir.path().join("renkei.key"),
            ..Config::default()
        };
        let first = cfg.keyring().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&cfg.secret_key_file)
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            cfg.keyring().unwrap().primary_key_id(),
            first.primary_key_id()
        );
        let env = Config {
            secret_key: Some(Secret::new("bad".into())),
            ..cfg
        };
        assert!(matches!(env.keyring(), Err(ConfigError::SecretKey(_))));
    }
}
