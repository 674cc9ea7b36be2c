"""Small SVG charts drawn by the server: a sparkline and a line chart of a few series.

Pure functions from numbers to SVG text, so a test can check the exact points. Every
label is XML-escaped (miner names are user-controlled). Coordinates are written with one
decimal; the y axis starts at zero unless told otherwise, so two miners' charts compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from html import escape

FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"
PALETTE = ("#2f6fde", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285")
"""Series colours, in order (kept distinguishable for the common colour-blindnesses)."""


@dataclass(frozen=True)
class Series:
    """One named line: ``(x, y)`` points, x ascending (e.g. seconds since an origin)."""

    name: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Frame:
    """Where the data maps to: the drawing box and the data ranges."""

    left: float
    top: float
    width: float
    height: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def x(self, value: float) -> float:
        span = self.x_max - self.x_min
        share = 0.5 if span == 0 else (value - self.x_min) / span
        return self.left + share * self.width

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min
        share = 0.5 if span == 0 else (value - self.y_min) / span
        return self.top + (1.0 - share) * self.height


def _num(value: float) -> str:
    return f"{value:.1f}"


def _finite(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]


def polyline_points(points: Sequence[tuple[float, float]], frame: Frame) -> str:
    """The ``points`` attribute of a polyline drawing ``points`` in ``frame``."""
    return " ".join(f"{_num(frame.x(x))},{_num(frame.y(y))}" for x, y in points)


def frame_for(
    series: Sequence[Series],
    box: tuple[float, float, float, float],
    *,
    y_min: float | None = 0.0,
    y_max: float | None = None,
) -> Frame:
    """A frame fitting every finite point of ``series`` into ``box`` (left, top, w, h)."""
    points = [p for s in series for p in _finite(s.points)]
    xs = [x for x, _ in points] or [0.0]
    ys = [y for _, y in points] or [0.0]
    low = min(ys) if y_min is None else min(y_min, min(ys))
    high = max(ys) if y_max is None else y_max
    left, top, width, height = box
    return Frame(left, top, width, height, min(xs), max(xs), low, high)


def sparkline(
    values: Sequence[float],
    *,
    width: int = 120,
    height: int = 28,
    pad: float = 2.0,
    label: str = "trend",
) -> str:
    """A tiny line of ``values`` (evenly spaced), y from 0 to the largest value."""
    series = Series(label, [(float(i), float(v)) for i, v in enumerate(values)])
    frame = frame_for([series], (pad, pad, width - 2 * pad, height - 2 * pad))
    line = ""
    if _finite(series.points):
        line = (
            f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="1.5" '
            f'points="{polyline_points(_finite(series.points), frame)}"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>{line}</svg>'
    )


def _axes(frame: Frame, y_unit: str, x_labels: tuple[str, str]) -> list[str]:
    bottom = frame.top + frame.height
    right = frame.left + frame.width
    parts = [
        f'<line class="axis" x1="{_num(frame.left)}" y1="{_num(bottom)}" '
        f'x2="{_num(right)}" y2="{_num(bottom)}" stroke="#8a94a6"/>',
        f'<line class="axis" x1="{_num(frame.left)}" y1="{_num(frame.top)}" '
        f'x2="{_num(frame.left)}" y2="{_num(bottom)}" stroke="#8a94a6"/>',
        f'<text x="{_num(frame.left - 4)}" y="{_num(frame.top + 4)}" text-anchor="end" '
        f'font-size="10">{escape(_tick(frame.y_max))}{escape(y_unit)}</text>',
        f'<text x="{_num(frame.left - 4)}" y="{_num(bottom)}" text-anchor="end" '
        f'font-size="10">{escape(_tick(frame.y_min))}</text>',
        f'<text x="{_num(frame.left)}" y="{_num(bottom + 14)}" font-size="10">'
        f"{escape(x_labels[0])}</text>",
        f'<text x="{_num(right)}" y="{_num(bottom + 14)}" text-anchor="end" font-size="10">'
        f"{escape(x_labels[1])}</text>",
    ]
    return parts


def _tick(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2g}"


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        top = y + index * 14
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(top - 8)}" width="10" height="3" fill="{colour}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(top)}" font-size="10">{escape(line.name)}</text>'
        )
    return parts


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_unit: str = "",
    x_labels: tuple[str, str] = ("", ""),
    width: int = 560,
    height: int = 200,
    y_max: float | None = None,
    x_range: tuple[float, float] | None = None,
    legend: bool | None = None,
) -> str:
    """A line chart of ``series`` with a title, y range labels, x end labels and a legend.

    ``x_range`` fixes the x axis (e.g. the last hour) instead of fitting it to the data;
    ``legend`` defaults to showing one for more than one series.
    """
    legend_rows = len(series) if (len(series) > 1 if legend is None else legend) else 0
    box = (44.0, 24.0, width - 56.0, height - 48.0 - 14.0 * legend_rows)
    frame = frame_for(series, box, y_max=y_max)
    if x_range is not None:
        frame = replace(frame, x_min=x_range[0], x_max=x_range[1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" font-family="{FONT}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="{_num(box[0])}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
        *_axes(frame, y_unit, x_labels),
    ]
    drawn = False
    for index, line in enumerate(series):
        points = _finite(line.points)
        if not points:
            continue
        drawn = True
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'data-series="{escape(line.name)}" points="{polyline_points(points, frame)}"/>'
        )
        if len(points) == 1:
            x, y = points[0]
            parts.append(
                f'<circle cx="{_num(frame.x(x))}" cy="{_num(frame.y(y))}" r="3" fill="{colour}"/>'
            )
    if not drawn:
        parts.append(
            f'<text x="{_num(box[0] + box[2] / 2)}" y="{_num(box[1] + box[3] / 2)}" '
            f'text-anchor="middle" font-size="12">no data yet</text>'
        )
    if legend_rows:
        parts.extend(_legend(series, box[0], height - 14.0 * legend_rows + 4))
    parts.append("</svg>")
    return "".join(parts)
