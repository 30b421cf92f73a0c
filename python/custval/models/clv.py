"""Customer lifetime value from a purchase model and a spend model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custval import _frames
from custval.exceptions import ArgumentError
from custval.models.inputs import _rfm_columns
from custval.models.purchase import _PurchaseModel
from custval.models.spend import GammaGamma

__all__ = ["customer_lifetime_value"]


def customer_lifetime_value(
    purchase_model: _PurchaseModel,
    spend_model: GammaGamma | float | None,
    summary: Any,
    *,
    horizon: int = 12,
    horizon_unit: str = "M",
    discount_rate: float = 0.0,
    margin: float = 1.0,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    monetary_value: str = "monetary_value",
    output: str = "auto",
):
    """Discounted customer lifetime value over ``horizon`` periods of ``horizon_unit``.

    CLV = margin × Σ_{i=1..H} (E[X(i)] − E[X(i−1)]) × E[spend] / (1 + d)^i, where E[X(i)] is
    the purchase model's conditional expected number of purchases by the end of period i (a
    month is 365.25/12 days, converted to the model's time unit through the summary's
    metadata), E[spend] the spend model's conditional expected spend per purchase, and d the
    discount rate per ``horizon_unit`` (cash at period end). The purchase part is computed
    once per unique ``(frequency, recency, T)`` row.

    Parameters
    ----------
    purchase_model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model with a known time unit.
    spend_model : GammaGamma, float or None
        A fitted :class:`~custval.GammaGamma`, or a constant spend per purchase (``None``:
        1, i.e. discounted expected purchases).
    summary : DataFrame, pyarrow Table, polars DataFrame or dict of arrays
        Per-customer summary (columns ``frequency``, ``recency``, ``T`` and, with a Gamma-Gamma
        spend model, ``monetary_value``).
    horizon : int
        Number of ``horizon_unit`` periods.
    horizon_unit : {"h", "D", "W", "M", "Q", "Y"}
        Period of the horizon and of the discount rate.
    discount_rate : float
        Discount rate per ``horizon_unit`` period.
    margin : float
        Profit margin applied to spend.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type: a pandas Series (indexed like a pandas summary), a polars Series or a
        pyarrow Array; "auto" mirrors the summary (NumPy array for arrays).

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_transactions
    >>> log = simulate_transactions(5_000, seed=7)
    >>> summary = custval.rfm_summary(log, amount="amount", freq="D", freq_multiplier=7)
    >>> bgnbd = custval.BetaGeo().fit(summary)
    >>> spend = custval.GammaGamma().fit(summary)
    >>> clv = custval.customer_lifetime_value(bgnbd, spend, summary, horizon=12,
    ...                                       discount_rate=0.01)
    >>> clv.name, len(clv) == len(summary), bool((clv >= 0).all())
    ('clv', True, True)
    """
    if not isinstance(purchase_model, _PurchaseModel):
        raise ArgumentError(
            "purchase_model must be a fitted BetaGeo, ModifiedBetaGeo, ParetoNBD or "
            f"BetaGeoBetaBinom, not {type(purchase_model).__name__}"
        )
    unit = purchase_model._unit_for(summary)
    roles: dict[str, Any] = {"frequency": frequency, "recency": recency, "T": T}
    if isinstance(spend_model, GammaGamma):
        roles["monetary_value"] = monetary_value
    elif spend_model is not None and not isinstance(spend_model, int | float):
        raise ArgumentError("spend_model must be a fitted GammaGamma, a number or None")
    cols = _rfm_columns(summary, roles)
    x, tx, tt = cols["frequency"], cols["recency"], cols["T"]
    if isinstance(spend_model, GammaGamma):
        spend = spend_model._spend(x, cols["monetary_value"])
    else:
        spend = np.full(1, 1.0 if spend_model is None else float(spend_model))
    values = purchase_model._discounted_value(
        x, tx, tt, spend, unit, horizon, horizon_unit, discount_rate, margin
    )
    if output == "auto" and cols.kind == "other":
        return values
    kind = _frames.resolve(output, cols.kind)
    if kind == "pandas":
        return pd.Series(values, index=cols.index, name="clv")
    if kind == "polars":
        import polars as pl

        return pl.Series("clv", values)
    return pa.array(values)
