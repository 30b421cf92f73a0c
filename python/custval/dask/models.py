"""Models on Dask summaries: fits read the unique rows counted in the workers; predictions
run per partition.

``BetaGeo().fit(dask_summary)`` (and every other model's ``fit``) calls :func:`unique_rows`
through ``custval.models.inputs._collapsed``: the native fit compresses a summary to its
unique ``(x, t_x, T)`` rows with counts before anything else (sorted, so in no particular
input order), hence fitting on rows counted in the workers gives the same parameters to the
bit, and the client holds O(distinct rows), not O(customers).
"""

from __future__ import annotations

from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from custval import _frames, _native
from custval.exceptions import ArgumentError
from custval.models import inputs
from custval.models.clv import customer_lifetime_value as _clv
from custval.models.evaluation import Evaluation
from custval.models.evaluation import evaluate as _evaluate

WEIGHTS = "weights"


def _violations(part: pd.DataFrame, names: dict[str, str]) -> dict[str, Any]:
    columns = [
        np.ascontiguousarray(part[names[r]].to_numpy(dtype=np.float64))
        for r in ("frequency", "recency", "T")
    ]
    return _native.rfm_violations(*columns)


def _check_rfm(summary: dd.DataFrame, names: dict[str, str]) -> None:
    """The RFM contract over every customer (row counts added over the partitions), so an
    error counts customers as in memory, not distinct rows."""
    found = dask.compute(*[dask.delayed(_violations)(p, names) for p in summary.to_delayed()])
    total: dict[str, Any] = {}
    for part in found:
        for key, value in part.items():
            if isinstance(value, list | tuple):
                before = total.get(key, [0] * len(value))
                total[key] = [a + b for a, b in zip(before, value, strict=True)]
            else:
                total[key] = total.get(key, 0) + value
    if total:
        inputs.raise_violations(total, names)


def unique_rows(summary: dd.DataFrame, roles: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
    """(the distinct rows of ``summary``'s ``roles`` columns with a ``weights`` column, the
    roles to fit them with): each row's weight is the number of customers it stands for
    (or the sum of their ``weights`` when a weights column is named), counted in the workers
    and added up in a tree by Dask's groupby.

    Raises the RFM contract's errors, counted over customers, before anything is fitted.

    References
    ----------
    Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
    Pareto/NBD model", Marketing Science 24(2) (the likelihood depends on a customer through
    (x, t_x, T) only); Dask groupby: https://docs.dask.org/en/stable/dataframe-groupby.html

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> summary = pd.DataFrame({"frequency": [0.0, 2.0, 0.0, 2.0],
    ...                         "recency": [0.0, 5.0, 0.0, 5.0], "T": [9.0] * 4})
    >>> roles = {"frequency": "frequency", "recency": "recency", "T": "T", "weights": None}
    >>> with dask.config.set(scheduler="synchronous"):
    ...     rows, _ = custval.dask.unique_rows(dd.from_pandas(summary, npartitions=2), roles)
    >>> rows.sort_values("frequency").to_numpy().tolist()
    [[0.0, 0.0, 9.0, 2.0], [2.0, 5.0, 9.0, 2.0]]
    """
    named = {r: v for r, v in roles.items() if v is not None and r != WEIGHTS}
    if not all(isinstance(v, str) for v in named.values()):
        raise ArgumentError("a Dask summary is fitted by column names, not arrays")
    columns = list(dict.fromkeys(named.values()))
    inputs._check_not_include_first(_frames.metadata_of(summary._meta))
    if {"frequency", "recency", "T"} <= set(named):
        _check_rfm(summary, inputs._names(named))
    weights = roles.get(WEIGHTS)
    if weights is None:
        counted = summary[columns].groupby(columns, dropna=False).size()
    else:
        counted = summary[[*columns, weights]].groupby(columns, dropna=False)[weights].sum()
    rows = counted.compute().rename(WEIGHTS).astype(np.float64).reset_index()
    rows.attrs = dict(summary._meta.attrs)
    return rows, {**roles, WEIGHTS: WEIGHTS}


def _per_partition(summary: dd.DataFrame, function) -> dd.DataFrame:
    """``function`` (an in-memory per-customer prediction) on each partition."""
    meta = function(summary._meta)
    return summary.map_partitions(function, meta=meta)


def predict(model: Any, summary: dd.DataFrame, t: float, **options: Any) -> dd.DataFrame:
    """``model.predict(summary, t, **options)`` per partition of a Dask summary: a Dask
    DataFrame indexed like ``summary`` (expected purchases, P(alive), with a spend model
    expected spend and CLV), equal row for row to the in-memory predictions.

    References
    ----------
    Dask ``map_partitions``:
    https://docs.dask.org/en/stable/generated/dask.dataframe.DataFrame.map_partitions.html

    Examples
    --------
    >>> import dask, dask.dataframe as dd, custval, custval.dask
    >>> log = custval.datasets.simulate_transactions(300, seed=1, output="pandas")
    >>> with dask.config.set(scheduler="synchronous"):
    ...     summary = custval.dask.rfm_summary(dd.from_pandas(log, npartitions=3))
    ...     model = custval.BetaGeo().fit(summary)
    ...     p = custval.dask.predict(model, summary, 30).compute()
    >>> sorted(p.columns), len(p)
    (['expected_purchases', 'p_alive'], 300)
    """
    return _per_partition(summary, lambda part: model.predict(part, t, output="pandas", **options))


def p_alive(model: Any, summary: dd.DataFrame, *, t: float = 0.0) -> dd.DataFrame:
    """``model.p_alive(summary, t=t)`` per partition of a Dask summary (a Dask object indexed
    like ``summary``).

    References
    ----------
    Fader, Hardie & Lee (2005), Marketing Science 24(2), eq. (11) for BG/NBD.

    Examples
    --------
    >>> import dask, dask.dataframe as dd, custval, custval.dask
    >>> log = custval.datasets.simulate_transactions(200, seed=2, output="pandas")
    >>> with dask.config.set(scheduler="synchronous"):
    ...     summary = custval.dask.rfm_summary(dd.from_pandas(log, npartitions=2))
    ...     model = custval.BetaGeo().fit(summary)
    ...     alive = custval.dask.p_alive(model, summary).compute()
    >>> bool(((alive >= 0) & (alive <= 1)).all().all())
    True
    """
    return _per_partition(summary, lambda part: model.p_alive(part, t=t, output="pandas"))


def customer_lifetime_value(
    purchase_model: Any, spend_model: Any, summary: dd.DataFrame, **options: Any
) -> dd.DataFrame:
    """:func:`custval.customer_lifetime_value` per partition of a Dask summary.

    References
    ----------
    Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
    analysis", Journal of Marketing Research 42(4).

    Examples
    --------
    >>> import dask, dask.dataframe as dd, custval, custval.dask
    >>> log = custval.datasets.simulate_transactions(300, seed=4, output="pandas")
    >>> with dask.config.set(scheduler="synchronous"):
    ...     summary = custval.dask.rfm_summary(dd.from_pandas(log, npartitions=3),
    ...                                        amount="amount")
    ...     bg = custval.BetaGeo().fit(summary)
    ...     clv = custval.dask.customer_lifetime_value(bg, 20.0, summary, horizon=6).compute()
    >>> len(clv)
    300
    """
    return _per_partition(
        summary,
        lambda part: _clv(purchase_model, spend_model, part, output="pandas", **options),
    )


def evaluate(model: Any, calibration_holdout: dd.DataFrame, **options: Any) -> Evaluation:
    """:func:`custval.evaluate` of a Dask calibration/holdout table.

    The holdout metrics rank and average over every customer, so the table (its few numeric
    columns: O(customers) floats) is gathered on the client, sorted by customer id so the
    answer does not depend on the partitioning, and evaluated as in memory. Counts and the
    conditional-expectation table's customers are identical to the in-memory evaluation, and
    the whole result is identical to the bit to the in-memory evaluation of the same table in
    customer-id order (tested); against the in-memory table in its own row order (customers
    in first-appearance order) the means can differ in the last bits, as float sums depend on
    their order.

    References
    ----------
    Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
    24(2) (the conditional-expectation figure).

    Examples
    --------
    >>> import dask, dask.dataframe as dd, custval, custval.dask
    >>> log = custval.datasets.simulate_transactions(500, seed=7, output="pandas")
    >>> with dask.config.set(scheduler="synchronous"):
    ...     table = custval.dask.calibration_holdout(dd.from_pandas(log, npartitions=3),
    ...                                              calibration_end="2024-06-30")
    ...     model = custval.BetaGeo().fit(table, frequency="frequency_cal",
    ...                                   recency="recency_cal", T="T_cal")
    ...     result = custval.dask.evaluate(model, table)
    >>> result.customers == len(custval.calibration_holdout(log, calibration_end="2024-06-30"))
    True
    """
    gathered = calibration_holdout.compute().sort_index(kind="stable")
    gathered.attrs = dict(calibration_holdout._meta.attrs)
    return _evaluate(model, gathered, **options)
