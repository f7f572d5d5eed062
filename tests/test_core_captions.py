"""core.captions: the sentences pages print, checked on hand-made records and configs (no Streamlit)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import TrainConfig, Trainer, captions
from core.compare import member_config
from core.lookup import LookupTiming, init_view, lookup_run, one_hot_rows
from core.reference import run_table
from core.sweep import DimensionSweep, plan_sweep


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [(800, "800 B"), (1536, "1.50 KiB"), (12 * 1024**2, "12.00 MiB"), (1.5 * 1024**3, "1.50 GiB"), (0, "0 B")],
)
def test_byte_size_picks_the_largest_unit_that_keeps_the_number_at_1_or_more(n_bytes, text):
    assert captions.byte_size(n_bytes) == text


def test_percent_says_unknown_for_an_unpublished_share():
    assert captions.percent(0.5) == "50.0%" and captions.percent(None) == "?" and captions.percent(math.nan) == "?"


def test_describe_run_in_its_three_forms():
    cfg = TrainConfig(optimizer="sgd", lr=0.5, momentum=0.9, weight_decay=0.01, padding_idx=0, max_norm=1.0)
    assert captions.describe_run(cfg, "head") == f"SGD, lr 0.5, {cfg.vocab_size:,} × {cfg.dim:,} table"
    assert captions.describe_run(cfg, "legend") == "SGD lr 0.5, momentum 0.9, wd 0.01, max_norm 1"
    assert captions.describe_run(cfg) == (
        "SGD, lr 0.5, momentum 0.9, weight decay 0.01, untied head, padding_idx 0, max_norm 1"
    )
    adam = member_config(TrainConfig(), "adam", lr=0.05, beta1=0.0)
    assert captions.describe_run(adam, "legend") == "Adam lr 0.05, beta1 0"  # beta1 only when not the default
    assert captions.describe_run(adam.replace(tie_weights=True)) == "Adam, lr 0.05, no weight decay, tied head"


def test_member_labels_number_members_that_would_read_the_same():
    same = member_config(TrainConfig(), "adam", lr=0.05)
    assert captions.member_labels([same, same]) == ["Adam lr 0.05", "Adam lr 0.05 (2)"]


def test_member_labels_leave_out_what_every_member_shares_and_the_intro_says_it_once():
    base = TrainConfig(vocab_size=60, dim=16, model="sgns", tie_weights=True, max_norm=1.0)
    same = [member_config(base, "sgd", lr=0.5), member_config(base, "adamw", lr=0.05, weight_decay=0.01)]
    assert captions.member_labels(same) == ["SGD lr 0.5", "AdamW lr 0.05, wd 0.01"]
    assert captions.shared_setup(same) == "negative sampling, tied head, max_norm 1"
    assert "the sidebar's 60 × 16 table (negative sampling, tied head, max_norm 1) from the same start" in (
        captions.compare_intro(base, same)
    )
    mixed = [same[0], member_config(base.replace(max_norm=None), "adam", lr=0.05, model="skipgram")]
    assert captions.member_labels(mixed) == [  # members that differ keep what sets them apart
        "negative sampling: SGD lr 0.5, tied, max_norm 1", "Adam lr 0.05, tied",
    ]  # fmt: skip
    assert captions.shared_setup(mixed) == ""
    two_models = [same[0], member_config(base, "adam", lr=0.05, model="skipgram")]
    assert captions.member_labels(two_models) == ["negative sampling: SGD lr 0.5", "Adam lr 0.05"]
    assert "trains a 60 × 16 token table (tied head, max_norm 1) from the same start" in (
        captions.compare_intro(base, two_models)
    )
    plain = [member_config(TrainConfig(), name) for name in ("sgd", "adam")]
    assert captions.shared_setup(plain) == "" and "table from the same start" in captions.compare_intro(plain[0], plain)


def test_scale_rows_put_the_run_first_counted_from_its_parameters():
    mine = run_table(Trainer(TrainConfig(vocab_size=60, dim=16)).model)
    rows = captions.scale_rows(mine)
    assert rows[0]["model"] == "your run (60 × 16)" and rows[0]["year"] == "—"
    assert rows[0]["table V × D"] == "960" and rows[0]["table's share"] == "50.0%"
    assert rows[0]["table in bf16"] == "1.88 KiB"  # 960 values x 2 bytes
    gpt4 = next(r for r in rows if r["model"] == "GPT-4")
    assert gpt4["width D"] == "not published" and gpt4["table in bf16"] == "?" and gpt4["table's share"] == "?"


def test_lookup_captions_tell_what_padding_idx_and_max_norm_did_to_the_batch():
    trainer = Trainer(TrainConfig(vocab_size=60, dim=16, padding_idx=0, max_norm=1.5))
    trainer.run(3)
    run = lookup_run(trainer)
    hits = int((run.result.ids == 0).sum())
    notes = captions.lookup_notes(run, 60, 16, "<pad>")
    assert run.step == 3 and f"**padding_idx = 0** ('<pad>'): this batch looks it up {hits} times" in notes
    assert f"{len(run.result.rescaled_rows)} of the {run.result.n_distinct} looked-up rows" in notes
    product = one_hot_rows(trainer)
    assert np.array_equal(product.one_hot.argmax(axis=1), run.result.ids[:8])  # 60 rows: every column drawn
    assert "The first 8 tokens of the batch" in captions.product_caption(product, run.result.max_value_diff)
    assert "The padding row 0 starts at zero, on purpose" in captions.init_caption(init_view(trainer))


def test_sweep_captions_follow_the_sweep():
    plan = plan_sweep(TrainConfig(), [2, 4], 5)
    sweep = DimensionSweep(plan)
    assert captions.sweep_progress(sweep) == "Training: 0 of 10 steps (0 of 2 widths done)"
    sweep.advance(float("inf"))
    caption = captions.sweep_caption(sweep)
    assert caption.startswith(f"Loss {sweep.results[0].final_loss:.3f} at D=2") and "Stopped" not in caption
    assert captions.sweep_diverged(sweep) is None and captions.sweep_shrunk(plan) is None


def test_export_caption_names_the_kept_steps():
    text = captions.export_caption([0, 5, 10], 5, [1, 10], 5_000_001)
    assert text.startswith("The table is available at steps 0–10 (every 5 steps kept). The history holds steps 1–10")
    assert "Text formats are off" in text and "Text formats" not in captions.export_caption([0], 1, [], 10)


def test_a_batch_of_one_token_is_told_in_the_singular():
    trainer = Trainer(TrainConfig(vocab_size=60, dim=16, batch_size=1))
    trainer.run(1)
    run = lookup_run(trainer)
    assert run.result.ids.tolist() == trainer.history[-1].input_ids.tolist() and len(run.result.ids) == 1
    timing = LookupTiming(1, 1e-6, 2e-6, 10, 10)
    caption = captions.lookup_caption(run, timing, 60, 16)
    assert caption.startswith("On this run's batch at step 1: 1 token, 1 distinct row, with this step's own upstream")
    assert "The first token of the batch." in captions.product_caption(one_hot_rows(trainer), run.result.max_value_diff)
