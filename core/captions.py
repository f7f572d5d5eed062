"""Every sentence a page prints, built from a run's records and settings: pure functions, no Streamlit.

Every label here is computed from a run's StepRecords, never from what a configuration is supposed to do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.budget import scores
from core.config import TrainConfig
from core.limits import TEXT_EXPORT_MAX_VALUES
from core.optimizers import OPTIMIZERS, optimizer_defaults
from core.reference import MODELS, ModelTable, RunTable, table_bytes, training_bytes
from core.rows import (
    MAX_ROWS,
    STATE_NAMES,
    GradientGroups,
    is_tied,
    move_counts,
    row_gradients,
    sample_among,
    sample_rows,
)

if TYPE_CHECKING:  # types only: core.lookup and core.sweep load torch, and no sentence needs it
    from core.lookup import InitView, LookupComparison, LookupRun, LookupTiming, OneHotRows
    from core.predict import NextBatch, Score, Tally
    from core.sweep import DimensionSweep, SweepPlan


def byte_size(n_bytes: float) -> str:
    """Bytes in the largest binary unit that keeps the number at 1 or more: '1.50 GiB', '12.00 MiB', '800 B'."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.2f} {unit}"
    return f"{n_bytes:,.0f} B"


def percent(share: float | None) -> str:
    """'12.3%', or '?' for a share nobody published."""
    return "?" if share is None or math.isnan(share) else f"{share:.1%}"


MODEL_NAMES = {"skipgram": "full softmax", "sgns": "negative sampling", "gpt": "GPT"}  # config.MODELS, short


def describe_run(cfg: TrainConfig, form: str = "full", model: bool = True, setup: bool = True) -> str:
    """The run in one line, from its config. 'head' (the sidebar): 'SGD, lr 0.5, 100 × 16 table'; 'legend'
    (Compare's members): 'SGD lr 0.5, momentum 0.9, wd 0.01, tied'; 'full' (Predict): 'SGD, lr 0.5, momentum
    0.9, no weight decay, untied head, padding_idx 0, max_norm 1'. A legend leaves out the model with `model`
    False and a tied head and max_norm with `setup` False (member_labels: what every member shares)."""
    spec, legend = OPTIMIZERS[cfg.optimizer], form == "legend"
    parts = [f"{spec.label}{'' if legend else ','} lr {cfg.lr:g}"]
    if legend and model and cfg.model != "skipgram":  # the model, when it is not the default
        parts[0] = f"{MODEL_NAMES[cfg.model]}: {parts[0]}"
    if form == "head":
        return f"{parts[0]}, {cfg.vocab_size:,} × {cfg.dim:,} table"
    parts += [f"momentum {cfg.momentum:g}"] if cfg.momentum else []
    if legend:  # a legend names only what sets a member apart
        beta1_set = spec.uses_betas and cfg.beta1 != optimizer_defaults(cfg.optimizer)["beta1"]
        parts += [f"beta1 {cfg.beta1:g}"] if beta1_set else []
        parts += [f"wd {cfg.weight_decay:g}"] if cfg.weight_decay else []
        parts += ["tied"] if cfg.tie_weights and setup else []
    else:
        parts.append(f"weight decay {cfg.weight_decay:g}" if cfg.weight_decay else "no weight decay")
        parts.append("tied head" if cfg.tie_weights else "untied head")
        parts += [f"padding_idx {cfg.padding_idx}"] if cfg.padding_idx is not None else []
    parts += [f"max_norm {cfg.max_norm:g}"] if cfg.max_norm is not None and (setup or not legend) else []
    return ", ".join(parts)


def member_labels(configs: Sequence[TrainConfig]) -> list[str]:
    """Compare's name for each member (describe_run's legend), numbered where two would read the same. A label
    names only what sets its member apart: a model, a tied head or max_norm that every member shares is left out
    (compare_intro says it once), so four labels fit a projector's panels and half-width legends."""
    one_model, one_setup = _shared(configs)
    seen: dict[str, int] = {}
    out = []
    for label in (describe_run(c, "legend", model=not one_model, setup=not one_setup) for c in configs):
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _shared(configs: Sequence[TrainConfig]) -> tuple[bool, bool]:
    """Whether every member has the same model, and the same head tying and max_norm (the run's setup)."""
    return len({c.model for c in configs}) == 1, len({(c.tie_weights, c.max_norm) for c in configs}) == 1


def shared_setup(configs: Sequence[TrainConfig]) -> str:
    """What member_labels leaves out because every member shares it, in words: 'negative sampling, tied head,
    max_norm 1' (the default skip-gram, an untied head and no max_norm go unsaid); '' when nothing is."""
    if not configs:
        return ""
    first, (one_model, one_setup) = configs[0], _shared(configs)
    parts = [MODEL_NAMES[first.model]] if one_model and first.model != "skipgram" else []
    if one_setup:
        parts += ["tied head"] if first.tie_weights else []
        parts += [f"max_norm {first.max_norm:g}"] if first.max_norm is not None else []
    return ", ".join(parts)


def were(n: int) -> str:
    return "was" if n == 1 else "were"


def count(n: int, noun: str) -> str:
    """'1 row', '2 rows', '1,000 rows'."""
    return f"{n:,} {noun if n == 1 else noun + 's'}"


def sample_note(rows: np.ndarray, n_rows: int, wanted: np.ndarray, what: str) -> str:
    """' Showing 200 of 10,001 rows: every looked-up row, plus a sample.' (empty when every row is shown), saying
    how many of the `wanted` (bool (V,)) rows made it in."""
    if len(rows) == n_rows:
        return ""
    n_wanted, n_in = int(wanted.sum()), int(wanted[rows].sum())
    if n_wanted == 0:
        return f" Showing {len(rows):,} of {n_rows:,} rows, evenly spaced."
    if n_in == n_wanted:
        kept = f"every {what} row" if n_wanted > 1 else f"the {what} row"
    else:
        kept = f"{n_in:,} of the {n_wanted:,} {what} rows"
    rest = ", plus a sample of the others" if n_in < len(rows) else ""
    return f" Showing {len(rows):,} of {n_rows:,} rows: {kept}{rest}."


def mask_title(step: int, groups: GradientGroups) -> str:
    """The Gradient masks chart's title: how many rows got a gradient, and which, as the mask shows."""
    a, b, c, _ = groups.counts()
    n_grad, n_rows = a + c, groups.n_rows
    head = f"Step {step}: {'all' if n_grad == n_rows else f'{n_grad:,} of'} {n_rows:,} rows got a gradient"
    if c == 0:
        but = "" if b == 0 else f" ({b:,} looked-up row{'s' if b != 1 else ''} got none)"
        return f"{head}: the {a:,} looked up{but}" if a else head
    if groups.tied and n_grad == n_rows:
        return f"{head}: the tied head reaches every row"
    reach = "through the tied head" if groups.tied else "without a lookup"
    return f"{head}: {a:,} looked up, {c:,} more {reach}"


def mask_caption(groups: GradientGroups, n_lookups: int) -> str:
    """Lookups, then the four groups' counts (they add up to V), then what padding_idx did this step."""
    a, b, c, d = groups.counts()
    n_used = a + b
    parts = []
    if a:
        parts.append(f"{a:,} {were(a)} looked up and got a gradient")
    if b:
        why = " (the padding row)" if groups.only_padding(groups.looked_up_no_grad) else ""
        parts.append(f"{b:,} {were(b)} looked up but got a gradient of 0{why}")
    if c:
        via = " through the tied head" if groups.tied else ""
        parts.append(f"{c:,} {were(c)} not looked up but got a gradient{via}")
    if d:
        parts.append(f"{d:,} {were(d)} neither: {'its' if d == 1 else 'their'} gradient is exactly zero")
    text = f"{count(n_lookups, 'lookup')} of {count(n_used, 'distinct token')}. Of the {groups.n_rows:,} rows, "
    text += "; ".join(parts)
    return text + "." + padding_note(groups)


def padding_note(groups: GradientGroups) -> str:
    """What happened to the padding row this step (empty without padding_idx)."""
    p = groups.padding_idx
    if p is None:
        return ""
    looked_up = bool(groups.looked_up_grad[p] or groups.looked_up_no_grad[p])
    got = bool(groups.looked_up_grad[p] or groups.grad_not_looked_up[p])
    if looked_up and not got:
        if groups.tied:
            return (
                f" The padding row (row {p}) was looked up, but padding_idx drops the lookup's gradient to it, and the "
                "tied head gave it none this step."
            )
        return (
            f" The padding row (row {p}) was looked up, but padding_idx drops the lookup's gradient to it (only the "
            "lookup's: a tied head would still reach the row)."
        )
    if looked_up and got:
        return (
            f" The padding row (row {p}) was looked up; padding_idx dropped those lookups' gradient, yet the row got a "
            "gradient from the tied head: padding_idx blocks only the lookup's gradient."
        )
    if got:
        return (
            f" The padding row (row {p}) was not looked up and still got a gradient from the tied head: padding_idx "
            "blocks only the lookup's gradient."
        )
    return f" The padding row (row {p}) was not looked up this step."


def train_gradient_sentence(groups: GradientGroups) -> str:
    """The Train page's line on which rows got a gradient, from the mask."""
    a, b, c, d = groups.counts()
    n_rows, n_used = groups.n_rows, a + b
    text = f"{count(n_used, 'distinct token')} of {n_rows:,} {were(n_used)} looked up; "
    if c == 0 and b == 0 and d == 0:
        text += "every row was looked up, and every row got a gradient."
    elif c == 0 and b == 0:
        text += f"exactly their rows got a gradient (the other {count(d, 'row')}: exactly zero)."
    elif c == 0:
        text += f"{a:,} of their rows got a gradient"
        text += ": padding_idx drops the padding row's." if groups.only_padding(groups.looked_up_no_grad) else "."
    elif a + c == n_rows and groups.tied:
        text += (
            f"all {n_rows:,} rows got a gradient, because the tied head (the table is also the output layer) "
            "reaches every row."
        )
    else:
        via = " through the tied head" if groups.tied else ""
        text += f"{a + c:,} rows got a gradient: {c:,} of them{via} without being looked up."
    return text


def strip_caption(used: np.ndarray, padding_idx: int | None, step: int) -> str:
    """Under the Train page's table: how many rows the step looked up, by their colour in the strip."""
    n = int(used.sum())
    if step == 0:
        return "No step yet: no row has been looked up."
    text = f"{n:,} row{'s' if n != 1 else ''} {were(n)} looked up in step {step}"
    if padding_idx is not None and used[padding_idx]:
        return text + f": blue in the strip, and the padding row (row {padding_idx}), orange."
    return text + " (blue in the strip)."


@dataclass(frozen=True)
class ContributionStory:
    """What the contributions of one looked-up row add up to, told truthfully for this run."""

    sum_row: np.ndarray  # (D,) the last row the heatmap shows
    sum_label: str
    caption: str


def contribution_story(rec, row: int, contribs: np.ndarray, padding_idx: int | None) -> ContributionStory:
    """The sum row and caption under one looked-up row's contributions: a plain, padding or tied-head row."""
    k = len(contribs)
    lookup_sum = contribs.sum(axis=0)
    total = float(rec.grad_norm[row])
    if row == padding_idx:
        caption = (
            f"padding_idx drops these {k} contributions (their sum would have norm "
            f"{float(np.linalg.norm(lookup_sum)):.3g}): the lookup gives this row a gradient of 0. "
        )
        if is_tied(rec) and total > 0:
            caption += f"The trainer's gradient norm for this row is {total:.3g}, all of it from the tied head."
        elif is_tied(rec):
            caption += "The trainer's gradient norm for this row: 0 (the tied head gave it none this step)."
        else:
            caption += f"The trainer's gradient norm for this row: {total:.3g}."
        return ContributionStory(np.zeros_like(lookup_sum), "0: padding_idx drops them", caption)
    s = float(np.linalg.norm(lookup_sum))
    head_mask = getattr(rec, "head_grad_mask", None) if getattr(rec, "negative_ids", None) is not None else None
    if is_tied(rec) and head_mask is not None and not head_mask[row]:  # negative sampling did not score the row
        caption = (
            f"The {k} contributions add up to this row's whole gradient (norm of the sum: {s:.3g}; the trainer's: "
            f"{total:.3g}): the tied head's path gave it none this step."
        )
        return ContributionStory(lookup_sum, "sum = row gradient", caption)
    if is_tied(rec):
        caption = (
            f"The {k} contributions add up to the lookup's part of this row's gradient (norm {s:.3g}). The tied head "
            f"adds its own part through the output layer: the row's whole gradient has norm {total:.3g}."
        )
        return ContributionStory(lookup_sum, "sum = lookup's part", caption)
    caption = f"Norm of the sum: {s:.3g}; the trainer's gradient norm for this row: {total:.3g}."
    return ContributionStory(lookup_sum, "sum = row gradient", caption)


def blind_guess(vocab_size: int, cfg: TrainConfig | None = None) -> tuple[float, str]:
    """(the loss of a model that knows nothing, its name as a sentence writes it): 'ln V = 4.09' for the full
    softmax, '6 ln 2 = 4.16' for negative sampling with k = 5 (cfg.blind_loss: every score 0)."""
    if cfg is not None:
        return cfg.blind_loss, f"{cfg.blind_name} = {cfg.blind_loss:.2f}"
    return math.log(vocab_size), f"ln V = {math.log(vocab_size):.2f}"


def loss_warning(
    losses: Sequence[float], vocab_size: int, lr: float, init: str, cfg: TrainConfig | None = None
) -> str | None:
    """A warning when the loss is above the blind guess (ln V; negative sampling's (k+1) ln 2, given `cfg`) and
    rising (3 steps or more), or has stayed above it for the last 10 of 20 steps or more; with a concrete hint.
    None when the records show neither."""
    losses = np.asarray(losses, dtype=float)
    blind, named = blind_guess(vocab_size, cfg)
    guess = "a uniform guess" if cfg is None or cfg.model != "sgns" else "scores of 0 (a model that knows nothing)"
    first, last = (float(losses[0]), float(losses[-1])) if len(losses) else (0.0, 0.0)
    big_init = init in ("normal", "uniform")
    smaller_lr = f"a smaller learning rate (now {lr:g}; e.g. {lr / 10:g})"
    small_init = "the small_normal init (N(0, 0.02), as GPT-2), which starts at the blind guess"
    if len(losses) >= 3 and np.all(losses[-3:] > blind) and last > first:
        what = (f"The loss rose from {first:.3g} to {last:.3g}, above the blind guess {named}: "
                "this run is training backwards.")  # fmt: skip
        hint = f" Try {smaller_lr}" + (f" or {small_init}" if big_init else "")
    elif len(losses) >= 20 and np.all(losses[-10:] > blind):
        what = (f"The loss ({last:.3g}, from {first:.3g}) is still above the blind guess {named} after "
                f"{len(losses)} steps: the model predicts worse than {guess}.")  # fmt: skip
        hint = f" Try {small_init}" if big_init else f" Try {smaller_lr}"
    else:
        return None
    return what + hint + "."


def move_caption(rec, label: str, optimizer: str, n_rows: int) -> str:
    """The Row updates caption: rows moved, with a gradient, without one and why, from the record."""
    c = move_counts(rec)
    text = (
        f"{label} moved {c.moved:,} of {n_rows:,} rows in step {rec.step}; {count(c.with_grad, 'row')} got a gradient. "
    )
    if c.moved == 0:
        return text + "No row moved in this step."
    if c.moved_no_grad == 0:
        return text + "Every row that moved got a gradient of its own."
    why = {
        "state": f"optimizer state ({STATE_NAMES.get(optimizer, 'its state')})",
        "decay": "weight decay",
        "renorm": "max_norm's rescale in the forward pass",
    }
    reasons = [f"{n:,} by {why[key]}" for key, n in c.no_grad_by.items()]
    more = " (a row can count twice)" if sum(c.no_grad_by.values()) > c.moved_no_grad else ""
    listing = (": " + ", ".join(reasons) + more) if reasons else ""
    return text + f"{c.moved_no_grad:,} of them got no gradient this step and moved anyway{listing}."


SPLIT_EXPLAINED = (
    "How the split is computed: a row's move d = W_after − W_before is a sum of vectors: what max_norm's rescale "
    "did in the forward pass, what weight decay alone did, what the optimizer's state alone did (the same step with "
    "a zero gradient and no decay), and what the gradient added (the rest). Each bar is one part's signed component "
    "along the move, ⟨part, d⟩ / |d|: a row's bars add up to the length of its move exactly, and a part that "
    "pulled against the move goes below zero. Only parts that are non-zero in this step are shown."
)


def movement_caption(movement: np.ndarray, freq: np.ndarray, n_steps: int, n_shown: int) -> str:
    """Under the frequency-vs-movement chart: what it shows, and the rows a log axis leaves out, counted."""
    never = int((movement == 0).sum())
    absent = int(((movement > 0) & (freq == 0)).sum())
    left_out = [f"{n:,} {what if n == 1 else whats}" for n, what, whats in (
        (never, "row that never moved", "rows that never moved"),
        (absent, "moved row whose token is not in the corpus", "moved rows whose token is not in the corpus"),
    ) if n]  # fmt: skip
    plotted = int(((movement > 0) & (freq > 0)).sum())
    text = f"Total movement over the {n_steps} kept steps, per row."
    text += f" Not on the log axes: {' and '.join(left_out)}." if left_out else ""
    return text + ("" if n_shown == plotted else f" {n_shown:,} of {plotted:,} rows shown.")


def lookup_intro(vocab_size: int, dim: int) -> str:
    """What nn.Embedding(V, D) is, in the page's first paragraph."""
    return (
        f"`nn.Embedding({vocab_size:,}, {dim})` holds one {dim}-number row per token. `emb(x)` returns row x. "
        "Multiplying a one-hot vector by the table returns the same row, so an embedding is a linear layer "
        "without bias or activation, computed as an index instead of a product."
    )


def lookup_metrics(result: LookupComparison, timing: LookupTiming) -> list[tuple[str, str]]:
    """(label, value) of the four numbers above the Lookup page's caption."""
    return [
        ("max |emb(x) − one_hot(x) @ W|", f"{result.max_value_diff:.3g}"),
        ("max gradient difference", f"{result.max_grad_diff:.3g}"),
        ("multiply-adds", f"0 vs {result.matmul_flops:,}"),
        ("product time / lookup time", f"{timing.ratio:,.0f}×"),
    ]


def lookup_caption(run: LookupRun, timing: LookupTiming, vocab_size: int, dim: int) -> str:
    """Which batch and gradient the comparison used, what each way costs, and the layer's parameters."""
    result, n, v, d = run.result, len(run.result.ids), vocab_size, dim
    where = f"this run's batch at step {run.step}" if run.step is not None else "the first batch (no step yet)"
    upstream = "this step's own upstream gradient dY" if run.step is not None else "a random upstream gradient dY"
    return (
        f"On {where}: {count(n, 'token')}, {count(result.n_distinct, 'distinct row')}, with {upstream}. "
        "The lookup copies "
        f"{n * d:,} numbers and multiplies nothing; the product does {n:,} × {v:,} × {d} = {result.matmul_flops:,} "
        f"multiply-adds. Timed here on {timing.n_tokens} of the tokens: fastest of {timing.lookup_runs} lookups "
        f"{timing.lookup_s * 1e6:,.1f} µs, fastest of {timing.matmul_runs} products (one-hot included) "
        f"{timing.matmul_s * 1e6:,.1f} µs. The layer has {run.params:,} parameters = {v:,} × {d}: no bias."
    )


def _padding_note(run: LookupRun, token: str) -> str:
    result, pad = run.result, run.result.padding_idx
    if pad is None:
        return "**padding_idx**: not set, so every looked-up row gets its gradient, in both."
    if not result.padding_hits:
        return (
            f"**padding_idx = {pad}**: row {pad} is not looked up in this batch, so the gradients agree here "
            f"(largest difference {result.max_grad_diff:.3g}); where it is looked up, your layer gives it no gradient "
            "and one_hot(x)ᵀ @ dY does."
        )
    tied = " Your head is tied to this table, so the row still gets a gradient through the head." if run.tied else ""
    return (
        f"**padding_idx = {pad}** ('{token}'): this batch looks it up {result.padding_hits} "
        f"times. Your layer's gradient to row {pad} is {result.padding_grad_lookup:.3g}: padding_idx blocks the "
        f"lookup's gradient to it. one_hot(x)ᵀ @ dY gives it a gradient of length {result.padding_grad_matmul:.3g}. "
        f"Every other row's gradient agrees (largest difference {result.max_grad_diff_other:.3g}).{tied}"
    )


def _max_norm_note(result: LookupComparison) -> str:
    if result.max_norm is None:
        return "**max_norm**: not set, so emb(x) returns the rows exactly as stored: the same as one_hot(x) @ W."
    if len(result.rescaled_rows):
        return (
            f"**max_norm = {result.max_norm:g}**: {len(result.rescaled_rows)} of the {result.n_distinct} looked-up "
            f"rows were longer than {result.max_norm:g} (the longest {result.longest_before:.3g}). Your layer rescaled "
            f"them to length {result.max_norm:g} (longest now {result.longest_after:.3g}) in W itself, during the "
            f"forward pass, and returned the rescaled rows: emb(x) differs from one_hot(x) @ W by up to "
            f"{result.max_value_diff:.3g}. The rescale happens outside autograd: the gradients agree "
            f"(largest difference {result.max_grad_diff_other:.3g} off the padding row). Computed on copies: your "
            "run's table is untouched."
        )
    return (
        f"**max_norm = {result.max_norm:g}**: none of the {result.n_distinct} looked-up rows is longer than "
        f"{result.max_norm:g} (the longest {result.longest_before:.3g}), so nothing is rescaled in this batch and "
        f"emb(x) equals one_hot(x) @ W (largest difference {result.max_value_diff:.3g})."
    )


def lookup_notes(run: LookupRun, vocab_size: int, dim: int, padding_token: str = "") -> str:
    """A markdown list: what padding_idx, max_norm and sparse did to this batch. `padding_token` comes escaped
    for markdown (the page escapes it: the token may be the user's own text)."""
    notes = [_padding_note(run, padding_token), _max_norm_note(run.result)]
    if run.result.sparse:
        notes.append(
            f"**sparse**: your layer's gradient is a sparse tensor of the {run.result.n_distinct} looked-up rows; "
            f"one_hot(x)ᵀ @ dY is a dense {vocab_size:,} × {dim} matrix, zero outside those rows. The values are the "
            "same."
        )
    return "\n".join(f"- {n}" for n in notes)


def product_caption(rows: OneHotRows, max_value_diff: float) -> str:
    """Under the one-hot product: what it shows, and whether emb(x) returns the same rows."""
    n_columns = rows.one_hot.shape[1]
    note = "" if rows.all_columns else (
        f" Only the {n_columns} rows of W that a 1 selects are drawn; the other "
        f"{rows.vocab_size - n_columns:,} are multiplied by 0."
    )  # fmt: skip
    same = (
        "emb(x) returns these same rows."
        if max_value_diff == 0
        else f"Your layer's emb(x) differs from this product by up to {max_value_diff:.3g} (max_norm, above)."
    )
    first = "The first token" if len(rows.tokens) == 1 else f"The first {len(rows.tokens)} tokens"
    return f"{first} of the batch. Each row of one_hot(x) has a single 1. {same}{note}"


def init_caption(view: InitView) -> str:
    """Under the initialisation histogram: the measured spread against the init's promise."""
    stats = view.stats
    promise = "" if stats.expected_std is None else f" (the init promises σ = {stats.expected_std:.3g})"
    pad_note = ""
    if view.padding_idx is not None:
        zero = "at zero, on purpose" if view.padding_zero else "non-zero"
        pad_note = f" The padding row {view.padding_idx} starts {zero} (the measured mean and spread leave it out)."
    return (
        f"Measured: mean {stats.mean:.3g}, standard deviation {stats.std:.3g}{promise}; mean row length "
        f"{stats.row_norm_mean:.3g}. Random, so rows mean nothing until training moves them.{pad_note}"
    )


def scale_row(table: ModelTable | RunTable, name: str | None = None, year: str | None = None) -> dict[str, str]:
    """One row of the Scale page's table: a published model, or the user's run (given its `name` and `year`)."""
    known = table.dim is not None
    return {
        "model": name or table.model,
        "year": year or str(table.year),
        "vocabulary V": f"{table.vocab_size:,}",
        "width D": f"{table.dim:,}" if known else "not published",
        "table V × D": "?" if table.table_params is None else f"{table.table_params:,}",
        "head": "tied" if table.tied else "separate",
        "table's share": percent(table.table_share),
        "table + head's share": percent(table.share),
        "table in bf16": byte_size(table_bytes(table.vocab_size, table.dim, "bf16")) if known else "?",
        "train with Adam (fp32)": byte_size(training_bytes(table.vocab_size, table.dim, table.tied)) if known else "?",
    }


def scale_rows(mine: RunTable) -> list[dict[str, str]]:
    """The Scale page's table: the user's run first, then every published model."""
    return [scale_row(mine, f"your run ({mine.vocab_size:,} × {mine.dim:,})", "—")] + [scale_row(m) for m in MODELS]


def scale_caption(mine: RunTable) -> str:
    """Under the table: what the shares are of, and what the user's model holds."""
    head = (
        "its output layer is the table itself (tied)"
        if mine.tied
        else f"its separate output layer has another {mine.head_params:,}"
    )
    blocks = mine.total_params - mine.table_params - mine.head_params - mine.position_params
    others = "there are no others"
    if mine.position_params or blocks:
        others = f"the positional table holds {mine.position_params:,} and the transformer blocks {blocks:,}"
    return (
        f"Shares are of all parameters. Your model has {mine.total_params:,} parameters: the table holds "
        f"{mine.table_params:,} ({percent(mine.table_share)}), and {head}; {others}. "
        "Training memory: weights, gradients and Adam's two moment estimates, 4 bytes each. "
        "GPT-4's architecture is unpublished; its tokenizer has 100,256 tokens."
    )


def sizes_caption(mine: RunTable) -> str:
    """Under the table sizes chart: GPT-2 small's table against the user's."""
    gpt2 = next(m for m in MODELS if m.model == "GPT-2 small")
    return (
        f"GPT-2 small's table alone is {gpt2.table_params:,} numbers, {gpt2.table_share:.0%} of the model; "
        f"yours is {mine.table_params:,}. Bigger models grow D far more than V, so the table's share falls."
    )


def sweep_vocab_limit(max_vocab: int) -> str:
    """Why the sweep does not run for a vocabulary over `max_vocab`."""
    return f"The sweep trains six models; it runs for vocabularies up to {max_vocab:,} tokens."


def sweep_unfit(plan: SweepPlan) -> str:
    """Why a plan that does not fit its memory budget cannot run."""
    return (
        f"Even one example per batch needs {byte_size(plan.peak_bytes)} per model at D = {max(plan.dims)}, over "
        f"the sweep's budget of {byte_size(plan.budget_bytes)}. Choose a smaller vocabulary to measure."
    )


def sweep_intro(plan: SweepPlan) -> str:
    """What Measure will train."""
    return (
        f"Trains your configuration for {plan.steps} steps at D = {', '.join(map(str, plan.dims))} "
        "(same seed, same batches) and compares the final loss and how well categories cluster."
    )


def sweep_shrunk(plan: SweepPlan) -> str | None:
    """Why the sweep trains with a smaller batch than the run's (None: it does not)."""
    if not plan.shrunk:
        return None
    asked, widest = plan.asked_batch_size, max(plan.dims)
    if plan.over_memory:
        mostly = "" if plan.cfg.model == "sgns" else " (mostly the batch × vocabulary logits and their gradients)"
        return (
            f"Your batch of {asked:,} would need {byte_size(plan.asked_bytes)} per model at D = {widest}{mostly}, "
            "over the sweep's budget of "
            f"{byte_size(plan.budget_bytes)}. The sweep trains with batches of {plan.cfg.batch_size:,} instead "
            f"({byte_size(plan.peak_bytes)})."
        )
    asked_scores = scores(plan.cfg.replace(batch_size=asked))
    per = {
        "gpt": f"{plan.cfg.context} positions × {plan.cfg.vocab_size:,} tokens",
        "sgns": f"{plan.cfg.negatives + 1} rows",
    }
    return (
        f"Your batch of {asked:,} × {per.get(plan.cfg.model, f'{plan.cfg.vocab_size:,} tokens')} would score "
        f"{asked_scores:,} logits a step, "
        f"{len(plan.dims) * plan.steps:,} times: minutes of a shared server. The sweep trains with batches of "
        f"{plan.cfg.batch_size:,} instead (at most {plan.max_logits:,} logits a step)."
    )


def sweep_progress(sweep: DimensionSweep) -> str:
    """The progress bar's text while the sweep trains."""
    return (
        f"Training: {sweep.done_steps:,} of {sweep.total_steps:,} steps "
        f"({len(sweep.results)} of {len(sweep.plan.dims)} widths done)"
    )


def sweep_resume(sweep: DimensionSweep) -> str:
    """The label of the button that continues a stopped sweep."""
    return f"Continue ({len(sweep.results)} of {len(sweep.plan.dims)} widths done)"


def sweep_diverged(sweep: DimensionSweep) -> str | None:
    """The widths at which training diverged (None: none did)."""
    diverged = [r.dim for r in sweep.results if r.diverged]
    if not diverged:
        return None
    return f"Training diverged at D = {', '.join(map(str, diverged))}: no loss to compare there."


def sweep_caption(sweep: DimensionSweep) -> str:
    """Under the sweep's chart: loss and purity at the narrowest and widest width, and the best width."""
    results = [r for r in sweep.results if not r.diverged]
    first, last = results[0], results[-1]
    best = min(results, key=lambda r: r.final_loss)
    purity = (
        ""
        if math.isnan(last.purity)
        else f"; kNN purity {first.purity:.2f} at D={first.dim}, {last.purity:.2f} at D={last.dim}"
    )
    partial = "" if sweep.done else f" Stopped after {len(sweep.results)} of {len(sweep.plan.dims)} widths."
    return (
        f"Loss {first.final_loss:.3f} at D={first.dim} and {last.final_loss:.3f} at D={last.dim}; lowest at "
        f"D={best.dim}{purity}. Each: the mean loss of its last {max(1, sweep.plan.steps // 10)} steps, batches of "
        f"{sweep.plan.cfg.batch_size:,}.{partial} Past the point where the data's structure fits, a wider table "
        "only costs memory."
    )


def _each(labels: Sequence[str], values: Sequence, fmt: str) -> str:
    """'SGD lr 0.5: 1.23; Adam lr 0.05: 4.56', each value formatted with `fmt`."""
    return "; ".join(f"{label}: {value:{fmt}}" for label, value in zip(labels, values, strict=True))


def compare_intro(base: TrainConfig, configs: Sequence[TrainConfig] = ()) -> str:
    """What every member of a comparison shares (`configs`: the members, when they may differ in model), the
    model, a tied head and max_norm included when the members' labels leave them out (shared_setup)."""
    models = list(dict.fromkeys(c.model for c in configs))
    shared = shared_setup(configs)
    shared = f" ({shared})" if shared else ""
    if len(models) <= 1:
        return (
            f"Every optimizer trains the sidebar's {base.vocab_size:,} × {base.dim:,} table{shared} from the same "
            f"start, seed {base.seed}, batch {base.batch_size}. Changing a choice here starts the comparison over."
        )
    names = ", ".join(MODEL_NAMES[m] for m in models[:-1]) + f" and {MODEL_NAMES[models[-1]]}"
    batches = (
        "the skip-gram members on the same (centre, context) pairs, the GPT members on windows of the same text"
        if "gpt" in models and len(set(models) - {"gpt"})
        else "all on the same batches"
    )
    return (
        f"Every member ({names}) trains a {base.vocab_size:,} × {base.dim:,} token table{shared} from the same "
        f"start, seed {base.seed}, batch {base.batch_size}: {batches}. Changing a choice here starts the comparison "
        "over."
    )


def compare_loss_caption(labels: Sequence[str], series: Sequence, guesses: Sequence[tuple[float, str]]) -> str:
    """Each member's loss at its last step, against each distinct blind guess (loss, its name: ln V, negative
    sampling's (k+1) ln 2)."""
    said = "; ".join(f"{n} = {value:.3f}" for value, n in guesses)
    return f"Loss at its last step: {_each(labels, [s.loss[-1] for s in series], '.3f')} ({said})."


def compare_counts_caption(
    labels: Sequence[str], series: Sequence, agree: int, kept: int, who: str = "optimizer"
) -> str:
    """In how many steps the members' gradients reached the same rows, and how many rows each moved."""
    return (
        f"In {agree} of {kept} kept steps every {who}'s gradient reached exactly the same rows "
        f"({series[0].grad_rows.mean():.1f} per step for {labels[0]}). Rows moved per step: "
        f"{_each(labels, [s.moved_rows.mean() for s in series], '.1f')}."
    )


def compare_moved_caption(labels: Sequence[str], series: Sequence) -> str:
    """How many rows each member moved without a gradient of their own."""
    means = _each(labels, [s.moved_without_grad.mean() for s in series], ".1f")
    return f"Rows moved with no gradient of their own, per step on average: {means}."


def compare_row_caption(token: str, labels: Sequence[str], trajectories: Sequence) -> str:
    """One followed row: in how many steps it had a gradient, and in how many each member moved it. `token`
    comes escaped for markdown."""
    steps, _, had_grad = trajectories[0]
    moves = _each(labels, [int((t[1] > 0).sum()) for t in trajectories], "")
    kept = count(len(steps), "step")
    return f"'{token}' had a gradient in {int(had_grad.sum())} of {kept}; steps in which it moved: {moves}."


def compare_pca_caption(
    labels: Sequence[str], lengths: Sequence[float], n_shown: int, n_rows: int, configs: Sequence[TrainConfig] = ()
) -> str:
    """Under the PCA panels: what differs, each table's mean row length, and the sample."""
    shown = "" if n_shown == n_rows else f" Showing {n_shown:,} of {n_rows:,} rows."
    same = "Same step, same batches, same start: the layouts differ only by optimizer"
    if len({c.model for c in configs}) > 1:
        batches = "same batches" if len({c.model == "gpt" for c in configs}) == 1 else "the same text"
        same = f"Same step, {batches}, same start: the layouts differ by optimizer and by model"
    return f"{same}. Mean row length: {_each(labels, lengths, '.2f')}.{shown}"


def predict_result(step: int, result: Score, tally: Tally) -> tuple[str, list[tuple[str, str]]]:
    """The scored step's heading, and (label, value) of its three numbers: the two answers and the score so far."""
    return f"Step {step}: {result.points} of 2 right", [
        (f"Rows with a gradient (you said {result.predicted_grad})", f"{result.actual_grad}"),
        (f"Rows that moved (you said {result.predicted_moved})", f"{result.actual_moved}"),
        ("Score so far", f"{tally.points} of {tally.possible}"),
    ]


def reasons_caption(n_shown: int, n_rows: int) -> str:
    """Under the table of reasons."""
    more = f" Showing {n_shown:,} of {n_rows:,}." if n_shown < n_rows else ""
    return f"Every row that was looked up, got a gradient or moved, and why; the surprises first.{more}"


def predict_run_caption(cfg: TrainConfig) -> str:
    """The run a prediction is about."""
    return f"This run: {describe_run(cfg)}; a {cfg.vocab_size:,}-row table. Change it in the sidebar."


def next_head_rows(batch: NextBatch) -> str | None:
    """Negative sampling's head rows for the next step, before it: how many, and where they land when tied."""
    if batch.head_rows is None:
        return None
    where = (
        "The head is tied: these are rows of this table, so each gets a gradient from the head's path too, "
        "looked up or not."
        if batch.tied
        else "The head is untied: their gradient lands in the head, and only the looked-up rows of this table get one."
    )
    return (
        f"Negative sampling will score {len(batch.head_rows):,} distinct head rows next step: {batch.n_lookups:,} "
        f"true contexts and {batch.n_scored - batch.n_lookups:,} draws from the unigram distribution to the 3/4 "
        f"power. {where}"
    )


def next_batch_title(batch: NextBatch) -> str:
    """The next batch's bar chart title."""
    lookups, tokens = count(batch.n_lookups, "lookup"), count(batch.n_distinct, "distinct token")
    return f"The next batch: {lookups} of {tokens} ({len(batch.shown)} shown)"


def export_caption(frame_steps: Sequence[int], stride: int, kept_steps: Sequence[int], n_values: int) -> str:
    """Under the download buttons: which tables and steps are there, and why text formats may be off."""
    every = f"every {stride} steps" if stride > 1 else "every step"
    kept = f"steps {kept_steps[0]}–{kept_steps[-1]}" if len(kept_steps) else "no step yet"
    first, last = frame_steps[0], frame_steps[-1]
    tables = f"steps {first}–{last} ({every} kept)" if len(frame_steps) > 1 else f"step {first}"
    text = (
        f"The table is available at {tables}. The history holds {kept}: every array of each step's record, stacked "
        "by step. For projector.tensorflow.org: Load, then vectors.tsv and metadata.tsv."
    )
    if n_values > TEXT_EXPORT_MAX_VALUES:
        text += f" Text formats are off for tables over {TEXT_EXPORT_MAX_VALUES:,} values: .npy holds this one exactly."
    return text


def import_limit(limit_mb: int) -> str:
    """Before a file is chosen: the size limit, and that nothing is run."""
    return f"Up to {limit_mb} MB. A .npy file is read without unpickling; nothing is run or kept on the server."


UMAP_WARMING = "UMAP is warming up (numba compiles once per server, about a minute). Showing PCA meanwhile."
LAYOUT_EXPLAINED = {
    "PCA": "Each row's shadow on the table's 2 directions of largest spread.",
    "UMAP": "A map that keeps each row's nearest neighbours near; far distances mean little.",
}


def layout_caption(method: str, n_shown: int, n_rows: int) -> str:
    """Under the imported table's layout: what the method shows, and the sample."""
    return LAYOUT_EXPLAINED[method] + ("" if n_shown == n_rows else f" Showing {n_shown:,} of {n_rows:,} rows.")


def loss_caption(step: int, loss: float, vocab_size: int, cfg: TrainConfig | None = None) -> str:
    """Under the Train page's loss curve (negative sampling's blind guess, given `cfg`: its loss is a sigmoid's)."""
    if cfg is not None and cfg.model == "sgns":
        return (
            f"Step {step}: loss {loss:.3f}, negative sampling's: -log σ(true context) - Σ log σ(-negative) per pair "
            f"({blind_guess(vocab_size, cfg)[1]} is a blind guess: every score 0; ln V = {np.log(vocab_size):.2f} "
            "is the full softmax's)."
        )
    return f"Step {step}: loss {loss:.3f} (ln V = {np.log(vocab_size):.2f} is a blind guess)."


def batch_title(step: int, n_lookups: int, n_shown: int, n_tokens: int | None = None) -> str:
    """The Train page's batch chart title; `n_tokens`, the batch's distinct tokens when fewer bars are shown."""
    if n_tokens is None or n_tokens == n_shown:
        return f"Step {step}'s batch: {count(n_lookups, 'lookup')} of {count(n_shown, 'token')} shown"
    return f"Step {step}'s batch: {count(n_lookups, 'lookup')} of {count(n_tokens, 'token')} ({n_shown} shown)"


def table_note(n_shown: int, n_rows: int, chosen: int | None, frame_step: int) -> str:
    """After the Train page's strip caption: sampled rows, and a snapshot older than the step chosen."""
    note = "" if n_shown == n_rows else f" Showing {n_shown} of {n_rows:,} rows (sampled)."
    if chosen is not None and frame_step != chosen:
        note += f" Weights are from step {frame_step}, the nearest kept snapshot before step {chosen}."
    return note


def gradient_heatmap_caption(tied: bool, n_shown: int, n_rows: int, padding_shown: bool) -> str:
    """Under the Gradient masks page's per-row gradient heatmap."""
    part = "the lookup's part of " if tied else ""
    more = f" (the {n_shown} most used of {n_rows})" if n_shown < n_rows else ""
    pad = " The padding row's is 0: padding_idx drops it." if padding_shown else ""
    return f"Rows × dimensions: {part}the gradient of each looked-up row{more}, most used first.{pad}"


def head_caption(
    n_head: int, n_grad: int, n_rows: int, all_looked_up: bool, sampled: int | None = None, n_sampled: int = 0
) -> str:
    """Under the Gradient masks page's embedding-vs-head contrast. `sampled`: SGNS's distinct context rows this step
    (its true contexts and negatives, `n_sampled` draws in all); None for the full softmax, which scores every row."""
    table = f"the table's, {n_grad:,}" + (", all of them looked up." if all_looked_up else ".")
    if sampled is None:
        return f"The head's gradient reaches {n_head:,} of {n_rows:,} rows (the softmax scores every word); {table}"
    which = "exactly those" if n_head == sampled else f"{n_head:,} of those"
    return (
        f"The head's gradient reaches {n_head:,} of {n_rows:,} rows: negative sampling scores only each pair's true "
        f"context and its negatives ({n_sampled:,} draws, {sampled:,} distinct rows), and {which} got one; {table}"
    )


@dataclass(frozen=True)
class HeadView:
    """The Gradient masks page's second panel: the table's side and the head's, per row (V,) each."""

    rows: np.ndarray  # the rows to draw: all, or those with a gradient on either side first (core.rows.sample_rows)
    table: np.ndarray  # untied: the table's gradient norms; tied: 1 where the lookup's path gave a gradient
    head: np.ndarray  # untied: the head's gradient norms; tied: 1 where the head's path did
    title: str
    panels: tuple[str, str]
    y_title: str
    caption: str


def _contrast_rows(table: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The rows the two panels show: every row of a small table; else the table's rows with a gradient, up to half
    the chart of the head's other rows with one, and evenly spaced rows (so rows without a gradient show too)."""
    head_only = np.flatnonzero(head & ~table)
    keep = np.union1d(np.flatnonzero(table), sample_among(head_only, MAX_ROWS // 2))
    return sample_rows(len(table), keep=keep)


def head_view(rec, padding_idx: int | None) -> HeadView | None:
    """The table beside the head, from the record: an untied head's gradient norms beside the table's, or, tied,
    the two paths into the one table (the lookup's rows and the head's rows, whose union is the mask). None when
    the record has no head mask (a run recorded before it was kept)."""
    sgns = rec.negative_ids is not None
    drawn = np.concatenate([rec.target_ids, rec.negative_ids.ravel()]) if sgns else None
    sampled = None if drawn is None else len(np.unique(drawn))
    n_drawn = 0 if drawn is None else len(drawn)
    n_grad = int((rec.grad_norm > 0).sum())
    if not is_tied(rec):
        n_head = int((rec.head_grad_norm > 0).sum())
        all_looked_up = bool((rec.grad_norm[rec.token_counts == 0] == 0).all())
        caption = head_caption(n_head, n_grad, len(rec.grad_norm), all_looked_up, sampled, n_drawn)
        panels = (f"embedding table: {count(n_grad, 'row')}", f"output head: {count(n_head, 'row')}")
        title = "Embedding gradient vs the untied head's gradient, per row"
        rows = _contrast_rows(rec.grad_norm > 0, rec.head_grad_norm > 0)
        caption += sample_note(rows, len(rec.grad_norm), (rec.grad_norm > 0) | (rec.head_grad_norm > 0), "gradient")
        return HeadView(rows, rec.grad_norm, rec.head_grad_norm, title, panels, "gradient norm", caption)
    if rec.head_grad_mask is None:
        return None
    rows, grads = row_gradients(rec.input_ids, rec.output_grad, padding_idx)
    lookup = np.zeros(len(rec.grad_norm), dtype=bool)
    lookup[rows] = np.linalg.norm(grads, axis=1) > 0
    head = rec.head_grad_mask
    n_lookup, n_head, n_both = int(lookup.sum()), int(head.sum()), int((lookup & head).sum())
    reach = (
        f"the sampled context rows ({n_drawn:,} draws, {sampled:,} distinct rows)" if sgns else "every row it scored"
    )
    n_union = int((lookup | head).sum())
    union = (
        f"Their union, {n_union:,} of {len(head):,} rows, is the table's gradient mask above."
        if n_union == n_grad
        else f"Their union has {n_union:,} rows; the table's gradient mask above, {n_grad:,}."
    )
    caption = (
        f"The head is tied: these are two masks of one table. The lookup's path gave {n_lookup:,} looked-up rows a "
        f"gradient, the head's path {n_head:,} ({reach}); {count(n_both, 'row')} got both. {union}"
    )
    panels = (f"lookup's path: {count(n_lookup, 'row')}", f"head's path: {count(n_head, 'row')}")
    title = "One table, two paths: which rows each path gave a gradient (1) or not (0)"
    rows = _contrast_rows(lookup, head)
    caption += sample_note(rows, len(head), lookup | head, "gradient")
    return HeadView(rows, lookup.astype(float), head.astype(float), title, panels, "got a gradient", caption)


def share_of(n: int, total: int) -> str:
    """n / total as a percentage that never rounds a count above 0 to "0%" nor one short of all to "100%":
    1 of 300 is "0.3%", 1 of 10,000 "<0.1%", 299 of 300 "99.7%"."""
    if total <= 0 or n in (0, total):
        return f"{100 if total > 0 and n == total else 0}%"
    pct = 100 * n / total
    if pct < 0.05:
        return "<0.1%"
    if pct > 99.95:
        return ">99.9%"
    return f"{pct:.1f}%" if pct < 1 or pct > 99 else f"{pct:.0f}%"


def raster_caption(matrix: np.ndarray, col_steps, records, shown: int, n_moved: int, n_rows: int) -> str:
    """Under the Row updates page's raster: how many of its cells are blank (exactly 0), counted."""
    n_zero, n_cells = int((matrix == 0).sum()), int(matrix.size)
    each = len(col_steps) == len(records)
    binned = "" if each else f" Columns average {len(records) / len(col_steps):.1f} steps."
    sampled = "" if shown == n_rows else (
        f" {shown} rows sampled among the {n_moved:,} of {n_rows:,} that moved in these steps."
    )  # fmt: skip
    span = f"steps {records[0].step}–{records[-1].step}"
    when = "that step" if each else "in any step of that column"
    if n_zero == 0:
        blank = f"No cell is blank: every row shown moved in every step ({span})."
    else:
        cells = "1 cell is" if n_zero == 1 else f"{n_zero:,} cells are"
        share = share_of(n_zero, n_cells)
        blank = f"{cells} blank, {share} of {n_cells:,}: exactly 0, the row did not move {when} ({span})."
    return blank + binned + sampled


def space_notes(
    steps,
    stride: int,
    n_shown: int,
    n_rows: int,
    n_laid_out: int | None,
    labelled: bool | str,
    any_category: bool,
    n_trails: int,
) -> str:
    """Under the Embedding space page's animation."""
    n_frames = len(steps)
    every = f"a frame every {stride} steps" if stride > 1 else "a frame every step"
    frames = f"{n_frames} frame{'s' if n_frames > 1 else ''}"
    notes = [f"Press Play to watch steps {steps[0]}–{steps[-1]} ({frames}, {every})."]
    if n_shown < n_rows:
        among = "" if n_laid_out is None else f" among the {n_laid_out:,} the layout placed"
        notes.append(f"Showing {n_shown:,} of {n_rows:,} rows (the trails' rows and evenly spaced others{among}).")
    if labelled == "some":  # the wall's readable subset (ui.display._thin_labels)
        notes.append("Words label the points where they fit without covering another; hover a point to see its token.")
    else:
        notes.append("Each point is labelled with its token." if labelled else "Hover a point to see its token.")
    if not any_category:
        notes.append("These tokens have no categories (your own text has none), so every point is grey.")
    if n_trails:
        notes.append(f"{n_trails} trail{'s' if n_trails > 1 else ''}: each row's path up to the frame shown.")
    return " ".join(notes)


def purity_caption(last_step: int, last: float, chance: float, n_measured: int, n_rows: int, n_categorised: int) -> str:
    """Under the Embedding space page's purity curve."""
    measured = f"{n_measured:,} evenly spaced rows" if n_measured < n_rows else "every row"
    return (
        f"At step {last_step}, {last:.0%} of a categorised row's 5 cosine-nearest categorised rows share its category; "
        f"a random table would score {chance:.0%} (chance). Measured on {measured} ({n_categorised:,} with a category)."
    )


def picks_caption(picks: Sequence) -> str:
    """Under the table of a student's picked rows (core.predict.Pick): how many were right."""
    if not picks:
        return "Pick rows above the Step button next time: each pick is scored here with its reason."
    right = sum(p.right for p in picks)
    return f"{right} of {count(len(picks), 'picked row')} moved, as predicted; the reasons come from the step's record."


def positions_title(n_positions: int, dim: int, step: int) -> str:
    return f"The positional table ({n_positions:,} × {dim:,}) after step {step}: a row per position"


def positions_caption(rec, what: str) -> str:
    """What a GPT's step did to its positional table, counted from the record: `what` "gradient" or "move"."""
    grad, moved = rec.position_grad_norm, rec.position_update_norm
    n_positions = len(grad)
    n_windows = len(rec.input_ids) // n_positions
    every = f"each of the {n_windows:,} windows looks up position rows 0–{n_positions - 1} once"
    if what == "gradient":
        got = int((grad > 0).sum())
        return (
            f"Step {rec.step}: {got} of {n_positions} position rows got a gradient ({every}, so a position row's "
            f"gradient is a sum of {n_windows:,} contributions). Token rows get one only where their token occurs."
        )
    n_moved = int((moved > 0).sum())
    top = int(np.argmax(moved))
    return (
        f"Step {rec.step}: {n_moved} of {n_positions} position rows moved ({every}); the largest move, "
        f"|Δ| = {moved[top]:.3g}, is position {top}'s."
    )


# ---------------------------------------------------------------- the Scale page's family of models (core.family)
if TYPE_CHECKING:  # types only: core.family loads torch
    from core.family import Family, FamilyPlan, MemberResult


def family_intro(plan: FamilyPlan) -> str:
    """What Measure will train, and how the tokens are made equal."""
    gpts = ", ".join(m.label.removeprefix("GPT ") for m in plan.members if m.model == "gpt")
    dims = ", ".join(str(m.dim) for m in plan.members if m.model == "skipgram")
    t, b = plan.context, plan.windows
    return (
        f"Trains small GPTs of layers × width {gpts} and skip-grams at D = {dims} on your corpus, "
        f"{plan.steps} steps each, the same seed, each with Adam at the app's default learning rate for its width. "
        f"A GPT step sees {b:,} windows of T = {t} tokens ({b * t:,} tokens); a skip-gram step takes T times the "
        f"batch, {b * t:,} (centre, context) pairs, so every model looks up the same {plan.steps * b * t:,} tokens."
    )


def family_held_out(plan: FamilyPlan) -> str:
    """Where the held-out data comes from, and what is compared with what."""
    where = (
        f"the toy language's sentences drawn with another seed ({plan.base.seed + 1}): the same vocabulary, "
        "text no model trains on"
        if plan.held_text is None
        else "the last tenth of your text's sentences, which no model trains on, mapped with the vocabulary of "
        "the first nine tenths (other words become <unk>)"
    )
    return (
        f"Held-out loss is measured on {where}. A skip-gram's loss (predict a context word from one word) and a "
        "GPT's (predict the next token from up to T before it) are different tasks: compare losses within a "
        "family, and the table's kNN purity across all."
    )


def family_shrunk(plan: FamilyPlan) -> str | None:
    """Why the family trains with fewer windows a step than planned (None: it does not)."""
    if not plan.shrunk:
        return None
    asked, t, v = plan.asked_windows, plan.context, plan.base.vocab_size
    why = (
        f"would need {byte_size(plan.asked_bytes)} for the largest model, over the budget of "
        f"{byte_size(plan.budget_bytes)}"
        if plan.over_memory
        else f"would score {asked * t * v:,} logits a step (× {plan.steps * len(plan.members):,} steps: minutes of a "
        f"shared server)"
    )
    return (
        f"{asked} windows of {t} tokens over {v:,} tokens {why}. The family trains with {plan.windows} windows "
        f"a step instead ({plan.tokens_per_step:,} tokens, the skip-grams as many pairs)."
    )


def family_unfit(plan: FamilyPlan) -> str:
    return (
        f"Even one window a step needs {byte_size(plan.peak_bytes)} for the largest model, over the budget of "
        f"{byte_size(plan.budget_bytes)}. Choose a smaller vocabulary or context to measure."
    )


def family_too_short(message: str) -> str:
    """Why a text is not measured: less its held-out tenth, TrainConfig refuses it (`message`)."""
    return f"With its last tenth held out, your text is too short to train on: {message}"


def family_vocab_limit(max_vocab: int) -> str:
    return f"The family trains six models; it runs for vocabularies up to {max_vocab:,} tokens."


def family_progress(family: Family) -> str:
    n, done = len(family.plan.members), len(family.results)
    now = f"; now {family.plan.members[done].label}" if done < n else ""
    return f"Training: {family.done_steps:,} of {family.total_steps:,} steps ({done} of {n} models done{now})"


def family_resume(family: Family) -> str:
    return f"Continue ({len(family.results)} of {len(family.plan.members)} models done)"


def family_diverged(family: Family) -> str | None:
    diverged = [r.member.label for r in family.results if r.diverged]
    return f"Training diverged for {', '.join(diverged)}: nothing to compare there." if diverged else None


def _family_line(results: Sequence[MemberResult], name: str, purity: bool) -> str:
    """'GPT 1×16 (5,360 parameters): held-out loss 3.030, purity 0.99; ...' for one family, smallest first."""
    parts = [
        f"{r.member.label} ({r.params:,} parameters): held-out loss {r.held_out_loss:.3f}"
        + (f", purity {r.purity:.2f}" if purity else "")
        for r in results
    ]
    return f"{name}: " + "; ".join(parts) + "."


def family_caption(family: Family) -> str:
    """Under the family's chart: every model's numbers, the tokens they each looked up, and which did best."""
    results = [r for r in family.results if not r.diverged]
    purity = family.plan.has_categories
    lines = []
    for model, name in (("gpt", "GPTs"), ("skipgram", "Skip-grams")):
        if members := [r for r in results if r.member.model == model]:
            best = min(members, key=lambda r: r.held_out_loss)
            lines.append(_family_line(members, name, purity) + f" Lowest held-out loss: {best.member.label}.")
    seen = " or ".join(f"{n:,}" for n in sorted({r.tokens_seen for r in family.results}))
    purest = ""
    if purity and results:
        top = max(results, key=lambda r: r.purity)
        purest = f" The purest table: {top.member.label}'s ({top.purity:.2f}; chance {family.chance:.2f})."
    partial = "" if family.done else f" Stopped after {len(family.results)} of {len(family.plan.members)} models."
    return " ".join(lines) + f" Each model looked up {seen} tokens.{purest}{partial}"


def family_no_categories() -> str:
    return (
        "Your text's words have no categories, so there is no kNN purity to measure: only held-out loss is shown. "
        "The toy language (no text in the sidebar) has six categories to measure it on."
    )


def family_limits(plan: FamilyPlan) -> str:
    """What the family shows, and what it does not."""
    tokens = plan.steps * plan.tokens_per_step
    return (
        f"What this shows: on your corpus, after {tokens:,} tokens each, which of these models predicts text it "
        "never saw best, and whose token table groups the categories best. What it does not show: how GPT-4 "
        "behaves. A toy corpus is not GPT-4's data: GPT-3 alone trained on 300 billion tokens (Brown et al. "
        "2020; GPT-4's data are not published) with 175 billion parameters. Bigger models pay off when the data "
        "and the training grow with them; a few seconds on a small corpus can favour the smallest model."
    )
