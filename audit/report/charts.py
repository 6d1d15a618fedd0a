"""Draw a :class:`~audit.evidence.Chart` as an SVG string with matplotlib.

The chart is drawn from its data only (checks never render). Text stays text
(``svg.fonttype='none'``) so that it can be searched and extracted from the
PDF, and the font is DejaVu Sans, the only family WeasyPrint can rely on here.
Figures are sized for the text width of an A4 page (about 170 mm), so that
9 pt labels print at 9 pt. The output is deterministic: no date in the
metadata, and ids salted with the chart id, so two charts inlined in one HTML
page never share an element id.
"""

from __future__ import annotations

import io
import math
import re
from html import escape
from typing import TYPE_CHECKING, Any

from audit.evidence import Chart

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["chart_svg", "FIGURE_WIDTH_IN"]

#: Text width of an A4 page with 20 mm margins, in inches.
FIGURE_WIDTH_IN = 6.7

_INK = "#1f2933"
_BAR = "#3e6482"
_WHISKER = "#1f2933"
_REFERENCE = "#a3261b"
_GRID = "#d5d9de"
_SERIES = ["#3e6482", "#c07a2c", "#5b8c5a", "#8a5a9b", "#6b7280", "#a3261b"]

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "axes.edgecolor": "#8a939c",
    "axes.labelcolor": _INK,
    "xtick.color": _INK,
    "ytick.color": _INK,
    "text.color": _INK,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "svg.image_inline": True,
}


def _nan(values: list[float | None] | None) -> list[float]:
    return [math.nan if v is None else float(v) for v in (values or [])]


#: Words per line of a "tokens" chart (a line is about 6.5 inches of 9 pt text).
_TOKEN_CHARS_PER_LINE = 100


def _token_lines(words: list[str]) -> list[list[int]]:
    """Word positions per line, wrapping at about _TOKEN_CHARS_PER_LINE characters."""
    lines: list[list[int]] = [[]]
    used = 0
    for i, word in enumerate(words):
        if lines[-1] and used + len(word) + 1 > _TOKEN_CHARS_PER_LINE:
            lines.append([])
            used = 0
        lines[-1].append(i)
        used += len(word) + 1
    return lines


#: Side of one panel of an "images" chart, in inches (a 32-pixel image at about 2.5 printed pixels per image pixel).
_PANEL_IN = 1.25


def _height(chart: Chart) -> float:
    if chart.kind == "images":
        return _PANEL_IN + 0.3
    if chart.kind == "tokens":
        return 0.3 + 0.24 * len(_token_lines(chart.labels))
    if chart.kind == "barh":
        return min(6.0, max(1.6, 0.2 * len(chart.labels) + 0.85))
    return 2.5


def _draw_barh(ax, chart: Chart) -> None:
    values = _nan(chart.values)
    positions = list(range(len(values)))
    xerr = None
    if chart.ci_low is not None and chart.ci_high is not None:
        low, high = _nan(chart.ci_low), _nan(chart.ci_high)
        xerr = [
            [max(v - lo, 0.0) if not (math.isnan(v) or math.isnan(lo)) else 0.0 for v, lo in zip(values, low, strict=True)],
            [max(hi - v, 0.0) if not (math.isnan(v) or math.isnan(hi)) else 0.0 for v, hi in zip(values, high, strict=True)],
        ]
    ax.barh(positions, values, height=0.6, color=_BAR, zorder=2,
            xerr=xerr, error_kw={"ecolor": _WHISKER, "elinewidth": 0.9, "capsize": 2.5, "capthick": 0.9})
    ax.set_yticks(positions, labels=chart.labels)
    ax.invert_yaxis()
    ax.set_ylim(len(values) - 0.5, -0.5)
    ax.grid(axis="x", color=_GRID, linewidth=0.6, zorder=0)
    if chart.reference is not None:
        ax.axvline(chart.reference, color=_REFERENCE, linestyle=(0, (4, 2)), linewidth=1.2, zorder=3,
                   label=chart.reference_label or f"reference {chart.reference:g}")


def _draw_bar(ax, chart: Chart) -> None:
    values = _nan(chart.values)
    positions = list(range(len(values)))
    yerr = None
    if chart.ci_low is not None and chart.ci_high is not None:
        low, high = _nan(chart.ci_low), _nan(chart.ci_high)
        yerr = [
            [max(v - lo, 0.0) if not (math.isnan(v) or math.isnan(lo)) else 0.0 for v, lo in zip(values, low, strict=True)],
            [max(hi - v, 0.0) if not (math.isnan(v) or math.isnan(hi)) else 0.0 for v, hi in zip(values, high, strict=True)],
        ]
    ax.bar(positions, values, width=0.6, color=_BAR, zorder=2,
           yerr=yerr, error_kw={"ecolor": _WHISKER, "elinewidth": 0.9, "capsize": 2.5, "capthick": 0.9})
    rotate = len(chart.labels) > 6 or max((len(s) for s in chart.labels), default=0) > 12
    ax.set_xticks(positions, labels=chart.labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    ax.grid(axis="y", color=_GRID, linewidth=0.6, zorder=0)
    if chart.reference is not None:
        ax.axhline(chart.reference, color=_REFERENCE, linestyle=(0, (4, 2)), linewidth=1.2, zorder=3,
                   label=chart.reference_label or f"reference {chart.reference:g}")


def _draw_line(ax, chart: Chart) -> None:
    x = [float(v) for v in (chart.x or range(len(chart.values)))]
    series = dict(chart.series or {})
    if chart.values:
        series = {chart.ylabel or chart.title: chart.values, **series}
    for i, (name, values) in enumerate(series.items()):
        ax.plot(x[: len(values)], _nan(values), color=_SERIES[i % len(_SERIES)], linewidth=1.4,
                marker="o", markersize=3, label=name, zorder=2)
    ax.grid(color=_GRID, linewidth=0.6, zorder=0)
    if chart.reference is not None:
        ax.axhline(chart.reference, color=_REFERENCE, linestyle=(0, (4, 2)), linewidth=1.2, zorder=3,
                   label=chart.reference_label or f"reference {chart.reference:g}")


def _draw_tokens(ax, chart: Chart) -> None:
    """The words in reading order, each on a background from blue (lowers the score) to orange (raises it)."""
    from matplotlib import colormaps

    cmap = colormaps["PuOr_r"]
    values = _nan(chart.values)
    scale = max((abs(v) for v in values if not math.isnan(v)), default=1.0) or 1.0
    lines = _token_lines(chart.labels)
    ax.set_position((0.01, 0.02, 0.98, 0.96))  # the whole width: a text, not a plot
    ax.set_xlim(0, _TOKEN_CHARS_PER_LINE)
    ax.set_ylim(len(lines), 0)
    ax.axis("off")
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    space = _TOKEN_CHARS_PER_LINE * 0.006  # a word space, in data units
    for row, line in enumerate(lines):
        x = 0.0
        for i in line:
            word, value = chart.labels[i], values[i]
            box = None if math.isnan(value) else {"boxstyle": "square,pad=0.15", "linewidth": 0,
                                                   "facecolor": cmap(0.5 + 0.35 * max(-1.0, min(1.0, value / scale)))}
            text = ax.text(x, row + 0.5, word, va="center", ha="left", fontsize=8.5, bbox=box)
            extent = text.get_window_extent(renderer=renderer)  # the word's real width: words never overlap
            x = float(to_data.transform((extent.x1, 0))[0]) + space


def _draw_images(fig, chart: Chart) -> None:
    """The image in grey, then each map (0..1) over a faded copy of it, side by side with their titles."""
    import numpy as np

    grids = chart.grids or []
    image = np.asarray(grids[0], dtype=float) if grids else np.zeros((1, 1))
    for i, grid in enumerate(grids):
        ax = fig.add_subplot(1, len(grids), i + 1)
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", alpha=1.0 if i == 0 else 0.45)
        if i > 0:
            ax.imshow(np.asarray(grid, dtype=float), cmap="inferno", vmin=0.0, vmax=1.0, interpolation="nearest",
                      alpha=0.65)
        ax.set_title(chart.labels[i] if i < len(chart.labels) else "", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])


_DRAW = {"barh": _draw_barh, "bar": _draw_bar, "line": _draw_line, "tokens": _draw_tokens}


def _scope_ids(svg: str, prefix: str) -> str:
    """Prefix every element id (and every reference to it) so inlined charts never collide."""
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    if not ids:
        return svg
    pattern = re.compile(r'(\sid="|url\(#|href="#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len,
                                                                                           reverse=True)) + r')(?=[")])')
    return pattern.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)


def _flatten_groups(svg: str) -> str:
    """Drop the ``<g>`` wrappers that carry nothing but an id (matplotlib writes one per artist).

    They change nothing in the drawing and double the number of elements a renderer styles and walks; groups
    with a transform, style or clip path stay. matplotlib writes each group tag on a line of its own.
    """
    out: list[str] = []
    keep: list[bool] = []
    for line in svg.splitlines():
        tag = line.strip()
        if _BARE_GROUP.fullmatch(tag):
            keep.append(False)
            continue
        if tag.startswith("<g ") and not tag.endswith("/>"):
            keep.append(True)
        elif tag == "</g>":
            if not keep or not keep.pop():
                continue
        out.append(line)
    return "\n".join(out) + "\n" if not keep else svg


_BARE_GROUP = re.compile(r'<g(?: id="[^"]*")?>')
_STYLE_ATTR = re.compile(r' style="([^"]*)"')
_DECLARATION = re.compile(r"\s*([a-z-]+)\s*:\s*([^;]+?)\s*(?:;|$)")
_DECLARATIONS = re.compile(r"(?:\s*[a-z-]+\s*:\s*[^;]+?\s*(?:;|$))+\s*")
_GLOBAL_STYLE = re.compile(r'\s*<defs>\s*<style type="text/css">\*\{([^}]*)\}</style>\s*</defs>')


def _style_to_attributes(svg: str) -> str:
    """Write matplotlib's ``style="fill: ..."`` declarations as presentation attributes (``fill="..."``).

    The drawing is the same; a renderer reads attributes directly instead of parsing one CSS declaration list per
    element. matplotlib's one global rule (``*{stroke-linejoin: round; stroke-linecap: butt}``) moves to the root
    element, where it is inherited and overridden by an element's own attributes, as the rule was by its style.
    """
    def attributes(declarations: str) -> str | None:
        if not _DECLARATIONS.fullmatch(declarations):
            return None  # not a plain list of declarations: leave it as it is
        return "".join(f' {name}="{value}"' for name, value in _DECLARATION.findall(declarations))

    def element(match: re.Match[str]) -> str:
        converted = attributes(match.group(1))
        return match.group(0) if converted is None else converted

    global_rule = _GLOBAL_STYLE.search(svg)
    if global_rule is not None:
        root = attributes(global_rule.group(1))
        if root is None:
            return svg
        svg = svg[: global_rule.start()] + svg[global_rule.end():]
        svg = re.sub(r"(<svg\b[^>]*?)(>)", lambda m: m.group(1) + root + m.group(2), svg, count=1)
    return _STYLE_ATTR.sub(element, svg)


def chart_svg(chart: Chart) -> str:
    """Draw ``chart`` and return a standalone SVG document (XML declaration included)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", chart.id) + "-"
    with matplotlib.rc_context({**_RC, "svg.hashsalt": chart.id}):
        if chart.kind == "images":
            panels = max(1, len(chart.grids or []))
            fig = Figure(figsize=(min(FIGURE_WIDTH_IN, panels * (_PANEL_IN + 0.15)), _height(chart)))
            FigureCanvasAgg(fig)
            _draw_images(fig, chart)
            fig.tight_layout()
            return _finish(fig, chart, prefix)
        fig = Figure(figsize=(FIGURE_WIDTH_IN, _height(chart)))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if chart.values or chart.series:
            _DRAW[chart.kind](ax, chart)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color=_INK)
            ax.set_xticks([])
            ax.set_yticks([])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if chart.xlabel:
            ax.set_xlabel(chart.xlabel)
        if chart.ylabel:
            ax.set_ylabel(chart.ylabel)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.3,
                      ncol=min(len(handles), 4), frameon=False)
        if chart.kind != "tokens":  # a text keeps the whole width its drawing gave it
            fig.tight_layout()
        return _finish(fig, chart, prefix)


def _finish(fig, chart: Chart, prefix: str) -> str:
    """The drawn figure as SVG text: ids scoped to the chart, styles as attributes, the chart's title inside."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.05, metadata={"Date": None})
    svg = _style_to_attributes(_flatten_groups(_scope_ids(buffer.getvalue(), prefix)))
    return re.sub(r"(<svg\b[^>]*>)", lambda m: f"{m.group(1)}\n <title>{escape(chart.title)}</title>", svg, count=1)
