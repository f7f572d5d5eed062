"""The One step in slow motion page with AppTest: its numbers agree with the run's own records."""

from __future__ import annotations

import pytest
from apptest_support import app, no_exception

PAGE = "pages/11_slow_motion.py"


def stepped(query: dict[str, str] | None = None):
    at = app(query, script=PAGE)
    no_exception(at)
    at.button(key="slow_step_take").click().run()
    no_exception(at)
    return at


def text(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_page_replays_the_step_and_matches_the_records():
    at = stepped()
    assert at.session_state.trainer.step_count == 1
    words = text(at)
    assert "exactly the recorded mask" in words
    assert "to the bit" in words
    assert len(at.get("plotly_chart")) == 2
    assert len(at.dataframe) >= 4


def test_page_in_display_mode_and_with_momentum():
    at = stepped({"projector": "1", "optimizer": "sgd", "momentum": "0.9", "tie_weights": "true"})
    assert "to the bit" in text(at) and "tied head adds" in text(at)


@pytest.mark.slow
@pytest.mark.parametrize("query", [{"vocab_size": "10001"}, {"vocab_size": "50257", "dim": "768"}])
def test_page_renders_at_big_vocabularies(query):
    at = stepped(query)
    assert "exactly the recorded mask" in text(at)


def neighbour_tables(at) -> list:
    return [d.value for d in at.dataframe if "overlap" in d.value.columns]


def test_embedding_space_shows_which_words_changed_their_neighbours():
    at = app(script="pages/04_embedding_space.py")
    at.session_state.trainer.run(6)
    at.run()
    no_exception(at)
    (table,) = neighbour_tables(at)
    assert len(table) == 8 and "neighbours at step 0" in table.columns
    assert any("cosine-nearest neighbours overlap by" in c.value for c in at.caption)
    assert any("the space settling" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_compare_shows_neighbours_under_two_optimizers():
    at = app(script="pages/08_compare.py")
    at.button(key="compare_step_10").click().run()
    no_exception(at)
    (table,) = neighbour_tables(at)
    assert len(table) == 8
    assert any(" vs " in c.value and "overlap by" in c.value for c in at.caption)


def test_a_full_server_refuses_the_replay_with_its_reason(monkeypatch):
    from serve import memory

    def full(name, nbytes):
        raise memory.ServerBusy(f"The server is full: {nbytes:,} bytes for {name} do not fit.")

    monkeypatch.setattr(memory, "admit_extra", full)
    at = stepped()
    assert any("The server is full" in e.value for e in at.error)
    assert not at.get("plotly_chart")
