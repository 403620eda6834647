//! The Laaffic call center: the seat query client and the seat collector.

pub mod client;
pub mod seats;
