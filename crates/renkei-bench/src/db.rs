//! A fresh database for one bench run: a SQLite file in a temporary directory, or a scratch
//! schema in a PostgreSQL database (created for the run and dropped afterwards, so a bench never
//! touches the data of the database it is pointed at).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use renkei_store::{Backend, Store, StoreOptions, redact_url};

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// A fresh database for one run, removed afterwards.
pub struct BenchDb {
    pub store: Store,
    /// The URL the store was opened with (with the scratch schema as `search_path`), for a
    /// `renkei` process to open the same database.
    pub url: String,
    scratch: Scratch,
}

enum Scratch {
    /// Held only to delete the directory, and the database in it, when dropped.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        schema: String,
    },
}

impl BenchDb {
    /// Opens a fresh database: SQLite when `url` is `None`, else a scratch schema of the
    /// PostgreSQL database at `url`. `workers` sizes the connection pool.
    pub async fn open(url: Option<&str>, workers: usize) -> anyhow::Result<Self> {
        // Every worker may complete a job at once, besides the claim loop, the producer and
        // the progress poll; on PostgreSQL each needs its own connection.
        let opts = StoreOptions {
            max_connections: u32::try_from(workers).unwrap_or(u32::MAX).saturating_add(4),
            ..StoreOptions::default()
        };
        match url {
            None => {
                let dir = tempfile::tempdir().context("creating a temporary directory")?;
                let url = format!("sqlite://{}", dir.path().join("renkei.db").display());
                let store = Store::connect(&url, &opts)
                    .await
                    .with_context(|| format!("opening {url}"))?;
                Ok(Self {
                    store,
                    url,
                    scratch: Scratch::Sqlite { _dir: dir },
                })
            }
            Some(admin_url) if admin_url.starts_with("postgres") => {
                let secs = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let schema = format!("renkei_bench_{}_{secs}", std::process::id());
                let admin = admin_pool(admin_url).await?;
                // The name is made of digits and underscores only, so it needs no quoting.
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .with_context(|| format!("creating schema {schema}"))?;
                admin.close().await;
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                let url = format!("{admin_url}{sep}options[search_path]={schema}");
                let scratch = Scratch::Postgres {
                    admin_url: admin_url.to_owned(),
                    schema,
                };
                match Store::connect(&url, &opts).await {
                    Ok(store) => Ok(Self {
                        store,
                        url,
                        scratch,
                    }),
                    Err(e) => {
                        drop_schema(&scratch).await;
                        Err(e).with_context(|| format!("opening {}", redact_url(&url)))
                    }
                }
            }
            Some(other) => bail!(
                "--database-url must be a postgres:// URL (SQLite runs in a temporary file by default), got {}",
                redact_url(other)
            ),
        }
    }

    /// Closes the store and drops the scratch schema, if any.
    pub async fn cleanup(self) {
        self.store.close().await;
        drop_schema(&self.scratch).await;
    }
}

async fn admin_pool(admin_url: &str) -> anyhow::Result<sqlx::PgPool> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .with_context(|| format!("connecting to {}", redact_url(admin_url)))
}

/// Drops the scratch schema. Failing to is reported but does not fail the bench, whose
/// result is already known; the schema's name says what it was for.
async fn drop_schema(scratch: &Scratch) {
    let Scratch::Postgres { admin_url, schema } = scratch else {
        return;
    };
    let dropped = async {
        let admin = admin_pool(admin_url).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&admin)
            .await?;
        admin.close().await;
        anyhow::Ok(())
    };
    if let Err(e) = dropped.await {
        eprintln!("bench: could not drop schema {schema}: {e:#}");
    }
}
