"""Small server-side SVG charts: a bar chart, a stacked bar of states, a monthly line.

Every chart is a self-contained `<svg>` string (no script, no CDN, works offline and in print):
`role="img"` with `aria-labelledby` pointing at its `<title>` and a `<desc>` listing every value
as text, so a screen reader reads the numbers; each bar and point has its own `<title>` tooltip.
The `viewBox` fixes the drawing's proportions and `width="100%"` lets it shrink to a tablet.
Labels are XML-escaped here; embed the returned string in a template with `|safe`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDTH = 640  # fits a 1366 px office screen beside a table, and a 768 px tablet alone
HEIGHT = 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 16, 64
PALETTE = ("#2b6cb0", "#38a169", "#d69e2e", "#e53e3e", "#805ad5", "#718096")


@dataclass(frozen=True)
class Series:
    """One named series of a stacked bar chart: a value per category and its fill colour."""

    name: str
    values: Sequence[float]
    color: str | None = None


def number_text(value: float) -> str:
    """Indonesian number text: '.' between thousands, ',' before decimals (1.234,5)."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    text = f"{value:,.1f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


Formatter = Callable[[float], str]


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    color: str = PALETTE[0],
    fmt: Formatter = number_text,
) -> str:
    """Vertical bars, one per (label, value); values must be >= 0."""
    _check_values(v for _, v in bars)
    top = _nice_max(max((v for _, v in bars), default=0))
    parts, slot = [], _slot(len(bars))
    for i, (label, value) in enumerate(bars):
        x, h = _LEFT + i * slot, _scaled(value, top)
        text = f"{label}: {fmt(value)}{unit}"
        parts.append(_rect(x + slot * 0.15, _base() - h, slot * 0.7, h, color, text))
        parts.append(_x_label(x + slot / 2, label))
    desc = "; ".join(f"{label}: {fmt(v)}{unit}" for label, v in bars)
    return _svg(title, desc, _axis(top, fmt) + parts)


def stacked_bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Formatter = number_text,
) -> str:
    """One bar per category, stacked from the series (e.g. on track / at risk / breached)."""
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(categories)}")
        _check_values(s.values)
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0))
    parts, slot = [], _slot(len(categories))
    for i, category in enumerate(categories):
        x, y = _LEFT + i * slot, _base()
        for k, s in enumerate(series):
            h = _scaled(s.values[i], top)
            text = f"{category} — {s.name}: {fmt(s.values[i])}"
            parts.append(_rect(x + slot * 0.15, y - h, slot * 0.7, h, _color(s, k), text))
            y -= h
        parts.append(_x_label(x + slot / 2, category))
    parts += _legend(series)
    desc = "; ".join(
        f"{c}: " + ", ".join(f"{s.name} {fmt(s.values[i])}" for s in series)
        for i, c in enumerate(categories)
    )
    return _svg(title, desc, _axis(top, fmt) + parts)


def line_chart(
    title: str,
    points: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    target: float | None = None,
    target_label: str = "Standar",
    y_max: float | None = None,
    fmt: Formatter = number_text,
) -> str:
    """A line over ordered labels (months); None leaves a gap; `target` draws a dashed line;
    `y_max` fixes the axis top (100 for percentages), else it fits the values."""
    present = [v for _, v in points if v is not None]
    _check_values(present)
    top = y_max or _nice_max(max([*present, target or 0], default=0))
    slot = _slot(len(points))
    parts: list[str] = []
    runs: list[list[str]] = [[]]
    for i, (label, value) in enumerate(points):
        x = _LEFT + i * slot + slot / 2
        parts.append(_x_label(x, label))
        if value is None:
            runs.append([])
            continue
        y = _base() - _scaled(value, top)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        tip = escape(f"{label}: {fmt(value)}{unit}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE[0]}"><title>{tip}</title>'
            "</circle>"
        )
    for run in runs:
        if len(run) > 1:
            parts.insert(0, _polyline(run))
    if target is not None:
        y = _base() - _scaled(target, top)
        tip = escape(f"{target_label}: {fmt(target)}{unit}")
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{PALETTE[3]}" stroke-dasharray="6 4"><title>{tip}</title></line>'
        )
    desc = "; ".join(f"{label}: {'-' if v is None else fmt(v) + unit}" for label, v in points)
    if target is not None:
        desc += f"; {target_label}: {fmt(target)}{unit}"
    return _svg(title, desc, _axis(top, fmt) + parts)


def _svg(title: str, desc: str, parts: list[str]) -> str:
    ident = "c" + hashlib.sha1(f"{title}\n{desc}".encode()).hexdigest()[:10]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" style="max-width:{WIDTH}px;height:auto" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" class="chart">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
    )
    return head + "".join(parts) + "</svg>"


def _axis(top: float, fmt: Formatter) -> list[str]:
    lines = [
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_base()}" y2="{_base()}" stroke="#4a5568"/>'
    ]
    for k in range(5):
        value = top * k / 4
        y = _base() - _scaled(value, top)
        lines.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4a5568">{escape(fmt(value))}</text>'
        )
        if k:
            lines.append(
                f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="#e2e8f0"/>'
            )
    return lines


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill={quoteattr(fill)}>'
        f"<title>{escape(tip)}</title></rect>"
    )


def _polyline(points: list[str]) -> str:
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[0]}" '
        'stroke-width="2"/>'
    )


def _x_label(x: float, label: str) -> str:
    short = label if len(label) <= 14 else label[:13] + "…"
    return (
        f'<text x="{x:.1f}" y="{_base() + 16}" text-anchor="middle" font-size="11" '
        f'fill="#1a202c">{escape(short)}</text>'
    )


def _legend(series: Sequence[Series]) -> list[str]:
    out, x, y = [], _LEFT, HEIGHT - 18
    for k, s in enumerate(series):
        out.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill={quoteattr(_color(s, k))}/>'
        )
        out.append(f'<text x="{x + 14}" y="{y}" font-size="11">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return out


def _color(s: Series, k: int) -> str:
    return s.color or PALETTE[k % len(PALETTE)]


def _check_values(values) -> None:
    for v in values:
        if math.isnan(v) or v < 0:
            raise ValueError(f"chart values must be numbers >= 0, got {v!r}")


def _nice_max(value: float) -> float:
    """The axis top: four equal steps of 1, 2, 2.5 or 5 times a power of ten (at least 4)."""
    if value <= 4:
        return 4
    quarter = value / 4
    power = 10 ** math.floor(math.log10(quarter))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if quarter <= m * power)
    return 4 * step


def _base() -> float:
    return HEIGHT - _BOTTOM


def _slot(count: int) -> float:
    return (WIDTH - _LEFT - _RIGHT) / max(count, 1)


def _scaled(value: float, top: float) -> float:
    return (HEIGHT - _TOP - _BOTTOM) * value / top
