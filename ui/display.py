"""How the app shows things: classroom display mode (the link's `projector=1`), the page CSS, user text as typed.

Display mode restyles every chart through `chart` (the pure `display_style`, on plain-data figures) and the page
through `css`; off, `chart` is st.plotly_chart of the figure as it is (a plain-data figure is not validated again).
`md_escape`: Streamlit renders st.markdown, st.caption, st.error... as GitHub markdown, where `[t](url)`, `![t](url)`
(fetched by the browser) and a bare `http://`, `www.` or `a@b.tld` are links (GFM's autolinks are found *after*
escapes are resolved); tests/test_inputs.py checks a real page's text."""

from __future__ import annotations

import base64
import html
import re
import string
import unicodedata

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import session

TICK_PX, TITLE_PX, TEXT_PX, AXIS_TITLE_PX = 18, 24, 18, 20
LINE_SCALE, MIN_LINE_PX = 1.6, 3.5
MARKER_SCALE, MIN_MARKER_PX = 1.5, 9
MAX_LABELS = 30  # scatter points get their word as a visible label when a chart has at most this many
CROWDED_TEXT_PX = 14  # labels a figure already draws on more points: bigger would bury the points
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
"""


def on() -> bool:
    """Whether classroom display mode is on."""
    return bool(session.get("display_mode"))


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
    _font(_sub(layout, "legend"), "font", TEXT_PX)
    layout["height"] = int((layout.get("height") or 450) * 1.15)
    margin = _sub(layout, "margin")
    margin["autoexpand"] = True  # bigger ticks need more room than a page's fixed margins leave
    margin["t"] = max(margin.get("t") or 0, 80 if title.get("text") else 30)
    for axis in [*_subplots(layout, "xaxis"), *_subplots(layout, "yaxis")]:
        _style_axis(axis, ink, grid)
    for scene in _subplots(layout, "scene"):
        for axis in (_sub(scene, "xaxis"), _sub(scene, "yaxis"), _sub(scene, "zaxis")):
            _font(axis, "tickfont", TICK_PX - 4)  # 3-D ticks crowd each other sooner
            _font(_sub(axis, "title"), "font", TICK_PX)
    for annotation in layout.get("annotations") or ():
        annotation_font = _font(annotation, "font", TEXT_PX)
        annotation_font["color"] = annotation_font.get("color") or ink
    for slider in layout.get("sliders") or ():
        _font(slider, "font", TEXT_PX - 2)
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
    _sub(layout, "margin")["t"] = 30
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
