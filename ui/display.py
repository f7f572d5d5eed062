"""How the app shows things: classroom display mode (the link's `projector=1`), the page CSS, user text as typed.

Display mode restyles every chart through `chart` (the pure `display_style`) and the page through `css`; off, `chart`
is st.plotly_chart itself. `md_escape`: Streamlit renders st.markdown, st.caption, st.error... as GitHub markdown,
where `[t](url)`, `![t](url)` (fetched by the browser) and a bare `http://`, `www.` or `a@b.tld` are links (GFM's
autolinks are found *after* escapes are resolved); tests/test_inputs.py checks a real page's text."""

from __future__ import annotations

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


def _thicken(trace, label: bool, ink: str) -> None:
    """Thicker lines, bigger markers and (when `label`) the point's word as visible text, in place."""
    mode = getattr(trace, "mode", None)
    if trace.type.startswith("scatter"):
        if mode is None or "lines" in mode:
            trace.line.width = max((trace.line.width or 2) * LINE_SCALE, MIN_LINE_PX)
        size = trace.marker.size
        if size is not None:
            trace.marker.size = (
                np.maximum(np.asarray(size, float) * MARKER_SCALE, MIN_MARKER_PX)
                if np.ndim(size)
                else max(size * MARKER_SCALE, MIN_MARKER_PX)
            )
        elif mode is not None and "markers" in mode:
            trace.marker.size = MIN_MARKER_PX * (1.5 if trace.type == "scatter" else 0.7)
        if label and mode is not None and "markers" in mode and "text" not in mode and trace.text is not None:
            trace.mode = mode + "+text"
            trace.textposition = trace.textposition or "top center"
        if trace.textfont.size is not None or (trace.mode and "text" in trace.mode):
            roomy = label and trace.type != "scatter3d"
            trace.textfont.size = _bigger(trace.textfont.size, TEXT_PX if roomy else CROWDED_TEXT_PX)
            if trace.textfont.color in (None, "#444444"):
                trace.textfont.color = ink
    elif trace.type == "bar" and (trace.textfont.size is not None or trace.text is not None):
        trace.textfont.size = _bigger(trace.textfont.size, TEXT_PX)
    if "colorbar" in trace:  # heatmaps
        trace.colorbar.tickfont.size = _bigger(trace.colorbar.tickfont.size, TICK_PX)
        trace.colorbar.title.font.size = _bigger(trace.colorbar.title.font.size, TICK_PX)


def _labelled_points(fig: go.Figure) -> int:
    """How many points the chart's marker traces with hover text draw (what word labels would cover)."""
    total = 0
    for trace in fig.data:
        mode = getattr(trace, "mode", None) or ""
        if trace.type.startswith("scatter") and "markers" in mode and trace.text is not None:
            total += len(trace.x) if trace.x is not None else 0
    return total


def _style_axis(axis, ink: str, grid: str) -> None:
    axis.tickfont.size = _bigger(axis.tickfont.size, TICK_PX)
    axis.title.font.size = _bigger(axis.title.font.size, AXIS_TITLE_PX)
    axis.tickfont.color = axis.title.font.color = ink
    axis.linecolor, axis.linewidth = ink, 2
    if axis.showgrid is not False:
        axis.gridcolor = grid


def display_style(fig: go.Figure, dark: bool = False) -> go.Figure:
    """A copy of `fig` for a classroom wall, its animation frames too: bigger type, lines and markers, text in full
    ink, and every point's word shown when the chart has at most MAX_LABELS labelled points."""
    out = go.Figure(fig)  # a copy: a cached figure stays as it was
    ink, grid = INK[dark], GRID[dark]
    layout = out.layout
    label = 0 < _labelled_points(out) <= MAX_LABELS
    for trace in [*out.data, *(trace for frame in out.frames or () for trace in frame.data)]:
        _thicken(trace, label, ink)
    layout.font.size = _bigger(layout.font.size, TEXT_PX)
    layout.font.color = ink
    layout.title.font.size = _bigger(layout.title.font.size, TITLE_PX)
    layout.title.font.color = ink
    layout.legend.font.size = _bigger(layout.legend.font.size, TEXT_PX)
    layout.height = int((layout.height or 450) * 1.15)
    margin = layout.margin
    layout.margin.autoexpand = True  # bigger ticks need more room than a page's fixed margins leave
    layout.margin.t = max(margin.t or 0, 80 if layout.title.text else 30)
    out.for_each_xaxis(lambda axis: _style_axis(axis, ink, grid))
    out.for_each_yaxis(lambda axis: _style_axis(axis, ink, grid))
    for scene in out.select_scenes():
        for axis in (scene.xaxis, scene.yaxis, scene.zaxis):
            axis.tickfont.size = _bigger(axis.tickfont.size, TICK_PX - 4)  # 3-D ticks crowd each other sooner
            axis.title.font.size = _bigger(axis.title.font.size, TICK_PX)
    for annotation in layout.annotations or ():
        annotation.font.size = _bigger(annotation.font.size, TEXT_PX)
        annotation.font.color = annotation.font.color or ink
    for slider in layout.sliders or ():
        slider.font.size = _bigger(slider.font.size, TEXT_PX - 2)
        slider.currentvalue.font.size = _bigger(slider.currentvalue.font.size, AXIS_TITLE_PX)
    for menu in layout.updatemenus or ():
        menu.font.size = _bigger(menu.font.size, TEXT_PX)
    return out


def title_text(fig: go.Figure) -> str:
    """The chart's title as plain text (plotly's tags dropped, `<br>` as a space, entities resolved)."""
    raw = fig.layout.title.text or ""
    return html.unescape(_TAG.sub(" ", raw.replace("<br>", " "))).strip()


def without_title(fig: go.Figure) -> go.Figure:
    """The figure with its title removed and its top margin shrunk (in place; returns it)."""
    fig.layout.title.text = None
    fig.layout.margin.t = 30
    return fig


def dark_shown() -> bool:
    """Whether the browser shows the dark theme (st.context.theme); unknown: what the link asked for."""
    shown = getattr(getattr(st.context, "theme", None), "type", None)
    return shown == "dark" if shown in ("dark", "light") else bool(session.get("theme_dark"))


def chart(fig: go.Figure, **kwargs):
    """st.plotly_chart, restyled for the wall in display mode; its title then drawn above it as HTML, which wraps
    to the column's width where plotly would cut it at the chart's edge."""
    if not on():
        return st.plotly_chart(fig, **kwargs)
    styled = display_style(fig, dark=dark_shown())
    if title := title_text(styled):
        st.html(f'<div class="ee-chart-title">{html.escape(title)}</div>')
        without_title(styled)
    return st.plotly_chart(styled, **kwargs)


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
