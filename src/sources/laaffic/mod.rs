//! The Laaffic call center: the seat query client.

pub mod client;
pub mod config;
pub mod seats;
