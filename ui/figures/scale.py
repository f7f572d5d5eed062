"""Figures of the Scale page: token-table sizes from the user's run to Llama 3, what a wider table buys on the
user's data (final loss and kNN purity per embedding dimension), and what a bigger model buys (held-out loss and
kNN purity against parameter count, a GPT family and a skip-gram family)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures.style import FROM_GRADIENT, FROM_STATE, LEGEND_BELOW, OKABE_ITO, figure, style, trace


def _short(n: float) -> str:
    """960, 38.6M, 2.1B: a bar label that fits above a bar."""
    for suffix, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.0f}"


def table_sizes(names: Sequence[str], params: Sequence[float], highlight: str) -> go.Figure:
    """Token-table parameters per model, log scale, the user's run highlighted."""
    colours = [FROM_STATE if n == highlight else FROM_GRADIENT for n in names]
    fig = go.Figure(go.Bar(x=list(names), y=list(params), marker_color=colours, text=[_short(p) for p in params]))
    fig.update_traces(textposition="outside", cliponaxis=False, textfont_size=14, constraintext="none")  # never shrunk
    fig.update_xaxes(tickangle=-45)  # a fixed angle (plotly's own choice slants them into each other's boxes)
    fig.update_yaxes(type="log", title_text="parameters in the token table (V × D)")
    return style(fig, "Token-table size: from your run to Llama 3 405B (log scale)", height=420)


def dimension_sweep(dims: Sequence[int], losses: Sequence[float], purities: Sequence[float]) -> go.Figure:
    """Final loss and kNN purity against the embedding dimension, two y-axes."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=list(dims), y=list(losses), mode="lines+markers", name="final loss", line_color=OKABE_ITO[3]),
        secondary_y=False,
    )
    if not np.all(np.isnan(np.asarray(purities, dtype=float))):
        purity = go.Scatter(
            x=list(dims), y=list(purities), mode="lines+markers", name="kNN purity", line_color=OKABE_ITO[0]
        )
        fig.add_trace(purity, secondary_y=True)
        fig.update_yaxes(title_text="kNN category purity", range=[0, 1.05], secondary_y=True)
    fig.update_xaxes(type="log", title_text="embedding dimension D", tickvals=list(dims))
    fig.update_yaxes(title_text="loss (lower is better)", secondary_y=False)
    return style(fig, "What a wider table buys on your data (measured)", height=380)


FAMILY_COLOURS = {"gpt": OKABE_ITO[4], "skipgram": OKABE_ITO[3]}
FAMILY_NAMES = {"gpt": "small GPTs", "skipgram": "skip-grams"}


def family(
    models: Sequence[str], labels: Sequence[str], params: Sequence[int], values: Sequence[float], what: str
) -> dict:
    """One measure (`what`: "loss" or "purity") of each model against its parameter count, log x, a line per
    family (models[i]: "gpt" or "skipgram"), each point labelled with its model's size."""
    data = []
    for model in dict.fromkeys(models):
        at = [i for i, m in enumerate(models) if m == model]
        data.append(
            trace(
                "scatter",
                x=[int(params[i]) for i in at],
                y=[float(values[i]) for i in at],
                text=[labels[i].removeprefix("GPT ").removeprefix("skip-gram ") for i in at],
                mode="lines+markers+text",
                textposition="top center" if model == "gpt" else "bottom center",  # apart where they meet
                cliponaxis=False,
                name=FAMILY_NAMES[model],
                line={"color": FAMILY_COLOURS[model]},
                marker={"size": 10},
            )
        )
    loss = what == "loss"
    y_axis = (
        {"title": {"text": "held-out loss (lower: better)"}}
        if loss
        else {"title": {"text": "kNN category purity"}, "range": [0, 1.08]}
    )
    layout = {
        "xaxis": {"type": "log", "dtick": 1, "title": {"text": "parameters in the model (log scale)"}},
        "yaxis": y_axis,
        "legend": LEGEND_BELOW,
    }
    title = "Held-out loss by model size" if loss else "kNN purity by model size"
    return style(figure(data, layout), title, height=380, fixed_margin={"b": 110}, half=True)
