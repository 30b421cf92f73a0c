"""Valuable customers who are probably gone: the candidates for a win-back campaign."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custval import _frames, _input, _native
from custval.exceptions import ColumnNotFoundError, CustvalError, DataError
from custval.models.holdout import _fitted, _named, _spend_model
from custval.models.inputs import _metadata, _resolve_time_unit, _rfm_columns

__all__ = ["at_risk"]


def _share(value: Any, name: str, *, closed: bool) -> float:
    """``value`` in (0, 1) or, with ``closed``, (0, 1]."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise CustvalError(f"{name} must be a number, not {value!r}") from None
    if not (0 < out < 1 or (closed and out == 1)):
        bounds = "(0, 1]" if closed else "(0, 1)"
        raise CustvalError(f"{name} must be in {bounds}, got {value!r}")
    return out


def at_risk(
    purchase_model: Any,
    summary: Any,
    *,
    spend_model: Any = None,
    p_alive_below: float = 0.3,
    top_value_share: float = 0.2,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    revenue: str = "revenue",
    monetary_value: str = "monetary_value",
    customer: str = "customer_id",
    output: str = "auto",
):
    """Valuable customers who are probably no longer active, most value at risk first.

    A customer's value is their past ``revenue`` or, with a spend model, their conditional
    expected spend per purchase. Among the top ``top_value_share`` of customers by value (the
    ⌈share × n⌉ highest, customers tied with the last one included), those with P(alive) <
    ``p_alive_below`` are returned, sorted by value at risk = value × (1 − P(alive)),
    descending (ties keep the summary's order).

    Parameters
    ----------
    purchase_model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model: P(alive) given ``(frequency, recency, T)``.
    summary : DataFrame, pyarrow Table, polars DataFrame or dict of arrays
        Per-customer summary of :func:`custval.rfm_summary` (with ``amount=``, for revenue).
    spend_model : GammaGamma, optional
        A fitted spend model: value = expected spend (from ``frequency`` and
        ``monetary_value``) instead of past revenue.
    p_alive_below : float in (0, 1)
        Customers with P(alive) strictly below this are at risk.
    top_value_share : float in (0, 1]
        Share of customers, by value, considered at all.
    frequency, recency, T, revenue, monetary_value : str
        Column names in ``summary``.
    customer : str
        Customer column of a polars or Arrow summary (a pandas summary keeps its index).
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; "auto" mirrors the summary.

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T``, ``value``, ``p_alive`` and ``value_at_risk``,
        keyed by customer like the summary.

    Raises
    ------
    CustvalError
        ``purchase_model`` is not a fitted purchase model, ``spend_model`` not a fitted
        GammaGamma (or the summary has no ``monetary_value``), ``p_alive_below`` outside
        (0, 1), ``top_value_share`` outside (0, 1], or the model's and the summary's time
        units differ.
    DataError
        The summary was made with ``include_first=True`` or breaks the RFM contract.

    References
    ----------
    .. [1] Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). Counting Your
       Customers: Who Are They and What Will They Do Next? Management Science 33(1), 1-24.
    .. [2] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
       the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_transactions
    >>> log = simulate_transactions(3_000, seed=7)
    >>> summary = custval.rfm_summary(log, amount="amount", freq="D", freq_multiplier=7)
    >>> model = custval.BetaGeo().fit(summary)
    >>> risky = custval.at_risk(model, summary, p_alive_below=0.5)
    >>> risky.columns.tolist()
    ['frequency', 'recency', 'T', 'value', 'p_alive', 'value_at_risk']
    >>> bool((risky["p_alive"] < 0.5).all())
    True
    >>> bool(risky["value_at_risk"].is_monotonic_decreasing)
    True
    """
    threshold = _share(p_alive_below, "p_alive_below", closed=False)
    share = _share(top_value_share, "top_value_share", closed=True)
    roles = {"frequency": frequency, "recency": recency, "T": T}
    cols, value, p_alive, spend = customer_risk(
        purchase_model, summary, spend_model, roles, revenue=revenue, monetary_value=monetary_value
    )
    x, tx, tt = cols["frequency"], cols["recency"], cols["T"]
    keep = (p_alive < threshold) & (value >= value_cut(value, share))
    rows = np.flatnonzero(keep)
    at_stake = value[rows] * (1.0 - p_alive[rows])
    order = np.argsort(-at_stake, kind="stable")
    rows, at_stake = rows[order], at_stake[order]
    result = {
        frequency: x[rows],
        recency: tx[rows],
        T: tt[rows],
        "value": value[rows],
        "p_alive": p_alive[rows],
        "value_at_risk": at_stake,
    }
    meta = _metadata(summary) | {
        "p_alive_below": threshold,
        "top_value_share": share,
        "value": "expected_spend" if spend is not None else revenue,
    }
    return _output(summary, cols, rows, result, customer, output, meta)


def _output(summary, cols, rows: np.ndarray, result: dict, customer: str, output: str, meta):
    """The selected ``rows`` as the summary's frame type, keyed like the summary."""
    kind = _frames.resolve(output, cols.kind)
    if kind == "pandas" and cols.index is not None:
        frame = pd.DataFrame(result, index=cols.index[rows])
        frame.attrs[_frames.METADATA_KEY] = meta
        return frame
    columns: dict[str, Any] = {}
    if summary is not None and not isinstance(summary, pd.DataFrame):
        try:
            ids = _input.read_table(summary, [customer]).table.column(customer)
            columns[customer] = ids.take(pa.array(rows))
        except (ColumnNotFoundError, TypeError):
            pass
    columns.update(result)
    index = customer if customer in columns else None
    return _frames.convert(pa.table(columns), kind, index=index, metadata=meta)


def customer_risk(
    purchase_model: Any,
    summary: Any,
    spend_model: Any,
    roles: dict[str, Any],
    *,
    revenue: str = "revenue",
    monetary_value: str = "monetary_value",
) -> tuple[Any, np.ndarray, np.ndarray, Any]:
    """(columns, value, P(alive), spend model) of every customer of ``summary``: what
    :func:`at_risk` selects from and its plot draws."""
    model = _fitted(purchase_model, "purchase_model")
    spend = _spend_model(spend_model)
    if model.time_unit_ is not None and _resolve_time_unit(summary, None) is not None:
        model._unit_for(summary)  # the units must agree
    value_column = monetary_value if spend is not None else revenue
    try:
        cols = _rfm_columns(summary, roles | {"value": value_column})
    except ColumnNotFoundError as err:
        if f"column {value_column!r} not found" not in str(err):
            raise _named("summary", err) from None
        if spend is not None:
            raise CustvalError(
                f"spend_model: the summary has no {value_column!r} column: make it with "
                "rfm_summary(..., amount=) or pass monetary_value="
            ) from None
        raise ColumnNotFoundError(
            f"summary: {err}; make it with rfm_summary(..., amount=) or give a spend_model"
        ) from None
    except DataError as err:
        raise _named("summary", err) from None
    x, tx, tt = cols["frequency"], cols["recency"], cols["T"]
    if spend is not None:
        value = np.asarray(spend.conditional_expected_spend(x, cols["value"]), dtype=np.float64)
    else:
        value = cols["value"]
        bad = int(np.count_nonzero(np.isnan(value)))
        if bad:
            raise DataError(f"summary: column {value_column!r}: NaN or null values ({bad} rows)")
    p_alive = _native.p_alive(model._native_name, model._require_fit(), x, tx, tt, 0.0)
    return cols, value, p_alive, spend


def value_cut(value: np.ndarray, share: float) -> float:
    """The lowest value among the top ``share`` of customers (⌈share × n⌉ of them; customers
    tied with the last one are in too); +inf with no customers."""
    n = value.size
    if n == 0:
        return float("inf")
    top = max(1, math.ceil(share * n - 1e-9))
    return float(np.partition(value, n - top)[n - top])
