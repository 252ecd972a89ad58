//! placeholder
pub mod packets;
