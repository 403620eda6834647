//! The Laaffic call center: the seat query client.

pub mod client;
pub mod seats;
