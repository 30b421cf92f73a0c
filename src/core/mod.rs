//! The pure-Rust core: no Python here.
//!
//! Rows come in through [`log`], pass through the shared partitioned pass of [`partition`],
//! and are built into per-customer state ([`customers`]) or per-period activity
//! ([`activity`]), from which the summaries, KPIs, retention, cohorts and tracking entries are read.
pub mod activity;
pub mod basket;
pub mod cohorts;
pub mod customers;
pub mod error;
pub mod interrupt;
pub mod kpis;
pub mod log;
pub mod money;
pub mod pages;
pub mod partition;
pub mod period;
pub mod recycling;
pub mod retention;
pub mod summary;
pub mod tracking;
pub mod vmath;
