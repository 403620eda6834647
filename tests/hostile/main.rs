//! Hostile clients against the server, with the real binary and real sockets: floods beside a
//! scraper from two loopback addresses (127.0.0.2 floods, 127.0.0.1 scrapes), asserting status
//! codes and body sizes. One module per surface.

mod auth;
