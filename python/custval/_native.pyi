"""Type stubs of the native extension (checked with ``python -m mypy.stubtest``)."""

from collections.abc import Iterable, Mapping
from typing import Any, final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = [
    "KpiTotals",
    "LogTable",
    "OutOfOrder",
    "ArgumentError",
    "ColumnNotFoundError",
    "ConvergenceError",
    "CustvalError",
    "DataError",
    "SchemaError",
    "__version__",
    "affinity",
    "basket_kpis",
    "calibration_holdout",
    "cohorts",
    "cohorts_merge",
    "conditional_expected_purchases",
    "conditional_expected_spend",
    "customer_lifetime_value",
    "expected_cumulative_transactions",
    "expected_purchases",
    "fit_model",
    "get_num_threads",
    "id_bounds",
    "id_span",
    "is_release_build",
    "kpis",
    "kpis_merge",
    "next_purchase",
    "p_alive",
    "probability_of_purchases",
    "recommend",
    "release_memory",
    "retention",
    "retention_merge",
    "rfm_summary",
    "rfm_violations",
    "sbg_curve",
    "sbg_expected_lifetime",
    "set_num_threads",
    "time_unit_factor",
]

__version__: str

class CustvalError(ValueError): ...
class ColumnNotFoundError(CustvalError): ...
class ArgumentError(CustvalError): ...
class SchemaError(CustvalError): ...
class DataError(CustvalError): ...
class ConvergenceError(CustvalError): ...

_Floats = npt.NDArray[np.float64]

def set_num_threads(n: int) -> None: ...
def release_memory() -> int: ...
def get_num_threads() -> int: ...
def is_release_build() -> bool: ...

# The log crosses as record batches whose columns are named by role ("customer", "time",
# "amount", "order", "cost"), with a roles mapping from each role to the user's column name.
_Roles = Mapping[str, str]

@final
class LogTable:
    """A per-customer table of the log and what the pass over the log left out."""

    @property
    def table(self) -> pa.RecordBatch: ...
    @property
    def rows_after_end(self) -> int: ...
    @property
    def customers_first_seen_in_holdout(self) -> int: ...
    @property
    def last_time(self) -> int | None: ...

@final
class KpiTotals:
    """KPI totals and ratios of a window; money in minor units at ``scale`` (means at
    ``mean_scale``); ``None`` where a denominator is 0."""

    @property
    def customers(self) -> int: ...
    @property
    def orders(self) -> int: ...
    @property
    def revenue(self) -> int: ...
    @property
    def repeat_customers(self) -> int: ...
    @property
    def cost(self) -> int | None: ...
    @property
    def scale(self) -> int: ...
    @property
    def rows_outside_window(self) -> int: ...
    @property
    def aov(self) -> int | None: ...
    @property
    def spend_per_customer(self) -> int | None: ...
    @property
    def mean_scale(self) -> int: ...
    @property
    def purchase_frequency(self) -> float | None: ...
    @property
    def repeat_customer_rate(self) -> float | None: ...

@final
class OutOfOrder:
    """The rows are not in period order within customers: pass the whole log at once."""

def rfm_summary(
    batches: Iterable[pa.RecordBatch],
    roles: _Roles,
    *,
    rows: int,
    unordered: bool,
    freq: str,
    freq_multiplier: float,
    scale: int,
    observation_end: int | None,
    include_first: bool,
    decimal: bool,
) -> LogTable | OutOfOrder: ...
def calibration_holdout(
    batches: Iterable[pa.RecordBatch],
    roles: _Roles,
    *,
    rows: int,
    unordered: bool,
    freq: str,
    freq_multiplier: float,
    scale: int,
    calibration_end: int,
    observation_end: int | None,
    decimal: bool,
) -> LogTable | OutOfOrder: ...
def kpis(
    batches: Iterable[pa.RecordBatch],
    roles: _Roles,
    *,
    rows: int,
    unordered: bool,
    scale: int,
    start: int | None,
    end: int | None,
) -> KpiTotals | OutOfOrder: ...
def kpis_merge(
    *,
    customers: int,
    orders: int,
    revenue: int,
    repeat_customers: int,
    cost: int | None,
    scale: int,
    rows_outside_window: int,
) -> KpiTotals: ...
def retention(
    batches: Iterable[pa.RecordBatch],
    roles: _Roles,
    *,
    rows: int,
    freq: str,
    scale: int,
    active_window: int,
    decimal: bool,
    span: tuple[int, int] | None = None,
) -> pa.RecordBatch: ...
def retention_merge(partials: list[pa.RecordBatch], decimal: bool) -> pa.RecordBatch: ...
def cohorts(
    batches: Iterable[pa.RecordBatch],
    roles: _Roles,
    *,
    rows: int,
    freq: str,
    scale: int,
    value: str,
    normalize: bool,
    decimal: bool,
    span: tuple[int, int] | None = None,
) -> pa.RecordBatch: ...
def cohorts_merge(
    partials: list[pa.RecordBatch], value: str, normalize: bool, decimal: bool
) -> pa.RecordBatch: ...
def expected_cumulative_transactions(
    batches: Iterable[pa.RecordBatch],
    roles: _Roles,
    *,
    rows: int,
    freq: str,
    observation_end: int | None,
    model: str,
    params: list[float],
    unit_factor: float,
    periods: int,
    step: int,
) -> pa.RecordBatch: ...
def fit_model(
    model: str,
    columns: list[npt.ArrayLike],
    weights: npt.ArrayLike | None,
    *,
    penalizer: float,
    max_iter: int,
    tol: float,
) -> dict[str, Any]: ...
def rfm_violations(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> dict[str, Any]: ...
def expected_purchases(model: str, params: list[float], t: npt.ArrayLike) -> _Floats: ...
def conditional_expected_purchases(
    model: str,
    params: list[float],
    t: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
) -> _Floats: ...
def p_alive(
    model: str,
    params: list[float],
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    t: npt.ArrayLike,
) -> _Floats: ...
def probability_of_purchases(
    model: str, params: list[float], n: npt.ArrayLike, t: npt.ArrayLike
) -> _Floats: ...
def conditional_expected_spend(
    params: list[float], frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> _Floats: ...
def sbg_curve(kind: str, params: list[float], t: npt.ArrayLike) -> _Floats: ...
def sbg_expected_lifetime(params: list[float], discount_rate: float | None = None) -> float: ...
def time_unit_factor(horizon_unit: str, freq: str, freq_multiplier: float) -> float: ...
def customer_lifetime_value(
    model: str,
    params: list[float],
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    expected_spend: npt.ArrayLike,
    *,
    margin: float,
    horizon: int,
    discount_rate: float,
    unit_factor: float,
) -> _Floats: ...

# Integer product ids read as codes: (lowest, highest, distinct) when they span at most
# `widest` values, else None.
def id_bounds(ids: npt.NDArray[np.int64]) -> tuple[int, int] | None: ...
def id_span(ids: npt.NDArray[np.int64], widest: int) -> tuple[int, int, int] | None: ...

# Cross-sell and upsell: one record batch of coded lines named by role (order, product,
# customer, time, amount, quantity) and the user's column names by role.
def basket_kpis(
    lines: pa.RecordBatch,
    names: _Roles,
    *,
    n_products: int,
    scale: int,
    max_size: int,
    decimal: bool,
) -> tuple[dict[str, int | None], pa.RecordBatch, pa.RecordBatch]: ...
def affinity(
    lines: pa.RecordBatch,
    names: _Roles,
    *,
    n_products: int,
    level: str,
    min_support: float | None,
    min_count: int,
    top_k: int | None,
) -> tuple[pa.RecordBatch, int, int]: ...
def next_purchase(
    lines: pa.RecordBatch,
    names: _Roles,
    *,
    n_products: int,
    min_count: int,
    top_k: int | None,
) -> pa.RecordBatch: ...
def recommend(
    lines: pa.RecordBatch,
    names: _Roles,
    *,
    n_products: int,
    top_k: int,
    exclude_purchased: bool,
    neighbors: int | None,
    method: str,
) -> pa.RecordBatch: ...
