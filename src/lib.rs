//! custval: customer-value analytics on a parallel, exact Rust core.
//!
//! `core` and `models` are plain Rust (no Python); `bindings` is the thin pyo3 layer,
//! compiled only with the `python` feature.

pub mod core;
pub mod models;

#[cfg(feature = "python")]
mod bindings;
