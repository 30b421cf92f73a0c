"""Synthetic transaction logs, so every demo, doc and benchmark runs without a download."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

#: True parameters of :func:`simulate_transactions` (BG/NBD rates per day, Gamma-Gamma spend).
DEFAULT_PARAMS: dict[str, float] = {
    "r": 0.243,
    "alpha": 30.9,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}

_SECONDS_PER_DAY = 86_400


def simulate_transactions(
    n_customers: int = 10_000,
    *,
    start: str = "2023-01-01",
    end: str = "2024-12-31",
    seed: int = 0,
    params: dict[str, float] | None = None,
    extra_order_probability: float = 0.1,
    output: str = "pandas",
) -> Any:
    """A transaction log drawn from the BG/NBD purchase process with Gamma-Gamma spend.

    Each customer is acquired (first purchase) at a uniform time in ``[start, end]``; repeat
    purchases follow a Poisson process with rate λ ~ Gamma(r, α) per day, and after each repeat
    purchase the customer drops out with probability p ~ Beta(a, b) (Fader, Hardie & Lee 2005).
    Each purchase's value is Gamma(p, ν) with ν ~ Gamma(q, γ) per customer, rounded to cents.
    With probability ``extra_order_probability`` a purchase is split into two orders on the
    same day. True parameters default to :data:`DEFAULT_PARAMS` (CDNOW's published estimates,
    rates per day). Deterministic for a given ``seed``; rows are sorted by time.

    Returns a frame (``output`` = "pandas", "polars" or "arrow") with ``customer_id`` (int64),
    ``order_id`` (int64), ``timestamp`` (datetime, second resolution) and ``amount`` (float64).

    Examples
    --------
    >>> from custval.datasets import simulate_transactions
    >>> log = simulate_transactions(1_000, seed=1)
    >>> list(log.columns)
    ['customer_id', 'order_id', 'timestamp', 'amount']
    >>> bool(log["timestamp"].is_monotonic_increasing)
    True
    """
    if n_customers < 0:
        raise ValueError(f"n_customers must be ≥ 0, got {n_customers}")
    true = {**DEFAULT_PARAMS, **(params or {})}
    rng = np.random.default_rng(seed)
    first_second = pd.Timestamp(start).value // 10**9
    last_second = pd.Timestamp(end).value // 10**9 + _SECONDS_PER_DAY - 1
    if last_second <= first_second:
        raise ValueError("end must be after start")
    n = int(n_customers)

    birth = rng.integers(first_second, last_second + 1, size=n)
    rate = rng.gamma(true["r"], 1.0 / true["alpha"], size=n) / _SECONDS_PER_DAY
    dropout = rng.beta(true["a"], true["b"], size=n)
    spend_scale = rng.gamma(true["q"], 1.0 / true["gamma"], size=n)

    window = (last_second - birth).astype(np.float64)
    arrivals = rng.poisson(rate * window)
    lifetime = rng.geometric(dropout)  # repeat purchases up to and including the dropout one
    repeats = np.minimum(arrivals, lifetime)

    # Given K arrivals in the window, their times are K sorted uniforms; keep the first repeats.
    owner = np.repeat(np.arange(n), arrivals)
    offsets = rng.random(owner.size) * window[owner]
    order = np.lexsort((offsets, owner))
    owner, offsets = owner[order], offsets[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    keep = rank < repeats[owner]
    owner = np.concatenate([np.arange(n), owner[keep]])
    seconds = np.concatenate([birth, birth[owner[n:]] + offsets[keep].astype(np.int64)])

    value = rng.gamma(true["p"], 1.0 / spend_scale[owner])
    split = rng.random(owner.size) < extra_order_probability
    share = rng.uniform(0.2, 0.8, size=int(split.sum()))
    second_part = value[split] * (1 - share)
    value[split] *= share
    owner = np.concatenate([owner, owner[split]])
    seconds = np.concatenate([seconds, seconds[split] + rng.integers(60, 3600, size=share.size)])
    seconds = np.minimum(seconds, last_second)
    value = np.concatenate([value, second_part])

    by_time = np.lexsort((owner, seconds))
    table = pa.table(
        {
            "customer_id": pa.array(owner[by_time] + 1, pa.int64()),
            "order_id": pa.array(np.arange(1, owner.size + 1), pa.int64()),
            "timestamp": pa.array(seconds[by_time], pa.timestamp("s")),
            "amount": pa.array(np.round(np.maximum(value[by_time], 0.01), 2), pa.float64()),
        }
    )
    if output == "arrow":
        return table
    if output == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if output != "pandas":
        raise ValueError(f"output must be 'pandas', 'polars' or 'arrow', not {output!r}")
    return table.to_pandas()
