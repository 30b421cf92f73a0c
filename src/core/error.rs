//! The core's typed errors; the bindings map each variant to a Python exception in one place.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    /// A column has the wrong type.
    #[error("column '{column}': {message}")]
    Schema { column: String, message: String },
    /// Values of a column are invalid; `rows` of them.
    #[error("column '{column}': {message} ({rows} rows)")]
    Data {
        column: String,
        message: String,
        rows: u64,
    },
    /// An argument (an option, or the data as a whole) is invalid.
    #[error("invalid argument '{name}': {message}")]
    Argument { name: String, message: String },
    #[error("{0}")]
    Convergence(String),
}

impl CoreError {
    pub fn argument(name: impl Into<String>, message: impl Into<String>) -> CoreError {
        CoreError::Argument {
            name: name.into(),
            message: message.into(),
        }
    }

    pub fn data(column: impl Into<String>, message: impl Into<String>, rows: u64) -> CoreError {
        CoreError::Data {
            column: column.into(),
            message: message.into(),
            rows,
        }
    }

    pub fn schema(column: impl Into<String>, message: impl Into<String>) -> CoreError {
        CoreError::Schema {
            column: column.into(),
            message: message.into(),
        }
    }

    /// The same error about argument `name` (for a check shared by several arguments).
    pub fn renamed(self, name: &str) -> CoreError {
        match self {
            CoreError::Argument { message, .. } => CoreError::argument(name, message),
            other => other,
        }
    }
}

pub type Result<T> = std::result::Result<T, CoreError>;
