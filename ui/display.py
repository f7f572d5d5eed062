"""How the app shows things: classroom display mode (the link's `projector=1`), the page CSS, user text as typed.

Display mode restyles every chart through `chart` (the pure `display_style`, on plain-data figures) and the page
through `css`; off, `chart` is st.plotly_chart of the figure as it is (a plain-data figure is not validated again).
`md_escape`: Streamlit renders st.markdown, st.caption, st.error... as GitHub markdown, where `[t](url)`, `![t](url)`
(fetched by the browser) and a bare `http://`, `www.` or `a@b.tld` are links (GFM's autolinks are found *after*
escapes are resolved); tests/test_inputs.py checks a real page's text."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
import string
import unicodedata

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import session
from ui.figures.style import panel_titles_px

TICK_PX, TITLE_PX, TEXT_PX, AXIS_TITLE_PX = 18, 24, 18, 20
LINE_SCALE, MIN_LINE_PX = 1.6, 3.5
MARKER_SCALE, MIN_MARKER_PX = 1.5, 9
MAX_LABELS = 30  # scatter points get their word as a visible label when a chart has at most this many
CROWDED_TEXT_PX = 18  # labels a figure draws on more points: a readable subset of them, at full size (_thin_labels)
WALL_COLUMNS = 5  # a wall table's columns beside its first: 1 + 5 fit 18 px text beside the sidebar at 1024 px
MAX_BARS = 20  # bars of a batch chart on the wall: each one labelled, its label on its own at 18 px
MAX_ROWS = 20  # rows of a rows x dimensions heatmap on the wall: each labelled, the chart within a 768 px screen
ROW_PX = 28  # a heatmap row on the wall: an 18 px label and the gap plotly keeps between two (else it drops one)
UPRIGHT_BAR_TEXT = 8  # a bar chart with more bars than this writes its values upright on the wall
INK = {False: "#000000", True: "#FFFFFF"}
GRID = {False: "#B0B0B0", True: "#5A5A5A"}
_TAG = re.compile(r"<[^>]*>")

BASE_CSS = """
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; }
h1 { font-size: 2.1rem !important; }
/* No button label cut at 1024 px: wrap instead of an ellipsis, with less side padding */
[data-testid^="stBaseButton"] { padding-left: 0.6rem; padding-right: 0.6rem; }
[data-testid^="stBaseButton"] .stMarkdownEllipsis,
[data-testid^="stBaseButton"] .stMarkdownEllipsis p { white-space: normal; overflow: visible; text-overflow: clip; }
/* A phone: chart titles (wrapped at style.FULL_WIDTH_CHARS) in type that fits 350 px, legend entries in type that
   fits beside their swatches (a tied head's 53-character entry: 328 px at 15 px, 284 px at 13 px; plotly cuts text
   at its chart's edge), and no plotly toolbar over them (Streamlit's own toolbar still offers full screen) */
@media (max-width: 640px) {
  .js-plotly-plot .gtitle { font-size: 15px !important; }
  .js-plotly-plot .legendtext { font-size: 13px !important; }
  .js-plotly-plot .modebar-container { display: none !important; }
}
"""

DISPLAY_CSS = """
/* Display mode: large type and full contrast for a classroom wall */
[data-testid="stMainBlockContainer"] { max-width: none; }
[data-testid="stMain"] h1 { font-size: 2.5rem !important; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stWidgetLabel"] p, [data-testid="stAlertContainer"] p { font-size: 20px; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {
  font-size: 18px !important; color: inherit !important; opacity: 1 !important; }
[data-testid^="stBaseButton"] p { font-size: 18px; font-weight: 600; }
[data-testid="stMetricLabel"] p { font-size: 18px; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 2.6rem !important; }
.ee-chart-title { font-size: 24px; font-weight: 700; line-height: 1.25; margin: 0.4rem 0 0 0; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3, [data-testid="stSidebar"] h2, [data-testid="stSidebar"] h3 {
  font-size: 26px !important; }
/* Widgets: what a select box, a tag, a number, a slider's ends and an upload hint say, and the sidebar's links */
[data-testid="stSelectbox"] *, [data-testid="stMultiSelect"] *, [role="listbox"] *, [data-baseweb="select"] *,
[data-testid="stNumberInput"] input, [data-testid="stTextInput"] input, [data-testid="stTextArea"] textarea,
[data-testid="stSlider"] *, [data-testid="stFileUploader"] *, [data-testid="stTooltipContent"] *,
[data-testid="stSidebarNav"] a *, [data-testid="stPageLink"] a *, [data-testid="stExpander"] summary *,
[data-testid="stMarkdownContainer"] code, [data-testid="stCode"] code, [data-testid="stTable"] th,
[data-testid="stTable"] td, [data-testid="stMetricLabel"] *, [data-testid="stMetricDelta"] *,
[data-testid="stSidebar"] * { font-size: max(18px, 1em) !important; }
/* Labels that Streamlit cuts with an ellipsis (a metric's label, a long page name, a chosen option) wrap instead */
[data-testid="stMetricLabel"] *, [data-testid="stSidebarNav"] a *, [data-testid="stPageLink"] a *,
[data-testid="stMultiSelectTagsContainer"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
[data-testid="stMetricValue"] * { white-space: normal !important; overflow-wrap: anywhere; }
/* A table drawn on a canvas (st.dataframe, 14 px type): zoomed to 18 px, and narrowed by as much to keep its width */
[data-testid="stDataFrame"] { zoom: 1.3; max-width: calc(100% / 1.3) !important; }
[data-testid="stDataFrame"] [data-testid="stDataFrameResizable"] { width: 100% !important; max-width: 100% !important; }
"""


def on() -> bool:
    """Whether classroom display mode is on."""
    return bool(session.get("display_mode"))


def columns(spec):
    """st.columns(spec); on the wall, full-width containers one under the other: a chart in half of a 1024 px
    screen is too narrow for 18 px ticks beside its plot."""
    if not on():
        return st.columns(spec)
    return [st.container() for _ in range(spec if isinstance(spec, int) else len(spec))]


def bars(shown):
    """The batch charts' bars (rows, or a batch whose `shown` rows they are): on the wall the first MAX_BARS, so
    each one carries its own label."""
    if not on():
        return shown
    if dataclasses.is_dataclass(shown):
        return dataclasses.replace(shown, shown=shown.shown[:MAX_BARS])
    return shown[:MAX_BARS]


def rows(n: int) -> int:
    """How many rows of a rows x dimensions heatmap to draw: `n`, or on the wall at most MAX_ROWS (each labelled)."""
    return min(n, MAX_ROWS) if on() else n


def table(data, **kwargs) -> None:
    """st.dataframe(data, **kwargs); on the wall HTML tables (st.table, no index) whose columns wrap to the page's
    width at 18 px, where a zoomed canvas table would scroll its last columns out of sight: a wide one is split
    into tables of WALL_COLUMNS columns, each led by the first column (the row's name)."""
    if not on():
        st.dataframe(data, **kwargs)
        return
    import pandas as pd  # on the wall only: the default path keeps its imports

    frame = pd.DataFrame(data)
    key, rest = frame.columns[:1].tolist(), frame.columns[1:].tolist()
    for start in range(0, max(len(rest), 1), WALL_COLUMNS):
        st.table(frame[key + rest[start : start + WALL_COLUMNS]].style.hide(axis="index"))


def table_height(px: int):
    """A table's height: `px`, or on the wall the default (its rows up to ten): a zoomed table (st.dataframe at 18 px,
    DISPLAY_CSS) of a fixed height draws over what follows it."""
    return "auto" if on() else px


def labelled(n_points: int, drawn_up_to: int) -> bool | str:
    """Whether a scatter of `n_points` shows every point's word (it draws them up to `drawn_up_to`); "some" on the
    wall, where a crowded scatter labels a readable subset."""
    if on() and MAX_LABELS < n_points <= drawn_up_to:
        return "some"
    return n_points <= drawn_up_to


def css(display_mode: bool) -> str:
    """The CSS every page injects (ui.page.setup): button labels that wrap; in display mode, large type."""
    return "<style>" + BASE_CSS + (DISPLAY_CSS if display_mode else "") + "</style>"


def _bigger(current, at_least: float) -> float:
    return max(current or 0, at_least)


def _sub(parent: dict, key: str) -> dict:
    """parent[key] as a dict, made one when absent (a string title becomes {"text": ...}, as plotly reads it)."""
    value = parent.get(key)
    if isinstance(value, str):
        value = {"text": value}
    elif not isinstance(value, dict):
        value = {}
    parent[key] = value
    return value


def _font(parent: dict, key: str, at_least: float) -> dict:
    """parent[key], a font, its size raised to at least `at_least` px."""
    font = _sub(parent, key)
    font["size"] = _bigger(font.get("size"), at_least)
    return font


def _array(value) -> np.ndarray:
    """A plotly array as numpy: a list, an array or the typed-array form {dtype, bdata, shape} of go's to_dict."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return array.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else array
    return np.asarray(value)


def _copy(value):
    """A copy of a plain-data figure's dicts and lists (arrays and the shared template are not copied: styling
    replaces them, never writes into them)."""
    if isinstance(value, dict):
        return {k: v if k == "template" else _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# Trace types with a colour bar of their own (others have it under marker or line)
COLORBAR_TRACES = frozenset(("choropleth", "choroplethmap", "choroplethmapbox", "cone", "contour", "densitymap",
                             "densitymapbox", "heatmap", "histogram2d", "histogram2dcontour", "isosurface", "mesh3d",
                             "streamtube", "surface", "volume"))  # fmt: skip


def _thicken(trace: dict, label: bool, ink: str) -> None:
    """Thicker lines, bigger markers and (when `label`) the point's word as visible text, in place."""
    kind = trace.get("type", "scatter")
    mode = trace.get("mode")
    if kind.startswith("scatter"):
        if mode is None or "lines" in mode:
            line = _sub(trace, "line")
            line["width"] = max((line.get("width") or 2) * LINE_SCALE, MIN_LINE_PX)
        marker = _sub(trace, "marker") if "marker" in trace or (mode is not None and "markers" in mode) else None
        size = marker.get("size") if marker is not None else None
        if size is not None:
            marker["size"] = (
                np.maximum(_array(size).astype(float) * MARKER_SCALE, MIN_MARKER_PX)
                if isinstance(size, dict) or np.ndim(size)
                else max(size * MARKER_SCALE, MIN_MARKER_PX)
            )
        elif mode is not None and "markers" in mode:
            marker["size"] = MIN_MARKER_PX * (1.5 if kind == "scatter" else 0.7)
        if marker is not None and not marker:
            del trace["marker"]
        if label and mode is not None and "markers" in mode and "text" not in mode and trace.get("text") is not None:
            trace["mode"] = mode = mode + "+text"
            trace["textposition"] = trace.get("textposition") or "top center"
        textfont = trace.get("textfont") or {}
        if textfont.get("size") is not None or (mode and "text" in mode):
            textfont = _font(trace, "textfont", TEXT_PX if label and kind != "scatter3d" else CROWDED_TEXT_PX)
            if textfont.get("color") in (None, "#444444"):
                textfont["color"] = ink
    elif kind == "bar" and ((trace.get("textfont") or {}).get("size") is not None or trace.get("text") is not None):
        _font(trace, "textfont", TEXT_PX)
        if trace.get("x") is not None and len(trace["x"]) > UPRIGHT_BAR_TEXT:
            trace["textangle"] = -90  # 18 px values over narrow bars: upright, each within its bar's width
    if kind in COLORBAR_TRACES:
        colorbar = _sub(trace, "colorbar")
        _font(colorbar, "tickfont", TICK_PX)
        _font(_sub(colorbar, "title"), "font", TICK_PX)


def _labelled_points(fig: dict) -> int:
    """How many points the chart's marker traces with hover text draw (what word labels would cover)."""
    total = 0
    for trace in fig.get("data", ()):
        mode = trace.get("mode") or ""
        if trace.get("type", "scatter").startswith("scatter") and "markers" in mode and trace.get("text") is not None:
            total += len(_array(trace["x"])) if trace.get("x") is not None else 0
    return total


LEGEND_CHAR_PX, LEGEND_ITEM_PX, LEGEND_ROW_PX, WALL_PLOT_PX = 10, 50, 30, 560


def _legend_at_bottom(fig: dict, legend: dict, margin: dict) -> None:
    """A horizontal legend at the figure's bottom edge, under the x axis's title, in a bottom margin made tall
    enough for its rows (counted for a plot about WALL_PLOT_PX wide): a legend placed at a fraction of the plot's
    height runs into 20 px axis titles."""
    names = [str(t.get("name") or "") for t in fig.get("data", ()) if t.get("showlegend") is not False]
    widths = [LEGEND_ITEM_PX + LEGEND_CHAR_PX * len(_TAG.sub("", name)) for name in names if name]
    rows, used = 1, 0
    for width in widths:
        if used and used + width > WALL_PLOT_PX:
            rows, used = rows + 1, 0
        used += width
    legend |= {"yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"}
    below = 200 if fig["layout"].get("sliders") else 80  # the x axis's ticks and title (or an animation's slider)
    margin["b"] = max(margin.get("b") or 0, below + LEGEND_ROW_PX * rows)


def _thin_labels(fig: dict, layout: dict) -> None:
    """Word labels on a readable subset of a crowded scatter's points: greedily, each label kept only where its
    box (18 px type, above its point, for a plot about WALL_PLOT_PX wide) overlaps no label kept before it. Per
    frame; the others keep their word for hover (texttemplate "")."""
    x_range = (layout.get("xaxis") or {}).get("range")
    y_range = (layout.get("yaxis") or {}).get("range")
    margin = layout.get("margin") or {}
    plot_h = max(200, (layout.get("height") or 450) - (margin.get("t") or 80) - (margin.get("b") or 80))
    for data in [fig.get("data", ()), *(frame.get("data", ()) for frame in fig.get("frames") or ())]:
        texts = [t for t in data if "text" in (t.get("mode") or "") and t.get("type", "scatter") == "scatter"
                 and all(t.get(k) is not None for k in ("x", "y", "text"))]  # fmt: skip
        if not texts:
            continue
        texts.sort(key=lambda t: len(_array(t["x"])))  # a trail's head (one point) first: its word is always shown
        xs = [_array(t["x"]).astype(float) for t in texts]
        ys = [_array(t["y"]).astype(float) for t in texts]
        all_x, all_y = np.concatenate(xs), np.concatenate(ys)
        lo_x, hi_x = x_range or [np.nanmin(all_x), np.nanmax(all_x)]
        lo_y, hi_y = y_range or [np.nanmin(all_y), np.nanmax(all_y)]
        sx, sy = WALL_PLOT_PX / ((hi_x - lo_x) or 1), plot_h / ((hi_y - lo_y) or 1)
        px_all, py_all = all_x * sx, all_y * sy
        finite = np.isfinite(px_all) & np.isfinite(py_all)
        r = MIN_MARKER_PX * 1.5 / 2 + 1  # a point's radius on the wall: a label over another point hides it
        kept = [(x - r, x + r, y - r, y + r) for x, y in zip(px_all[finite], py_all[finite], strict=True)]
        for t, x, y in zip(texts, xs, ys, strict=True):
            words = [str(w) for w in _array(t["text"]).tolist()] if not isinstance(t["text"], str) else [t["text"]]
            template = []
            for px, py, word in zip(x * sx, y * sy, words, strict=False):
                half = (0.6 * TEXT_PX * len(html.unescape(word)) + 4) / 2
                box = (px - half, px + half, py + 8, py + 8 + TEXT_PX + 6)  # above the point (y up)
                free = (
                    np.isfinite(px)
                    and np.isfinite(py)
                    and not any(box[0] < k[1] and k[0] < box[1] and box[2] < k[3] and k[2] < box[3] for k in kept)
                )
                if free:
                    kept.append(box)
                template.append("%{text}" if free else "")
            t["texttemplate"] = template


def _label_every_row(fig: dict, layout: dict, margin: dict) -> None:
    """A heatmap over a category y axis (one row per token) with a label on every row: a tick per row (plotly's own
    choice skips rows once they are close) and a plot tall enough for ROW_PX a row."""
    heat = [t for t in fig.get("data", ()) if t.get("type") == "heatmap" and t.get("y") is not None]
    axis = layout.get("yaxis") or {}
    if len(heat) != 1 or axis.get("type") != "category":
        return
    labels = list(heat[0]["y"])
    axis |= {"tickmode": "array", "tickvals": labels, "ticktext": labels}
    below = max(margin.get("b") or 0, 90)  # the x axis's 18 px ticks and 20 px title
    layout["height"] = max(layout["height"], (margin.get("t") or 0) + below + ROW_PX * len(labels))


def _style_axis(axis: dict, ink: str, grid: str) -> None:
    tickfont, title_font = _font(axis, "tickfont", TICK_PX), _font(_sub(axis, "title"), "font", AXIS_TITLE_PX)
    tickfont["color"] = title_font["color"] = ink
    axis["linecolor"], axis["linewidth"] = ink, 2
    if axis.get("showgrid") is not False:
        axis["gridcolor"] = grid


def _subplots(layout: dict, prefix: str) -> list[dict]:
    """The layout's `prefix` axes (or scenes): the first always (plotly has it by default), then any numbered."""
    keys = [prefix] + sorted(k for k in layout if k.startswith(prefix) and k[len(prefix) :].isdigit())
    return [_sub(layout, key) for key in keys]


def as_data(fig) -> dict:
    """A figure as plain data: a dict as it is, a go.Figure through its to_dict (a copy)."""
    return fig if isinstance(fig, dict) else fig.to_dict()


def display_style(fig, dark: bool = False) -> dict:
    """A copy of `fig` (plain data or a go.Figure) for a classroom wall, its animation frames too: bigger type,
    lines and markers, text in full ink, and every point's word shown when the chart has at most MAX_LABELS
    labelled points. Plain data out."""
    out = _copy(as_data(fig))  # a copy: a cached figure stays as it was
    ink, grid = INK[dark], GRID[dark]
    layout = _sub(out, "layout")
    label = 0 < _labelled_points(out) <= MAX_LABELS
    for trace in [*out.get("data", ()), *(t for frame in out.get("frames") or () for t in frame.get("data", ()))]:
        _thicken(trace, label, ink)
    _font(layout, "font", TEXT_PX)["color"] = ink
    title = _sub(layout, "title")
    _font(title, "font", TITLE_PX)["color"] = ink
    legend = _sub(layout, "legend")
    _font(legend, "font", TEXT_PX)
    layout["height"] = int((layout.get("height") or 450) * 1.15)
    margin = _sub(layout, "margin")
    margin["autoexpand"] = True  # bigger ticks need more room than a page's fixed margins leave
    margin["t"] = max(margin.get("t") or 0, 80 if title.get("text") else 30)
    if legend.get("orientation") == "h":
        _legend_at_bottom(out, legend, margin)
    _label_every_row(out, layout, margin)
    for axis in [*_subplots(layout, "xaxis"), *_subplots(layout, "yaxis")]:
        _style_axis(axis, ink, grid)
        if axis.get("tickangle") not in (None, 0):
            axis["tickangle"] = -90  # upright labels: a slanted one's box runs over its neighbours'
    if not label and _labelled_points(out) > 0 and any("text" in (t.get("mode") or "") for t in out.get("data", ())):
        _thin_labels(out, layout)
    for scene in _subplots(layout, "scene"):
        for axis in (_sub(scene, "xaxis"), _sub(scene, "yaxis"), _sub(scene, "zaxis")):
            _font(axis, "tickfont", TICK_PX - 4)  # 3-D ticks crowd each other sooner
            _font(_sub(axis, "title"), "font", TICK_PX)
    for annotation in layout.get("annotations") or ():
        annotation_font = _font(annotation, "font", TEXT_PX)
        annotation_font["color"] = annotation_font.get("color") or ink
    for slider in layout.get("sliders") or ():
        _font(slider, "font", TEXT_PX)
        _font(_sub(slider, "currentvalue"), "font", AXIS_TITLE_PX)
    for menu in layout.get("updatemenus") or ():
        _font(menu, "font", TEXT_PX)
    return out


def title_text(fig) -> str:
    """The chart's title as plain text (plotly's tags dropped, `<br>` as a space, entities resolved)."""
    title = as_data(fig).get("layout", {}).get("title") or {}
    raw = (title if isinstance(title, str) else title.get("text")) or ""
    return html.unescape(_TAG.sub(" ", raw.replace("<br>", " "))).strip()


def without_title(fig):
    """The figure (plain data or a go.Figure) with its title removed and its top margin shrunk (in place)."""
    if not isinstance(fig, dict):
        fig.layout.title.text = None
        fig.layout.margin.t = 30
        return fig
    layout = _sub(fig, "layout")
    _sub(layout, "title").pop("text", None)
    _sub(layout, "margin")["t"] = 30 + panel_titles_px(fig, gap=8, default_size=TEXT_PX)
    return fig


def dark_shown() -> bool:
    """Whether the browser shows the dark theme (st.context.theme); unknown: what the link asked for."""
    shown = getattr(getattr(st.context, "theme", None), "type", None)
    return shown == "dark" if shown in ("dark", "light") else bool(session.get("theme_dark"))


class _Checked(go.Figure):
    """A plain-data figure handed to st.plotly_chart as it is. Streamlit validates a dict by building a go.Figure
    from it (half of a Step click's server CPU), and takes a go.Figure's to_dict as already checked: this one's
    to_dict is the dict itself, its numeric arrays in plotly's typed-array form as go's own to_dict writes them. The
    figures' schema is checked by the tests instead (tests/test_figures.py builds each one through go.Figure)."""

    def __init__(self, fig: dict):  # no go.Figure.__init__: nothing to validate or copy
        self._fig = fig

    def to_dict(self) -> dict:
        fig = _copy(self._fig)  # the page's figure (perhaps cached) stays as it was
        typed_arrays(fig)
        return fig


_UNTYPED_KEYS = frozenset(("geojson", "layer", "layers", "range"))  # what plotly's convert_to_base64 leaves alone
_SHORT_TYPES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
                "float32": "f4", "float64": "f8"}  # fmt: skip  # plotly.js typed arrays (plotly's plotlyjsShortTypes)
_NARROWER = {"int64": ("int8", "int16", "int32"), "uint64": ("uint8", "uint16", "uint32")}


def typed_array(array: np.ndarray):
    """A numeric array as plotly.js's typed-array spec {dtype, bdata[, shape]}, exactly as plotly's
    to_typed_array_spec writes it (64-bit integers narrowed to the smallest type that holds them, else left as
    they are), without its copy through narwhals (~1 ms an array: most of an animation's cost)."""
    if array.size == 0:
        return array
    dtype = str(array.dtype)
    if dtype in _NARROWER:
        low, high = array.min(), array.max()
        narrower = [t for t in _NARROWER[dtype] if np.iinfo(t).min <= low and high <= np.iinfo(t).max]
        if not narrower:
            return array
        array, dtype = array.astype(narrower[0]), narrower[0]
    if dtype not in _SHORT_TYPES:
        return array
    spec = {"dtype": _SHORT_TYPES[dtype], "bdata": base64.b64encode(np.ascontiguousarray(array)).decode("ascii")}
    if array.ndim > 1:
        spec["shape"] = str(array.shape)[1:-1]
    return spec


def typed_arrays(value) -> None:
    """Numeric numpy arrays in a plain-data figure as plotly.js typed arrays, in place: what go's to_dict does,
    without its walk trying numpy on every string and list. Other arrays and lists are sent as JSON lists."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, np.ndarray):
            if item.dtype.kind in "iuf" and key not in _UNTYPED_KEYS:
                value[key] = typed_array(item)
        elif isinstance(item, (dict, list)) and key not in _UNTYPED_KEYS and key != "template":  # no arrays there
            typed_arrays(item)


def chart(fig, **kwargs):
    """st.plotly_chart of a plain-data figure (or a go.Figure), restyled for the wall in display mode; its title then
    drawn above it as HTML, which wraps to the column's width where plotly would cut it at the chart's edge."""
    if on():
        fig = display_style(fig, dark=dark_shown())
        if title := title_text(fig):
            st.html(f'<div class="ee-chart-title">{html.escape(title)}</div>')
            without_title(fig)
    return st.plotly_chart(_Checked(fig) if isinstance(fig, dict) else fig, **kwargs)


WORD_JOINER = "\u2060"  # invisible, not a space: splits a pattern without changing what the reader sees

_PUNCTUATION = frozenset(string.punctuation)  # CommonMark lets a backslash escape any ASCII punctuation
# Where GFM's autolink literals would match: after a scheme's ":", after an address's "@", between "www" and "."
_AUTOLINK = re.compile(r"(?<=\\[:@])|(?<=[wW]{3})(?=\\\.)")


def _visible(char: str) -> str:
    """A control or format character (newline, bidi override, zero-width space) as a visible escape."""
    if char in "\n\r":
        return " "
    if char == "\t" or unicodedata.category(char) not in ("Cc", "Cf"):
        return char
    return f"\\u{ord(char):04x}"


def md_escape(text: object) -> str:
    """`text` as markdown that shows exactly as typed (never a link, an image, HTML or formatting): ASCII
    punctuation escaped, line breaks as spaces, control and format characters as \\uXXXX, autolinks broken."""
    visible = "".join(_visible(c) for c in str(text))
    escaped = "".join("\\" + c if c in _PUNCTUATION else c for c in visible)
    return _AUTOLINK.sub(WORD_JOINER, escaped)
