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
from custval.models import inputs
from custval.models.clv import customer_lifetime_value as _clv

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
    """
    named = {r: v for r, v in roles.items() if v is not None and r != WEIGHTS}
    if not all(isinstance(v, str) for v in named.values()):
        raise TypeError("a Dask summary is fitted by column names, not arrays")
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
