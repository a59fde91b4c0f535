//! Integration tests of the engine, on SQLite or (with RENKEI_TEST_DATABASE_URL) PostgreSQL.

mod intake;
mod runtime;
mod sandbox;
mod sync;
mod vault;
