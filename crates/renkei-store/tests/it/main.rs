//! Integration tests of the store, on SQLite or (with RENKEI_TEST_DATABASE_URL) PostgreSQL.

mod action_requests;
mod connections;
mod deliveries;
mod migrations;
mod people;
mod queue;
mod records;
