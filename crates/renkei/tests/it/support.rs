//! Starting `renkei` processes against a test database.

use std::process::Stdio;
use std::time::Duration;

use renkei_store::testing::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn renkei(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_renkei"));
    cmd.env("RENKEI_DATABASE_URL", &db.url)
        .env("RENKEI_SECRET_KEY", SECRET_KEY)
        .env("RENKEI_LOG", "warn")
        .env_remove("RENKEI_CONFIG")
        .kill_on_drop(true);
    cmd
}

/// Runs a short command to completion and returns its stdout.
pub async fn run(db: &TestDb, args: &[&str]) -> String {
    let out = renkei(db).args(args).output().await.expect("renkei runs");
    assert!(
        out.status.success(),
        "renkei {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A `renkei serve` process and the base URL of its API (when it has one).
pub struct Server {
    pub child: Child,
    pub base: Option<String>,
}

pub async fn serve(db: &TestDb, extra: &[&str]) -> Server {
    let mut cmd = renkei(db);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().expect("renkei serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let api = !extra.windows(2).any(|w| w == ["--role", "worker"]);
    let mut base = None;
    if api {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("renkei listening on ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        base = Some(found.expect("renkei serve prints its address"));
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, base }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_deref().expect("an API process"))
    }

    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits on SIGTERM")
            .expect("wait")
    }
}

pub async fn create_key(db: &TestDb) -> String {
    let out = run(db, &["keys", "create", "--name", "test", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON from keys create");
    v["token"].as_str().expect("token").to_owned()
}

pub fn call(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "type": "call.ended", "occurred_at": "2026-11-21T10:00:00+09:00", "member": "m1",
        "data": {"call_id": id, "direction": "outbound", "customer_phone": "+81 3 1234 5678",
                 "duration_seconds": 30, "started_at": "2026-11-21T09:59:30+09:00"}})
}

pub async fn eventually<F: AsyncFnMut() -> bool>(what: &str, secs: u64, mut f: F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
