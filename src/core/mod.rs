//! The pure-Rust core: no Python here.
pub mod aggregate;
pub mod error;
pub mod kpis;
pub mod money;
pub mod period;
pub mod summary;
