//! [`StoreError`] and its predicates.

/// A failure of the store. Callers decide what to do with the predicates rather than by
/// matching on driver details.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL {0}")]
    InvalidUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("credentials could not be sealed or opened: {0}")]
    Crypto(#[from] renkei_core::KeyringError),
    /// A row holds something this version cannot read (a payload written by a newer version,
    /// a corrupted JSON column).
    #[error("stored data could not be decoded: {0}")]
    Decode(String),
    /// The job's lease was lost (it expired and another worker claimed the job), so this
    /// worker's result must not be recorded.
    #[error("job {job_id} is no longer leased by this worker (attempt {attempt})")]
    LeaseLost { job_id: i64, attempt: i64 },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether trying again later may succeed: connection trouble, pool exhaustion, lock
    /// timeouts and serialization failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    let code = db.code().unwrap_or_default();
                    // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and their extended codes).
                    // PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected,
                    // 57P01 admin_shutdown, 08xxx connection exceptions.
                    matches!(
                        code.as_ref(),
                        "5" | "6" | "517" | "261" | "40001" | "40P01" | "57P01"
                    ) || code.starts_with("08")
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether a foreign key refused the write (e.g. an event for a tenant that does not exist).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation())
    }

    /// Whether this is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
    }
}
