"""Checks of the options the data functions share (``money``, ``freq_multiplier``, …)."""

from __future__ import annotations

import math

import numpy as np

MONEY = ("float", "decimal")


def check_money(money: str) -> bool:
    """Whether ``money`` asks for decimals."""
    if money not in MONEY:
        raise ValueError(f"money must be 'float' or 'decimal', not {money!r}")
    return money == "decimal"


def check_multiplier(freq_multiplier: float) -> float:
    if not freq_multiplier > 0:
        raise ValueError(f"freq_multiplier must be positive, got {freq_multiplier!r}")
    return float(freq_multiplier)


def check_window(active_window: int) -> int:
    if isinstance(active_window, bool) or not isinstance(active_window, int | np.integer):
        raise TypeError(f"active_window must be an integer, not {type(active_window).__name__}")
    if active_window < 1:
        raise ValueError(f"active_window must be at least 1, got {active_window}")
    return int(active_window)


def check_whole(value: float, name: str, minimum: int = 1) -> int:
    """``value`` as an int: a whole number (7 or 7.0) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a whole number, not {type(value).__name__}")
    if not math.isfinite(value) or value != int(value) or value < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def check_margin(margin: float | None, cost: str | None) -> None:
    """A gross margin comes from a rate or from a cost column, not both."""
    if margin is not None and cost is not None:
        raise ValueError("pass either margin= (a rate) or cost= (a column), not both")
