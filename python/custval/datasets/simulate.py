"""Synthetic transaction logs and customer bases drawn from the BTYD models (known truth)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custval._frames import METADATA_KEY

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


# --------------------------------------------------------------------------------------------
# Per-customer summaries simulated from the BTYD models (for parameter recovery and demos)

#: True parameters of the summary simulators: the published CDNOW estimates (weeks) for the
#: continuous-time models and Gamma-Gamma, donations (BG/BB) and the "regular" cohort (sBG).
MODEL_PARAMS: dict[str, dict[str, float]] = {
    "bgnbd": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto_nbd": {"r": 0.5532, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715},
    "bgbb": {"alpha": 1.2035, "beta": 0.7498, "gamma": 0.6568, "delta": 2.7839},
    "sbg": {"alpha": 0.704, "beta": 1.182},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}


def _summary_frame(columns: dict[str, np.ndarray], freq: str | None) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(columns, index=pd.RangeIndex(1, n + 1, name="customer_id"))
    if freq is not None:
        frame.attrs[METADATA_KEY] = {"freq": freq, "freq_multiplier": 1.0, "include_first": False}
    return frame


def _ages(rng: np.random.Generator, n: int, T: Any) -> np.ndarray:
    if T is None:
        return rng.uniform(27.0, 39.0, size=n)  # CDNOW-like: 12 weeks of acquisition
    ages = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if (ages <= 0).any() or not np.isfinite(ages).all():
        raise ValueError("T must be finite and > 0")
    return ages


def _nth_arrival(rng: np.random.Generator, x: np.ndarray, n: np.ndarray, span: np.ndarray):
    """Time of the x-th of n uniform arrivals on (0, span): span × Beta(x, n − x + 1)."""
    out = np.zeros(x.shape)
    some = x > 0
    out[some] = span[some] * rng.beta(x[some], n[some] - x[some] + 1)
    return out


def _params(model: str, params: dict[str, float] | None) -> dict[str, float]:
    return {**MODEL_PARAMS[model], **(params or {})}


def _bg_like(n_customers, T, seed, params, model, freq):
    p = _params(model, params)
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    ages = _ages(rng, n, T)
    rate = rng.gamma(p["r"], 1.0 / p["alpha"], size=n)
    dropout = rng.beta(p["a"], p["b"], size=n)
    arrivals = rng.poisson(rate * ages)
    # Purchases before dropping out: BG/NBD drops out after a repeat purchase; MBG/NBD also
    # right after the first purchase (time 0).
    lifetime = rng.geometric(dropout) - (1 if model == "mbgnbd" else 0)
    x = np.minimum(arrivals, lifetime)
    recency = _nth_arrival(rng, x, arrivals, ages)
    return _summary_frame({"frequency": x.astype(np.float64), "recency": recency, "T": ages}, freq)


def simulate_bgnbd(
    n_customers: int = 10_000,
    *,
    T: Any = None,
    seed: int = 0,
    params: dict[str, float] | None = None,
    freq: str | None = "W",
) -> pd.DataFrame:
    """A per-customer summary (``frequency``, ``recency``, ``T``) drawn from the BG/NBD model.

    Rates λ ~ Gamma(r, α), dropout probabilities p ~ Beta(a, b); a customer's repeat purchases
    are the Poisson arrivals in ``(0, T]`` up to and including the one after which she drops
    out. ``T`` (scalar or per customer) defaults to uniform ages in [27, 39] (CDNOW-like, in
    weeks). Parameters default to ``MODEL_PARAMS["bgnbd"]`` (CDNOW's published estimates).
    The frame's metadata says its time unit is one ``freq`` (``None``: no metadata).
    Vectorised and deterministic for a given ``seed``.

    Examples
    --------
    >>> from custval.datasets import simulate_bgnbd
    >>> s = simulate_bgnbd(1_000, seed=1)
    >>> list(s.columns), len(s)
    (['frequency', 'recency', 'T'], 1000)
    >>> bool((s["recency"] <= s["T"]).all())
    True
    """
    return _bg_like(n_customers, T, seed, params, "bgnbd", freq)


def simulate_mbgnbd(
    n_customers: int = 10_000,
    *,
    T: Any = None,
    seed: int = 0,
    params: dict[str, float] | None = None,
    freq: str | None = "W",
) -> pd.DataFrame:
    """A per-customer summary drawn from the MBG/NBD model (as :func:`simulate_bgnbd`, with a
    possible dropout right after the first purchase too).

    Examples
    --------
    >>> from custval.datasets import simulate_mbgnbd
    >>> s = simulate_mbgnbd(1_000, seed=1)
    >>> bool((s.loc[s["frequency"] == 0, "recency"] == 0).all())
    True
    """
    return _bg_like(n_customers, T, seed, params, "mbgnbd", freq)


def simulate_pareto_nbd(
    n_customers: int = 10_000,
    *,
    T: Any = None,
    seed: int = 0,
    params: dict[str, float] | None = None,
    freq: str | None = "W",
) -> pd.DataFrame:
    """A per-customer summary drawn from the Pareto/NBD model.

    Purchase rates λ ~ Gamma(r, α), death rates μ ~ Gamma(s, β), exponential lifetimes;
    repeat purchases are the Poisson arrivals before death and ``T``.

    Examples
    --------
    >>> from custval.datasets import simulate_pareto_nbd
    >>> s = simulate_pareto_nbd(1_000, seed=1)
    >>> list(s.columns)
    ['frequency', 'recency', 'T']
    """
    p = _params("pareto_nbd", params)
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    ages = _ages(rng, n, T)
    rate = rng.gamma(p["r"], 1.0 / p["alpha"], size=n)
    death = rng.gamma(p["s"], 1.0 / p["beta"], size=n)
    alive_for = np.minimum(rng.exponential(1.0 / death), ages)
    x = rng.poisson(rate * alive_for)
    recency = _nth_arrival(rng, x, x, alive_for)  # the last of x arrivals
    return _summary_frame({"frequency": x.astype(np.float64), "recency": recency, "T": ages}, freq)


def simulate_bgbb(
    n_customers: int = 10_000,
    *,
    n_opportunities: int = 6,
    seed: int = 0,
    params: dict[str, float] | None = None,
    freq: str | None = "Y",
) -> pd.DataFrame:
    """A discrete-time summary drawn from the BG/BB model: ``frequency`` (transactions),
    ``recency`` (opportunity of the last one, 0 if none), ``T`` (= ``n_opportunities``).

    Transaction probabilities p ~ Beta(α, β); while alive, a customer transacts at each
    opportunity with probability p and becomes inactive before each later opportunity with
    probability θ ~ Beta(γ, δ). Defaults: the donations estimates, 6 yearly opportunities.

    Examples
    --------
    >>> from custval.datasets import simulate_bgbb
    >>> s = simulate_bgbb(1_000, seed=1)
    >>> int(s["T"].max()), bool((s["frequency"] <= s["recency"]).all())
    (6, True)
    """
    p = _params("bgbb", params)
    rng = np.random.default_rng(seed)
    n, m = int(n_customers), int(n_opportunities)
    if m < 1:
        raise ValueError("n_opportunities must be ≥ 1")
    buy = rng.beta(p["alpha"], p["beta"], size=n)
    drop = rng.beta(p["gamma"], p["delta"], size=n)
    alive = np.minimum(rng.geometric(drop) - 1, m)  # opportunities while alive
    chances = np.arange(1, m + 1)
    bought = (rng.random((n, m)) < buy[:, None]) & (chances[None, :] <= alive[:, None])
    x = bought.sum(axis=1).astype(np.float64)
    recency = np.where(bought, chances[None, :], 0).max(axis=1).astype(np.float64)
    return _summary_frame({"frequency": x, "recency": recency, "T": np.full(n, float(m))}, freq)


def simulate_sbg(
    n_customers: int = 10_000,
    *,
    n_periods: int = 8,
    seed: int = 0,
    params: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Contractual customers drawn from the shifted-beta-geometric model: ``recency`` =
    periods paid for (the first counts as 1), ``T`` = ``n_periods`` observed (recency = T:
    still active). Churn probabilities θ ~ Beta(α, β), defaults from the "regular" cohort.

    Examples
    --------
    >>> from custval.datasets import simulate_sbg
    >>> s = simulate_sbg(1_000, seed=1)
    >>> int(s["recency"].min()) >= 1, int(s["recency"].max())
    (True, 8)
    """
    p = _params("sbg", params)
    rng = np.random.default_rng(seed)
    n, m = int(n_customers), int(n_periods)
    churn = rng.beta(p["alpha"], p["beta"], size=n)
    recency = np.minimum(rng.geometric(churn), m).astype(np.float64)
    return _summary_frame({"recency": recency, "T": np.full(n, float(m))}, None)


def simulate_gamma_gamma(
    n_customers: int = 10_000,
    *,
    frequency: Any = None,
    seed: int = 0,
    params: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Repeat customers' ``frequency`` and mean spend ``monetary_value`` from the Gamma-Gamma
    model: each transaction is Gamma(p, ν) with ν ~ Gamma(q, γ), so the mean of x of them is
    Gamma(p x, ν x). ``frequency`` (per customer) defaults to 1 + Poisson(2).

    Examples
    --------
    >>> from custval.datasets import simulate_gamma_gamma
    >>> s = simulate_gamma_gamma(1_000, seed=1)
    >>> bool((s["monetary_value"] > 0).all() and (s["frequency"] >= 1).all())
    True
    """
    p = _params("gamma_gamma", params)
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    if frequency is None:
        x = 1.0 + rng.poisson(2.0, size=n)
    else:
        x = np.broadcast_to(np.asarray(frequency, dtype=np.float64), (n,)).copy()
    nu = rng.gamma(p["q"], 1.0 / p["gamma"], size=n)
    m = np.zeros(n)
    repeat = x > 0
    m[repeat] = rng.gamma(p["p"] * x[repeat], 1.0 / (nu[repeat] * x[repeat]))
    return _summary_frame({"frequency": x, "monetary_value": m}, None)
