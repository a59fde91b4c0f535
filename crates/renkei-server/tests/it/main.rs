//! Integration tests of the HTTP API: a real server on port 0 with a fresh database.

mod api;
mod connect;
mod deliveries;
mod meetings;
mod people;
mod settings;
mod support;
mod writeback;
