//! The Python exception tree and the one conversion from core errors.
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::PyErr;

use crate::core::error::CoreError;

create_exception!(
    custval,
    CustvalError,
    PyValueError,
    "Base class of custval's errors."
);
create_exception!(
    custval,
    ColumnNotFoundError,
    CustvalError,
    "A named column is missing."
);
create_exception!(
    custval,
    SchemaError,
    CustvalError,
    "A column has the wrong type."
);
create_exception!(
    custval,
    DataError,
    CustvalError,
    "Values are invalid (nulls, NaN, out of range, …)."
);
create_exception!(
    custval,
    ArgumentError,
    CustvalError,
    "An argument is invalid: an option's value, or data of a kind custval does not read."
);
create_exception!(
    custval,
    ConvergenceError,
    CustvalError,
    "A model fit did not converge."
);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let message = err.to_string();
        match err {
            CoreError::Schema { .. } => SchemaError::new_err(message),
            CoreError::Data { .. } => DataError::new_err(message),
            CoreError::Argument { .. } => ArgumentError::new_err(message),
            CoreError::Convergence(_) => ConvergenceError::new_err(message),
        }
    }
}

/// A failure of custval itself (thread pool, a caught panic), not of the caller's input.
pub fn internal_error(message: impl Into<String>) -> PyErr {
    CustvalError::new_err(message.into())
}

/// A call stopped by Ctrl-C given while another custval call was running.
pub fn interrupted() -> PyErr {
    PyKeyboardInterrupt::new_err("custval call interrupted")
}
