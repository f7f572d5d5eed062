"""Compare's members may differ in model (issue 16): the full softmax, negative sampling and a small GPT beside
each other, from one token table. Skip-gram members (either loss) see the same pairs, a GPT its windows of the
same text; each member equals a solo Trainer of its config; the page names each model and each blind guess."""

from __future__ import annotations

import json
import math

import numpy as np
from apptest_support import no_exception, page

from core import TrainConfig, Trainer
from core.compare import Comparison, batch_kind, member_config

BASE = TrainConfig(vocab_size=60, dim=16, batch_size=32, seed=3)


def members() -> list[TrainConfig]:
    return [member_config(BASE, "adam", model=m) for m in ("skipgram", "sgns", "gpt")]


def test_members_of_each_model_equal_their_solo_runs_and_start_from_one_token_table():
    configs = members()
    run = Comparison(configs)
    first = [m.weight for m in run.members]
    np.testing.assert_array_equal(first[0], first[1])  # one init for the token table, whatever the model
    np.testing.assert_array_equal(first[0], first[2])
    run.run(4)
    for cfg, member in zip(configs, run.members, strict=True):
        solo = Trainer(cfg)
        solo.run(4)
        np.testing.assert_array_equal(member.weight, solo.weight)
    softmax, sgns, gpt = (m.history[-1] for m in run.members)
    np.testing.assert_array_equal(softmax.input_ids, sgns.input_ids)  # skip-gram's pairs, both losses
    assert len(gpt.input_ids) == BASE.batch_size * configs[2].context  # a GPT's windows: B x T lookups
    assert batch_kind(configs[0]) == batch_kind(configs[1]) != batch_kind(configs[2])
    assert not run.same_batches and Comparison(configs[:2]).same_batches


def test_each_distinct_blind_guess_is_named_once():
    run = Comparison(members())
    k1 = BASE.negatives + 1
    assert run.blind_guesses() == [(math.log(60), "ln V"), (k1 * math.log(2), f"{k1} ln 2")]


def test_the_page_lets_a_member_use_another_model_and_says_so():
    at = page("pages/08_compare.py")
    at.selectbox(key="compare_model_adam").set_value("sgns").run()
    at.selectbox(key="compare_model_adamw").set_value("gpt").run()
    at.button(key="compare_step_1").click().run()
    no_exception(at)
    run = at.session_state.compare_run
    assert [c.model for c in run.configs] == ["skipgram", "sgns", "gpt"]
    text = "\n".join(c.value for c in at.caption)
    assert "Every member (full softmax, negative sampling and GPT) trains a 60 × 16 token table" in text
    assert "the skip-gram members on the same (centre, context) pairs, the GPT members on windows" in text
    losses = [m.history[-1].loss for m in run.members]
    k1 = run.configs[1].negatives + 1
    assert (
        f"negative sampling: Adam lr 0.05: {losses[1]:.3f}; GPT: AdamW lr 0.05, wd 0.01: {losses[2]:.3f} "
        f"(ln V = {math.log(60):.3f}; {k1} ln 2 = {k1 * math.log(2):.3f})"
    ) in text
    assert "every member's gradient reached exactly the same rows" in text  # not "every optimizer's"
    assert "Same step, the same text, same start: the layouts differ by optimizer and by model" in text
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Loss per step, same text" in t for t in titles) and not any("same batches" in t for t in titles)
    assert any("PCA of each member" in t for t in titles)
    counts = next(json.loads(t)["layout"] for t in titles if "Rows with a gradient" in t)
    # 'negative sampling: Adam lr 0.05' would be cut in a half column: the count charts are full width, one title line
    assert counts["title"]["text"] == "Rows with a gradient (dotted), rows moved"
