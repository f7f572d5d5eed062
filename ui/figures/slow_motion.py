"""Figures and tables of the One step in slow motion page: the chosen position's scores, the row's gradient parts,
the optimizer's rule line by line with the row's numbers, and the state's own move decaying. Plain data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.arithmetic import RowMove
from core.rows import lookup_names
from core.slow_motion import SampledStages, Stages, position_name
from ui.figures.style import FROM_GRADIENT, FROM_STATE, LEGEND_BELOW, figure, plain, style, trace

SHOWN_COORDS, TOP_SCORES = 3, 10


def _coords(values: np.ndarray, n: int = SHOWN_COORDS) -> dict:
    return {f"[{i}]": f"{float(v):.6g}" for i, v in enumerate(np.asarray(values)[:n])}


def lookup_table(st_: Stages | SampledStages, vocab: Sequence[str], n: int = 8) -> dict:
    """The first n positions: the token id, its token, the target, and W[x]'s first coordinates."""
    out: dict[str, list] = {"position": [], "row x": [], "token": [], "target": []}
    context = st_.context if isinstance(st_, Stages) else None
    for b, name in enumerate(lookup_names(np.arange(min(n, len(st_.centres))), context)):
        out["position"].append(name if context else b)
        out["row x"].append(int(st_.centres[b]))
        out["token"].append(vocab[st_.centres[b]])
        out["target"].append(vocab[st_.targets[b]])
        for key, value in _coords(st_.hidden[b]).items():
            out.setdefault(f"W[x]{key}", []).append(value)
    return out


def score_bars(st_: Stages | SampledStages, vocab: Sequence[str]) -> dict:
    """The chosen position's softmax over its top tokens and its target (highlighted), with dL/dlogits in hover;
    negative sampling's σ of the pair's k + 1 scores."""
    if isinstance(st_, SampledStages):
        return _sigmoid_bars(st_, vocab)
    target = int(st_.targets[st_.position])
    top = [int(t) for t in np.argsort(-st_.softmax, kind="stable")[:TOP_SCORES]]
    shown = top if target in top else [*top, target]
    colours = [FROM_GRADIENT if t == target else FROM_STATE for t in shown]
    data = [trace("bar", x=[plain(vocab[t]) for t in shown], y=[float(st_.softmax[t]) for t in shown],
                  marker={"color": colours}, customdata=[[float(st_.scores[t]), float(st_.dlogits[t])] for t in shown],
                  hovertemplate="%{x}: p = %{y:.4f}, score %{customdata[0]:.3f}, dL/dlogit %{customdata[1]:.2e}"
                  "<extra></extra>")]  # fmt: skip
    title = f"{position_name(st_)}: softmax of the head's scores (target '{vocab[target]}' in blue)"
    return style(figure(data), title, height=320, yaxis_title="probability", xaxis={"type": "category"})


def _sigmoid_bars(st_: SampledStages, vocab: Sequence[str]) -> dict:
    """The pair's true context (blue) and its k negatives: σ(score) each, score and dL/ds in hover."""
    k = len(st_.scored) - 1
    names = [f"true: {plain(vocab[st_.scored[0]])}"]  # short: on a phone they are drawn at an angle
    names += [f"neg {j}: {plain(vocab[r])}" for j, r in enumerate(st_.scored[1:], start=1)]  # a row may repeat
    colours = [FROM_GRADIENT] + [FROM_STATE] * k
    data = [trace("bar", x=names, y=[float(p) for p in st_.sigmoid], marker={"color": colours},
                  customdata=[[float(a), float(b)] for a, b in zip(st_.scores, st_.dscores, strict=True)],
                  hovertemplate="%{x}: σ = %{y:.4f}, score %{customdata[0]:.3f}, dL/ds %{customdata[1]:.2e}"
                  "<extra></extra>")]  # fmt: skip
    title = f"Pair {st_.position}: σ(score) of its true context '{vocab[st_.scored[0]]}' (blue) and {k} negatives"
    return style(figure(data), title, height=320, yaxis_title="σ(score)", xaxis={"type": "category"})


def parts_table(st_: Stages | SampledStages) -> dict:
    """The row's gradient as a sum: each lookup part (dropped ones marked), a tied head's term, the total."""
    out: dict[str, list] = {"term": [], "kept": [], "length": []}

    def add(term: str, values: np.ndarray, kept: str) -> None:
        out["term"].append(term)
        out["kept"].append(kept)
        out["length"].append(f"{float(np.linalg.norm(values)):.4e}")
        for key, value in _coords(values).items():
            out.setdefault(key, []).append(value)

    sampled = isinstance(st_, SampledStages)
    names = [f"of pair {int(b)}" for b in st_.row_positions] if sampled else [
        f"at {name}" for name in lookup_names(st_.row_positions, st_.context)
    ]  # fmt: skip
    for name, part, dropped in zip(names, st_.row_parts, st_.dropped, strict=True):
        add(f"dL/dh {name}", part, "dropped (padding_idx)" if dropped else "yes")
    if sampled:
        for (b, j), part in zip(st_.head_places, st_.head_parts, strict=True):
            add(f"tied head: dL/ds[{int(b)}, {int(j)}]·h_{int(b)} ({'context' if j == 0 else 'negative'})", part, "yes")
    elif st_.head_grad is not None:
        add("tied head: Σ_p dL/dlogits[p, row]·z_p" if st_.context else "tied head: Σ_b dL/dlogits[b, row]·h_b",
            st_.head_grad, "yes")  # fmt: skip
    add("row's gradient g (sum)", st_.row_grad, "")
    return out


def rule_table(move: RowMove, recorded: np.ndarray) -> dict:
    """The update rule, a line per step of it: its formula, the row's first coordinates and the line's length."""
    lines = [("w before", "the row before the step", move.w_before)]
    if not np.array_equal(move.w_start, move.w_before):
        lines.append(("w rescaled", "max_norm's forward rescale", move.w_start))
    lines += [(line.name, line.formula, line.values) for line in move.lines]
    lines += [("w after", "w + Δw", move.w_after), ("recorded move", "W_after − W_before, from torch", recorded),
              ("difference", "replayed − recorded move", move.move - recorded)]  # fmt: skip
    out: dict[str, list] = {"line": [], "formula": [], "length": []}
    for name, formula, values in lines:
        out["line"].append(name)
        out["formula"].append(formula)
        out["length"].append(f"{float(np.linalg.norm(np.asarray(values, np.float64))):.6e}")
        for key, value in _coords(values).items():
            out.setdefault(key, []).append(value)
    return out


def by_coordinate(move: RowMove, recorded: np.ndarray) -> dict:
    """Every coordinate of the row: before, gradient, each line of the rule, after, recorded move, difference."""
    out = {"coordinate": list(range(len(move.grad))), "w before": move.w_before.tolist()}
    for line in move.lines:
        out[line.name] = np.asarray(line.values).tolist()
    out |= {"w after": move.w_after.tolist(), "recorded move": recorded.tolist(),
            "difference": (move.move - recorded).tolist()}  # fmt: skip
    return out


def state_table(move: RowMove) -> dict:
    """The optimizer's state for the row before and after: the step count, each slot's length and first values."""
    out: dict[str, list] = {"state": ["step count"], "before": [str(move.before.step)], "after": [str(move.after.step)]}
    for name in sorted(set(move.before.slots) | set(move.after.slots)):
        old, new = move.before.slots.get(name), move.after.slots.get(name)
        out["state"].append(f"|{name}|")
        out["before"].append("not made yet" if old is None else f"{float(np.linalg.norm(old)):.4e}")
        out["after"].append("none" if new is None else f"{float(np.linalg.norm(new)):.4e}")
    return out


def decay_chart(step: int, projected: np.ndarray, recorded_steps: list[int], recorded: list[float]) -> dict:
    """The state's own move over the following steps: projected with no gradient, and as the run recorded it."""
    ahead = list(range(step + 1, step + 1 + len(projected)))
    data = [trace("scatter", x=ahead, y=projected.tolist(), mode="lines+markers", name="state alone, no gradient",
                  line={"color": FROM_STATE})]  # fmt: skip
    if recorded_steps:
        data.append(trace("scatter", x=recorded_steps, y=recorded, mode="markers", name="recorded: state's move",
                          marker={"color": FROM_GRADIENT, "symbol": "x"}))  # fmt: skip
    title = "How far the row's optimizer state alone moves it in the following steps"
    return style(figure(data), title, height=320, xaxis_title="step", yaxis_title="|Δw|", legend=LEGEND_BELOW)
