"""Rich display: small styled HTML tables for Jupyter/VS Code and the matching plain text.

One way to format numbers everywhere a result shows itself: counts and money with thousands
separators (money at its own scale: two places unless the value is an exact decimal), rates
as percentages, other figures to four significant digits; a missing value is an em dash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

Cell = Any  # a value already formatted (str) or a number to format with ``number``

_STYLE = (
    "border-collapse:collapse;font-variant-numeric:tabular-nums;margin:0.2em 0 0.6em 0;"
    "font-size:0.92em"
)
_HEAD = "text-align:right;padding:0.2em 0.8em;border-bottom:1px solid #999;font-weight:600"
_CELL = "text-align:right;padding:0.15em 0.8em"
_LABEL = "text-align:left;padding:0.15em 0.8em;font-weight:500"


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(value: Any) -> str:
    """12,500."""
    return "—" if missing(value) else f"{int(value):,}"


def money(value: Any, scale: int = 2) -> str:
    """244,091.94: money to ``scale`` decimal places (exact decimals rounded half to even)."""
    if missing(value):
        return "—"
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal(1).scaleb(-scale)):,}"
    return f"{float(value):,.{scale}f}"


def scale_of(value: Any, default: int = 2) -> int:
    """The decimal places of an exact amount (a Decimal's exponent), else ``default``."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return default


def time_unit_text(time_unit: Any) -> str:
    """A model's or a summary's time unit in words: "weeks", "7-day periods", "months"."""
    if not time_unit:
        return "time units"
    freq = str(time_unit.get("freq", ""))
    multiplier = float(time_unit.get("freq_multiplier", 1) or 1)
    words = {"h": "hours", "H": "hours", "D": "days", "W": "weeks", "M": "months"}
    words |= {"Q": "quarters", "Y": "years"}
    if freq == "D" and multiplier == 7:
        return "weeks"
    if multiplier == 1:
        return words.get(freq, f"{freq} periods")
    return f"{multiplier:g}-{words.get(freq, freq).rstrip('s')} periods"


def rate(value: Any, digits: int = 1) -> str:
    """0.4888 → 48.9 %."""
    return "—" if missing(value) else f"{100 * float(value):,.{digits}f} %"


def number(value: Any, digits: int = 4) -> str:
    """A figure to ``digits`` significant digits (0.2426), or from 1,000 on to two decimal
    places with thousands separated (-9,582.43, 19,172.86)."""
    if missing(value):
        return "—"
    value = float(value)
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:,.{digits}g}"


def html_table(
    header: Sequence[str], rows: Sequence[Sequence[Cell]], caption: str | None = None
) -> str:
    """An HTML table: the first column holds row labels, the others right-aligned figures
    (numbers not yet formatted go through :func:`number`). Everything is escaped."""

    def text(value: Cell) -> str:
        return html.escape(value if isinstance(value, str) else number(value))

    head = "".join(
        f'<th style="{_HEAD};text-align:{"left" if i == 0 else "right"}">{html.escape(h)}</th>'
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{_LABEL if i == 0 else _CELL}">{text(value)}</td>'
            for i, value in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    title = (
        f'<caption style="text-align:left;font-weight:600;padding-bottom:0.3em">'
        f"{html.escape(caption)}</caption>"
        if caption
        else ""
    )
    table = f"{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
    return f'<table style="{_STYLE}">{table}</table>'


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[Cell]], caption: str | None = None
) -> str:
    """The same table as aligned plain text (labels left, figures right)."""
    cells = [list(header)] + [
        [value if isinstance(value, str) else number(value) for value in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            value.ljust(widths[i]) if i == 0 else value.rjust(widths[i])
            for i, value in enumerate(row)
        ).rstrip()
        for row in cells
    ]
    return "\n".join(([caption] if caption else []) + lines)


def block(*parts: str) -> str:
    """HTML parts (tables, paragraphs) in one block."""
    return "<div>" + "".join(parts) + "</div>"


def paragraph(text: str) -> str:
    return f'<p style="margin:0.2em 0">{html.escape(text)}</p>'
