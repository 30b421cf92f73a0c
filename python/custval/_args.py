"""Checks of the options the data functions share (``money``, ``freq_multiplier``, …)."""

from __future__ import annotations

import math

import numpy as np

from custval.exceptions import ArgumentError

MONEY = ("float", "decimal")


def check_money(money: str) -> bool:
    """Whether ``money`` asks for decimals."""
    if money not in MONEY:
        raise ArgumentError(f"money must be 'float' or 'decimal', not {money!r}")
    return money == "decimal"


FREQS = ("h", "D", "W", "M", "Q", "Y")


def check_freq(freq: str) -> str:
    """``freq`` when it is text (the native side parses it and lists the accepted values)."""
    if not isinstance(freq, str):
        raise ArgumentError(
            f"freq must be one of {', '.join(map(repr, FREQS))}, not {type(freq).__name__}"
        )
    return freq


def check_scale(scale: int) -> int:
    """``scale`` (decimal places of money) as an int from 0 to 38 (decimal128's digits)."""
    places = check_whole(scale, "scale", minimum=0)
    if places > 38:
        raise ArgumentError(f"scale must be at most 38 (decimal128 has 38 digits), got {scale!r}")
    return places


def number(value: float, name: str) -> float:
    """``value`` as a float when it is a real number (not text, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentError(f"{name} must be a number, not {type(value).__name__}")
    return float(value)


def check_multiplier(freq_multiplier: float) -> float:
    freq_multiplier = number(freq_multiplier, "freq_multiplier")
    if not freq_multiplier > 0:
        raise ArgumentError(f"freq_multiplier must be positive, got {freq_multiplier!r}")
    return float(freq_multiplier)


def check_window(active_window: int) -> int:
    if isinstance(active_window, bool) or not isinstance(active_window, int | np.integer):
        raise ArgumentError(f"active_window must be an integer, not {type(active_window).__name__}")
    if active_window < 1:
        raise ArgumentError(f"active_window must be at least 1, got {active_window}")
    return int(active_window)


def check_whole(value: float, name: str, minimum: int = 1) -> int:
    """``value`` as an int: a whole number (7 or 7.0) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentError(f"{name} must be a whole number, not {type(value).__name__}")
    if not math.isfinite(value) or value != int(value) or value < minimum:
        raise ArgumentError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def check_margin(margin: float | None, cost: str | None) -> None:
    """A gross margin comes from a rate or from a cost column, not both."""
    if margin is not None and cost is not None:
        raise ArgumentError("pass either margin= (a rate) or cost= (a column), not both")
