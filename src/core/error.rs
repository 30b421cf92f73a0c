//! The core's typed errors; the bindings map each variant to a Python exception.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("column '{column}': {message}")]
    Schema { column: String, message: String },
    #[error("column '{column}': {message} ({rows} rows)")]
    Data {
        column: String,
        message: String,
        rows: u64,
    },
    #[error("invalid argument '{name}': {message}")]
    Argument { name: String, message: String },
    #[error("{0}")]
    Convergence(String),
}

pub type Result<T> = std::result::Result<T, CoreError>;
