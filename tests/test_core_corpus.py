"""The toy language and the user's-text corpus."""

import numpy as np
import pytest

from core.corpus import CATEGORY_WORDS, FUNCTION_WORDS, PAD, UNK, build_corpus


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
