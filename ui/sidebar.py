"""The sidebar: every setting of the run, each control with its error message right under it."""

from __future__ import annotations

import streamlit as st

from core import INITS, OPTIMIZERS, ConfigError
from core.config import MAX_CORPUS_CHARS
from core.corpus import decode_text, text_coverage, text_problem
from ui import projector, state
from ui.params import parse_value
from ui.text import md_escape

TOY, OWN = "Built-in toy language", "My own text"
TABLE = ("vocab_size", "dim", "init", "padding_idx", "max_norm", "sparse", "tie_weights")
OPTIMIZER = ("optimizer", "lr", "momentum", "nesterov", "beta1", "beta2", "weight_decay")
BATCHES = ("batch_size", "window", "seed", "corpus_text")


def render() -> None:
    """All settings, grouped; a group holding an error opens itself, and so does the corpus group while the
    user's own text is chosen (it would otherwise snap shut once the text became valid)."""
    errors = state.config_errors()
    own_text = st.session_state.store["corpus_text"] is not None
    with st.sidebar:
        _summary()
        _busy()
        _pending()
        with st.expander("Table: nn.Embedding(V, D)", expanded=True):
            _table(errors)
        with st.expander("Optimizer", expanded=True):
            _optimizer(errors)
        with st.expander("Batches and corpus", expanded=own_text or any(f in errors for f in BATCHES)):
            _batches(errors)


def _summary() -> None:
    cfg = state.trainer().cfg
    corpus = "the toy language" if cfg.corpus_text is None else "your text"
    st.markdown(f"**Run:** {OPTIMIZERS[cfg.optimizer].label}, lr {cfg.lr:g}, {cfg.vocab_size:,} × {cfg.dim:,} table")
    link = projector.link_sentence(cfg, projector.shared_step())
    st.caption(f"On {corpus}, batch {cfg.batch_size}, seed {cfg.seed}. {link}")
    projector.text_download(cfg)  # a pasted text cannot travel in a link: a file to upload on the other screen


def _busy() -> None:
    """The server could not hold the asked-for run: why, and that the current run is kept."""
    if st.session_state.get("busy"):
        st.error(md_escape(st.session_state.busy), icon=":material/memory:")


def _pending_listing() -> str:
    """The pending change, field by field, escaped (a value may come from a link or a text box)."""
    ss = st.session_state
    old, new = ss.cfg, ss.pending
    changed = [f for f in state.DEFAULTS if getattr(old, f) != getattr(new, f)]
    return ", ".join(md_escape(_describe_change(f, getattr(old, f), getattr(new, f))) for f in changed)


def _apply_label() -> str:
    n = st.session_state.trainer.step_count
    return f"Apply and reset the run ({n:,} step{'s' if n != 1 else ''} will be lost)"


def _pending() -> None:
    if st.session_state.pending is None:
        return
    st.warning(f"Changed: {_pending_listing()}. A new setting starts a new run.")
    st.button(_apply_label(), key="cfg_apply", type="primary", on_click=state.confirm_pending, width="stretch")
    st.button("Keep the current run", key="cfg_keep", on_click=state.keep_current, width="stretch")


def pending_banner() -> None:
    """The pending change in the page body, with the same two choices: the sidebar's top may be out of view,
    and until it is applied every page still shows the current run. Likewise a run the server refused."""
    if st.session_state.get("busy"):
        st.error(md_escape(st.session_state.busy), icon=":material/memory:")
    if st.session_state.pending is None:
        return
    st.warning(
        f"Settings changed: {_pending_listing()}. This page still shows the current run; "
        "the new settings start a new run.",
        icon=":material/pending:",
    )
    apply_col, keep_col, _ = st.columns([1.4, 1, 1.6])
    apply_col.button(_apply_label(), key="page_apply", type="primary", on_click=state.confirm_pending)
    keep_col.button("Keep the current run", key="page_keep", on_click=state.keep_current)


def _describe_change(field: str, old, new) -> str:
    if field == "corpus_text":
        return "corpus"
    return f"{field} {old} → {new}"


def _prepare(field: str, to_widget=lambda v: v) -> str:
    """The control's key, re-created from the store when the widget was dropped (page switch, reset)."""
    key = state.widget_key(field)
    # Set on every run, not only when missing: a control re-created on another page otherwise shows its
    # default in the browser while the server holds the stored value. Callbacks update the store first.
    st.session_state[key] = to_widget(st.session_state.store[field])
    return key


def _copy(field: str) -> None:
    key = state.widget_key(field)
    if key in st.session_state:  # a control whose state was dropped has nothing to copy
        state.set_setting(field, st.session_state[key])


def _error(field: str, errors: dict[str, str]) -> None:
    """The message beside its control, escaped: it may quote a value from a link (`?lr=[a](http://...)`)."""
    if field in errors:
        st.error(md_escape(errors[field]), icon=":material/error:")


def _int(field: str, label: str, errors: dict[str, str], help: str | None = None, disabled: bool = False) -> None:
    key = _prepare(field)
    st.number_input(label, step=1, format="%d", key=key, help=help, on_change=_copy, args=(field,), disabled=disabled)
    _error(field, errors)


def _float(field: str, label: str, errors: dict[str, str], step: float, help: str | None = None, disabled=False):
    key = _prepare(field, float)
    st.number_input(
        label, step=step, format="%g", key=key, help=help, on_change=_copy, args=(field,), disabled=disabled
    )
    _error(field, errors)


def _optional(field: str, label: str, errors: dict[str, str], help: str) -> None:
    """A number or nothing (None): typed as text so an empty box means 'none'."""
    key = _prepare(field, lambda v: "" if v is None else str(v))
    st.text_input(label, key=key, help=help, placeholder="none", on_change=_copy_optional, args=(field,))
    _error(field, errors)


def _copy_optional(field: str) -> None:
    raw = st.session_state.get(state.widget_key(field), "")
    try:
        state.set_setting(field, parse_value(field, raw))
    except ValueError:
        state.set_setting(field, raw)  # kept as typed: core refuses it and its message shows under the box


def _toggle(field: str, label: str, errors: dict[str, str], help: str) -> None:
    key = _prepare(field)
    st.toggle(label, key=key, help=help, on_change=_copy, args=(field,))
    _error(field, errors)


def _choice(field: str, label: str, options: dict, errors: dict[str, str], help: str | None = None, on_change=None):
    key = _prepare(field)
    st.selectbox(
        label, list(options), key=key, format_func=options.get, help=help, on_change=on_change or _copy, args=(field,)
    )
    _error(field, errors)


def _optimizer_changed(field: str) -> None:
    """A new optimizer comes with its own defaults (lr, weight decay, momentum, betas)."""
    key = state.widget_key(field)
    if key in st.session_state:
        state.set_optimizer(st.session_state[key])


def _table(errors: dict[str, str]) -> None:
    _int("vocab_size", "Vocabulary size V (rows)", errors, "How many tokens the table has a row for.")
    _int("dim", "Dimension D (columns)", errors, "How many numbers each token's vector has.")
    _choice("init", "Initialisation", {k: f"{k}: {v}" for k, v in INITS.items()}, errors)
    _optional(
        "padding_idx",
        "padding_idx",
        errors,
        "This row starts at zero and the lookup sends it no gradient. A tied output head still does: "
        "with the head tied, the padding row gets a gradient and moves.",
    )
    _optional(
        "max_norm",
        "max_norm",
        errors,
        "A looked-up row longer than this is rescaled to this length, in place, in the forward pass.",
    )
    _toggle("sparse", "sparse=True (sparse gradients)", errors, "Only SGD, Adagrad and SparseAdam accept them.")
    _toggle("tie_weights", "Tie the output head to the table", errors, "As GPT-2 does: every row then gets a gradient.")


def _optimizer(errors: dict[str, str]) -> None:
    labels = {name: spec.label for name, spec in OPTIMIZERS.items()}
    _choice(
        "optimizer",
        "Optimizer",
        labels,
        errors,
        "Switching sets that optimizer's defaults: its learning rate and weight decay, and torch's momentum and betas.",
        on_change=_optimizer_changed,
    )
    spec = OPTIMIZERS.get(st.session_state.store["optimizer"], OPTIMIZERS["adam"])
    st.caption(spec.summary)
    _float("lr", "Learning rate", errors, 0.01, f"{spec.label}'s usual default here: {spec.default_lr:g}.")
    _float("momentum", "Momentum", errors, 0.1, disabled=not spec.uses_momentum, help="SGD and RMSprop only.")
    _toggle("nesterov", "Nesterov momentum", errors, "SGD with momentum only.")
    _float("beta1", "beta1", errors, 0.01, disabled=not spec.uses_betas, help="Adam-family only.")
    _float("beta2", "beta2", errors, 0.001, disabled=not spec.uses_betas, help="Adam-family only.")
    _float(
        "weight_decay",
        "Weight decay",
        errors,
        0.01,
        "A pull of every row towards zero, every step, used or not (AdamW: decoupled, default 0.01).",
    )


def _batches(errors: dict[str, str]) -> None:
    _int("batch_size", "Batch size B (pairs per step)", errors)
    _int("window", "Context window", errors, "How many words on each side count as context.")
    _int("seed", "Seed", errors, "Same seed, same table and same batches on every screen.")
    _corpus(errors)


def _corpus(errors: dict[str, str]) -> None:
    ss = st.session_state
    ss.cfg_corpus_source = TOY if ss.store["corpus_text"] is None else OWN
    st.radio("Corpus", (TOY, OWN), key="cfg_corpus_source", on_change=_corpus_changed)
    if ss.cfg_corpus_source != OWN:
        _error("corpus_text", errors)
        return
    ss.cfg_corpus_paste = ss.get("corpus_paste", "")
    st.text_area("Paste a text", key="cfg_corpus_paste", height=120, on_change=_corpus_changed)
    st.file_uploader("…or upload a .txt file", type=["txt"], key="cfg_corpus_file", on_change=_corpus_changed)
    if ss.get("corpus_upload_error"):
        st.error(md_escape(ss.corpus_upload_error), icon=":material/error:")
    text = ss.store["corpus_text"]
    if not isinstance(text, str) or not text.strip():
        st.info("Paste a text or upload a .txt file. Until then the run trains on the toy language.")
        return  # nothing pasted yet is not an error
    problem = _memo("corpus_problem", text, lambda: text_problem(text))
    if problem:
        st.warning(md_escape(problem), icon=":material/warning:")
    _error("corpus_text", errors)
    _coverage(text)
    st.caption(
        f"{len(text):,} characters (limit {MAX_CORPUS_CHARS:,}). Your text stays in this session: it is not "
        "part of the link, so a copied link trains on the toy language."
    )


def _memo(name: str, key, compute):
    """The last result for `key` under `name` in this session: a 5,000,000-character text is not re-read on every
    rerun (comparing the same string object is immediate)."""
    ss = st.session_state
    kept = ss.get(name)
    if kept is None or kept[0] != key:
        kept = ss[name] = (key, compute())
    return kept[1]


def _share(x: float) -> str:
    """A share as a percentage that never rounds a nonzero share to 0% or a partial one to 100%."""
    if 0 < x < 0.005:
        return "<1%"
    if 0.995 <= x < 1:
        return ">99%"
    return f"{x:.0%}"


def _coverage(text: str) -> None:
    """How much of the text the asked-for V covers, and a V that covers it all."""
    ss = st.session_state
    vocab_size, padding_idx = ss.store["vocab_size"], ss.store["padding_idx"]
    if not isinstance(vocab_size, int) or not (padding_idx is None or isinstance(padding_idx, int)):
        vocab_size, padding_idx = ss.cfg.vocab_size, ss.cfg.padding_idx  # an invalid value shows its own error
    key = (text, vocab_size, padding_idx)
    cov = _memo("corpus_coverage", key, lambda: text_coverage(text, vocab_size, padding_idx))
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
        st.button(
            f"Set V to {suggested:,} ({what})",
            key="cfg_cover_vocab",
            help=f"{cov.n_distinct:,} different words + {cov.n_special} special row(s): `<unk>`"
            + (", `<pad>`" if cov.n_special > 1 else "")
            + ".",
            on_click=state.set_setting,
            args=("vocab_size", suggested),
        )


def _corpus_changed() -> None:
    ss = st.session_state
    ss.corpus_upload_error = None
    if ss.cfg_corpus_source == TOY:
        state.set_setting("corpus_text", None)
        return
    if ss.store["corpus_text"] is None:
        state.set_setting("corpus_text", "")  # 'my own text' chosen, nothing pasted yet
    ss.corpus_paste = ss.get("cfg_corpus_paste", "")
    upload = ss.get("cfg_corpus_file")
    if upload is None:
        state.set_setting("corpus_text", ss.corpus_paste)
        return
    data = upload.getvalue()
    if len(data) > 4 * MAX_CORPUS_CHARS + 4:  # more bytes than the longest text could take in any encoding
        ss.corpus_upload_error = (
            f"This file has {len(data):,} bytes; a text may have at most {MAX_CORPUS_CHARS:,} characters."
        )
        return
    try:
        state.set_setting("corpus_text", decode_text(data))
    except ConfigError as error:
        ss.corpus_upload_error = error.message  # the run and the asked-for text stay as they were
