//! The Sobot (智齿) API: the statistics endpoint table and the client.

pub mod client;
pub mod config;
pub mod endpoints;
pub mod quality;
pub mod stats;
