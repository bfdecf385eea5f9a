"""Server-rendered SVG charts for the console's dashboard: a line over time and bars by category.

Pure functions from numbers to an SVG string: no JavaScript, nothing loaded from elsewhere, no ``style``
attributes (the console's Content-Security-Policy allows no inline style; colours are presentation attributes and
classes of ``console.css``). Every text put in the SVG is escaped here, which is why the console may embed the
result as markup. Each chart carries a ``<title>`` and a ``<desc>``; the page shows the numbers as text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 36  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    """One bar: its label (a commune's code) and its value."""

    label: str
    value: float


def _number(value: float) -> str:
    """A value as an axis label: an integer when it is one, else one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _nice_top(peak: float) -> float:
    """The top of the value axis: the smallest of 1, 2, 5 × 10ⁿ at or above ``peak`` (1 for an empty chart)."""
    if peak <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= peak:
        step *= 10
    while step > peak * 10:  # below 1
        step /= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= peak:
            return factor * step
    return 10 * step  # pragma: no cover - the loop above always returns


def _open(title: str, desc: str, chart_id: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def _value_axis(top: float, width: int, height: int) -> list[str]:
    """Three horizontal grid lines (0, half, top) with their labels."""
    plot_h = height - _TOP - _BOTTOM
    out = ['<g class="axis y">']
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        out.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{width - _RIGHT}" y2="{y:.1f}" stroke="#d0d5dd" '
                   f'stroke-width="1"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#475467">'
                   f'{escape(_number(top * fraction))}</text>')
    out.append("</g>")
    return out


def line_chart(values: Sequence[float], x_labels: Sequence[tuple[int, str]], *, title: str, desc: str,
               chart_id: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """A line through ``values`` (equally spaced, oldest first) with the value axis from 0 and, under the plot, each
    ``(index, text)`` of ``x_labels`` at that value's position. Each value is also a ``<circle>`` with its own
    ``<title>`` (the x label's text is the caller's to choose)."""
    top = _nice_top(max(values, default=0.0))
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    step = plot_w / (len(values) - 1) if len(values) > 1 else 0.0

    def x(i: int) -> float:
        return _LEFT + (step * i if len(values) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / top)

    out = _open(title, desc, chart_id, width, height) + _value_axis(top, width, height)
    out.append('<g class="axis x">')
    for index, text in x_labels:
        if 0 <= index < len(values):
            out.append(f'<text x="{x(index):.1f}" y="{height - _BOTTOM + 16}" text-anchor="middle" font-size="11" '
                       f'fill="#475467">{escape(text)}</text>')
    out.append("</g>")
    if values:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<path class="series" d="{path}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
        out.append('<g class="points">')
        out.extend(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="1.5" fill="#1d4ed8" data-value="{escape(_number(v))}"/>'
                   for i, v in enumerate(values))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(bars: Sequence[Bar], *, title: str, desc: str, chart_id: str, width: int = WIDTH,
              height: int = HEIGHT) -> str:
    """Vertical bars, one per item of ``bars`` in the given order, their labels under them and their values above
    them; each bar has a ``<title>`` (label: value)."""
    top = _nice_top(max((b.value for b in bars), default=0.0))
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    slot = plot_w / len(bars) if bars else plot_w
    bar_w = max(2.0, slot * 0.7)
    out = _open(title, desc, chart_id, width, height) + _value_axis(top, width, height)
    out.append('<g class="bars">')
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / top
        left = _LEFT + slot * i + (slot - bar_w) / 2
        middle = left + bar_w / 2
        out.append(f'<rect class="bar" x="{left:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                   f'height="{h:.1f}" fill="#b42318" data-label="{escape(bar.label)}" '
                   f'data-value="{escape(_number(bar.value))}"><title>{escape(bar.label)}: '
                   f'{escape(_number(bar.value))}</title></rect>')
        out.append(f'<text x="{middle:.1f}" y="{height - _BOTTOM + 16}" text-anchor="middle" font-size="11" '
                   f'fill="#475467">{escape(bar.label)}</text>')
        out.append(f'<text x="{middle:.1f}" y="{_TOP + plot_h - h - 3:.1f}" text-anchor="middle" font-size="11" '
                   f'fill="#101828">{escape(_number(bar.value))}</text>')
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
