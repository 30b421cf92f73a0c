"""custval's exceptions: every error is a :class:`CustvalError`, itself a ``ValueError``."""

from custval._native import (
    ColumnNotFoundError,
    ConvergenceError,
    CustvalError,
    DataError,
    SchemaError,
)

__all__ = [
    "ColumnNotFoundError",
    "ConvergenceError",
    "CustvalError",
    "DataError",
    "SchemaError",
]
