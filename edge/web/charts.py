"""Inline SVG bar charts for the shift report: no chart library, nothing from outside."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

COLORS = ("#4a90d9", "#d9534f")


def bar_chart(rows: list[tuple[str, int, int]], labels: tuple[str, str], height: int = 180,
              bar_w: int = 26) -> Markup:
    """Grouped bars: per row a total (blue) and a part of it (red); labels under each group."""
    if not rows:
        return Markup('<p class="muted">No data for this period.</p>')
    top = max(max(a, b) for _, a, b in rows) or 1
    group = bar_w * 2 + 14
    width = max(320, group * len(rows) + 40)
    plot_h = height - 40
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(labels[0])} per group">']
    for i, (name, a, b) in enumerate(rows):
        x = 30 + i * group
        for j, v in enumerate((a, b)):
            if not labels[j]:
                continue
            h = round(plot_h * v / top)
            parts.append(f'<rect x="{x + j * bar_w}" y="{10 + plot_h - h}" width="{bar_w - 2}" height="{h}" '
                         f'fill="{COLORS[j]}"><title>{escape(name)}: {v} {escape(labels[j])}</title></rect>')
            parts.append(f'<text x="{x + j * bar_w + bar_w / 2 - 1}" y="{8 + plot_h - h}" font-size="11" '
                         f'text-anchor="middle">{v}</text>')
        parts.append(f'<text x="{x + bar_w}" y="{height - 12}" font-size="12" text-anchor="middle">'
                     f'{escape(name)}</text>')
    legend = "".join(f'<rect x="{width - 190 + k * 95}" y="2" width="10" height="10" fill="{COLORS[k]}"/>'
                     f'<text x="{width - 176 + k * 95}" y="11" font-size="11">{escape(lab)}</text>'
                     for k, lab in enumerate(labels) if lab)
    parts.append(legend + "</svg>")
    return Markup("".join(parts))
