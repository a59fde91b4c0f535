//! Running a real `renkei serve` process for the HTTP and memory benches.
//!
//! The server gets a SQLite database in a temporary directory (or a scratch schema of a
//! PostgreSQL database, [`BenchDb`]), migrated with `renkei migrate`, a fresh random secret key, and a free port on the loopback interface. Its
//! stdout is sent to our stderr, so that our stdout carries nothing but results.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use renkei_core::Keyring;

use crate::db::BenchDb;
use tokio::process::{Child, Command};

/// How long the server may take to answer `/readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `renkei serve`, stopped by [`Server::stop`] (and killed if merely dropped).
pub struct Server {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    binary: PathBuf,
    database_url: String,
    secret_key: String,
    /// Holds the database; deleted when the server stops.
    db: Option<BenchDb>,
}

impl Server {
    /// Migrates a fresh database and starts `binary serve` on it, returning once it is ready.
    pub async fn start(binary: &Path, client: &reqwest::Client) -> anyhow::Result<Self> {
        Self::start_with(binary, client, &[]).await
    }

    /// [`Server::start`] with `args` added to `serve` (`--sandbox-url`, `--config`).
    pub async fn start_with(
        binary: &Path,
        client: &reqwest::Client,
        args: &[String],
    ) -> anyhow::Result<Self> {
        Self::start_on(binary, client, args, None).await
    }

    /// [`Server::start_with`] on PostgreSQL when `database_url` is a `postgres://` URL (in a
    /// scratch schema, dropped when the server stops), else on SQLite.
    pub async fn start_on(
        binary: &Path,
        client: &reqwest::Client,
        args: &[String],
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let binary = check_binary(binary)?;
        // The bench only needs the database to exist; the server opens its own pool, so the
        // bench's stays at the minimum.
        let db = BenchDb::open(database_url, 0).await?;
        let database_url = db.url.clone();
        let secret_key =
            Keyring::generate_key().context("generating a secret key for the server")?;
        let port = free_port()?;
        let base_url = format!("http://127.0.0.1:{port}");

        run_cli(&binary, &database_url, &secret_key, &["migrate"]).await?;

        let mut command = renkei(&binary, &database_url, &secret_key);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .stderr(Stdio::inherit())
            // A bench that fails half-way must not leave a server behind.
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {} serve", binary.display()))?;
        let pid = child
            .id()
            .context("the server exited before its pid could be read")?;
        let mut server = Self {
            child,
            pid,
            base_url,
            binary,
            database_url,
            secret_key,
            db: Some(db),
        };
        server.wait_ready(client).await?;
        eprintln!("server: pid {pid} ready at {}", server.base_url);
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Runs `renkei keys create` against the server's database and returns the new token.
    pub async fn create_key(&self, name: &str) -> anyhow::Result<String> {
        let stdout = run_cli(
            &self.binary,
            &self.database_url,
            &self.secret_key,
            &["keys", "create", "--name", name, "--json"],
        )
        .await?;
        // The contract is one JSON line; take the last non-empty line so that a stray notice
        // printed before it does not break the bench.
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .context("`renkei keys create --json` printed nothing")?;
        let created: serde_json::Value = serde_json::from_str(line)
            .context("`renkei keys create --json` did not print a JSON object")?;
        created
            .get("token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .context("`renkei keys create --json` printed no \"token\"")
    }

    async fn wait_ready(&mut self, client: &reqwest::Client) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.base_url);
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("renkei serve exited before it was ready: {status}");
            }
            // Refused connections and non-200 answers both mean "not yet".
            if let Ok(resp) = client.get(&url).send().await
                && resp.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("renkei serve was not ready after {READY_TIMEOUT:?} ({url})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server with SIGTERM (its graceful shutdown), killing it if it hangs.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // `Child::kill` sends SIGKILL, which would skip the graceful shutdown; `kill -TERM`
        // asks politely without needing a signal crate.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await
            .context("running kill -TERM")?;
        if !sent.success() {
            eprintln!("server: kill -TERM {} failed ({sent})", self.pid);
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => eprintln!("server: exited ({})", status?),
            Err(_) => {
                eprintln!("server: still running {STOP_TIMEOUT:?} after SIGTERM; killing it");
                self.child.kill().await?;
            }
        }
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
        Ok(())
    }
}

pub fn check_binary(binary: &Path) -> anyhow::Result<PathBuf> {
    if !binary.is_file() {
        bail!(
            "{} not found; build it first with `cargo build --release -p renkei` or pass --binary",
            binary.display()
        );
    }
    Ok(binary.to_path_buf())
}

/// A port that was free a moment ago. Another process could take it before the server binds
/// it; on a bench machine that is unlikely enough, and the server then fails loudly.
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a port")?;
    Ok(listener.local_addr()?.port())
}

/// `binary --database-url URL` with the bench's environment.
fn renkei(binary: &Path, database_url: &str, secret_key: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--database-url")
        .arg(database_url)
        .env("RENKEI_SECRET_KEY", secret_key)
        .env("RENKEI_LOG", "warn");
    command
}

/// Runs a short CLI command to completion and returns its stdout.
async fn run_cli(
    binary: &Path,
    database_url: &str,
    secret_key: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    let out = renkei(binary, database_url, secret_key)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {} {}", binary.display(), args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`renkei {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).context("the CLI printed invalid UTF-8")
}
