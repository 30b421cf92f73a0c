//! The pure-Rust core: no Python here.
pub mod activity;
pub mod aggregate;
pub mod cohorts;
pub mod error;
pub mod kpis;
pub mod money;
pub mod period;
pub mod retention;
pub mod summary;
