"""Tiny SVG charts for offline reports: no JavaScript libraries, no network."""
from __future__ import annotations

import html
import math


def _ticks(low: float, high: float, count: int = 5, *, whole: bool = False, cover: bool = False) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]; whole numbers
    only when `whole` (iterations); with `cover`, the last tick reaches `high` (an axis that ends on a tick).

    >>> _ticks(0, 1075), _ticks(1, 18, whole=True)
    ([0.0, 250.0, 500.0, 750.0, 1000.0], [5.0, 10.0, 15.0])
    """
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, round(step))
    first = math.ceil(low / step - 1e-9) * step
    count = int((high - first) / step + 1e-9) + 1
    if cover and first + (count - 1) * step < high - 1e-9:
        count += 1
    return [float(round(first + i * step, 10)) for i in range(count)]


def _fmt(value: float) -> str:
    if value == 0 or 0.01 <= abs(value) < 100:
        return f"{value:.3g}"
    if 100 <= abs(value) < 1e6:
        return f"{value:,.0f}"  # 1,263 rather than 1.26e+03
    return f"{value:.1e}"


def line_chart(title: str, xs: list[float], ys: list[float], *, width: int = 300, height: int = 170) -> str:
    """A line chart of ys over xs (whole-numbered, such as iterations); NaN points are left out. Counts (every
    value a whole number) get an axis from 0 with whole ticks.

    >>> chart = line_chart("merges", [1, 2, 3], [0, 0, 0])
    >>> ">-1<" in chart, ">0.5<" in chart, ">0<" in chart
    (False, False, True)
    """
    points = [(x, y) for x, y in zip(xs, ys) if y is not None and not math.isnan(y)]
    left, bottom, top, right = 44, 24, 22, 10
    body = [f'<text x="{width / 2}" y="14" text-anchor="middle" class="title">{html.escape(title)}</text>']
    if points:
        counts = all(float(y).is_integer() for _, y in points)
        x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
        y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
        if counts:
            y0, y1 = min(0.0, y0), max(y1, 1.0)
        elif y0 == y1:
            y0, y1 = y0 - 1, y1 + 1
        if x0 == x1:
            x1 = x0 + 1

        def sx(x):
            return left + (x - x0) / (x1 - x0) * (width - left - right)

        def sy(y):
            return height - bottom - (y - y0) / (y1 - y0) * (height - bottom - top)

        for t in _ticks(y0, y1, whole=counts):
            body.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" class="grid"/>'
                        f'<text x="{left - 4}" y="{sy(t) + 3:.1f}" text-anchor="end">{_fmt(t)}</text>')
        for t in _ticks(x0, x1, whole=True):
            body.append(f'<text x="{sx(t):.1f}" y="{height - 8}" text-anchor="middle">{_fmt(t)}</text>')
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" class="line"/>')
        body.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" class="dot"><title>{_fmt(x)}: {_fmt(y)}'
                    f'</title></circle>' for x, y in points)
    else:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no values</text>')
    return f'<svg width="{width}" height="{height}" class="chart">{"".join(body)}</svg>'


def loglog_chart(title: str, series: list[tuple[str, list[tuple[float, float]], str]], *,
                 width: int = 420, height: int = 300, x_label: str = "", y_label: str = "") -> str:
    """Several series of positive (x, y) points on log-log axes; style 'dots' or 'line'."""
    pts = [p for _, points, _ in series for p in points if p[0] > 0 and p[1] > 0]
    left, bottom, top, right = 52, 36, 22, 12
    body = [f'<text x="{width / 2}" y="14" text-anchor="middle" class="title">{html.escape(title)}</text>']
    if pts:
        lx0, lx1 = math.floor(math.log10(min(p[0] for p in pts))), math.ceil(math.log10(max(p[0] for p in pts)))
        ly0, ly1 = math.floor(math.log10(min(p[1] for p in pts))), math.ceil(math.log10(max(p[1] for p in pts)))
        lx1, ly1 = max(lx1, lx0 + 1), max(ly1, ly0 + 1)

        def sx(x):
            return left + (math.log10(x) - lx0) / (lx1 - lx0) * (width - left - right)

        def sy(y):
            return height - bottom - (math.log10(y) - ly0) / (ly1 - ly0) * (height - bottom - top)

        for e in range(lx0, lx1 + 1):
            body.append(f'<line y1="{top}" y2="{height - bottom}" x1="{sx(10 ** e):.1f}" x2="{sx(10 ** e):.1f}" '
                        f'class="grid"/><text x="{sx(10 ** e):.1f}" y="{height - bottom + 14}" '
                        f'text-anchor="middle">1e{e}</text>')
        for e in range(ly0, ly1 + 1):
            body.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(10 ** e):.1f}" y2="{sy(10 ** e):.1f}" '
                        f'class="grid"/><text x="{left - 4}" y="{sy(10 ** e) + 3:.1f}" text-anchor="end">1e{e}</text>')
        for name, points, style in series:
            points = [p for p in points if p[0] > 0 and p[1] > 0]
            if style == "line" and points:
                body.append('<polyline class="fit" points="' +
                            " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points) + '"/>')
            else:
                body.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.2" class="dot"/>' for x, y in points)
        body.append(f'<text x="{width / 2}" y="{height - 4}" text-anchor="middle">{html.escape(x_label)}</text>')
        body.append(f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
                    f'text-anchor="middle">{html.escape(y_label)}</text>')
    return f'<svg width="{width}" height="{height}" class="chart">{"".join(body)}</svg>'


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]


def curves_chart(title: str, series: list[tuple[str, list[tuple[float, float]], bool]], *, width: int = 1000,
                 height: int = 440, x_label: str = "", y_label: str = "") -> str:
    """Several (name, points, dashed) step curves on linear axes, a marker at each point that shows its
    values on hover, and a legend below the chart with every name in full."""
    pts = [p for _, points, _ in series for p in points]
    rows = math.ceil(len(series) / 3)
    left, bottom, top, right = 60, 44, 24, 20
    plot_bottom = height - bottom
    total = height + 20 * rows + 8
    body = [f'<text x="{width / 2}" y="15" text-anchor="middle" class="title">{html.escape(title)}</text>']
    if pts:
        x1 = max(p[0] for p in pts) or 1.0
        y1 = max(max(p[1] for p in pts), 1e-9)
        xt, yt = _ticks(0, x1, cover=True), _ticks(0, y1, cover=True)
        x1, y1 = max(x1, xt[-1]), max(y1, yt[-1])

        def sx(x):
            return left + x / x1 * (width - left - right)

        def sy(y):
            return plot_bottom - y / y1 * (plot_bottom - top)

        for t in yt:
            body.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" class="grid"/>'
                        f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        for t in xt:
            body.append(f'<text x="{sx(t):.1f}" y="{plot_bottom + 16}" text-anchor="middle">{_fmt(t)}</text>')
        for i, (name, points, dashed) in enumerate(series):
            colour = PALETTE[i % len(PALETTE)]
            dash = ' stroke-dasharray="7 4"' if dashed else ""
            steps = []
            for j, (x, y) in enumerate(points):  # pass@1 holds until the next point: a step, not a slope
                if j:
                    steps.append(f"{sx(x):.1f},{sy(points[j - 1][1]):.1f}")
                steps.append(f"{sx(x):.1f},{sy(y):.1f}")
            body.append(f'<polyline points="{" ".join(steps)}" fill="none" stroke="{colour}" stroke-width="2.2"'
                        f'{dash} opacity="0.9"/>')
            body.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"><title>'
                        f'{html.escape(name)}: {_fmt(x)} tokens, {_fmt(y)}</title></circle>' for x, y in points)
            column, row = i % 3, i // 3
            lx, ly = left + column * (width - left) / 3, height + 4 + 20 * row
            body.append(f'<line x1="{lx:.0f}" x2="{lx + 28:.0f}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                        f'stroke-width="2.5"{dash}/><text x="{lx + 34:.0f}" y="{ly + 4}">{html.escape(name)}</text>')
        body.append(f'<text x="{width / 2}" y="{plot_bottom + 34}" text-anchor="middle">{html.escape(x_label)}</text>')
        body.append(f'<text x="14" y="{plot_bottom / 2}" transform="rotate(-90 14 {plot_bottom / 2})" '
                    f'text-anchor="middle">{html.escape(y_label)}</text>')
    return f'<svg viewBox="0 0 {width} {total}" width="100%" class="chart">{"".join(body)}</svg>'
