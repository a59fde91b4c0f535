//! Integration tests of the HTTP API: a real server on port 0 with a fresh database.

mod actions;
mod api;
mod bookings;
mod connect;
mod deal_room;
mod deliveries;
mod meetings;
mod people;
mod pickers;
mod schema;
mod settings;
mod support;
mod writeback;
