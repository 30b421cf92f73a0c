"""custval's exceptions: every error is a :class:`CustvalError`, itself a ``ValueError``."""

from custval._native import (
    ArgumentError,
    ColumnNotFoundError,
    ConvergenceError,
    CustvalError,
    DataError,
    SchemaError,
)

__all__ = [
    "ArgumentError",
    "ColumnNotFoundError",
    "ConvergenceError",
    "CustvalError",
    "DataError",
    "SchemaError",
]
