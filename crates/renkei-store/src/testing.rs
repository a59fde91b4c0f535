//! Test support: a fresh, migrated database for each test.
//!
//! Without `RENKEI_TEST_DATABASE_URL` every test gets its own SQLite file in a temporary
//! directory. With it (e.g. `postgres://postgres@127.0.0.1:5432/test`), every test gets its
//! own PostgreSQL schema, named `renkei_test_…`, selected through the connection's
//! `search_path`, and dropped by [`TestDb::cleanup`]. Schemas of failed tests are left behind
//! for inspection and removed by the next run once they are an hour old.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Backend, Store, StoreOptions};

pub const ENV: &str = "RENKEI_TEST_DATABASE_URL";

pub struct TestDb {
    pub store: Store,
    /// The URL a separate process (a spawned `renkei`) can use to reach the same database.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// A new migrated database.
    pub async fn new() -> Self {
        let db = Self::new_unmigrated().await;
        db.store.migrate().await.expect("migrations apply");
        db
    }

    /// A new empty database, for tests of the migrations themselves.
    pub async fn new_unmigrated() -> Self {
        match std::env::var(ENV) {
            Ok(admin) if !admin.is_empty() => Self::postgres(admin).await,
            _ => Self::sqlite().await,
        }
    }

    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("renkei.db").display());
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("open sqlite");
        Self {
            store,
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    async fn postgres(admin: String) -> Self {
        let admin_store = Store::connect(
            &admin,
            &StoreOptions {
                max_connections: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{ENV} is set but PostgreSQL is unreachable: {e}"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let schema = format!(
            "renkei_test_{}_{}_{}",
            now.as_secs(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let crate::Pools::Postgres(pool) = &admin_store.pools else {
            panic!("{ENV} must be a postgres:// URL")
        };
        drop_stale_schemas(pool, now.as_secs()).await;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(pool)
            .await
            .expect("create test schema");
        admin_store.close().await;
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options[search_path]={schema}");
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("open test schema");
        Self {
            store,
            url,
            dir: None,
            pg: Some((admin, schema)),
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The SQLite file, when the backend is SQLite.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("renkei.db"))
    }

    /// A directory that lives as long as this database (for key files and the like).
    pub fn scratch_dir(&self) -> std::path::PathBuf {
        match &self.dir {
            Some(d) => d.path().to_path_buf(),
            None => std::env::temp_dir(),
        }
    }

    /// Closes the pools and drops the PostgreSQL schema.
    pub async fn cleanup(self) {
        self.store.close().await;
        let Some((admin, schema)) = &self.pg else {
            return;
        };
        let opts = StoreOptions {
            max_connections: 2,
            ..Default::default()
        };
        let Ok(admin) = Store::connect(admin, &opts).await else {
            return;
        };
        if let crate::Pools::Postgres(pool) = &admin.pools {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(pool)
                .await;
        }
        admin.close().await;
    }
}

async fn drop_stale_schemas(pool: &sqlx::PgPool, now_secs: u64) {
    let Ok(rows) = sqlx::query_scalar::<_, String>(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'renkei\\_test\\_%'",
    )
    .fetch_all(pool)
    .await
    else {
        return;
    };
    for name in rows {
        let created: Option<u64> = name.split('_').nth(2).and_then(|s| s.parse().ok());
        if created.is_some_and(|c| c + 3600 < now_secs) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(pool)
                .await;
        }
    }
}
