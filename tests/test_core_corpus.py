"""The toy language, the user's-text corpus, an upload's bytes decoded, and a text's coverage by V rows."""

import codecs
import re
from collections import Counter

import numpy as np
import pytest

from core import ConfigError
from core.corpus import (
    CATEGORY_WORDS,
    FUNCTION_WORDS,
    PAD,
    UNK,
    build_corpus,
    decode_text,
    text_coverage,
    text_problem,
)
from core.limits import MAX_VOCAB


def test_toy_language_has_named_categories_with_real_words_then_generated_names():
    small = build_corpus(60, seed=0, window=2)
    assert len(small.vocab) == 60 == len(small.categories) == len(set(small.vocab))
    assert small.category_names == list(CATEGORY_WORDS)
    for row, word in enumerate(small.vocab):
        cat = small.categories[row]
        if cat == -1:
            assert word in FUNCTION_WORDS
        else:
            assert word in CATEGORY_WORDS[small.category_names[cat]]
    big = build_corpus(5_000, seed=0, window=2)
    assert "animal_17" in big.vocab
    assert big.categories[big.vocab.index("animal_17")] == big.category_names.index("animals")


def test_toy_language_is_deterministic_by_seed():
    a, b, c = (build_corpus(100, seed=s, window=2) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.centres, b.centres)
    assert not np.array_equal(a.centres, c.centres)


def test_pairs_stay_within_the_window_and_mostly_within_a_category():
    corpus = build_corpus(60, seed=0, window=2)
    cats = corpus.categories
    both = (cats[corpus.centres] >= 0) & (cats[corpus.contexts] >= 0)
    same = (cats[corpus.centres] == cats[corpus.contexts])[both].mean()
    assert same > 0.95  # sentences are about one topic


def test_frequencies_are_zipf_like_so_rare_tokens_stay_rare():
    corpus = build_corpus(6_000, seed=0, window=2)
    animals = np.flatnonzero(corpus.categories == 0)
    freq = corpus.token_freq[animals]
    assert freq[0] > 50 * max(freq[-100:].mean(), 1)  # rank 1 against the tail
    ranks = np.arange(1, 51)
    slope = np.polyfit(np.log(ranks), np.log(freq[:50] + 1), 1)[0]
    assert -1.3 < slope < -0.7  # exponent 1


def test_gpt2_sized_vocabulary_builds():
    corpus = build_corpus(50_257, seed=0, window=2)
    assert len(corpus.vocab) == 50_257 and corpus.centres.max() < 50_257


def test_text_corpus_keeps_the_most_frequent_words_plus_unk():
    text = "the cat sat on the mat. the dog sat too! a cat, a dog and the bird."
    corpus = build_corpus(5, seed=0, window=1, text=text)
    assert corpus.vocab == ["the", "a", "cat", "dog", UNK]  # by frequency, ties alphabetical
    assert (corpus.categories == -1).all()
    unk = corpus.vocab.index(UNK)
    assert corpus.token_freq[unk] == 7  # sat x2 (loses the a-z tie), on, mat, too, and, bird
    assert corpus.token_freq.sum() == corpus.n_tokens == 17
    assert len(corpus.centres) == 2 * (5 + 3 + 6)  # sentences of 6, 4 and 7 words: no pair crosses an end


def test_text_corpus_with_padding_puts_pad_at_padding_idx_and_never_as_a_target():
    corpus = build_corpus(6, seed=0, window=2, padding_idx=2, text="one two three. four five six seven! eight")
    assert corpus.vocab[2] == PAD
    assert (corpus.centres == 2).any() and not (corpus.contexts == 2).any()


@pytest.mark.parametrize(
    "text",
    [
        "naïve café — 東京 and Zürich. ÆØÅ ŒUVRE!",
        "tab\tsep\x00null\x1bescape\r\nline \u200b zero-width",
        "🙂 emoji 🙂 words",
    ],
)
def test_any_unicode_is_tokenised_without_a_crash(text):
    corpus = build_corpus(8, seed=0, window=1, text=text * 3)
    assert len(corpus.vocab) == 8 and len(corpus.centres) > 0


# ---------------------------------------------------------------- uploads: bytes -> text


STORY = "The keeper climbed the stairs. He lit the lamp and watched the ships! Fog rolled in from the sea.\n" * 5


@pytest.mark.parametrize(
    "data",
    [
        STORY.encode("utf-8"),
        codecs.BOM_UTF8 + STORY.encode("utf-8"),
        STORY.encode("utf-16"),  # with its BOM, little- or big-endian as the platform writes it
        codecs.BOM_UTF16_BE + STORY.encode("utf-16-be"),
        STORY.encode("utf-32"),
        codecs.BOM_UTF32_BE + STORY.encode("utf-32-be"),
        STORY.encode("utf-16-le"),  # no BOM: the NUL in every other byte gives it away
    ],
    ids=["utf8", "utf8-bom", "utf16", "utf16-be", "utf32", "utf32-be", "utf16-no-bom"],
)
def test_decode_text_reads_every_unicode_encoding_by_its_bom(data):
    text = decode_text(data)
    assert text == STORY
    corpus = build_corpus(20, seed=0, window=2, text=text)
    assert {"the", "keeper", "lamp"} <= set(corpus.vocab)  # words, not single letters


def test_decode_text_falls_back_to_windows_1252():
    text = "Café crème brûlée, naïve façade. " * 3
    assert decode_text(text.encode("cp1252")) == text


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 20,  # an executable's header and bytes
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"This program cannot be run in DOS mode." * 3,
        b"text with a NUL\x00 inside " * 20,
        codecs.BOM_UTF16_LE + b"\x00\xd8",  # a lone surrogate: not UTF-16
    ],
    ids=["elf", "noise", "exe", "nul", "bad-utf16"],
)
def test_decode_text_refuses_binary(data):
    with pytest.raises(ConfigError) as refused:
        decode_text(data)
    assert refused.value.field == "corpus_text"


def test_decode_text_refuses_text_that_is_mostly_not_words():
    symbols = "{}[]<>=+-*/|;:,.~^%$#!?" * 50 + " and some words"
    with pytest.raises(ConfigError, match="in words"):
        decode_text(symbols.encode())
    assert text_problem(symbols) is not None and text_problem(STORY) is None
    assert text_problem("") is None  # empty is the config's business ("paste a longer text")


# ---------------------------------------------------------------- coverage of a text by V rows


def coverage_by_hand(text: str, vocab_size: int, n_special: int) -> tuple[int, int, float]:
    words = re.findall(r"\w+(?:'\w+)*", text.lower())
    counts = sorted(Counter(words).values(), reverse=True)
    return len(words), len(counts), sum(counts[: vocab_size - n_special]) / len(words)


@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("vocab_size", [3, 10, 60, 500])
def test_text_coverage_matches_the_corpus_and_a_count_by_hand(vocab_size, padding_idx):
    rng = np.random.default_rng(vocab_size)
    text = " ".join(f"w{k}" for k in rng.zipf(1.5, 800) % 300) + ". the end"
    cov = text_coverage(text, vocab_size, padding_idx)
    n_special = 1 if padding_idx is None else 2
    n_words, n_distinct, share = coverage_by_hand(text, vocab_size, n_special)
    assert (cov.n_tokens, cov.n_distinct, cov.n_special) == (n_words, n_distinct, n_special)
    assert cov.in_vocab_share == pytest.approx(share) and cov.unk_share == pytest.approx(1 - share)
    corpus = build_corpus(vocab_size, seed=0, window=2, padding_idx=padding_idx, text=text)
    unk = corpus.vocab.index(UNK)
    assert corpus.token_freq[unk] == pytest.approx(cov.unk_share * n_words)  # the corpus agrees
    assert cov.suggested_vocab_size == n_distinct + n_special
    covered = build_corpus(cov.suggested_vocab_size, seed=0, window=2, padding_idx=padding_idx, text=text)
    assert covered.token_freq[covered.vocab.index(UNK)] == 0


def test_text_coverage_caps_its_suggestion_at_the_largest_vocabulary():
    text = " ".join(f"w{i}" for i in range(MAX_VOCAB + 10))
    assert text_coverage(text, 60).suggested_vocab_size == MAX_VOCAB
    assert text_coverage("", 60).n_tokens == 0 and text_coverage("", 60).unk_share == 0
