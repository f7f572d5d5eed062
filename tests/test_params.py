"""Reading a teacher's link: strict numbers, every field, and values shown back without markdown (ui.links,
ui.display)."""

from __future__ import annotations

import re
import string
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import TrainConfig  # noqa: E402
from ui.display import WORD_JOINER, md_escape  # noqa: E402
from ui.links import (  # noqa: E402
    BOOL_FIELDS,
    CHOICE_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    OPTIONAL_FLOAT_FIELDS,
    OPTIONAL_INT_FIELDS,
    URL_FIELDS,
    parse_query,
    parse_value,
    to_query,
)

NUMERIC = (*INT_FIELDS, *FLOAT_FIELDS, *OPTIONAL_INT_FIELDS, *OPTIONAL_FLOAT_FIELDS)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("64", 64), ("+64", 64), ("64.0", 64), ("6.4e1", 64), ("640e-1", 64), (" 64 ", 64), ("0", 0)],
)
def test_whole_numbers_in_plain_ascii_are_read(raw, value):
    assert parse_value("dim", raw) == value and isinstance(parse_value("dim", raw), int)


@pytest.mark.parametrize(("raw", "value"), [("0.05", 0.05), ("5e-2", 0.05), (".5", 0.5), ("5.", 5.0), ("-1", -1.0)])
def test_numbers_in_plain_ascii_are_read(raw, value):
    assert parse_value("lr", raw) == value


def test_a_long_whole_number_is_read_exactly():
    assert parse_value("seed", "9007199254740993") == 9007199254740993  # 2**53 + 1: float() would round it


BAD_NUMBERS = [
    "١٢٣",  # Arabic-Indic digits: float() reads 123
    "６４",  # full-width digits: float() reads 64
    "1_000",  # float() reads 1000
    " nan",
    "nan",
    "inf",
    "-Infinity",
    "1e999",  # overflows to inf
    "0x40",
    "64 64",
    "6 4",
    "--1",
    "1e",
    ".",
    "e5",
    "٣.٥",
    "64\u00a0",  # a no-break space is not ASCII white space
    "1" * 41,  # longer than any number a link needs
]


@pytest.mark.parametrize("raw", BAD_NUMBERS)
@pytest.mark.parametrize("field", NUMERIC)
def test_anything_else_is_refused_with_the_same_message(field, raw):
    with pytest.raises(ValueError) as refused:
        parse_value(field, raw)
    message = str(refused.value)
    assert message.startswith(f"The link sets {field}=") and "the default is used instead" in message
    assert "digits 0-9" in message


def test_a_refused_value_is_quoted_short():
    with pytest.raises(ValueError) as refused:
        parse_value("lr", "x" * 5000)
    assert len(str(refused.value)) < 250


def test_choices_and_booleans():
    assert parse_value("optimizer", "SGD") == "sgd"
    assert parse_value("tie_weights", "Yes") is True and parse_value("sparse", "0") is False
    assert parse_value("padding_idx", "") is None and parse_value("max_norm", "none") is None
    for field in (*BOOL_FIELDS, *CHOICE_FIELDS):
        with pytest.raises(ValueError):
            parse_value(field, "[x](http://example.invalid)")


def test_every_field_round_trips_through_the_link():
    cfg = TrainConfig(optimizer="sgd", lr=0.25, momentum=0.9, nesterov=True, padding_idx=3, max_norm=2.5, seed=7)
    values, errors = parse_query(to_query(cfg))
    assert not errors
    assert TrainConfig(**values) == cfg
    assert set(URL_FIELDS) == {f for f in cfg.__dataclass_fields__ if f != "corpus_text"}


# ---------------------------------------------------------------- md_escape


def resolve(markdown: str) -> str:
    """CommonMark's backslash escapes resolved by hand: what a reader sees."""
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", markdown).replace(WORD_JOINER, "")


@pytest.mark.parametrize(
    "text",
    [
        "[Session expired: log in again](http://example.invalid)",
        "![t](http://example.invalid/p.gif)",
        "<script>alert(1)</script> &amp; &#91;",
        "**b** _i_ `c` ~~s~~ $x$ | a | # h > q + - 1. :red[x] :material/home:",
        "back\\slash \\[ already escaped",
        "plain words",
    ],
)
def test_md_escape_shows_text_as_typed(text):
    escaped = md_escape(text)
    assert resolve(escaped) == text
    unescaped = re.sub(r"\\[" + re.escape(string.punctuation) + "]", "", escaped)
    assert not set(unescaped) & set(string.punctuation)  # every markup character is escaped


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("see http://example.invalid/a", r"(?i)https?://"),
        ("HTTPS://EXAMPLE.INVALID", r"(?i)https?://"),
        ("www.example.invalid", r"(?i)\bwww\."),
        ("WWW.example.invalid", r"(?i)\bwww\."),
        ("mail teacher@example.invalid", r"@\w"),
        ("mailto:teacher@example.invalid", r"@\w"),
    ],
)
def test_md_escape_breaks_autolinks_without_changing_what_is_seen(text, pattern):
    shown = re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", md_escape(text))  # joiners kept
    assert not re.search(pattern, shown)  # GFM finds its autolinks in this text: the joiner breaks them
    assert shown.replace(WORD_JOINER, "") == text


def test_md_escape_makes_line_breaks_and_invisible_controls_visible():
    assert resolve(md_escape("a\n\n# b")) == "a  # b"
    assert "\u202e" not in md_escape("abc\u202edef") and "u202e" in md_escape("abc\u202edef")
    assert "\u200b" not in md_escape("a\u200bb")
