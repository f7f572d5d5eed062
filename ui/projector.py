"""The classroom's screen: links that reproduce what is on screen, projector mode, and busy states.

- Links: the address bar carries the step (`&step=200`) besides the settings. Opening such a link re-trains the
  run from its seed to that step (core.replay), with a progress bar, so a student sees the teacher's table.
  A pasted text cannot travel in a URL: where the link is described, the text is offered as a .txt download.
- Projector mode (`&projector=1`): large type, high contrast, thick lines, big markers and word labels, by one
  pure function (`projector_style`) applied to every chart through `chart`, plus CSS (`css`). Off, `chart` is
  st.plotly_chart itself: the Train page pays nothing for it. `&theme=dark` asks for Streamlit's dark theme,
  which only the browser can switch (its settings menu, or a link with Streamlit's `embed_options=dark_theme`).
- Busy states: `train` steps with a progress bar when the steps take long.

Session-state keys: `replay_target` (the step a link asked for, until reached), `replay_refused` (the cap's
message), `link_errors_view` (unreadable `step`/`projector`/`theme` values), `projector`, `theme_dark`.
"""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urlencode

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import ConfigError, TrainingDiverged, replay
from ui import server, state
from ui.text import md_escape

STEP, PROJECTOR, THEME = "step", "projector", "theme"  # query parameters (besides the config's)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
_STEP_DIGITS = re.compile(r"[0-9]{1,12}")
LONG_SECONDS = 0.5  # steps expected to take longer than this show a progress bar

# ------------------------------------------------------------------------------------------ links


def parse_step(raw: str) -> int:
    """A link's `step` value as a whole number; ValueError with a message a student can act on."""
    text = raw.strip()
    if not _STEP_DIGITS.fullmatch(text):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise ValueError(f"The link sets step={shown!r}, which is not a whole number of 0 or more; it opens at step 0.")
    return int(text)


def parse_flag(name: str, raw: str) -> bool:
    """A link's on/off value (`projector=1`, `theme=dark`); ValueError when it is neither."""
    text = raw.strip().lower()
    if name == THEME and text in ("dark", "light"):
        return text == "dark"
    if text in _TRUE | _FALSE:
        return text in _TRUE
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    expected = "dark or light" if name == THEME else "1 or 0"
    raise ValueError(f"The link sets {name}={shown!r}, which is not {expected}; it is ignored.")


def read_link() -> None:
    """Once per browser session, before the settings rewrite the address bar: the link's step and view."""
    ss = st.session_state
    if "replay_target" in ss:
        return
    query = st.query_params.to_dict()
    ss.replay_target, ss.replay_refused, ss.link_errors_view = None, None, []
    ss.setdefault("projector", False)
    ss.setdefault("theme_dark", False)
    for name in (STEP, PROJECTOR, THEME):
        if name not in query:
            continue
        try:
            if name == STEP:
                ss.replay_target = parse_step(query[name]) or None  # step=0: nothing to re-train
            elif name == PROJECTOR:
                ss.projector = parse_flag(name, query[name])
            else:
                ss.theme_dark = parse_flag(name, query[name])
        except ValueError as error:
            ss.link_errors_view.append(str(error))


def shared_step(trainer=None) -> int:
    """The step the link shows: the run's, or the one a link asked for while it is being re-trained."""
    ss = st.session_state
    trainer = trainer or state.trainer()
    target = ss.get("replay_target")
    return max(trainer.step_count, target or 0)


def link_params() -> dict[str, str]:
    """What the address bar holds besides the settings: the step (unless the run trains on a pasted text, which
    the link cannot carry), projector mode and the dark theme when on."""
    ss = st.session_state
    params = {}
    trainer = state.trainer()
    step = shared_step(trainer)
    if step and trainer.cfg.corpus_text is None:
        params[STEP] = str(step)
    if ss.get("projector"):
        params[PROJECTOR] = "1"
    if ss.get("theme_dark"):
        params[THEME] = "dark"
    return params


def sync_step() -> None:
    """Write the run's step into the address bar (for a fragment's rerun, which the full-page sync misses)."""
    want = link_params().get(STEP)
    if st.query_params.get(STEP) == want:
        return
    if want is None:
        del st.query_params[STEP]
    else:
        st.query_params[STEP] = want


def link_sentence(cfg, step: int) -> str:
    """What the address bar's link reproduces, in one sentence (for the sidebar's summary)."""
    at = f" at step {step:,} (opening it re-trains to that step)" if step else ""
    if cfg.corpus_text is None:
        return f"The link in the address bar reproduces this run{at}."
    return (
        "The link in the address bar holds every setting but your text: a pasted text cannot travel in a link. "
        "Download it below; on the other screen choose “My own text”, upload it"
        + (f", then train {step:,} steps (same seed, same batches)." if step else ".")
    )


def text_download(cfg) -> None:
    """The run's pasted text as a .txt file, to upload on another screen (nothing when the toy corpus runs)."""
    if cfg.corpus_text is None:
        return
    st.download_button(
        "Download your text (.txt)", cfg.corpus_text.encode("utf-8"), file_name="embedding-explorer-text.txt",
        mime="text/plain", key="share_text_download", icon=":material/download:", width="stretch",
    )  # fmt: skip


def link_notes() -> None:
    """Unreadable view values from the link, and a step the link may not ask for (with the most it may)."""
    ss = st.session_state
    for message in ss.get("link_errors_view", []):
        st.warning(md_escape(message), icon=":material/link_off:")
    refused = ss.get("replay_refused")
    if refused is None:
        return
    cfg, message, limit = refused
    if ss.cfg != cfg or state.trainer().step_count > 0:
        ss.replay_refused = None  # the run moved on: the message no longer applies
        return
    st.error(md_escape(message), icon=":material/timer_off:")
    st.button(f"Re-train to step {limit:,} instead", key="replay_to_limit", on_click=_ask_replay, args=(limit,))


def _ask_replay(step: int) -> None:
    st.session_state.replay_target = step
    st.session_state.replay_refused = None


def _stop_replay() -> None:
    st.session_state.replay_target = None


def replay_if_asked() -> None:
    """Re-train to the link's step, with a progress bar and a Stop button (a click stops at the step reached).

    Called before the sidebar and the page draw anything: while it trains, no other control is on screen.
    """
    ss = st.session_state
    target = ss.get("replay_target")
    trainer = state.trainer()
    if target is None or trainer.step_count >= target or ss.get("diverged"):
        ss.replay_target = None
        return
    try:
        replay.check(trainer.cfg, target)
    except ConfigError as error:
        ss.replay_target = None
        ss.replay_refused = (trainer.cfg, error.message, replay.max_steps(trainer.cfg))
        return
    box = st.empty()
    with box.container():
        seconds = replay.expected_seconds(trainer.cfg, target - trainer.step_count)
        st.info(
            f"This link shows step {target:,}. Re-training from step 0 with the same settings and seed "
            f"(about {max(1, round(seconds)):,} s), so this screen shows exactly what the link's author saw.",
            icon=":material/replay:",
        )
        bar = st.progress(0.0, text=f"Step {trainer.step_count:,} of {target:,}")
        st.button("Stop here", key="replay_stop", on_click=_stop_replay)

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Step {done:,} of {total:,}")

    try:
        replay.replay(trainer, target, progress=progress, guard=server.work_slot)
    except TrainingDiverged as error:
        ss.diverged, ss.running = error.message, False
    ss.replay_target = None
    box.empty()


# ------------------------------------------------------------------------------------------ busy states


def is_long(cfg, n_steps: int) -> bool:
    """Whether `n_steps` steps of this config are expected to take long enough to show progress."""
    return replay.expected_seconds(cfg, n_steps) > LONG_SECONDS


def train(n_steps: int, label: str | None = None) -> None:
    """state.step(n_steps), with a progress bar (removed when done) when the steps take long."""
    trainer = state.trainer()
    if not is_long(trainer.cfg, n_steps):
        state.step(n_steps)
        return
    start, goal = trainer.step_count, trainer.step_count + n_steps
    text = label or f"Training {n_steps:,} steps…"
    bar = st.progress(0.0, text=text)
    last = time.perf_counter()
    while trainer.step_count < goal and not st.session_state.get("diverged"):
        state.step(1)
        if time.perf_counter() - last > 0.1:
            bar.progress((trainer.step_count - start) / n_steps, text=f"{text} {trainer.step_count - start:,} done")
            last = time.perf_counter()
    bar.empty()


# ------------------------------------------------------------------------------------------ projector mode

TICK_PX, TITLE_PX, TEXT_PX, AXIS_TITLE_PX = 18, 24, 18, 20
LINE_SCALE, MIN_LINE_PX = 1.6, 3.5
MARKER_SCALE, MIN_MARKER_PX = 1.5, 9
MAX_LABELS = 30  # scatter points get their word as a visible label when a chart has at most this many
CROWDED_TEXT_PX = 14  # labels a figure already draws on more points: bigger would bury the points
INK = {False: "#000000", True: "#FFFFFF"}
GRID = {False: "#B0B0B0", True: "#5A5A5A"}
_TAG = re.compile(r"<[^>]*>")

BASE_CSS = """
/* No button label cut at 1024 px: wrap instead of an ellipsis, with less side padding */
[data-testid^="stBaseButton"] { padding-left: 0.6rem; padding-right: 0.6rem; }
[data-testid^="stBaseButton"] .stMarkdownEllipsis,
[data-testid^="stBaseButton"] .stMarkdownEllipsis p { white-space: normal; overflow: visible; text-overflow: clip; }
"""

PROJECTOR_CSS = """
/* Projector mode: large type and full contrast for a classroom wall */
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


def css(projector: bool) -> str:
    """The CSS every page injects (ui.setup): button labels that wrap; in projector mode, large type."""
    return "<style>" + BASE_CSS + (PROJECTOR_CSS if projector else "") + "</style>"


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


def projector_style(fig: go.Figure, dark: bool = False) -> go.Figure:
    """A copy of `fig` for a classroom wall: ticks >= 18 px, titles >= 24 px, other text >= 18 px, text in full
    black (white on the dark theme), lines 1.6x thicker (at least 3.5 px), markers 1.5x bigger, and every point's
    word shown when the chart has at most MAX_LABELS labelled points. Animation frames are styled alike."""
    out = go.Figure(fig)  # a copy: a cached figure stays as it was
    ink, grid = INK[dark], GRID[dark]
    layout = out.layout
    label = 0 < _labelled_points(out) <= MAX_LABELS
    for trace in out.data:
        _thicken(trace, label, ink)
    for frame in out.frames or ():
        for trace in frame.data:
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
    return shown == "dark" if shown in ("dark", "light") else bool(st.session_state.get("theme_dark"))


def chart(fig: go.Figure, **kwargs):
    """st.plotly_chart, restyled for the wall in projector mode (the figure untouched when it is off).

    In projector mode the title is drawn above the chart as HTML, which wraps to the column's width where a
    plotly title would be cut off at the chart's edge.
    """
    if not st.session_state.get("projector"):
        return st.plotly_chart(fig, **kwargs)
    styled = projector_style(fig, dark=dark_shown())
    title = title_text(styled)
    if title:
        st.html(f'<div class="ee-chart-title">{html.escape(title)}</div>')
        without_title(styled)
    return st.plotly_chart(styled, **kwargs)


def _set_projector() -> None:
    st.session_state.projector = bool(st.session_state.view_projector)


def _set_dark() -> None:
    st.session_state.theme_dark = bool(st.session_state.view_dark)


def dark_link() -> str:
    """This page's address with Streamlit's own switch to its dark theme (read by the browser when it loads)."""
    return "?" + urlencode({**st.query_params.to_dict(), **link_params(), "embed_options": "dark_theme"})


def controls() -> None:
    """The sidebar's view switches: projector mode and the dark theme (both kept in the link)."""
    ss = st.session_state
    ss.view_projector = bool(ss.get("projector"))  # re-created from the kept value on every page
    ss.view_dark = bool(ss.get("theme_dark"))
    st.toggle(
        "Projector mode", key="view_projector", on_change=_set_projector,
        help="For a classroom wall: large type, full contrast, thick lines, big markers, words on the points. "
        "Kept in the link (projector=1).",
    )  # fmt: skip
    st.toggle(
        "Dark theme", key="view_dark", on_change=_set_dark,
        help="Kept in the link (theme=dark). Streamlit switches its theme in the browser, not from the app.",
    )  # fmt: skip
    if ss.view_dark and not dark_shown():
        st.caption(
            f"Streamlit switches themes in the browser: ⋮ (top right) → Settings → Dark, or "
            f"[open this page in the dark theme]({dark_link()})."
        )
    elif not ss.view_dark and dark_shown():
        st.caption("The browser shows the dark theme: ⋮ (top right) → Settings → Light switches it back.")
