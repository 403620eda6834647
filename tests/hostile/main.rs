//! Hostile clients against the server, with the real binary and real sockets: huge or malformed
//! headers, floods beside a scraper (from two loopback addresses, 127.0.0.2 floods and 127.0.0.1
//! scrapes), many unread answers, and shutdown with them pending, asserting status codes and body
//! sizes (memory figures are in the benches). One module per surface.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod sd;
