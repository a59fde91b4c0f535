//! renkei's storage: the only crate that speaks SQL.
//!
//! [`Store`] opens SQLite (the default, one file, WAL) or PostgreSQL (for several processes),
//! chosen by the URL scheme, and applies the migrations of that backend. Queries are written
//! once, with `$1`-style placeholders that both databases accept, and run on either pool
//! through the `on_pool!`/`on_tx!` macros, which compile each body once per backend. Only where
//! the two must differ (the DDL in `migrations/`, the job claim's `FOR UPDATE SKIP LOCKED`) is
//! there a separate statement.
//!
//! Modules by table: [`tenants`] and members, [`api_keys`], [`connections`] (credentials sealed
//! with the [`Keyring`](renkei_core::Keyring)), [`events`] and their routing, [`queue`] (the
//! durable job queue: jobs and job_keys). Every tenant-owned query filters by tenant id.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub mod action_requests;
pub mod api_keys;
pub mod connections;
pub mod deliveries;
pub mod events;
pub mod links;
pub mod people;
pub mod queue;
pub mod schema_cache;
pub mod sync;
pub mod tenants;

mod error;
#[cfg(feature = "testing")]
pub mod testing;
pub use error::StoreError;

/// Runs `$body` with `$pool` bound to the pool of the store's backend. For SQLite, `write`
/// selects the single writer connection; reads go to the reader pool.
macro_rules! on_pool {
    ($store:expr, write, |$pool:ident| $body:expr) => {
        match &$store.pools {
            $crate::Pools::Sqlite { write: $pool, .. } => $body,
            $crate::Pools::Postgres($pool) => $body,
        }
    };
    ($store:expr, read, |$pool:ident| $body:expr) => {
        match &$store.pools {
            $crate::Pools::Sqlite { read: $pool, .. } => $body,
            $crate::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of an open [`Tx`].
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut $tx.inner {
            $crate::TxInner::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::TxInner::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Pools {
    /// SQLite allows one writer at a time. Funnelling every write through one connection turns
    /// lock contention (and `SQLITE_BUSY` on read-to-write upgrades) into a fair queue inside
    /// the pool, while readers proceed in parallel thanks to WAL.
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
    },
    Postgres(PgPool),
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool size, and SQLite reader pool size.
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The page cache of SQLite's one writer connection, in KiB (SQLite's default is 2,000 KiB).
/// An import inserts every person into half a dozen indexes on keys in no particular order
/// (phone, email, company, identity, remote id); with the default cache most of those inserts
/// missed it once the table held some tens of thousands of people, and a page of 2,000 people
/// took four times as long at 100,000 stored as at 10,000 (docs/benchmarks.md). The readers
/// keep the default: they are many, and their queries walk one index each.
const SQLITE_WRITER_CACHE_KIB: u32 = 16 * 1024;

/// How many pages the write-ahead log may hold before a commit merges it into the database
/// (SQLite's default is 1,000). A page of an import dirties index pages all over the
/// database (phone, email and company keys come in no order), and with the default nearly every
/// page's commit was followed by a checkpoint that wrote those pages again and synced both
/// files. A longer log copies a page rewritten by many commits once per merge. Measured on
/// Salesforce imports (docs/benchmarks.md): 1,000 → 8,192 pages took 100,000 people's commits
/// from 2.1–3.0 s to 1.1–1.4 s; 8,192 → 32,768 pages (128 MiB at 4 KiB) took 200,000 people
/// from 13,360 to 16,099 records/s, the commits from 4.2 s to 2.9 s. After each merge SQLite
/// writes the log again from its start, so the file stays near that size plus one transaction.
const SQLITE_WRITER_CHECKPOINT_PAGES: u32 = 32768;

/// Whether a statement whose text grows with its `rows` (an `IN` list, a multi-row `VALUES`)
/// is kept prepared in the connection's statement cache: only at `full` rows, the size of every
/// chunk but the last, whose text repeats. sqlx caches every statement it runs by default (100
/// a connection), and the last chunks' sizes rarely repeat: an import filled the writer's cache
/// with prepared statements of hundreds of parameters each, tens of MiB that grew with the run
/// and counted against its peak memory (docs/benchmarks.md, "People import"). The same holds for
/// a batch of events or jobs, whose size is the caller's.
pub(crate) fn cached(rows: usize, full: usize) -> bool {
    rows == full
}

/// A handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pools: Pools,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens the database at `url`: `sqlite://path` (created if missing), `sqlite::memory:`, or
    /// `postgres://…`. Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("{url}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL in WAL mode is durable against process crashes (SIGKILL included);
                // only an OS crash or power loss can drop the last commits. FULL would fsync on
                // every commit and cut write throughput by an order of magnitude.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("temp_store", "memory");
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(
                    base.clone()
                        .pragma("cache_size", format!("-{}", SQLITE_WRITER_CACHE_KIB))
                        .pragma(
                            "wal_autocheckpoint",
                            SQLITE_WRITER_CHECKPOINT_PAGES.to_string(),
                        ),
                )
                .await?;
            // An in-memory database exists once per connection, so it must share the writer.
            let read = if memory {
                write.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(opts.max_connections.max(1))
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(base)
                    .await?
            };
            Ok(Self {
                pools: Pools::Sqlite { write, read },
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let conn = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(2))
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(conn)
                .await?;
            Ok(Self {
                pools: Pools::Postgres(pool),
            })
        } else {
            Err(StoreError::InvalidUrl(format!(
                "{}: expected a URL starting with sqlite:// or postgres://",
                redact_url(url)
            )))
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration not yet applied. Safe to run concurrently from several
    /// processes: sqlx takes an advisory lock on PostgreSQL, and SQLite serialises writers.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Pools::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, read, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so that a transaction
    /// that reads before it writes can never fail to upgrade its lock when another process
    /// (the CLI, a second worker) wrote in between.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pools {
            Pools::Sqlite { write, .. } => {
                TxInner::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)
            }
            Pools::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx { inner })
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }

    /// Refreshes PostgreSQL's planner statistics of the people tables. A no-op on SQLite, whose
    /// planner does without them.
    ///
    /// PostgreSQL plans from statistics that autovacuum refreshes about once a minute at best
    /// (and never when it is switched off, as on our CI machine). An initial import grows
    /// `people` from nothing to hundreds of thousands of rows in less time, and a planner that
    /// still believes the table empty picks plans that walk the whole tenant once per key of a
    /// page. The sync loop therefore calls this whenever a run has doubled what it inserted
    /// since the last call (docs/benchmarks.md, "People import"). `ANALYZE` reads a sample of
    /// at most 30,000 rows, so a call costs a fraction of a page.
    pub async fn analyze_people(&self) -> Result<(), StoreError> {
        if let Pools::Postgres(pool) = &self.pools {
            sqlx::query("ANALYZE people").execute(pool).await?;
        }
        Ok(())
    }

    /// Merges the SQLite write-ahead log into the main file. A no-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if let Pools::Sqlite { write, .. } = &self.pools {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(write)
                .await?;
        }
        Ok(())
    }
}

/// An open write transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    pub(crate) inner: TxInner,
}

pub(crate) enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// Placeholders for a statement whose number of parameters depends on the data (multi-row
/// inserts, `IN` lists): `$1, $2, …` on PostgreSQL, anonymous `?` on SQLite.
///
/// sqlx's SQLite driver asks SQLite the name of every parameter it binds
/// (`sqlite3_bind_parameter_name`), and SQLite finds it by walking the statement's list of
/// named parameters, so binding N numbered parameters costs N²: at a few thousand parameters
/// a statement that was most of an import page's CPU (docs/benchmarks.md, "People import").
/// Anonymous parameters have no name and bind in order. Every placeholder is therefore bound in
/// the order it appears in the text, on both backends, and a value used twice is bound twice.
pub(crate) struct Marks {
    sqlite: bool,
    n: usize,
}

impl Marks {
    pub(crate) fn new(tx: &Tx) -> Self {
        Self::for_backend(matches!(tx.inner, TxInner::Sqlite(_)))
    }

    /// Placeholders for SQLite (`?`) or PostgreSQL (`$1`, `$2`, …).
    pub(crate) fn for_backend(sqlite: bool) -> Self {
        Self { sqlite, n: 0 }
    }

    /// The next placeholder.
    pub(crate) fn next(&mut self) -> String {
        self.n += 1;
        if self.sqlite {
            "?".to_owned()
        } else {
            format!("${}", self.n)
        }
    }

    /// `count` placeholders separated by commas.
    pub(crate) fn list(&mut self, count: usize) -> String {
        let mut out = String::with_capacity(count * 4);
        for i in 0..count {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&self.next());
        }
        out
    }
}

/// The URL with any password replaced, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            super::redact_url("sqlite://renkei.db"),
            "sqlite://renkei.db"
        );
    }
}

/// Typed column access shared by SQLite and PostgreSQL rows, so that row decoders are written
/// once. Only the handful of types the schema uses appear here.
pub(crate) trait DbRow {
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error>;
}

macro_rules! impl_db_row {
    ($row:ty) => {
        impl DbRow for $row {
            fn text(&self, col: &str) -> Result<String, sqlx::Error> {
                sqlx::Row::try_get(self, col)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get(self, col)
            }
            fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
                sqlx::Row::try_get(self, col)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(self, col)
            }
            fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error> {
                sqlx::Row::try_get(self, col)
            }
        }
    };
}
impl_db_row!(sqlx::sqlite::SqliteRow);
impl_db_row!(sqlx::postgres::PgRow);

/// Wraps a decoding failure of a stored value.
pub(crate) fn decode_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Decode(format!("{what}: {e}"))
}
