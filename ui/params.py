"""Settings <-> URL query parameters: parse a teacher's link robustly, and write the running config back."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict

from core import INITS, OPTIMIZERS, TrainConfig

INT_FIELDS = ("vocab_size", "dim", "batch_size", "seed", "window")
FLOAT_FIELDS = ("lr", "momentum", "beta1", "beta2", "weight_decay")
BOOL_FIELDS = ("sparse", "tie_weights", "nesterov")
OPTIONAL_INT_FIELDS = ("padding_idx",)
OPTIONAL_FLOAT_FIELDS = ("max_norm",)
CHOICE_FIELDS = {"optimizer": tuple(OPTIMIZERS), "init": tuple(INITS)}
URL_FIELDS = (
    *INT_FIELDS[:2],
    "optimizer",
    *FLOAT_FIELDS,
    *INT_FIELDS[2:],
    "init",
    *OPTIONAL_INT_FIELDS,
    *OPTIONAL_FLOAT_FIELDS,
    *BOOL_FIELDS,
)  # every TrainConfig field but corpus_text (a pasted text does not fit in a link)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"", "none", "null"}
# A number as a link may write it: ASCII digits, one optional sign, a decimal point, an exponent. Python's float()
# also takes "١٢٣" (Arabic-Indic digits), "６４" (full-width), "1_000", "nan" and "inf"; a link that relies on
# those is refused with the same message as "abc".
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_NUMBER_CHARS = 40
SHOWN_CHARS = 60  # a refused value is quoted in its message up to this many characters
_ASCII_SPACE = " \t\r\n"


def _number(raw: str) -> float:
    if len(raw) > MAX_NUMBER_CHARS or not NUMBER.fullmatch(raw):
        raise ValueError
    value = float(raw)
    if not math.isfinite(value):  # 1e999
        raise ValueError
    return value


def _parse_int(raw: str) -> int:
    value = _number(raw)  # accepts "64" and "64.0", refuses "abc"
    if not value.is_integer():
        raise ValueError
    return int(raw) if raw.lstrip("+-").isdigit() else int(value)  # exact beyond 2**53


def _parse_float(raw: str) -> float:
    return _number(raw)


def _quoted(raw: str) -> str:
    """The value as the message quotes it: repr, cut to SHOWN_CHARS (the message is escaped where shown)."""
    return repr(raw if len(raw) <= SHOWN_CHARS else raw[:SHOWN_CHARS] + "…")


def parse_value(field: str, raw: str):
    """One query-parameter string as the field's Python value; ValueError with a readable message if it is not."""
    text = raw.strip(_ASCII_SPACE)
    try:
        if field in INT_FIELDS:
            return _parse_int(text)
        if field in FLOAT_FIELDS:
            return _parse_float(text)
        if field in OPTIONAL_INT_FIELDS:
            return None if text.lower() in _NONE else _parse_int(text)
        if field in OPTIONAL_FLOAT_FIELDS:
            return None if text.lower() in _NONE else _parse_float(text)
        if field in BOOL_FIELDS:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError
        if field in CHOICE_FIELDS:
            if text.lower() in CHOICE_FIELDS[field]:
                return text.lower()
            raise ValueError
    except ValueError:
        pass
    raise ValueError(
        f"The link sets {field}={_quoted(raw)}, which is not {_expected(field)}; the default is used instead."
    )


def _expected(field: str) -> str:
    if field in INT_FIELDS:
        return "a whole number (digits 0-9)"
    if field in FLOAT_FIELDS:
        return "a number (digits 0-9, a point, an exponent: 0.05, 5e-2)"
    if field in OPTIONAL_INT_FIELDS:
        return "a whole number (digits 0-9), or empty for none"
    if field in OPTIONAL_FLOAT_FIELDS:
        return "a number (digits 0-9, a point, an exponent), or empty for none"
    if field in BOOL_FIELDS:
        return "true or false"
    return "one of " + ", ".join(CHOICE_FIELDS[field])


def parse_query(query: Mapping[str, str | list[str]]) -> tuple[dict, dict[str, str]]:
    """Known settings in a query mapping -> (values, errors by field). Unknown keys are ignored."""
    values, errors = {}, {}
    for field in URL_FIELDS:
        if field not in query:
            continue
        raw = query[field]
        raw = raw[-1] if isinstance(raw, list) else raw  # ?dim=8&dim=16: the last one wins, as in a form
        try:
            values[field] = parse_value(field, str(raw))
        except ValueError as error:
            errors[field] = str(error)
    return values, errors


def to_query(cfg: TrainConfig) -> dict[str, str]:
    """The config as query parameters: every setting but the corpus text; an unset optional is left out."""
    values = asdict(cfg)
    query = {}
    for field in URL_FIELDS:
        value = values[field]
        if value is None:
            continue
        query[field] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return query
