"""What a user or a link puts into the app: escaped where shown, decoded and checked, and the recovery paths a
student is offered working end to end (as a browser drives them, fragment reruns included)."""

from __future__ import annotations

import codecs
import functools
import inspect
import json
import re
import string
from collections import Counter
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
import torch
from apptest_support import ROOT, app, diverged, no_exception
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest, local_script_runner
from streamlit.testing.v1.element_tree import Button, Widget

from ui.links import URL_FIELDS  # noqa: E402

TIMEOUT = 60
TRAIN = "pages/01_train.py"
PAYLOADS = [
    "[Session expired: log in again](http://example.invalid)",
    "![t](http://example.invalid/p.gif)",
    "<img src=http://example.invalid/p.gif>",
    "http://example.invalid/login",
    "www.example.invalid",
    "teacher@example.invalid",
    "[x][1]\n\n[1]: http://example.invalid",
    "**bold** _it_ `code` $x^2$ :red[red] # head",
]
WORD_JOINER = "\u2060"


def query_param(at: AppTest, name: str) -> str:
    value = at.query_params[name]
    return value[-1] if isinstance(value, list) else value


def on_train(query: dict[str, str] | None = None) -> AppTest:
    at = app(query)
    at.switch_page(TRAIN).run()
    no_exception(at)
    return at


class Browser:
    """AppTest driven as a browser drives the app. A click inside a fragment (the Train page's buttons) reruns only
    that fragment, and the controls outside it (the sidebar) keep the values the browser shows and send them with
    every rerun. Plain AppTest reruns the whole script on every click, which hid the reset-with-lr KeyError."""

    def __init__(self, at: AppTest):
        self.at = at
        self.shown: dict[str, WidgetState] = {}
        self._look(full=True)

    def _look(self, full: bool) -> None:
        """Remember what the browser now shows: everything after a full run, the fragment's part after its run."""
        if full:
            self.shown = {}
        for node in self.at._tree:
            if isinstance(node, Button):
                self.shown[node.id] = WidgetState(id=node.id, trigger_value=False)
            elif isinstance(node, Widget):
                self.shown[node.id] = node._widget_state

    def _send(self, clicked: str | None, fragment_ids: list[str], auto: bool = False) -> AppTest:
        states = WidgetStates()
        states.widgets.extend(ws for wid, ws in self.shown.items() if wid != clicked)
        if clicked is not None:
            states.widgets.append(WidgetState(id=clicked, trigger_value=True))
        rerun = functools.partial(RerunData, fragment_id_queue=list(fragment_ids), is_auto_rerun=auto)
        with patch.object(local_script_runner, "RerunData", rerun):
            self.at._run(states)
        full = any(isinstance(n, Widget) and str(n.key).startswith("cfg_") for n in self.at._tree)
        self._look(full=full)
        return self.at

    def fragment_ids(self) -> list[str]:
        return list(self.at._fragment_storage._fragments)

    def click(self, key: str) -> AppTest:
        """A click on a Train-page button: the browser reruns only the fragment that holds it."""
        button = self.at.button(key=key)
        (fragment,) = self.fragment_ids()  # the Train page has one fragment
        return self._send(button.id, [fragment])

    def tick(self, fragment_id: str) -> AppTest:
        """What the fragment's run_every timer sends: a rerun of that fragment alone."""
        return self._send(None, [fragment_id], auto=True)

    def rerun(self) -> AppTest:
        return self._send(None, [])

    def is_full(self) -> bool:
        return any(isinstance(n, Widget) and n.key == "cfg_lr" for n in self.at._tree)


# ---------------------------------------------------------------- markdown: nothing from a user is live


_ESCAPED = re.compile(r"\\[" + re.escape(string.punctuation) + "]")
_AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp|mailto|xmpp):(?!" + WORD_JOINER + ")|\\bwww\\.|[\\w.+-]@\\w")


def assert_inert(body: str) -> None:
    """`body`, as markdown, makes no link, image, HTML or formatting: every markup character is backslash-escaped,
    and the text those escapes resolve to holds nothing GFM autolinks (checked on its own, not with md_escape)."""
    unescaped = _ESCAPED.sub("", body)
    live = [c for c in "[]()<>!`*_~$|#&:@" if c in unescaped]
    assert not live, (live, body)
    resolved = _ESCAPED.sub(lambda m: m.group()[1], body)
    assert not _AUTOLINK.search(resolved), body


def shown_text(body: str) -> str:
    """What a reader sees of an escaped body: escapes resolved, word joiners invisible."""
    return _ESCAPED.sub(lambda m: m.group()[1], body).replace(WORD_JOINER, "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_link_parameter_shows_a_payload_literally(payload):
    at = app(dict.fromkeys(URL_FIELDS, payload))
    no_exception(at)
    errors = [e.proto.body for e in at.sidebar.error]
    assert len(errors) >= len(URL_FIELDS)
    for field in URL_FIELDS:
        mine = [b for b in errors if shown_text(b).startswith(f"The link sets {field}=")]
        assert mine, (field, errors)
        for body in mine:
            assert_inert(body)
            assert repr(payload).replace("\n", " ") in shown_text(body) or "…" in shown_text(body)
    for element in (*at.warning, *at.error, *at.info, *at.caption, *at.markdown, *at.success):
        if "example" in element.proto.body:  # wherever the page repeats the payload, it is inert
            assert_inert(element.proto.body)


def test_a_value_typed_into_a_text_box_is_shown_literally():
    at = app()
    at.text_input(key="cfg_padding_idx").input(PAYLOADS[0]).run()
    no_exception(at)
    (body,) = [e.proto.body for e in at.sidebar.error if "padding" in e.value]
    assert_inert(body)
    assert "[Session expired: log in again](http://example.invalid)" in shown_text(body)


def test_assert_inert_catches_live_markdown():
    """The check above is not vacuous: raw payloads fail it."""
    for payload in PAYLOADS[:6]:
        with pytest.raises(AssertionError):
            assert_inert(payload)


@pytest.mark.parametrize(
    "raw",
    ["١٢٣", "６４", "1_000", " nan", "inf", "-inf", "1e999", "0x10", "64 64", "+-1", "NaN", "٣.٥"],
)
def test_a_link_number_is_ascii_digits_only(raw):
    at = app({"dim": raw, "lr": raw})
    no_exception(at)
    messages = [shown_text(e.proto.body) for e in at.sidebar.error]
    assert any(m.startswith("The link sets dim=") and "not a whole number" in m for m in messages), messages
    assert any(m.startswith("The link sets lr=") and "not a number" in m for m in messages), messages
    assert at.session_state.trainer.cfg.dim == 16 and at.session_state.trainer.cfg.lr == 0.05  # the defaults run


# ---------------------------------------------------------------- a divergence, and the reset it offers


def diverge(browser: Browser) -> None:
    for _ in range(10):
        browser.click("train_step_100")
        if diverged(browser.at):
            return
    pytest.fail("this configuration was expected to diverge")


@pytest.mark.parametrize(
    "query",
    [
        {"optimizer": "sgd", "lr": "100"},
        {"optimizer": "sgd", "lr": "100", "momentum": "0.9"},
        {"optimizer": "sgd", "lr": "100", "tie_weights": "true"},
    ],
    ids=["sgd", "sgd-momentum", "tied-head"],
)
def test_reset_with_a_smaller_learning_rate_works_end_to_end(query):
    browser = Browser(on_train(query))
    at = browser.at
    diverge(browser)
    no_exception(at)
    assert any("diverged" in e.value for e in at.error)
    assert at.button(key="train_reset_lr").label == "Reset with learning rate 10"
    browser.click("train_step_1")  # a frozen run refuses to step on: the message and the offer stay
    no_exception(at)
    assert any("diverged" in e.value for e in at.error) and at.button(key="train_reset_lr")
    browser.click("train_reset_lr")
    no_exception(at)
    assert browser.is_full()  # the sidebar and the URL were redrawn, not only the fragment
    assert at.number_input(key="cfg_lr").value == pytest.approx(10.0)
    assert at.session_state.trainer.cfg.lr == pytest.approx(10.0) and at.session_state.trainer.step_count == 0
    assert not diverged(at)
    for name, value in query.items():
        assert query_param(at, name) == ("10.0" if name == "lr" else value)  # the link holds the new run
    browser.click("train_step_1")
    no_exception(at)
    tr = at.session_state.trainer
    assert tr.step_count == 1 and tr.cfg.lr == pytest.approx(10.0)
    assert all(g["lr"] == pytest.approx(10.0) for opt in tr.optimizers for g in opt.param_groups)  # torch's own
    browser.rerun()
    assert at.number_input(key="cfg_lr").value == pytest.approx(10.0) and at.session_state.pending is None


# ---------------------------------------------------------------- Run never trains unseen


def test_a_run_stops_when_its_page_is_left_and_a_stale_tick_does_not_train():
    at = on_train()
    at.button(key="train_run").click().run()  # Run -> Pause -> Run, as in the report
    at.button(key="train_pause").click().run()
    at.button(key="train_run").click().run()
    assert at.session_state.running
    browser = Browser(at)
    (fragment_id,) = browser.fragment_ids()
    fragment = at._fragment_storage._fragments[fragment_id]
    at.switch_page("pages/03_row_updates.py").run()
    no_exception(at)
    assert not at.session_state.running  # leaving the page paused the run
    steps = at.session_state.trainer.step_count
    # The Train fragment's timer outliving its page (a page run that ended early keeps the fragment stored)
    at._fragment_storage._fragments[fragment_id] = fragment
    browser = Browser(at)
    for _ in range(3):
        browser.tick(fragment_id)
    assert at.session_state.trainer.step_count == steps and not at.session_state.running
    at.switch_page(TRAIN).run()
    assert at.button(key="train_run").label == "Run" and at.session_state.trainer.step_count == steps


def test_a_tick_trains_only_while_the_train_page_is_shown():
    from ui import session

    at = on_train()
    at.button(key="train_run").click().run()
    browser = Browser(at)
    (fragment_id,) = browser.fragment_ids()
    before = at.session_state.trainer.step_count
    browser.tick(fragment_id)
    assert at.session_state.trainer.step_count > before  # on its page, Run trains
    at.session_state["page"] = "Row updates"  # what ui.page.setup records when another page runs
    steps = at.session_state.trainer.step_count
    browser.tick(fragment_id)
    assert at.session_state.trainer.step_count == steps and not at.session_state.running
    assert session.TRAIN_PAGE == "Train"


def test_run_and_pause_turn_run_on_only_where_the_train_page_is_shown():
    def script():
        import streamlit as st

        from ui import session

        st.session_state.setdefault("page", "Train")
        st.session_state.setdefault("running", False)
        running = st.session_state.running
        st.button("Pause" if running else "Run", key="run", on_click=session.set_running_and_rerun, args=(not running,))

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    at.button(key="run").click().run()
    assert at.session_state.running
    at.button(key="run").click().run()
    assert not at.session_state.running
    at.session_state["page"] = "Row updates"
    at.button(key="run").click().run()
    no_exception(at)
    assert not at.session_state.running


def test_a_pause_delivered_twice_stays_paused():
    """Streamlit 1.67 can deliver one click's trigger twice (replayed after the callback's st.rerun; seen under load
    in tests/test_browser.py): the second delivery calls the callback with the args the button was drawn with.
    Pause must stay paused; a flip would turn the run back on."""

    def script():
        import streamlit as st

        from ui import session

        st.session_state.setdefault("page", "Train")
        st.session_state.setdefault("running", True)
        drawn_with = st.session_state.setdefault("drawn_with", (not st.session_state.running,))  # Pause's args
        st.button("Pause", key="pause", on_click=session.set_running_and_rerun, args=drawn_with)
        st.button("Replay", key="replay", on_click=session.set_running_and_rerun, args=drawn_with)

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    at.button(key="pause").click().run()
    assert not at.session_state.running
    at.button(key="replay").click().run()
    no_exception(at)
    assert not at.session_state.running


# ---------------------------------------------------------------- a pending change, in the page body too


@pytest.mark.parametrize("page", [TRAIN, "pages/03_row_updates.py", "pages/06_scale.py"])
def test_a_pending_change_is_announced_in_the_page_body(page):
    at = on_train()
    at.button(key="train_step_10").click().run()
    at.selectbox(key="cfg_optimizer").set_value("sgd").run()
    at.switch_page(page).run()
    no_exception(at)
    body = [w for w in at.main.warning if "Settings changed" in w.value]
    assert body and "optimizer adam → sgd" in shown_text(body[0].proto.body)
    assert at.main.button(key="page_apply").label == "Apply and reset the run (10 steps will be lost)"
    at.main.button(key="page_keep").click().run()
    assert at.session_state.pending is None and at.session_state.trainer.step_count == 10
    assert not [w for w in at.main.warning if "Settings changed" in w.value]
    at.selectbox(key="cfg_optimizer").set_value("sgd").run()
    at.main.button(key="page_apply").click().run()
    no_exception(at)
    assert at.session_state.trainer.cfg.optimizer == "sgd" and at.session_state.trainer.step_count == 0


# ---------------------------------------------------------------- the server's memory budget


BUSY = "The server is at its memory budget (a test): your current run is kept."


@pytest.fixture
def small_server(monkeypatch):
    """A server that cannot hold a run of more than 1,000 rows."""
    from core import TrainConfig
    from core.budget import run_bytes
    from serve import memory

    real = memory.admit
    most = run_bytes(TrainConfig(vocab_size=1_000)).total  # these tests change only the vocabulary

    def admit(session_id, nbytes):
        if nbytes > most:
            raise memory.ServerBusy(BUSY)
        return real(session_id, nbytes)

    monkeypatch.setattr(memory, "admit", admit)
    return monkeypatch


def test_a_run_the_server_cannot_hold_is_refused_beside_the_controls_and_the_old_run_is_kept(small_server):
    at = on_train()
    trainer = at.session_state.trainer
    at.number_input(key="cfg_vocab_size").set_value(5_000).run()
    no_exception(at)
    assert at.session_state.trainer.cfg.vocab_size == 60 and at.session_state.trainer is trainer
    assert any(BUSY in shown_text(e.proto.body) for e in at.sidebar.error)
    assert any(BUSY in shown_text(e.proto.body) for e in at.main.error)  # in the page body too
    at.number_input(key="cfg_vocab_size").set_value(500).run()  # one the server can hold: applied, message gone
    assert at.session_state.trainer.cfg.vocab_size == 500 and not at.sidebar.error
    at.button(key="train_step_10").click().run()
    at.number_input(key="cfg_vocab_size").set_value(5_000).run()
    at.button(key="cfg_apply").click().run()
    no_exception(at)
    assert at.session_state.trainer.cfg.vocab_size == 500 and at.session_state.trainer.step_count == 10  # nothing lost
    assert any(BUSY in shown_text(e.proto.body) for e in at.sidebar.error)
    at.button(key="cfg_keep").click().run()
    assert not at.sidebar.error and at.session_state.pending is None


def test_a_link_to_a_run_the_server_cannot_hold_says_so(small_server):
    at = app({"vocab_size": "5000"})
    no_exception(at)
    assert any(BUSY in shown_text(e.proto.body) for e in at.error)
    small_server.undo()
    at.run()  # the next visit (a rerun) tries again
    no_exception(at)
    assert at.session_state.trainer.cfg.vocab_size == 5_000


# ---------------------------------------------------------------- per-optimizer defaults


def torch_default(cls, name):
    return inspect.signature(cls).parameters[name].default


def test_switching_optimizer_applies_its_defaults():
    at = on_train()
    at.number_input(key="cfg_lr").set_value(0.2).run()
    at.selectbox(key="cfg_optimizer").set_value("sgd").run()
    cfg = at.session_state.trainer.cfg
    assert cfg.optimizer == "sgd" and cfg.lr == 0.5  # SGD's own default, not Adam's 0.05 nor the 0.2 typed for Adam
    assert cfg.momentum == torch_default(torch.optim.SGD, "momentum") and cfg.weight_decay == 0
    at.number_input(key="cfg_momentum").set_value(0.9).run()
    at.toggle(key="cfg_nesterov").set_value(True).run()
    assert at.session_state.trainer.cfg.nesterov
    at.selectbox(key="cfg_optimizer").set_value("rmsprop").run()
    no_exception(at)
    cfg = at.session_state.trainer.cfg
    assert (cfg.momentum, cfg.nesterov) == (0.0, False)  # momentum and Nesterov back to torch's defaults
    at.selectbox(key="cfg_optimizer").set_value("adamw").run()
    cfg = at.session_state.trainer.cfg
    assert cfg.weight_decay == torch_default(torch.optim.AdamW, "weight_decay") == 0.01
    assert (cfg.beta1, cfg.beta2) == torch_default(torch.optim.AdamW, "betas")
    assert at.number_input(key="cfg_weight_decay").value == pytest.approx(0.01)
    at.selectbox(key="cfg_optimizer").set_value("adam").run()
    assert at.session_state.trainer.cfg.weight_decay == torch_default(torch.optim.Adam, "weight_decay") == 0


def test_a_link_without_lr_gets_its_optimizers_defaults_and_a_link_with_them_keeps_them():
    cfg = app({"optimizer": "adamw"}).session_state.trainer.cfg
    assert cfg.weight_decay == 0.01
    cfg = app({"optimizer": "sgd"}).session_state.trainer.cfg
    assert cfg.lr == 0.5
    cfg = app({"optimizer": "adamw", "weight_decay": "0", "lr": "0.003"}).session_state.trainer.cfg
    assert (cfg.weight_decay, cfg.lr) == (0.0, 0.003)


# ---------------------------------------------------------------- your own text: uploads, coverage


TEXT = (
    "The old lighthouse keeper climbed the stairs every evening. He lit the lamp, wound the clock and watched "
    "the ships pass the rocks. Some nights the fog rolled in from the sea and the horn sounded until dawn. "
)


def own_text(at: AppTest) -> AppTest:
    at.radio(key="cfg_corpus_source").set_value("My own text").run()
    return at


def test_a_utf16_file_with_a_bom_trains_on_its_words():
    at = own_text(on_train())
    at.sidebar.file_uploader(key="cfg_corpus_file").upload("story.txt", (TEXT * 4).encode("utf-16"), "text/plain")
    at.run()
    no_exception(at)
    assert at.session_state.trainer.cfg.corpus_text == TEXT * 4
    vocab = at.session_state.trainer.vocab
    assert {"lighthouse", "keeper", "fog"} <= set(vocab)
    assert not any(len(w) == 1 and w.isalpha() for w in vocab[:20])  # not single letters


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("program.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40),
        ("noise.txt", np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()),
        ("latin.txt", b"\xe9\x00\x01" * 400),
    ],
)
def test_a_binary_file_is_refused_beside_the_control_and_the_run_is_kept(name, data):
    at = own_text(on_train())
    at.text_area(key="cfg_corpus_paste").input(TEXT * 3).run()
    at.sidebar.file_uploader(key="cfg_corpus_file").upload(name, data, "text/plain")
    at.run()
    no_exception(at)
    messages = [shown_text(e.proto.body) for e in at.sidebar.error]
    assert any("not text" in m for m in messages), messages
    assert at.session_state.trainer.cfg.corpus_text == TEXT * 3  # the pasted text still runs
    elements = list(at.sidebar)
    upload_at = next(i for i, e in enumerate(elements) if getattr(e, "key", None) == "cfg_corpus_file")
    assert elements[upload_at + 1].type == "error"  # beside the control


def test_mostly_symbols_is_refused_as_an_upload_and_warned_about_as_a_paste():
    junk = "{}[]<>=+-*/|\\;:,.~^%$#!?" * 40 + " a b c d e f g h i j"
    at = own_text(on_train())
    at.sidebar.file_uploader(key="cfg_corpus_file").upload("junk.txt", junk.encode(), "text/plain")
    at.run()
    assert any("in words" in shown_text(e.proto.body) for e in at.sidebar.error)
    assert at.session_state.trainer.cfg.corpus_text is None  # still the toy language
    at = own_text(on_train())
    at.text_area(key="cfg_corpus_paste").input(junk).run()
    no_exception(at)
    assert any("in words" in shown_text(w.proto.body) for w in at.sidebar.warning)


def coverage_by_hand(text: str, vocab_size: int, n_special: int) -> tuple[int, int, float]:
    words = re.findall(r"\w+(?:'\w+)*", text.lower())
    counts = sorted(Counter(words).values(), reverse=True)
    covered = sum(counts[: vocab_size - n_special])
    return len(words), len(counts), covered / len(words)


def test_own_text_shows_its_coverage_and_a_vocabulary_that_covers_it():
    rng = np.random.default_rng(1)
    lexicon = [f"w{i}" for i in range(174)]
    text = " ".join(lexicon[i] for i in rng.zipf(1.3, 600) % 174) + ". " + " ".join(lexicon)
    at = own_text(on_train())
    at.text_area(key="cfg_corpus_paste").input(text).run()
    no_exception(at)
    n_words, n_distinct, share = coverage_by_hand(text, 60, 1)
    caption = next(c.value for c in at.sidebar.caption if "different" in c.value)
    assert f"{n_words:,} words, {n_distinct:,} different" in caption
    assert f"{share:.0%} of the text's words have their own row" in caption
    assert f"{1 - share:.0%} become `<unk>`" in caption
    button = at.button(key="cfg_cover_vocab")
    assert button.label.startswith(f"Set V to {n_distinct + 1:,}")
    button.click().run()
    no_exception(at)
    assert at.session_state.trainer.cfg.vocab_size == n_distinct + 1  # no step yet: applied at once
    unk = at.session_state.trainer.vocab.index("<unk>")
    assert at.session_state.trainer.corpus.token_freq[unk] == 0  # every word has its own row now
    caption = next(c.value for c in at.sidebar.caption if "different" in c.value)
    assert "100% of the text's words have their own row and 0% become" in caption
    assert "cfg_cover_vocab" not in [b.key for b in at.button]


def test_coverage_counts_the_padding_row_as_special():
    at = own_text(on_train({"padding_idx": "0", "vocab_size": "20"}))
    at.text_area(key="cfg_corpus_paste").input(TEXT * 2).run()
    n_words, n_distinct, share = coverage_by_hand(TEXT, 20, 2)
    caption = next(c.value for c in at.sidebar.caption if "different" in c.value)
    assert f"{share:.0%} of the text's words" in caption
    assert at.button(key="cfg_cover_vocab").label.startswith(f"Set V to {n_distinct + 2:,}")


# ---------------------------------------------------------------- help texts that are true


def test_padding_help_is_true_with_a_tied_head():
    at = app()
    help_text = at.text_input(key="cfg_padding_idx").help
    assert "never gets a gradient" not in help_text and "tied" in help_text
    # what the help says, checked in plain torch: padding_idx blocks the lookup's gradient, a tied head does not
    emb = torch.nn.Embedding(5, 3, padding_idx=0)
    ids = torch.tensor([0, 1, 2])
    (emb(ids).sum()).backward()
    assert emb.weight.grad[0].abs().sum() == 0
    emb.weight.grad = None
    hidden = emb(ids)  # (3, D)
    logits = hidden @ emb.weight.T  # tied head: (3, V)
    torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2, 3])).backward()
    assert emb.weight.grad[0].abs().sum() > 0


# ---------------------------------------------------------------- the real browser renders escaped values inert


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no Chromium at /usr/bin/chromium")
def test_payloads_render_as_text_in_a_real_browser():
    pytest.importorskip("playwright.sync_api")
    from urllib.parse import urlencode

    from browser_support import APP_IDLE, chromium, new_page, streamlit_server

    query = {field: PAYLOADS[i % 6] for i, field in enumerate(URL_FIELDS)}
    with streamlit_server() as server, chromium() as browser:
        page = new_page(browser)
        page.goto(server.url("/train?" + urlencode(query)))
        page.wait_for_selector(APP_IDLE, timeout=120_000)
        page.wait_for_selector("[data-testid='stSidebar'] [data-testid='stAlert']", timeout=60_000)
        links = page.locator("a[href*='example.invalid']").count()
        images = page.locator("img[src*='example.invalid']").count()
        alerts = page.locator("[data-testid='stSidebar'] [data-testid='stAlertContentError']").all_inner_texts()
    assert links == 0 and images == 0
    shown = " ".join(alerts).replace(WORD_JOINER, "")
    for payload in PAYLOADS[:6]:
        assert repr(payload) in shown, payload


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no Chromium at /usr/bin/chromium")
def test_reset_with_a_smaller_learning_rate_in_a_real_browser():
    """The recovery path as a student meets it: the click reruns only the Train fragment in a real browser."""
    pytest.importorskip("playwright.sync_api")
    from browser_support import assert_no_exception, button, chromium, new_page, open_page, streamlit_server, wait_idle
    from playwright.sync_api import expect

    with streamlit_server() as server, chromium() as browser:
        page = new_page(browser)
        open_page(page, server.url("/train?optimizer=sgd&lr=100"))
        reset = button(page, "Reset with learning rate 10")
        for _ in range(10):
            button(page, "Step ×100").click()
            wait_idle(page, 60_000)
            if reset.count():
                break
        expect(reset).to_be_visible()
        reset.click()
        wait_idle(page, 60_000)
        expect(page).to_have_url(re.compile(r"[?&]lr=10\.0(&|$)"), timeout=30_000)
        lr_box = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Learning rate")
        expect(lr_box).to_have_value("10", timeout=30_000)
        button(page, "Step").click()
        wait_idle(page, 60_000)
        assert_no_exception(page)
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("1", timeout=30_000)
        expect(page).to_have_url(re.compile(r"[?&]lr=10\.0(&|$)"))


def test_codecs_boms_are_what_decode_text_expects():
    """A sanity check of the test data: Python writes a BOM with 'utf-16' and 'utf-32'."""
    assert TEXT.encode("utf-16").startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    assert TEXT.encode("utf-32").startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE))


# ---------------------------------------------------------------- importing a matrix (Export) and exploring it

EXPORT, SPACE = "pages/10_export.py", "pages/04_embedding_space.py"


def on_export() -> AppTest:
    at = app()
    at.switch_page(EXPORT).run()
    no_exception(at)
    return at


def upload_matrix(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="import_matrix").upload(name, data, "application/octet-stream")
    return at.run()


def glove(words: list[str], weight: np.ndarray) -> bytes:
    """GloVe's text format (glove.c: the word, then " %lf" per value, then a newline)."""
    return "".join(w + "".join(f" {v:f}" for v in row) + "\n" for w, row in zip(words, weight, strict=True)).encode()


def test_one_upload_cap_said_the_same_by_both_uploaders_and_the_server():
    import tomllib

    from core.limits import MAX_IMPORT_BYTES

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert server == MAX_IMPORT_BYTES // 1024**2  # the size the import checks, in the server's unit (MB)
    at = on_export()
    caps = {u.key: u.proto.max_upload_size_mb for u in at.get("file_uploader")}
    assert caps == {"import_matrix": server, "import_metadata": server}
    at = own_text(on_train())
    corpus = at.sidebar.file_uploader(key="cfg_corpus_file").proto.max_upload_size_mb
    assert corpus == server  # no cap of its own: the browser says the server's
    assert f"Up to {server} MB" in " ".join(c.value for c in on_export().caption)


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("v.txt", "² 3\ncat 1 2 3\n".encode(), "line 2"),
        ("v.csv", b'token,d0\n"' + b"a" * 200_000 + b'",1\n', "line 2"),
        ("v.csv", b"token,d0\na,1e999\nb,2\n", "beyond float32"),
        ("v.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 5}    \n", "header"),
    ],
)
def test_an_unreadable_import_gets_its_own_error_not_a_traceback(name, data, says):
    at = upload_matrix(on_export(), name, data)
    no_exception(at)
    assert at.error and says in shown_text(at.error[0].proto.body)


def test_a_glove_file_with_unicode_spaces_in_its_words_imports_with_those_words():
    words = ["New\u00a0York", "a\u2009b", "line\u2028sep", "plain"]
    weight = np.arange(12, dtype=np.float32).reshape(4, 3) / 4
    at = upload_matrix(on_export(), "glove.txt", glove(words, weight))
    no_exception(at)
    assert at.session_state["import_table"].labels == words
    assert [at.selectbox(key="import_row").format_func(i) for i in range(4)] == words


def test_a_new_import_starts_the_neighbour_picker_on_the_new_files_words():
    rng = np.random.default_rng(0)
    old, new = [f"old{i}" for i in range(12)], [f"new{i}" for i in range(12)]
    at = upload_matrix(on_export(), "a.txt", glove(old, rng.normal(size=(12, 3))))
    at.selectbox(key="import_row").set_value(5).run()
    assert at.selectbox(key="import_row").value == 5
    at = upload_matrix(at, "b.txt", glove(new, rng.normal(size=(12, 3))))
    no_exception(at)
    picker = at.selectbox(key="import_row")
    assert picker.value == 0 and picker.format_func(picker.value) == "new0"
    shown = " ".join(c.value for c in at.caption)
    assert "'new0'" in shown and "'old" not in shown
    assert all(label.startswith("new") for label in at.dataframe[0].value["label"])


def test_an_imported_table_is_explored_on_embedding_space_pca_umap_and_neighbours():
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(30, 4)).astype(np.float32)
    weight[7] = 3 * weight[2]  # row 7 points as row 2 does: its nearest, cosine 1
    words = [f"w{i}" for i in range(30)]
    at = upload_matrix(on_export(), "glove.txt", glove(words, weight))
    at.switch_page(SPACE).run()
    no_exception(at)
    at.radio(key="space_table").set_value(at.radio(key="space_table").options[1]).run()
    no_exception(at)
    at.selectbox(key="space_import_row").set_value(2).run()
    table = at.dataframe[0].value
    assert table["label"].iloc[0] == "w7" and table["cosine"].iloc[0] == pytest.approx(1.0, abs=1e-5)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "imported table's rows, PCA" in figure["layout"]["title"]["text"]
    points = sum(len(t["x"]) if isinstance(t["x"], list) else 1 for t in figure["data"])
    assert points >= 1
    at.radio(key="space_import_method").set_value("UMAP").run()  # cold in tests: PCA shown, and said so
    no_exception(at)
    assert any("warming up" in i.value for i in at.info)
    at.radio(key="space_table").set_value("This run").run()  # back to the run's own table
    no_exception(at)
    assert at.selectbox(key="space_token") is not None


def test_an_import_the_server_cannot_hold_is_refused_with_the_servers_reason(monkeypatch):
    from serve import memory

    asked = []

    def admit_extra(name, nbytes):
        asked.append((name, nbytes))
        raise memory.ServerBusy("The server is at its memory budget (a test).")

    monkeypatch.setattr(memory, "admit_extra", admit_extra)
    words, weight = [f"w{i}" for i in range(50)], np.ones((50, 8), dtype=np.float32)
    data = glove(words, weight)
    at = upload_matrix(on_export(), "glove.txt", data)
    no_exception(at)
    assert at.error and "memory budget (a test)" in shown_text(at.error[0].proto.body)
    assert asked and asked[0][0] == "import" and asked[0][1] >= len(data) + weight.nbytes  # the upload and its table
    assert not any(m.label == "Imported table" for m in at.metric)  # nothing imported, nothing kept
