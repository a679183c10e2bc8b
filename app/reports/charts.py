"""Server-rendered bar charts: the geometry of a horizontal bar chart as plain data, drawn as SVG
by `templates/reports/_chart.html` (no script). Pure: no I/O.

A hidden figure ([c]) gets no bar, only its mark, so the chart never shows what the table hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WIDTH = 640
LABEL_WIDTH = 210
VALUE_WIDTH = 70
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 8


def _text(value: float | None, hidden_text: str) -> str:
    if value is None:
        return hidden_text
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def bar_chart(
    *, title: str, bars: Sequence[tuple[str, float | int | None]], hidden_text: str, describe: str
) -> dict[str, Any]:
    """`describe` is a sentence with %(title)s and %(values)s, in the reader's language."""
    largest = max((value for _label, value in bars if value), default=0)
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    drawn = []
    for index, (label, value) in enumerate(bars):
        length = 0 if not value or not largest else max(1, round(room * value / largest))
        y = TOP + index * ROW_HEIGHT
        drawn.append({
            "label": label if len(label) <= 30 else label[:29] + "…",
            "y": y,
            "text_y": y + BAR_HEIGHT - 3,
            "width": length,
            "value_x": LABEL_WIDTH + length + 6,
            "text": _text(value, hidden_text),
        })  # fmt: skip
    values = "; ".join(f"{label}: {_text(value, hidden_text)}" for label, value in bars)
    return {
        "title": title,
        "description": describe % {"title": title, "values": values},
        "width": WIDTH,
        "height": TOP * 2 + max(1, len(bars)) * ROW_HEIGHT,
        "label_width": LABEL_WIDTH,
        "bar_x": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
        "bars": drawn,
    }
