"""Showing text that came from a user (a link, a pasted corpus) without Streamlit rendering it as markdown.

Streamlit renders the body of st.markdown, st.caption, st.error, st.warning, st.info and st.success as GitHub
markdown: `[text](url)` is a link, `![t](url)` an image the browser fetches, and a bare `http://...`,
`www....` or `name@host.tld` becomes a link too (GFM's autolink literals, found in the text *after* escapes
are resolved, so backslashes alone do not stop them). `md_escape` defeats all of these; tests/test_inputs.py
checks what a real page renders from it.
"""

from __future__ import annotations

import re
import string
import unicodedata

WORD_JOINER = "\u2060"  # invisible, not a space: splits a pattern without changing what the reader sees

_PUNCTUATION = frozenset(string.punctuation)  # CommonMark lets a backslash escape any ASCII punctuation
# Where GFM's autolink literals would match: after a scheme's ":", after an address's "@", between "www" and "."
_AUTOLINK = re.compile(r"(?<=\\[:@])|(?<=[wW]{3})(?=\\\.)")


def _visible(char: str) -> str:
    """A control or format character (newline, bidi override, zero-width space) as a visible escape."""
    if char in "\n\r":
        return " "
    if char == "\t" or unicodedata.category(char) not in ("Cc", "Cf"):
        return char
    return f"\\u{ord(char):04x}"


def md_escape(text: object) -> str:
    """`text` as markdown that shows exactly as typed: never a link, an image, HTML or formatting.

    Every ASCII punctuation character is backslash-escaped, line breaks become spaces (one paragraph),
    invisible control and format characters (bidi overrides, zero-width spaces) are shown as \\uXXXX, and a
    word joiner breaks what GFM would autolink (http://, www., user@host).
    """
    visible = "".join(_visible(c) for c in str(text))
    escaped = "".join("\\" + c if c in _PUNCTUATION else c for c in visible)
    return _AUTOLINK.sub(WORD_JOINER, escaped)
