#!/usr/bin/env python3
"""Horizontal bar chart of rawserve/best-peer ratios as SVG. Standard library only.

    chart.py RATIOS_JSON OUT_SVG [TITLE]

RATIOS_JSON is the list bench/parse.py writes: [{"label", "ratio", ...}].
A ratio ≥ 1 means rawserve wins (bar green), < 1 means a peer wins (bar red).
The x axis is logarithmic so that 2× better and 2× worse are the same length.
"""

import json
import math
import sys
from xml.sax.saxutils import escape

WIDTH = 900
LABEL_W = 380
RIGHT_PAD = 60
VALUE_PAD = 50
# Candidate grid lines, most important first; one is drawn only if it keeps
# its distance from those already drawn.
TICKS = (1, 10, 0.1, 2, 0.5, 100, 0.01, 5, 0.2, 1000, 0.001, 3, 0.3, 1.5, 0.75, 20, 0.05, 50, 0.02)
MIN_TICK_GAP = 36


def ratio_text(ratio):
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"
BAR_H = 22
GAP = 8
TOP = 56
BOTTOM = 40


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        ratios = [r for r in json.load(f) if r.get("ratio") and r["ratio"] > 0]
    title = argv[3] if len(argv) == 4 else "rawserve ÷ best peer (≥ 1 means rawserve wins; latency and memory inverted)"

    logs = [math.log10(r["ratio"]) for r in ratios] or [0.0]
    # Symmetric log range around 1.0, at least 0.5× … 2×.
    span = max(math.log10(2), max(abs(v) for v in logs) * 1.1)
    x0 = LABEL_W + VALUE_PAD  # left edge of the plot; values of red bars go in the pad
    plot_w = WIDTH - x0 - RIGHT_PAD

    def x_of(log_value):
        return x0 + (log_value + span) / (2 * span) * plot_w

    height = TOP + len(ratios) * (BAR_H + GAP) + BOTTOM
    out = []
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
               f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">')
    out.append(f'<rect width="{WIDTH}" height="{height}" fill="white"/>')
    out.append(f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">'
               f'{escape(title)}</text>')

    # Grid lines at "nice" ratios within range.
    axis_y = TOP + len(ratios) * (BAR_H + GAP)
    drawn = []
    for tick in TICKS:
        lv = math.log10(tick)
        x = x_of(lv)
        if abs(lv) <= span and all(abs(x - d) >= MIN_TICK_GAP for d in drawn):
            drawn.append(x)
            out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{axis_y}" stroke="#e3e3e3"/>')
            out.append(f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#555">{tick:g}×</text>')

    center = x_of(0.0)
    for i, r in enumerate(ratios):
        y = TOP + i * (BAR_H + GAP)
        lv = math.log10(r["ratio"])
        x_end = x_of(lv)
        left, right = sorted((center, x_end))
        colour = "#2e9d4f" if r["ratio"] >= 1 else "#c8423a"
        out.append(f'<text x="{LABEL_W - 8}" y="{y + BAR_H * 0.7:.1f}" text-anchor="end">{escape(r["label"])}</text>')
        out.append(f'<rect x="{left:.1f}" y="{y}" width="{max(right - left, 1):.1f}" height="{BAR_H}" fill="{colour}"/>')
        if r["ratio"] >= 1:
            out.append(f'<text x="{x_end + 4:.1f}" y="{y + BAR_H * 0.7:.1f}">{ratio_text(r["ratio"])}</text>')
        else:
            out.append(f'<text x="{x_end - 4:.1f}" y="{y + BAR_H * 0.7:.1f}" text-anchor="end">{ratio_text(r["ratio"])}</text>')

    out.append(f'<line x1="{center:.1f}" y1="{TOP - 10}" x2="{center:.1f}" y2="{axis_y}" '
               f'stroke="black" stroke-width="2"/>')
    out.append(f'<text x="{center:.1f}" y="{TOP - 14}" text-anchor="middle" font-size="12">1.0 (parity)</text>')
    out.append(f'<text x="{x0 + plot_w:.1f}" y="{axis_y + 32}" text-anchor="end" fill="#555" font-size="11">'
               f'log scale</text>')
    out.append("</svg>")
    with open(argv[2], "w") as f:
        f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
