"""A stand-in StepRecord for tests of captions and figures, built by hand so a figure's input is known exactly."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def stand_in_record(**fields) -> SimpleNamespace:
    """(V,) arrays named as core's StepRecord fields: the given ones, zeros for the rest, masks derived."""
    v = len(next(iter(fields.values())))
    zeros = np.zeros(v)
    base = {"step": 3, "grad_norm": zeros, "update_norm": zeros, "token_counts": np.zeros(v, dtype=np.int32),
            "move_grad": zeros, "move_state": zeros, "move_decay": zeros, "move_renorm": zeros,
            "head_grad_norm": zeros}  # fmt: skip
    rec = SimpleNamespace(**(base | fields))
    rec.grad_mask, rec.updated_mask = rec.grad_norm > 0, rec.update_norm > 0
    return rec
