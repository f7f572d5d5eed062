"""The figures' shared look, for a 1280x800 classroom projector: fonts of 15 px and more, the Okabe-Ito
colour-blind-safe palette (named for what it marks), cividis for magnitudes, a red-blue scale centred on zero for
signed values; `style()` sets a figure's title, fonts and margins in one layout update.

The pages' figures are plain dicts in plotly's JSON schema (`figure()`, `trace()`): a go.Figure validates every
property as it is set, which was half of a Step click's server CPU; ui.display.chart sends a dict as it is. The
schema checks live in the tests (tests/test_figures.py reads each figure through go.Figure, which validates it)."""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
NO_CATEGORY = "#9E9E9E"
USED, NOT_USED, PADDING = "#0072B2", "#D9D9D9", "#D55E00"
FROM_GRADIENT, FROM_STATE, FROM_RENORM = "#0072B2", "#E69F00", "#CC79A7"
MAGNITUDE = "cividis"
SIGNED = "RdBu_r"
FONT_SIZE, TITLE_SIZE = 15, 19
PART_COLOURS = {"grad": FROM_GRADIENT, "state": FROM_STATE, "decay": "#009E73", "renorm": FROM_RENORM}
LEGEND_BELOW = {"orientation": "h", "y": -0.25, "x": 0, "yanchor": "top"}  # a horizontal legend under the chart
LEGEND_BELOW_ROWS = LEGEND_BELOW | {"y": -0.28, "xanchor": "left"}  # lower: under a row axis and its title
# At the bottom edge of a half-width chart, whose legend stacks its entries: the plot is then short (plotly grows
# the bottom margin for them) and a fraction of its height below it is less than the x axis's ticks and title
LEGEND_BELOW_HALF = {"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 0, "yanchor": "bottom"}
FULL_WIDTH_CHARS, HALF_WIDTH_CHARS = 44, 30  # title characters that fit a phone's 350 px at 15 px (display.BASE_CSS)
TITLE_TOP_PX = 14  # from the chart's top edge to its title's first line
# Panel-title characters (at FONT_SIZE) across a phone's plot area (~260 px of a 350 px chart), shared by its panels
PANEL_TITLE_CHARS = 36


def figure(data: list[dict], layout: dict | None = None, frames: list[dict] | None = None) -> dict:
    """A figure as plain data, with the layout template a go.Figure would carry (what the chart looks like)."""
    fig = {"data": data, "layout": {"template": template()} | (layout or {})}
    if frames:
        fig["frames"] = frames
    return fig


def trace(kind: str, **props) -> dict:
    """One trace as plain data: `trace("bar", x=..., y=...)`, nested props as dicts (no magic underscores)."""
    return {"type": kind, **props}


@cache
def template() -> dict:
    """The default template's JSON (plotly's "plotly"), which go.Figure would have put in every layout."""
    return pio.templates[pio.templates.default].to_plotly_json()


@cache
def colorscale(name: str) -> list:
    """A named colour scale as the [[position, colour], ...] list plotly's validator would have sent."""
    return go.Heatmap(colorscale=name).to_plotly_json()["colorscale"]


def merge(base: dict, update: dict) -> dict:
    """`base` updated in place with `update`, nested dicts merged (plotly's update_layout on plain data)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def category_colour(category: int) -> str:
    """The colour of a corpus category (grey for -1, no category)."""
    return NO_CATEGORY if category < 0 else OKABE_ITO[category % len(OKABE_ITO)]


def plain(label: str) -> str:
    """A token as plotly text: '<' and '>' as entities, so '<pad>' shows instead of being read as a tag."""
    return str(label).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def symmetric(values: np.ndarray) -> float:
    """The largest absolute value (1 when all are 0): a signed colour scale from -peak to +peak."""
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return peak if peak > 0 else 1.0


def row_axis(rows: np.ndarray) -> dict:
    """An x axis over row ids: linear for consecutive rows, else one evenly spaced slot per shown row (a sample
    of a big table would be hair-thin bars scattered over 0..V), in row order."""
    axis = {"title": {"text": "row (token id)"}}
    rows = np.asarray(rows)
    if len(rows) > 1 and np.any(np.diff(rows) != 1):
        axis |= {"type": "category", "categoryorder": "array", "categoryarray": rows.tolist(), "nticks": 12}
        axis["title"]["text"] = "row (token id), sampled"
    return axis


def wrap_title(text: str, max_chars: int) -> str:
    """Plotly cuts a title at the chart's edge instead of wrapping it: break it at spaces into lines (<br>)."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > max_chars:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line])


def wrap_items(text: str, max_chars: int) -> str:
    """A label's items ('AdamW lr 0.05, wd 0.01'; 'output head: 40 rows') packed into lines (<br>) of at most
    `max_chars`, broken after a comma or a colon, and inside an item only when the item alone is longer (then at
    its spaces)."""
    lines: list[str] = []
    for item in re.split(r"(?<=[,:]) ", text):
        if lines and len(lines[-1]) + 1 + len(item) <= max_chars:
            lines[-1] += f" {item}"
        else:
            lines += wrap_title(item, max_chars).split("<br>")
    return "<br>".join(lines)


def panel_title(text: str, share: float) -> str:
    """A make_subplots panel title broken into lines (wrap_items, each of its own <br> lines too) that fit a panel
    `share` of the plot's width on a phone: plotly runs a longer one into its neighbour's."""
    chars = max(8, int(PANEL_TITLE_CHARS * share))
    return "<br>".join(wrap_items(line, chars) for line in text.split("<br>"))


def clear_corner(curves, level: float, y_range: tuple[float, float] | None = None, prefer: str = "right") -> dict:
    """Where a reference line's label (a blind guess, chance) does not lie on the curves: the annotation's x,
    xanchor and yanchor, at the end of the line ("left" or "right", `prefer` on a tie) and on the side of it
    (above or below) that fewest points of `curves` ((x, y) array pairs) occupy. The label is taken as a third of
    the plot wide and an eighth of the y range (`y_range`, default the points' and the level's) high."""
    xs = np.concatenate([np.asarray(x, dtype=float) for x, _ in curves]) if curves else np.zeros(0)
    ys = np.concatenate([np.asarray(y, dtype=float) for _, y in curves]) if curves else np.zeros(0)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    low, high = y_range or ((min(level, ys.min()), max(level, ys.max())) if ys.size else (level - 1, level + 1))
    height = (high - low) / 8 or 1.0
    left, right = (xs.min(), xs.max()) if xs.size else (0.0, 1.0)
    band = (right - left) / 3
    ends = {"left": xs <= left + band, "right": xs >= right - band}
    sides = {"bottom": (ys >= level) & (ys <= level + height), "top": (ys <= level) & (ys >= level - height)}
    options = [(end, side) for end in (prefer, "left" if prefer == "right" else "right") for side in ("bottom", "top")]
    end, side = min(options, key=lambda o: int((ends[o[0]] & sides[o[1]]).sum()))  # the first of the fewest
    return {"x": 0 if end == "left" else 1, "xanchor": end, "yanchor": side}


def panel_titles_px(fig, gap: int = 6, default_size: float = FONT_SIZE) -> int:
    """The height of a figure's panel titles (make_subplots' subplot_titles: annotations on or above the plots'
    top edge), which share the top margin with the chart's title: their lines at their font size, plus `gap` a
    line. `fig`: plain data or a go.Figure."""
    layout = fig.get("layout", {}) if isinstance(fig, dict) else fig.layout.to_plotly_json()
    above = [a for a in layout.get("annotations") or () if a.get("yref") == "paper" and (a.get("y") or 0) >= 1]
    lines = max((1 + str(a.get("text") or "").count("<br>") for a in above), default=0)
    size = max(((a.get("font") or {}).get("size") or default_size for a in above), default=default_size)
    return int(lines * (size + gap))


def style(fig, title: str, height: int = 400, fixed_margin: dict | None = None, half: bool = False, **layout):
    """Title, fonts and margins in one layout update of nested dicts: plotly's per-axis and magic-underscore
    updates cost several ms each, on every Step click. `fixed_margin` turns off plotly.js's automatic margins,
    which redraw a chart a second time in the browser (a third of the Train page's drawing time): the margins
    given must then leave room for tick labels, legends and colour bars. `fig`: a plain-data figure (updated in
    place) or a go.Figure."""
    title = wrap_title(title, HALF_WIDTH_CHARS if half else FULL_WIDTH_CHARS)
    extra = 24 * title.count("<br>") + panel_titles_px(fig)  # the title's further lines; panel titles below it
    margin = {"l": 70, "r": 20, "t": 60, "b": 55} | (fixed_margin or {})
    margin["t"] += extra
    update = {
        # hung from the top (plotly's "auto" centres its first line in the margin, over any panel titles)
        "title": {
            "text": title,
            "font": {"size": TITLE_SIZE},
            "x": 0,
            "xanchor": "left",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": TITLE_TOP_PX},
        },
        "font": {"size": FONT_SIZE},
        "height": height + extra,
        "margin": margin | {"autoexpand": fixed_margin is None},
        "legend": {"font": {"size": FONT_SIZE}},
    }
    update = _nested(update, layout)
    if isinstance(fig, dict):
        merge(fig["layout"], update)
    else:
        fig.update_layout(update)
    return fig


_AXIS_PREFIXES = ("xaxis", "yaxis", "legend")


def _nested(base: dict, layout: dict) -> dict:
    """`base` updated with `layout`, whose magic-underscore keys (`xaxis_title="step"`) are turned into nested
    dicts here: plotly parses each such key on its own, several ms per Step click on the Train page."""
    for key, value in layout.items():
        prefix, _, rest = key.partition("_")
        if prefix in _AXIS_PREFIXES and rest:
            part = base.setdefault(prefix, {})
            part[rest] = {"text": value} if rest == "title" and isinstance(value, str) else value
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = base[key] | value
        else:
            base[key] = value
    return base
