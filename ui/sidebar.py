"""The sidebar: every setting of the run, each control with its error message right under it."""

from __future__ import annotations

import streamlit as st

from core import INITS, OPTIMIZERS
from core.config import MAX_CORPUS_CHARS
from ui import state
from ui.params import parse_value

TOY, OWN = "Built-in toy language", "My own text"
TABLE = ("vocab_size", "dim", "init", "padding_idx", "max_norm", "sparse", "tie_weights")
OPTIMIZER = ("optimizer", "lr", "momentum", "nesterov", "beta1", "beta2", "weight_decay")
BATCHES = ("batch_size", "window", "seed", "corpus_text")


def render() -> None:
    """All settings, grouped; a group holding an error opens itself."""
    errors = state.config_errors()
    with st.sidebar:
        _summary()
        _pending()
        with st.expander("Table: nn.Embedding(V, D)", expanded=True):
            _table(errors)
        with st.expander("Optimizer", expanded=True):
            _optimizer(errors)
        with st.expander("Batches and corpus", expanded=any(f in errors for f in BATCHES)):
            _batches(errors)


def _summary() -> None:
    cfg = state.trainer().cfg
    corpus = "toy language" if cfg.corpus_text is None else "your text"
    st.markdown(f"**Run:** {OPTIMIZERS[cfg.optimizer].label}, lr {cfg.lr:g}, {cfg.vocab_size:,} × {cfg.dim:,} table")
    st.caption(
        f"On the {corpus}, batch {cfg.batch_size}, seed {cfg.seed}. The link in the address bar reproduces this run."
    )


def _pending() -> None:
    ss = st.session_state
    if ss.pending is None:
        return
    old, new = ss.cfg, ss.pending
    changed = [f for f in state.DEFAULTS if getattr(old, f) != getattr(new, f)]
    listing = ", ".join(_describe_change(f, getattr(old, f), getattr(new, f)) for f in changed)
    st.warning(f"Changed: {listing}. A new setting starts a new run.")
    n = ss.trainer.step_count
    st.button(
        f"Apply and reset the run ({n:,} step{'s' if n != 1 else ''} will be lost)",
        key="cfg_apply",
        type="primary",
        on_click=state.confirm_pending,
        width="stretch",
    )
    st.button("Keep the current run", key="cfg_keep", on_click=state.keep_current, width="stretch")


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
    state.set_setting(field, st.session_state[state.widget_key(field)])


def _error(field: str, errors: dict[str, str]) -> None:
    if field in errors:
        st.error(errors[field], icon=":material/error:")


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
    raw = st.session_state[state.widget_key(field)]
    try:
        state.set_setting(field, parse_value(field, raw))
    except ValueError:
        state.set_setting(field, raw)  # kept as typed: core refuses it and its message shows under the box


def _toggle(field: str, label: str, errors: dict[str, str], help: str) -> None:
    key = _prepare(field)
    st.toggle(label, key=key, help=help, on_change=_copy, args=(field,))
    _error(field, errors)


def _choice(field: str, label: str, options: dict, errors: dict[str, str], help: str | None = None) -> None:
    key = _prepare(field)
    st.selectbox(label, list(options), key=key, format_func=options.get, help=help, on_change=_copy, args=(field,))
    _error(field, errors)


def _table(errors: dict[str, str]) -> None:
    _int("vocab_size", "Vocabulary size V (rows)", errors, "How many tokens the table has a row for.")
    _int("dim", "Dimension D (columns)", errors, "How many numbers each token's vector has.")
    _choice("init", "Initialisation", {k: f"{k}: {v}" for k, v in INITS.items()}, errors)
    _optional("padding_idx", "padding_idx", errors, "A row that is all zeros and never gets a gradient.")
    _optional("max_norm", "max_norm", errors, "Rows longer than this are rescaled in the forward pass.")
    _toggle("sparse", "sparse=True (sparse gradients)", errors, "Only SGD, Adagrad and SparseAdam accept them.")
    _toggle("tie_weights", "Tie the output head to the table", errors, "As GPT-2 does: every row then gets a gradient.")


def _optimizer(errors: dict[str, str]) -> None:
    labels = {name: spec.label for name, spec in OPTIMIZERS.items()}
    _choice("optimizer", "Optimizer", labels, errors)
    spec = OPTIMIZERS.get(st.session_state.store["optimizer"], OPTIMIZERS["adam"])
    st.caption(spec.summary)
    _float("lr", "Learning rate", errors, 0.01, f"{spec.label}'s usual default here: {spec.default_lr:g}.")
    _float("momentum", "Momentum", errors, 0.1, disabled=not spec.uses_momentum, help="SGD and RMSprop only.")
    _toggle("nesterov", "Nesterov momentum", errors, "SGD with momentum only.")
    _float("beta1", "beta1", errors, 0.01, disabled=not spec.uses_betas, help="Adam-family only.")
    _float("beta2", "beta2", errors, 0.001, disabled=not spec.uses_betas, help="Adam-family only.")
    _float("weight_decay", "Weight decay", errors, 0.01)


def _batches(errors: dict[str, str]) -> None:
    _int("batch_size", "Batch size B (pairs per step)", errors)
    _int("window", "Context window", errors, "How many words on each side count as context.")
    _int("seed", "Seed", errors, "Same seed, same table and same batches on every screen.")
    _corpus(errors)


def _corpus(errors: dict[str, str]) -> None:
    ss = st.session_state
    ss.cfg_corpus_source = TOY if ss.store["corpus_text"] is None else OWN
    st.radio("Corpus", (TOY, OWN), key="cfg_corpus_source", on_change=_corpus_changed)
    if ss.cfg_corpus_source == OWN:
        ss.cfg_corpus_paste = ss.get("corpus_paste", "")
        st.text_area("Paste a text", key="cfg_corpus_paste", height=120, on_change=_corpus_changed)
        st.file_uploader("…or upload a .txt file", type=["txt"], key="cfg_corpus_file", on_change=_corpus_changed)
        text = ss.store["corpus_text"]
        if text:
            st.caption(f"{len(text):,} characters (limit {MAX_CORPUS_CHARS:,}). Your text is not part of the link.")
    _error("corpus_text", errors)


def _corpus_changed() -> None:
    ss = st.session_state
    if ss.cfg_corpus_source == TOY:
        state.set_setting("corpus_text", None)
        return
    if ss.store["corpus_text"] is None:
        state.set_setting("corpus_text", "")  # 'my own text' chosen, nothing pasted yet
    ss.corpus_paste = ss.get("cfg_corpus_paste", "")
    upload = ss.get("cfg_corpus_file")
    if upload is not None:
        text = upload.getvalue()[: 4 * MAX_CORPUS_CHARS + 4].decode("utf-8", errors="replace")
    else:
        text = ss.get("cfg_corpus_paste", "")
    state.set_setting("corpus_text", text)
