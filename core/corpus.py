"""Corpora as (centre, context) skip-gram pairs: the built-in toy language, or the user's own text. Each toy sentence is
about one category (animals, colours, ...): Zipf-distributed words of it, mixed with a few function words, so
skip-gram training pulls each category together. `decode_text` reads an uploaded file's text (refusing binary files
and text that is mostly not words); `text_coverage` says how much of it V rows cover."""

from __future__ import annotations

import codecs
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.errors import ConfigError
from core.limits import MAX_PAIRS, MAX_VOCAB, toy_corpus_tokens

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "animals": ("cat", "dog", "horse", "cow", "sheep", "goat", "pig", "mouse", "lion", "tiger", "bear",
                "wolf", "fox", "rabbit", "deer", "duck"),
    "colours": ("red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink", "brown",
                "grey", "gold", "silver", "violet", "teal", "maroon"),
    "foods": ("bread", "rice", "apple", "cheese", "soup", "pasta", "salad", "cake", "egg", "butter",
              "honey", "potato", "banana", "noodle", "pie", "grape"),
    "numbers": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "twenty", "hundred", "thousand", "million"),
    "places": ("city", "river", "forest", "village", "school", "market", "beach", "mountain", "island",
               "garden", "harbour", "desert", "valley", "castle", "bridge", "station"),
    "verbs": ("run", "eat", "sing", "walk", "jump", "read", "write", "swim", "sleep", "cook", "build",
              "paint", "carry", "throw", "climb", "dance"),
}  # fmt: skip
FUNCTION_WORDS = ("the", "a", "and", "of", "with", "is")
PAD, UNK = "<pad>", "<unk>"

ZIPF_EXPONENT = 1.0
FUNCTION_WORD_SHARE = 0.25
SENTENCE_LENGTHS = (5, 10)  # content + function words per sentence, inclusive range
WORD_RE = re.compile(r"\w+(?:'\w+)*|[.!?\n]")  # words, and the marks that end a sentence


@dataclass(frozen=True)
class Corpus:
    """A vocabulary and the skip-gram pairs drawn from its text."""

    vocab: list[str]  # (V,)
    categories: np.ndarray  # (V,) int, -1 for tokens in no category
    category_names: list[str]
    token_freq: np.ndarray  # (V,) occurrences in the whole corpus
    centres: np.ndarray  # (P,) int64
    contexts: np.ndarray  # (P,) int64
    n_tokens: int
    tokens: np.ndarray  # (n_tokens,) int64: the text itself, in order (a GPT's windows are cut from it)

    def sample(self, rng: np.random.Generator, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch of (centre, context) pairs drawn uniformly from all pairs."""
        pick = rng.integers(0, len(self.centres), size=batch_size)
        return self.centres[pick], self.contexts[pick]

    def windows(self, rng: np.random.Generator, batch_size: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch of (B, T) windows of consecutive tokens, starts drawn uniformly, and their next tokens (B, T):
        position t predicts the token after it, as in next-token training. Windows run across sentence ends."""
        starts = rng.integers(0, len(self.tokens) - length, size=batch_size)
        at = starts[:, None] + np.arange(length + 1)  # (B, T + 1)
        window = self.tokens[at]
        return window[:, :-1], window[:, 1:]


def build_corpus(
    vocab_size: int, seed: int, window: int, padding_idx: int | None = None, text: str | None = None
) -> Corpus:
    if text is not None:
        return _text_corpus(text, vocab_size, window, padding_idx)
    return _toy_corpus(vocab_size, seed, window, padding_idx)


def _toy_vocab(vocab_size: int, padding_idx: int | None) -> tuple[list[str], np.ndarray, list[str]]:
    """Function words, then categories dealt round-robin: real words first, then generated names."""
    n_special = 1 if padding_idx is not None else 0
    n_words = vocab_size - n_special
    n_function = min(len(FUNCTION_WORDS), n_words // 10)
    names = list(CATEGORY_WORDS)[: min(len(CATEGORY_WORDS), n_words - n_function)]
    sizes = np.full(len(names), (n_words - n_function) // len(names))
    sizes[: (n_words - n_function) % len(names)] += 1
    vocab, categories = list(FUNCTION_WORDS[:n_function]), [-1] * n_function
    for c, (name, size) in enumerate(zip(names, sizes, strict=True)):
        real = CATEGORY_WORDS[name]
        vocab += [real[i] if i < len(real) else f"{name[:-1]}_{i + 1}" for i in range(size)]
        categories += [c] * int(size)
    if padding_idx is not None:
        vocab.insert(padding_idx, PAD)
        categories.insert(padding_idx, -1)
    return vocab, np.asarray(categories, dtype=np.int64), names


def _zipf_draw(rng: np.random.Generator, n_choices: int, size: int) -> np.ndarray:
    """`size` ranks in [0, n_choices), rank r drawn with probability proportional to 1 / (r + 1)^s."""
    cdf = np.cumsum(1.0 / np.arange(1, n_choices + 1) ** ZIPF_EXPONENT)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1]), n_choices - 1)


def _toy_corpus(vocab_size: int, seed: int, window: int, padding_idx: int | None) -> Corpus:
    vocab, categories, names = _toy_vocab(vocab_size, padding_idx)
    rng = np.random.default_rng([seed, 0xC0])  # its own stream: batches draw from another
    n_tokens = toy_corpus_tokens(vocab_size, window)
    lengths = rng.integers(SENTENCE_LENGTHS[0], SENTENCE_LENGTHS[1] + 1, size=n_tokens // 7 + 1)
    topics = rng.integers(0, len(names), size=len(lengths))
    token_topic = np.repeat(topics, lengths)  # (N,)
    tokens = np.empty(len(token_topic), dtype=np.int64)
    members = [np.flatnonzero(categories == c) for c in range(len(names))]
    for c, rows in enumerate(members):
        at = np.flatnonzero(token_topic == c)
        tokens[at] = rows[_zipf_draw(rng, len(rows), len(at))]
    function_rows = np.flatnonzero((categories == -1) & (np.asarray(vocab) != PAD))
    if len(function_rows):
        at = np.flatnonzero(rng.random(len(tokens)) < FUNCTION_WORD_SHARE)
        tokens[at] = function_rows[_zipf_draw(rng, len(function_rows), len(at))]
    sentence_ids = np.repeat(np.arange(len(lengths)), lengths)
    return _finish(vocab, categories, names, tokens, sentence_ids, window, padding_idx)


@lru_cache(maxsize=8)
def _tokenize(text: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Lower-cased words and, for each, the number of its sentence."""
    words, sentence_of, sentence = [], [], 0
    for match in WORD_RE.finditer(text.lower()):
        piece = match.group()
        if piece in ".!?\n":
            sentence += 1
        else:
            words.append(piece)
            sentence_of.append(sentence)
    return tuple(words), tuple(sentence_of)


def count_words(text: str) -> tuple[int, int]:
    """(number of words, number of different words) in a text."""
    words, _ = _tokenize(text)
    return len(words), len(set(words))


@dataclass(frozen=True)
class Coverage:
    """How much of a text a vocabulary of V rows covers (the rows `build_corpus` would give it)."""

    n_tokens: int  # words in the text
    n_distinct: int  # different words
    in_vocab_share: float  # share of the text's words that have their own row
    unk_share: float  # share that become <unk> (1 - in_vocab_share; 0 for an empty text)
    suggested_vocab_size: int  # a V that gives every word its own row (capped at the largest V allowed)
    n_special: int  # rows that are not words: <unk>, and <pad> with a padding_idx


def text_coverage(text: str, vocab_size: int, padding_idx: int | None = None) -> Coverage:
    """Coverage of `text` by a V-row vocabulary: the V - n_special most frequent words get rows, the rest <unk>."""
    words, _ = _tokenize(text)
    counts = sorted(Counter(words).values(), reverse=True)  # frequent first, as _text_corpus ranks them
    n_special = 2 if padding_idx is not None else 1
    n_tokens = len(words)
    kept = sum(counts[: max(vocab_size - n_special, 0)])
    share = kept / n_tokens if n_tokens else 0.0
    return Coverage(
        n_tokens=n_tokens,
        n_distinct=len(counts),
        in_vocab_share=share,
        unk_share=1.0 - share if n_tokens else 0.0,
        suggested_vocab_size=min(max(len(counts) + n_special, 3), MAX_VOCAB),
        n_special=n_special,
    )


def _text_corpus(text: str, vocab_size: int, window: int, padding_idx: int | None) -> Corpus:
    words, sentence_of = _tokenize(text)
    n_special = 2 if padding_idx is not None else 1
    ranked = sorted(Counter(words).items(), key=lambda kv: (-kv[1], kv[0]))  # frequent first, ties a-z
    vocab = [w for w, _ in ranked[: vocab_size - n_special]] + [UNK]
    if padding_idx is not None:
        vocab.insert(padding_idx, PAD)
    vocab += [f"<unused_{i}>" for i in range(vocab_size - len(vocab))]  # text with fewer words than V
    return text_in_vocab(text, vocab, window, padding_idx)


def text_in_vocab(text: str, vocab: list[str], window: int, padding_idx: int | None = None) -> Corpus:
    """`text` as a corpus in a vocabulary given (its own, or another text's: held-out data): each word its row
    there, else <unk>'s; pairs cut as any corpus's. A text of fewer than 2 words has no pairs."""
    words, sentence_of = _tokenize(text)
    index = {w: i for i, w in enumerate(vocab)}
    unk = index[UNK]
    tokens = np.fromiter((index.get(w, unk) for w in words), dtype=np.int64, count=len(words))
    categories = np.full(len(vocab), -1, dtype=np.int64)
    if len(tokens) < 2:
        empty = np.empty(0, dtype=np.int64)
        return Corpus(
            vocab, categories, [], np.bincount(tokens, minlength=len(vocab)), empty, empty, len(tokens), tokens
        )
    return _finish(vocab, categories, [], tokens, np.asarray(sentence_of, dtype=np.int64), window, padding_idx)


_BOMS = (  # longest first: UTF-32-LE's BOM starts with UTF-16-LE's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
MIN_WORD_SHARE = 0.5  # below this share of its visible characters in words, a text is "mostly not words"
MAX_CONTROL_SHARE = 0.01  # control characters (not tab or line breaks) above this share: a binary file
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's control characters (category Cc)
BINARY_MESSAGE = (
    "This file is not text (it holds NUL bytes or control characters: an executable, an image or a document "
    "format?). Upload a plain-text .txt file: UTF-8, or UTF-16/UTF-32 with a byte-order mark."
)


def _guess_utf16(data: bytes) -> str | None:
    """UTF-16 without a byte-order mark: ASCII-range text has a NUL in every other byte."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2].count(0) / (len(data) // 2), data[1::2].count(0) / (len(data) // 2)
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def decode_text(data: bytes) -> str:
    """A file's text by its byte-order mark, else UTF-8, Windows-1252, Latin-1; ConfigError for binary or non-words."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                raise ConfigError(
                    "corpus_text",
                    f"This file starts with a {encoding.upper()} byte-order mark but is not valid {encoding.upper()} "
                    f"(at byte {error.start + len(bom):,}). Save it again as UTF-8 text.",
                ) from None
            break
    else:
        encoding = _guess_utf16(data) if b"\x00" in data else None
        candidates = (encoding,) if encoding else ("utf-8", "cp1252", "latin-1")
        for candidate in candidates:
            try:
                text = data.decode(candidate)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ConfigError("corpus_text", BINARY_MESSAGE)
    problem = text_problem(text)
    if problem is not None:
        raise ConfigError("corpus_text", problem)
    return text


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a training corpus (binary, or mostly not words), or None when it can."""
    if "\x00" in text:
        return BINARY_MESSAGE
    visible = _SPACE.sub("", text)  # tab and line breaks are white space: gone here
    if not visible:
        return None  # empty: the config's own check asks for a text
    if len(_CONTROL.findall(visible)) > MAX_CONTROL_SHARE * len(visible):
        return BINARY_MESSAGE
    words, _ = _tokenize(text)
    in_words = sum(len(w) for w in words)  # (str.isspace() characters are never part of a word)
    share = in_words / len(visible)
    if share < MIN_WORD_SHARE:
        return (
            f"Only {share:.0%} of this text's characters are in words (the rest is symbols, punctuation or markup); "
            "skip-gram training needs mostly words. Use prose: a story, an article, lyrics."
        )
    return None


def _finish(
    vocab: list[str],
    categories: np.ndarray,
    names: list[str],
    tokens: np.ndarray,
    sentence_ids: np.ndarray,
    window: int,
    padding_idx: int | None,
) -> Corpus:
    """Pairs within `window` in a sentence, both ways; padding (looked up, never a target) makes sentences 4k long."""
    if padding_idx is not None and len(tokens):
        ends = np.flatnonzero(np.diff(sentence_ids, append=sentence_ids[-1] + 1)) + 1  # one past each sentence
        n_pad = -np.diff(ends, prepend=0) % 4
        insert_at = np.repeat(ends, n_pad)
        tokens = np.insert(tokens, insert_at, padding_idx)
        sentence_ids = np.insert(sentence_ids, insert_at, np.repeat(sentence_ids[ends - 1], n_pad))
    centres, contexts = [], []
    for offset in range(1, window + 1):
        same = sentence_ids[offset:] == sentence_ids[:-offset]
        left, right = tokens[:-offset][same], tokens[offset:][same]
        centres += [left, right]
        contexts += [right, left]
    centres, contexts = np.concatenate(centres), np.concatenate(contexts)
    if padding_idx is not None:
        keep = contexts != padding_idx
        centres, contexts = centres[keep], contexts[keep]
    if len(centres) > MAX_PAIRS:  # long user text: keep an evenly spread subset
        keep = np.linspace(0, len(centres) - 1, MAX_PAIRS).astype(np.int64)
        centres, contexts = centres[keep], contexts[keep]
    if len(centres) == 0:  # every sentence is one word long: fall back to neighbours across sentences
        centres, contexts = tokens[:-1], tokens[1:]
    freq = np.bincount(tokens, minlength=len(vocab))
    tokens.flags.writeable = False  # shared by a run's clones
    return Corpus(vocab, categories, names, freq, centres, contexts, len(tokens), tokens)
