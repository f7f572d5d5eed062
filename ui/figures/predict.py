"""Tables of the Predict page, built from core.predict's explanation of a step (pure, no Streamlit): the
breakdown of the rows by what happened to them, in a table and in words, and the reason each row moved or not."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.predict import Explanation

MAX_REASON_ROWS = 500
NO_GRADIENT_CAUSES = (
    ("of those, by optimizer state", "optimizer state"),
    ("of those, by weight decay", "weight decay"),
    ("of those, by max_norm", "max_norm's rescale"),
)  # (breakdown key, cause in words) of the rows that moved without a gradient


def breakdown_table(counts: dict[str, int]) -> pd.DataFrame:
    """The breakdown's counts as a two-column table."""
    return pd.DataFrame({"rows": list(counts), "how many": list(counts.values())})


def breakdown_caption(counts: dict[str, int], n_grad: int, n_moved: int) -> str:
    """The answer in words, every number from the record's breakdown."""
    text = f"{counts['looked up']} rows were looked up; {n_grad} got a gradient"
    if counts["gradient: tied head only"]:
        text += f" ({counts['gradient: tied head only']} only through the tied head)"
    if counts["looked up, no gradient (padding)"]:
        text += "; the padding row was looked up but got none"
    text += f". {n_moved} moved: {counts['moved with a gradient']} with a gradient"
    no_grad = counts["moved without a gradient"]
    if no_grad:
        parts = [f"{counts[key]} by {name}" for key, name in NO_GRADIENT_CAUSES if counts[key]]
        twice = "; a row can count twice" if sum(counts[key] for key, _ in NO_GRADIENT_CAUSES) > no_grad else ""
        text += f", {no_grad} without one ({', '.join(parts)}{twice})"
    return text + "."


def reason_table(exp: Explanation, token_counts: np.ndarray, vocab: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """(a row per row that was looked up, got a gradient or moved: surprises first, at most MAX_REASON_ROWS;
    how many such rows there are)."""
    involved = np.flatnonzero(exp.looked_up | exp.grad | exp.moved)
    surprising = np.isin(involved, exp.surprising_rows())
    order = involved[np.argsort(~surprising, kind="stable")][:MAX_REASON_ROWS]
    table = pd.DataFrame(
        {
            "row": order,
            "token": [vocab[r] for r in order],
            "looked up": token_counts[order],
            "gradient": np.where(exp.grad[order], "yes", "no"),
            "moved": np.where(exp.moved[order], "yes", "no"),
            "why": ["; ".join(exp.reasons(int(r))) for r in order],
        }
    )
    return table, len(involved)
