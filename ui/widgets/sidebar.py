"""The sidebar: the view switches (display mode, dark theme) and every setting of the run, each control with its
error message right under it; the pending change's banner in the page body."""

from __future__ import annotations

import streamlit as st

from core import INITS, OPTIMIZERS, ConfigError, TrainConfig
from core.captions import count, describe_run
from core.config import MODELS, largest_vocab_that_fits
from core.corpus import decode_text, text_coverage, text_problem
from core.limits import MAX_CORPUS_CHARS
from core.optimizers import default_lr_for
from serve import memory
from ui import links, session
from ui.display import dark_shown, md_escape

TOY, OWN = "Built-in toy language", "My own text"
BATCHES = ("batch_size", "window", "seed", "corpus_text")
_SETTERS = {"optimizer": session.set_optimizer, "dim": session.set_dim}  # a change that sets other fields too


def render() -> None:
    """All settings, grouped; a group holding an error opens itself, and so does the corpus group while the
    user's own text is chosen (it would otherwise snap shut once the text became valid)."""
    errors = session.config_errors()
    own_text = session.store()["corpus_text"] is not None
    with st.sidebar:
        _summary()
        pending_banner(in_sidebar=True)
        with st.expander("Table: nn.Embedding(V, D)", expanded=True):
            _table(errors)
        with st.expander("Optimizer", expanded=True):
            _optimizer(errors)
        with st.expander("Batches and corpus", expanded=own_text or any(f in errors for f in BATCHES)):
            _batches(errors)


def _summary() -> None:
    cfg = session.cfg()
    st.markdown(f"**Run:** {describe_run(cfg, 'head')}")
    _link_box("summary")
    links.text_download(cfg)  # a pasted text cannot travel in a link: a file to upload on the other screen


def _summary_caption(box) -> None:
    cfg = session.cfg()
    corpus = "the toy language" if cfg.corpus_text is None else "your text"
    link = links.link_sentence(cfg, links.shared_step())
    box.caption(f"On {corpus}, batch {cfg.batch_size}, seed {cfg.seed}. {link}")


def _theme_caption(box) -> None:
    """How to reach the theme the toggle asks for: Streamlit switches it in the browser only, and with this app's
    toolbar (toolbarMode "minimal") there is no ⋮ menu; a link that opens with it, carrying the run, is the way."""
    dark, step = bool(session.get("theme_dark")), links.shared_step()
    name = "dark" if dark else "light"
    if getattr(getattr(st.context, "theme", None), "type", None) == name or (not dark and not dark_shown()):
        box.empty()  # the browser shows it (a light theme unasked for needs no link either)
        return
    at = f"re-trains to step {step:,} with every setting" if step else "opens with every setting"
    box.caption(
        f"This page cannot repaint itself {name}: only the browser switches Streamlit's theme, when it opens a page. "
        f"[Open this run in the {name} theme]({links.theme_link(dark)}): a new tab that {at}."
    )


_LINK_BOXES = {"summary": _summary_caption, "theme": _theme_caption}  # the sidebar's sentences that name the step


def _link_box(name: str) -> None:
    """A sentence that names the step, drawn in a placeholder the Train page's fragment can redraw."""
    box = st.empty()
    session.put("link_boxes", {**(session.get("link_boxes") or {}), name: box})
    _LINK_BOXES[name](box)


def refresh_links() -> None:
    """Redraw the sidebar's sentences that name the step (after a Step in a fragment, which reruns only itself)."""
    for name, box in (session.get("link_boxes") or {}).items():
        _LINK_BOXES[name](box)


def _pending_listing() -> str:
    """The pending change, field by field, escaped (a value may come from a link or a text box)."""
    old, new = session.cfg(), session.pending()
    changed = [f for f in session.DEFAULTS if getattr(old, f) != getattr(new, f)]
    listed = ("corpus" if f == "corpus_text" else f"{f} {getattr(old, f)} → {getattr(new, f)}" for f in changed)
    return ", ".join(md_escape(change) for change in listed)


def pending_banner(in_sidebar: bool = False) -> None:
    """A run the server refused, and the pending change with its two choices: in the sidebar, and in the page body
    too (the sidebar's top may be out of view, and until it is applied every page still shows the current run)."""
    if session.busy():  # the server could not hold the asked-for run: why (the current run is kept)
        st.error(md_escape(session.busy()), icon=":material/memory:")
    if session.pending() is None:
        return
    n = session.trainer().step_count
    if in_sidebar:
        st.warning(f"Changed: {_pending_listing()}. A new setting starts a new run.")
        apply_at = keep_at = st
        prefix, width = "cfg", "stretch"
    else:
        st.warning(f"Settings changed: {_pending_listing()}. This page still shows the current run; "
                   "the new settings start a new run.", icon=":material/pending:")  # fmt: skip
        apply_at, keep_at, _ = st.columns([1.4, 1, 1.6])
        prefix, width = "page", "content"
    apply_at.button(f"Apply and reset the run ({n:,} step{'s' if n != 1 else ''} will be lost)", key=f"{prefix}_apply",
                    type="primary", on_click=session.confirm_pending, width=width)  # fmt: skip
    keep_at.button("Keep the current run", key=f"{prefix}_keep", on_click=session.keep_current, width=width)


def _copy(field: str) -> None:
    key = session.widget_key(field)
    if not session.has(key):  # a control whose state was dropped has nothing to copy
        return
    if field in _SETTERS:
        _SETTERS[field](session.get(key))
    else:
        session.set_setting(field, session.get(key))


def _error(field: str, errors: dict[str, str]) -> None:
    """The message beside its control, escaped: it may quote a value from a link (`?lr=[a](http://...)`)."""
    if field in errors:
        st.error(md_escape(errors[field]), icon=":material/error:")


def _control(widget, field: str, label: str, errors: dict[str, str], to_widget=lambda v: v, on_change=_copy, **kw):
    """One setting's control, its key written from the store on every run, then its error message under it."""
    # Every run, not only when missing: a control re-created on another page (after a page switch or a reset)
    # otherwise shows its default in the browser while the server holds the stored value.
    key = session.widget_key(field)
    session.put(key, to_widget(session.store()[field]))
    widget(label, key=key, on_change=on_change, args=(field,), **kw)
    _error(field, errors)


def _int(field: str, label: str, errors: dict[str, str], help: str | None = None) -> None:
    _control(st.number_input, field, label, errors, step=1, format="%d", help=help)


def _float(field: str, label: str, errors: dict[str, str], step: float, help: str | None = None, disabled=False):
    _control(st.number_input, field, label, errors, float, step=step, format="%g", help=help, disabled=disabled)


def _optional(field: str, label: str, errors: dict[str, str], help: str) -> None:
    """A number or nothing (None): typed as text so an empty box means 'none'."""
    to_text = lambda v: "" if v is None else str(v)  # noqa: E731
    _control(st.text_input, field, label, errors, to_text, _copy_optional, help=help, placeholder="none")


def _copy_optional(field: str) -> None:
    raw = session.get(session.widget_key(field), "")
    try:
        session.set_setting(field, links.parse_value(field, raw))
    except ValueError:
        session.set_setting(field, raw)  # kept as typed: core refuses it and its message shows under the box


def _toggle(field: str, label: str, errors: dict[str, str], help: str) -> None:
    _control(st.toggle, field, label, errors, help=help)


def _choice(field: str, label: str, options: dict, errors: dict[str, str], help: str | None = None) -> None:
    _control(st.selectbox, field, label, errors, options=list(options), format_func=options.get, help=help)


def _table(errors: dict[str, str]) -> None:
    _choice("model", "Model around the table", {k: f"{k}: {v}" for k, v in MODELS.items()}, errors,
            "The same nn.Embedding token table in each. The full softmax scores every head row for every pair; "
            "negative sampling (word2vec) scores the true context and k rows drawn from the unigram distribution "
            "to the 3/4 power, so only those head rows get a gradient; a small GPT looks up windows of T tokens, "
            "adds a positional table, and predicts each next token through causal transformer blocks.")  # fmt: skip
    if session.store()["model"] == "sgns" or "negatives" in errors:  # k: negative sampling's (or a link's bad k)
        _int(
            "negatives",
            "Negatives k per pair",
            errors,
            "Head rows sampled per (centre, context) pair, from the run's seed (word2vec: 5-20 on small data).",
        )
    gpt = session.store()["model"] == "gpt"
    if gpt or "context" in errors:
        _int("context", "Context length T (tokens per window)", errors,
             "Each batch row is a window of T tokens; the positional table has T rows (GPT-2: 1,024).")  # fmt: skip
    if gpt or "layers" in errors:
        _int(
            "layers", "Transformer blocks", errors, "Causal attention and a feed-forward layer each (GPT-2 small: 12)."
        )
    if gpt or "heads" in errors:
        _int("heads", "Attention heads", errors, "Per block; the width D must divide into them (GPT-2 small: 12).")
    _int("vocab_size", "Vocabulary size V (rows)", errors, "How many tokens the table has a row for.")
    _int("dim", "Dimension D (columns)", errors,
         "How many numbers each token's vector has. A learning rate left at its default follows it.")  # fmt: skip
    _choice("init", "Initialisation", {k: f"{k}: {v}" for k, v in INITS.items()}, errors)
    _optional("padding_idx", "padding_idx", errors, "This row starts at zero and the lookup sends it no gradient. "
              "A tied output head still does: with the head tied, the padding row gets a gradient (negative "
              "sampling: when it draws the row) and moves.",
    )  # fmt: skip
    _optional("max_norm", "max_norm", errors,
              "A looked-up row longer than this is rescaled to this length, in place, in the forward pass.",
    )  # fmt: skip
    _toggle("sparse", "sparse=True (sparse gradients)", errors, "Only SGD, Adagrad and SparseAdam accept them.")
    _toggle("tie_weights", "Tie the output head to the table", errors, "As GPT-2 does: the head's gradient then lands "
            "in the table (the full softmax: every row, every step; negative sampling: the sampled rows).")  # fmt: skip


def _optimizer(errors: dict[str, str]) -> None:
    labels = {name: spec.label for name, spec in OPTIMIZERS.items()}
    _choice("optimizer", "Optimizer", labels, errors, "Switching sets that optimizer's defaults: its learning rate "
            "and weight decay, and torch's momentum and betas.")  # fmt: skip
    name = session.store()["optimizer"] if session.store()["optimizer"] in OPTIMIZERS else "adam"
    spec = OPTIMIZERS[name]
    st.caption(spec.summary)
    dim = session.store()["dim"] if isinstance(session.store()["dim"], int) else session.cfg().dim
    usual = f"{spec.label}'s default for D = {dim:,}: {default_lr_for(name, dim):g}."
    _float("lr", "Learning rate", errors, 0.01, usual)
    _float("momentum", "Momentum", errors, 0.1, disabled=not spec.uses_momentum, help="SGD and RMSprop only.")
    _toggle("nesterov", "Nesterov momentum", errors, "SGD with momentum only.")
    _float("beta1", "beta1", errors, 0.01, disabled=not spec.uses_betas, help="Adam-family only.")
    _float("beta2", "beta2", errors, 0.001, disabled=not spec.uses_betas, help="Adam-family only.")
    _float("weight_decay", "Weight decay", errors, 0.01,
           "A pull of every row towards zero, every step, used or not (AdamW: decoupled, default 0.01).")  # fmt: skip


def _batches(errors: dict[str, str]) -> None:
    _int("batch_size", "Batch size B (pairs per step)", errors, "A GPT's batch: B windows of T tokens each.")
    _int("window", "Context window", errors, "How many words on each side count as context.")
    _int("seed", "Seed", errors, "Same seed, same table and same batches on every screen.")
    _corpus(errors)


def _corpus(errors: dict[str, str]) -> None:
    session.put("cfg_corpus_source", TOY if session.store()["corpus_text"] is None else OWN)
    st.radio("Corpus", (TOY, OWN), key="cfg_corpus_source", on_change=_corpus_changed)
    if session.get("cfg_corpus_source") != OWN:
        _error("corpus_text", errors)
        return
    session.put("cfg_corpus_paste", session.get("corpus_paste", ""))
    st.text_area("Paste a text", key="cfg_corpus_paste", height=120, on_change=_corpus_changed)
    st.file_uploader("…or upload a .txt file", type=["txt"], key="cfg_corpus_file", on_change=_corpus_changed)
    if session.get("corpus_upload_error"):
        st.error(md_escape(session.get("corpus_upload_error")), icon=":material/error:")
    text = session.store()["corpus_text"]
    if not isinstance(text, str) or not text.strip():
        st.info("Paste a text or upload a .txt file. Until then the run trains on the toy language.")
        return  # nothing pasted yet is not an error
    problem = session.memo("corpus_problem", text, lambda: text_problem(text), keep=1)
    if problem:
        st.warning(md_escape(problem), icon=":material/warning:")
    _error("corpus_text", errors)
    _coverage(text)
    st.caption(
        f"{len(text):,} characters (limit {MAX_CORPUS_CHARS:,}). Your text stays in this session: it is not "
        "part of the link, so a copied link trains on the toy language."
    )


def _share(x: float) -> str:
    """A share as a percentage that never rounds a nonzero share to 0% or a partial one to 100%."""
    if 0 < x < 0.005:
        return "<1%"
    if 0.995 <= x < 1:
        return ">99%"
    return f"{x:.0%}"


def _coverage(text: str) -> None:
    """How much of the text the asked-for V covers, and a V that covers it all."""
    vocab_size, padding_idx = session.store()["vocab_size"], session.store()["padding_idx"]
    if not isinstance(vocab_size, int) or not (padding_idx is None or isinstance(padding_idx, int)):
        cfg = session.cfg()  # an invalid value shows its own error
        vocab_size, padding_idx = cfg.vocab_size, cfg.padding_idx
    key = (text, vocab_size, padding_idx)
    cov = session.memo("corpus_coverage", key, lambda: text_coverage(text, vocab_size, padding_idx), keep=1)
    if cov.n_tokens == 0:
        return
    st.caption(
        f"{cov.n_tokens:,} words, {cov.n_distinct:,} different. With V = {vocab_size:,}, "
        f"{_share(cov.in_vocab_share)} of the text's words have their own row and {_share(cov.unk_share)} "
        "become `<unk>`."
    )
    suggested = cov.suggested_vocab_size
    if cov.unk_share > 0 and suggested > vocab_size:
        capped = suggested < cov.n_distinct + cov.n_special
        what = "the largest V allowed" if capped else "every word its own row"
        special = "`<unk>`, `<pad>`" if cov.n_special > 1 else "`<unk>`"
        rows = count(cov.n_special, "special row")
        st.button(f"Set V to {suggested:,} ({what})", key="cfg_cover_vocab", on_click=session.set_setting,
                  args=("vocab_size", suggested),
                  help=f"{cov.n_distinct:,} different words + {rows}: {special}.")  # fmt: skip


def _corpus_changed() -> None:
    session.put("corpus_upload_error", None)
    if session.get("cfg_corpus_source") == TOY:
        session.set_setting("corpus_text", None)
        return
    if session.store()["corpus_text"] is None:
        session.set_setting("corpus_text", "")  # 'my own text' chosen, nothing pasted yet
    session.put("corpus_paste", session.get("cfg_corpus_paste", ""))
    upload = session.get("cfg_corpus_file")
    if upload is None:
        session.set_setting("corpus_text", session.get("corpus_paste"))
        return
    data = upload.getvalue()
    if len(data) > 4 * MAX_CORPUS_CHARS + 4:  # more bytes than the longest text could take in any encoding
        session.put(
            "corpus_upload_error",
            f"This file has {len(data):,} bytes; a text may have at most {MAX_CORPUS_CHARS:,} characters.",
        )
        return
    try:
        session.set_setting("corpus_text", decode_text(data))
    except ConfigError as error:
        session.put("corpus_upload_error", error.message)  # the run and the asked-for text stay as they were


def refused_link(message: str) -> None:
    """No run could start: the server's reason, in the page and the sidebar, each with a one-click way on: the
    link's settings at the largest vocabulary that fits the memory free now, or the default run."""
    asked = session.get("refused_link")
    free = memory.registry().budget - memory.registry().held  # this session holds nothing yet
    fits = largest_vocab_that_fits(asked, free) if asked is not None else None
    for where, prefix in ((st.container(), "page"), (st.sidebar, "cfg")):
        with where:
            if prefix == "cfg":
                st.markdown("**Run:** none yet. The server cannot hold this link's run.")
            st.error(md_escape(message), icon=":material/memory:")
            if fits is not None and fits != asked.vocab_size:
                st.button(f"Start these settings at V = {fits:,}, the largest table that fits", type="primary",
                          key=f"{prefix}_refused_fit", on_click=session.start_instead,
                          args=(asked.replace(vocab_size=fits),))  # fmt: skip
            default = TrainConfig()
            st.button(f"Start the default run ({default.vocab_size} × {default.dim})", key=f"{prefix}_refused_default",
                      on_click=session.start_instead, args=(default,))  # fmt: skip


def view_switches() -> None:
    """The sidebar's view switches: display mode and the dark theme (both kept in the link)."""
    for label, widget, kept, help in (
        ("Projector mode", "view_projector", "display_mode", "For a classroom wall: large type, full contrast, thick "
         "lines, big markers, words on the points. Kept in the link (projector=1)."),
        ("Dark theme", "view_dark", "theme_dark",
         "Kept in the link (theme=dark). Only the browser switches Streamlit's theme: the link under the toggle "
         "opens this run in it."),
    ):  # fmt: skip
        session.put(widget, bool(session.get(kept)))  # re-created from the kept value on every page
        st.toggle(label, key=widget, on_change=_copy_view, args=(widget, kept), help=help)
    _link_box("theme")


def _copy_view(widget: str, kept: str) -> None:
    session.put(kept, bool(session.get(widget)))
