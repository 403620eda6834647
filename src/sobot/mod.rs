//! The Sobot (智齿) API: endpoint table, client, collectors.

pub mod client;
pub mod collector;
pub mod endpoints;
pub mod quality;
