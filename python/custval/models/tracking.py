"""A purchase model against the transaction log over time: the tracking curves of the whole
customer base (:func:`expected_cumulative_transactions`, in Rust, per entry period) and one
customer's P(alive) after each period of their history (:func:`alive_history`).

Both count time in periods of ``freq`` (pandas Period semantics, as :func:`custval.rfm_summary`)
and convert it into the model's time unit (its ``time_unit_``): the two must be whole multiples
of each other (hours, days and weeks; or months, quarters and years).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _args, _files, _frames, _input, _native
from custval.exceptions import CustvalError
from custval.models.purchase import _PurchaseModel

# Period kinds whose lengths are whole multiples of each other.
_FIXED = ("h", "H", "D", "W")
_CALENDAR = ("M", "Q", "Y")
_PANDAS_FREQ = {"H": "h"}


def _fitted(model: Any, what: str) -> list[float]:
    """The parameters of a fitted purchase model."""
    if not isinstance(model, _PurchaseModel):
        raise CustvalError(
            f"{what} needs a purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD or "
            f"BetaGeoBetaBinom), not {type(model).__name__}"
        )
    return model._require_fit()


def _unit_factor(model: _PurchaseModel, freq: str) -> float:
    """Model time units per period of ``freq``."""
    unit = model.time_unit_
    if unit is None:
        raise CustvalError(
            "the model's time unit is unknown: fit it on a summary from custval.rfm_summary, "
            "or pass time_unit= (e.g. 'W' or ('D', 7)) to fit() or from_dict()"
        )
    groups = [g for g in (_FIXED, _CALENDAR) if freq in g]
    if not groups:
        raise CustvalError(f"unknown freq {freq!r}; expected one of 'h', 'D', 'W', 'M', 'Q', 'Y'")
    if unit["freq"] not in groups[0]:
        raise CustvalError(
            f"freq={freq!r} does not convert exactly into the model's time unit "
            f"({unit['freq_multiplier']:g} × {unit['freq']!r}): use "
            f"{' or '.join(repr(f) for f in groups[0] if f != 'H')} periods with this model, "
            "or fit it in a unit of the same kind"
        )
    return _native.time_unit_factor(freq, unit["freq"], unit["freq_multiplier"])


def expected_cumulative_transactions(
    model: Any,
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    t: int,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end: Any = None,
    dropna: bool = False,
    output: str = "auto",
):
    """Actual and model-expected cumulative repeat purchases of the whole customer base.

    The tracking curves of Fader, Hardie & Lee (2005, Figure 3) and lifetimes'
    ``expected_cumulative_transactions``: each customer enters at their first purchase period
    (counted from the first purchase period of the log), and the model expects a new customer
    to make E[X(τ)] repeat purchases in their first τ time units
    (:meth:`~custval.BetaGeo.expected_purchases`). One row every ``freq_multiplier`` periods of
    ``freq``, for the first ``t`` periods; the row of period p covers the periods from the
    first up to p:

    - ``predicted`` = Σ over the customers who entered by p of E[X(p + 1 − entry period)]
      (durations converted into the model's time unit), computed once per entry period;
    - ``actual`` = repeat purchases made up to p: purchase periods after each customer's first
      (transactions in one period are one purchase, as in :func:`custval.rfm_summary`); null
      for rows past the period of ``observation_end``;
    - ``actual_incremental`` and ``predicted_incremental``: the same per row.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model whose time unit is known (fitted on a summary from
        :func:`custval.rfm_summary`, or given ``time_unit=``).
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The transaction log.
    customer, time : str
        Column names.
    t : int
        Periods of ``freq`` to track, from the first purchase period.
    freq : {"h", "D", "W", "M", "Q", "Y"}
        Period kind with pandas Period semantics; it must convert exactly into the model's
        time unit (days for a model in weeks, months for a model in years, …).
    freq_multiplier : int
        Periods per row (``freq="D", freq_multiplier=7``: a row a week, as lifetimes).
    observation_end : date, datetime or str, optional
        Transactions after it are left out (a date means the end of that day); default the
        last transaction. Customers who enter later are not in ``predicted``.
    dropna : bool
        Drop rows with a null customer or time (with a warning) instead of raising.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; pandas results are indexed by ``period`` (the start of each row's last
        period), polars and Arrow results have a ``period`` column.

    Returns
    -------
    DataFrame
        ``actual``, ``predicted``, ``actual_incremental``, ``predicted_incremental``.

    Notes
    -----
    With ``freq="D", freq_multiplier=7`` and a model fitted in weeks, rows equal lifetimes'
    ``expected_cumulative_transactions(model, log, ..., t, freq="D", freq_multiplier=7)``
    (which labels them 0, 1, … instead of by period). The work is one pass over the log (in
    Rust) and, per row, one sum over the entry periods: a 10-million-row log takes about a
    second.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
       the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    .. [2] lifetimes, ``lifetimes.utils.expected_cumulative_transactions``
       (https://github.com/CamDavidsonPilon/lifetimes).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-09", "2024-01-20",
    ...                                  "2024-01-03", "2024-01-10", "2024-01-15"]),
    ... })
    >>> model = custval.BetaGeo.from_dict(
    ...     {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}, time_unit=("D", 7))
    >>> tracking = custval.expected_cumulative_transactions(
    ...     model, log, t=28, freq="D", freq_multiplier=7, observation_end="2024-01-21")
    >>> tracking.round(3)
                actual  predicted  actual_incremental  predicted_incremental
    period
    2024-01-07     0.0      0.091                 0.0                  0.091
    2024-01-14     2.0      0.191                 2.0                  0.100
    2024-01-21     3.0      0.338                 1.0                  0.147
    2024-01-28     NaN      0.478                 NaN                  0.140
    """
    params = _fitted(model, "expected_cumulative_transactions")
    factor = _unit_factor(model, _args.check_freq(freq))
    step = _args.check_whole(freq_multiplier, "freq_multiplier")
    periods = _args.check_whole(t, "t", minimum=0)
    log = _files.log(data, customer=customer, time=time, dropna=dropna)
    end = _input.time_value(observation_end, log.time_unit, log.timezone, name="observation_end")
    batch = _native.expected_cumulative_transactions(
        log.batches(),
        log.names,
        rows=log.rows,
        freq=freq,
        observation_end=end,
        model=model._native_name,
        params=params,
        unit_factor=factor,
        periods=periods,
        step=step,
    )
    metadata = _frames.log_metadata(log, freq, freq_multiplier=step, t=periods)
    return _frames.by_period(batch, "period", log, output, metadata)[1]


def _ordinals(times: pa.Array, freq: str) -> np.ndarray:
    """Period ordinals (pandas Period semantics) of local wall times."""
    stamps = pd.DatetimeIndex(times.to_numpy(zero_copy_only=False))
    return stamps.to_period(_PANDAS_FREQ.get(freq, freq)).asi8


def alive_history(
    model: Any,
    data: Any,
    *,
    customer_id: Any,
    customer: str = "customer_id",
    time: str = "timestamp",
    t: int | None = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end: Any = None,
    dropna: bool = False,
    output: str = "auto",
):
    """P(alive) of one customer after each period of their history (lifetimes'
    ``calculate_alive_path``), for the history plot.

    Row k is the customer as :func:`custval.rfm_summary` would see them with observation ending
    in the k-th period after their first purchase: ``frequency`` = purchase periods up to it − 1,
    ``recency`` and ``T`` in the model's time unit, and the model's ``p_alive`` of that
    history. Rows run every ``freq_multiplier`` periods from the first purchase period (k = 0)
    to ``t`` periods after it, or to the period of ``observation_end``.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model whose time unit is known.
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The transaction log (all customers, or this customer's rows only).
    customer_id : int or str
        The customer.
    customer, time : str
        Column names.
    t : int, optional
        Periods after the first purchase to cover; default up to ``observation_end``.
    freq : {"h", "D", "W", "M", "Q", "Y"}
        Period kind; it must convert exactly into the model's time unit.
    freq_multiplier : int
        Periods per row.
    observation_end : date, datetime or str, optional
        Transactions after it are left out; default the last transaction of the log.
    dropna : bool
        Drop rows with a null customer or time (with a warning) instead of raising.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; pandas results are indexed by ``period`` (its start).

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T`` and ``p_alive``, one row per period.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
       the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    .. [2] lifetimes, ``lifetimes.utils.calculate_alive_path`` and
       ``lifetimes.plotting.plot_history_alive``.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-29",
    ...                                  "2024-03-10"]),
    ... })
    >>> model = custval.BetaGeo.from_dict(
    ...     {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}, time_unit="W")
    >>> path = custval.alive_history(model, log, customer_id=1, freq="W")
    >>> path.round(3)
                frequency  recency    T  p_alive
    period
    2024-01-01          0      0.0  0.0    1.000
    2024-01-08          0      0.0  1.0    1.000
    2024-01-15          1      2.0  2.0    0.755
    2024-01-22          1      2.0  3.0    0.720
    2024-01-29          2      4.0  4.0    0.813
    2024-02-05          2      4.0  5.0    0.771
    2024-02-12          2      4.0  6.0    0.729
    2024-02-19          2      4.0  7.0    0.687
    2024-02-26          2      4.0  8.0    0.645
    2024-03-04          2      4.0  9.0    0.604
    """
    _fitted(model, "alive_history")
    factor = _unit_factor(model, _args.check_freq(freq))
    step = _args.check_whole(freq_multiplier, "freq_multiplier")
    if t is not None:
        t = _args.check_whole(t, "t", minimum=0)
    log = _input.transactions(data, customer=customer, time=time, dropna=dropna)
    times = log.time
    end = _input.time_value(observation_end, log.time_unit, log.timezone, name="observation_end")
    kept = pc.less_equal(times, pa.scalar(end, times.type)) if end is not None else None
    ids = _input._as_array(log.customer_original)
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    try:
        mine = pc.equal(ids, customer_id)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise CustvalError(
            f"customer_id {customer_id!r} does not compare with column {customer!r} ({ids.type})"
        ) from None
    if kept is not None:
        mine = pc.and_(mine, kept)
    own = times.filter(mine)
    if len(own) == 0:
        until = " up to observation_end" if end is not None else ""
        raise CustvalError(f"customer {customer_id!r} has no transactions{until}")
    # A history ends with the period of observation_end, by default of the last transaction.
    end_time = end if end is not None else pc.max(times).cast(pa.int64()).as_py()
    last_time = pa.array([end_time], pa.int64()).cast(times.type)
    periods = np.unique(_ordinals(own, freq))
    first = int(periods[0])
    last = t if t is not None else int(_ordinals(last_time, freq)[0]) - first
    ks = np.arange(0, last + 1, step, dtype=np.int64)
    seen = np.searchsorted(periods - first, ks, side="right")
    frequency = seen - 1
    recency = (periods[seen - 1] - first) * factor
    age = ks * factor
    p_alive = model.p_alive(frequency, recency, age)
    starts = pd.PeriodIndex.from_ordinals(first + ks, freq=_PANDAS_FREQ.get(freq, freq))
    batch = pa.record_batch(
        {
            "period": starts.to_timestamp().as_unit(log.time_unit).asi8,
            "frequency": frequency,
            "recency": recency,
            "T": age,
            "p_alive": np.atleast_1d(p_alive),
        }
    )
    metadata = _frames.log_metadata(log, freq, freq_multiplier=step)
    return _frames.by_period(batch, "period", log, output, metadata)[1]
