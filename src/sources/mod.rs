//! The sources: one folder a vendor, each with its client and signing, its field tables, its
//! pure decoders, its config section and its collectors.

pub mod laaffic;
pub mod platform;
pub mod sobot;
