"""Export and import: every format round-trips the matrix and labels exactly, the history .npz holds every kept
record's arrays, and files that do not parse (or try to smuggle a pickle) get a clear ImportFileError."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from core import TrainConfig, Trainer
from core.export import (
    ImportFileError,
    history_npz,
    import_table,
    load_metadata,
    load_npy,
    load_text_vectors,
    projector_metadata,
    projector_vectors,
    table_csv,
    table_npy,
    word2vec_text,
)


@pytest.fixture(scope="module")
def run() -> Trainer:
    trainer = Trainer(TrainConfig(vocab_size=40, dim=6, optimizer="adam", lr=0.05, seed=1))
    trainer.run(4)
    return trainer


def test_npy_round_trip_is_exact(run):
    weight = run.weight
    data = table_npy(weight)
    assert np.array_equal(np.load(io.BytesIO(data), allow_pickle=False), weight)  # numpy itself reads it
    got = import_table("table.npy", data)
    assert got.weight.dtype == np.float32 and np.array_equal(got.weight, weight)
    assert got.labels == [str(i) for i in range(40)]


def test_csv_and_word2vec_round_trips_keep_matrix_and_labels(run):
    weight, vocab = run.weight, run.vocab
    got = import_table("t.csv", table_csv(weight, vocab).encode())
    assert np.array_equal(got.weight, weight) and got.labels == vocab
    got = import_table("t.txt", word2vec_text(weight, vocab).encode())
    assert np.array_equal(got.weight, weight) and got.labels == vocab


def test_projector_pair_round_trips_with_words_and_categories(run):
    weight, vocab = run.weight, run.vocab
    vectors, metadata = projector_vectors(weight), projector_metadata(vocab, run.categories, run.category_names)
    assert metadata.splitlines()[0] == "word\tcategory"  # two columns: the Projector wants a header line
    assert len(vectors.splitlines()) == 40 and "\t" in vectors.splitlines()[0]
    got = import_table("vectors.tsv", vectors.encode(), metadata.encode())
    assert np.array_equal(got.weight, weight) and got.labels == vocab
    names = [got.category_names[c] if c >= 0 else None for c in got.categories]
    expected = [run.category_names[c] if c >= 0 else None for c in run.categories]
    assert names == expected


def test_history_npz_holds_every_kept_record(run):
    data = history_npz(list(run.history))
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert npz["step"].tolist() == [1, 2, 3, 4]
        assert np.allclose(npz["loss"], [r.loss for r in run.history])
        for i, record in enumerate(run.history):
            assert np.array_equal(npz["grad_mask"][i], record.grad_mask)
            assert np.array_equal(npz["update_norm"][i], record.update_norm)
            assert np.array_equal(npz["input_ids"][i], record.input_ids)
            assert np.array_equal(npz["output_grad"][i], record.output_grad)


def test_glove_without_header_and_one_column_metadata():
    text = "cat 0.5 1 -2\ndog 1e-3 0 3.25\n"
    weight, words = load_text_vectors(text.encode())
    assert words == ["cat", "dog"]
    assert np.array_equal(weight, np.array([[0.5, 1, -2], [1e-3, 0, 3.25]], dtype=np.float32))
    labels, categories, names = load_metadata(b"kitten\npuppy\n", 2)
    assert labels == ["kitten", "puppy"] and categories.tolist() == [-1, -1] and names == []


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("x.npy", pickle.dumps(np.zeros((3, 2))), "not a .npy"),
        ("x.npy", npy_bytes(np.array([{"a": 1}, None], dtype=object)), "object"),
        ("x.npy", npy_bytes(np.zeros(5)), "1-D"),
        ("x.npy", npy_bytes(np.zeros((4, 3), dtype=np.int64)), "int64"),
        ("x.npy", npy_bytes(np.array([[1.0, np.nan], [0, 1]])), "has 1 row with NaN"),
        ("x.npy", npy_bytes(np.array([[1.0, np.nan], [np.inf, 1]])), "has 2 rows with NaN"),
        ("x.npy", npy_bytes(np.zeros((4, 3)))[:-5], "damaged"),
        ("x.npy", npy_bytes(np.zeros((1, 3))), "at least 2 rows"),
        ("x.txt", b"2 3\ncat 1 2 3\n", "header says 2"),
        ("x.txt", b"cat 1 2 3\ndog 1 2\n", "line 2"),
        ("x.txt", b"cat 1 2 x3\ndog 1 2 3\n", "'x3' is not a number"),
        ("x.txt", b"\xff\xfe\x00c\x00a", "binary"),
        ("x.txt", b"caf\xe9 1 2\n", "not UTF-8"),
        ("x.tsv", b"1\t2\n3\n", "line 2"),
        ("x.pkl", b"whatever", "import a .npy"),
        ("x.pt", b"whatever", "import a .npy"),
    ],
)
def test_files_that_do_not_parse_get_a_clear_message(name, data, says):
    with pytest.raises(ImportFileError) as error:
        import_table(name, data)
    assert says in str(error.value)


def test_npy_never_unpickles(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle.loads was called")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    with pytest.raises(ImportFileError):
        load_npy(npy_bytes(np.array([object()], dtype=object)))


def test_a_zip_or_npz_is_not_a_matrix():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("arr_0.npy", npy_bytes(np.zeros((3, 2))))
    with pytest.raises(ImportFileError):
        load_npy(buffer.getvalue())


def test_size_is_capped_from_the_header_before_reading(monkeypatch):
    import core.export as export

    monkeypatch.setattr(export, "MAX_IMPORT_BYTES", 1000)
    with pytest.raises(ImportFileError, match="too large"):
        load_npy(npy_bytes(np.zeros((20, 20), dtype=np.float32))[:200])  # header claims 1,600 bytes


def test_metadata_must_have_a_label_per_row():
    with pytest.raises(ImportFileError, match="3 rows"):
        load_metadata(b"word\tcategory\na\tx\nb\ty\n", 3)


# ---------------------------------------------------------------- files as word2vec, GloVe and gensim write them
# Written here by hand from each tool's documented output: word2vec.c writes a "V D" line, then per word
# fprintf("%s ", word) and fprintf("%lf ", value) for each value (a trailing space), then "\n"; glove.c writes
# fprintf("%s", word) and fprintf(" %lf", value) per value, no header. Readers (gensim's _word2vec_line_to_vector)
# take line.rstrip().split(" "): a word is everything before the first space, whatever else it holds.

ODD_WORDS = [
    "</s>",  # word2vec's own first word
    "New\u00a0York",  # a non-breaking space (GloVe's 840B vocabulary has such words)
    "\u00a0",  # a word that is only a non-breaking space
    "a\u2009thin",  # thin space
    "東京\u3000駅",  # ideographic space
    "em\u2003space",
    "tab\tinside",
    "line\u2028sep",  # str.splitlines() would split here
    "next\x85line",
    "file\x1csep",
    "cr\rinside",
    "form\x0cfeed",
    "naïve",
]


def _lf(v: float) -> str:
    return "%lf" % v  # noqa: UP031 (the C format the tools use)


def _expected(rows: list[list[str]]) -> np.ndarray:
    """The float32 values of the written numbers, parsed one by one by numpy (as gensim's np.float32(text))."""
    return np.array([[np.float32(t) for t in row] for row in rows], dtype=np.float32)


@pytest.fixture
def written():
    rng = np.random.default_rng(3)
    numbers = [[_lf(v) for v in rng.normal(scale=2, size=5)] for _ in ODD_WORDS]
    return numbers, _expected(numbers)


def test_a_word2vec_tool_text_file_imports_exactly(written):
    numbers, expected = written
    text = f"{len(ODD_WORDS)} 5\n" + "".join(
        f"{w} " + "".join(f"{t} " for t in row) + "\n" for w, row in zip(ODD_WORDS, numbers, strict=True)
    )
    got = import_table("vectors.txt", text.encode())
    assert got.labels == ODD_WORDS
    assert got.weight.dtype == np.float32 and np.array_equal(got.weight, expected)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_glove_file_imports_exactly(written, newline):
    numbers, expected = written
    text = "".join(f"{w}" + "".join(f" {t}" for t in row) + newline for w, row in zip(ODD_WORDS, numbers, strict=True))
    got = import_table("glove.6B.5d.txt", text.encode())
    assert got.labels == ODD_WORDS and np.array_equal(got.weight, expected)
    got = import_table("vectors.vec", text.encode())  # fastText's .vec is the same format
    assert got.labels == ODD_WORDS


def test_our_csv_and_metadata_keep_unicode_spaces_in_labels():
    words = ["New\u00a0York", "line\u2028sep", "a\u2009b", "x,y"]
    weight = np.arange(8, dtype=np.float32).reshape(4, 2)
    text = "token,d0,d1\n" + "".join(f'"{w}",{a},{b}\n' for w, (a, b) in zip(words, weight.tolist(), strict=True))
    got = import_table("t.csv", text.encode())
    assert got.labels == words and np.array_equal(got.weight, weight)
    metadata = "word\tcategory\n" + "".join(f"{w}\tc{i % 2}\n" for i, w in enumerate(words))
    got = import_table("vectors.tsv", projector_vectors(weight).encode(), metadata.encode())
    assert got.labels == words and got.category_names == ["c0", "c1"] and got.categories.tolist() == [0, 1, 0, 1]


# ---------------------------------------------------------------- whatever is wrong, the import's own error

NOT_FILES = [
    ("x.txt", "² 3\ncat 1 2 3\n".encode(), "line 2"),  # "²".isdigit() is True, int("²") raises: a GloVe row
    ("x.txt", b"3 0\na\nb\nc\n", "at least 1 number"),
    ("x.txt", b"cat\ndog 1\n", "without numbers"),
    ("x.txt", b"cat 1 2\ndog 1 nan\n", "NaN"),
    ("x.txt", b"cat 1 2\ndog 1 1e39\n", "beyond float32"),
    ("x.csv", b"token,d0\n" + b"a,1\n" * 2000 + b"b\x00,1\n", "binary"),  # a NUL past the first 4 KB
    ("x.csv", b'token,d0\n"' + b"a" * 200_000 + b'",1\n', "line 2"),  # a field past csv's limit
    ("x.csv", b"token,d0\na,1e999\nb,2\n", "beyond float32"),
    ("x.csv", b"token,d0\na,\nb,2\n", "'' is not a number"),
    ("x.csv", b"token\na\nb\n", "header"),
    ("x.tsv", b"1\t2\nx\t3\n", "'x' is not a number"),
    ("x.tsv", "1\t2\n3\u00a0\t4\n".encode(), "is not a number"),
    ("m.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 5}    \n", "header"),
    ("m.npy", b"\x93NUMPY\x01\x00\x30\x00{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3)}\n", "header"),
    ("m.npy", b"\x93NUMPY\x09\x00", "header"),
]


@pytest.mark.parametrize(("name", "data", "says"), NOT_FILES)
def test_unreadable_files_get_the_imports_own_error(name, data, says):
    with pytest.raises(ImportFileError) as error:
        import_table(name, data)
    assert says in str(error.value)


def _mutations(data: bytes, rng: np.random.Generator, n: int):
    """`n` damaged copies of `data`: bytes of its first 160 replaced, inserted or deleted, or the file cut."""
    palette = [b"\x00", b"\n", b"\r", b" ", b"\t", b",", b'"', b"-", b"e", b"9", "²".encode(), b"\xff", b"'", b"(",
               b"nan", "\u00a0".encode(), b"{", b"}", b":", b"1" * 30]  # fmt: skip
    for _ in range(n):
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            at, piece = int(rng.integers(0, min(len(out), 160))), palette[int(rng.integers(len(palette)))]
            kind = rng.integers(4)
            if kind == 0:
                out[at : at + len(piece)] = piece
            elif kind == 1:
                out[at:at] = piece
            elif kind == 2:
                del out[at : at + int(rng.integers(1, 6))]
            else:
                del out[int(rng.integers(at, len(out) + 1)) :]
        yield bytes(out)


@pytest.mark.parametrize("name", ["t.npy", "t.csv", "t.txt", "t.vec", "t.tsv"])
def test_damaged_files_get_a_clear_error_and_never_another_exception(run, name):
    weight, vocab = run.weight[:6], run.vocab[:6]
    data = {
        "t.npy": table_npy(weight),
        "t.csv": table_csv(weight, vocab).encode(),
        "t.txt": word2vec_text(weight, vocab).encode(),
        "t.vec": word2vec_text(weight, vocab).encode().split(b"\n", 1)[1],  # GloVe: no header
        "t.tsv": projector_vectors(weight).encode(),
    }[name]
    rng = np.random.default_rng(sum(name.encode()))
    for damaged in _mutations(data, rng, 400):
        try:
            got = import_table(name, damaged)
        except ImportFileError as error:
            assert str(error) and "Traceback" not in str(error)
        else:
            assert got.weight.dtype == np.float32 and np.isfinite(got.weight).all()
            assert len(got.labels) == len(got.weight) >= 2


def test_a_file_just_over_the_limit_says_both_sizes_apart():
    from core.limits import MAX_IMPORT_BYTES

    with pytest.raises(ImportFileError) as error:
        import_table("big.txt", b"a" * (MAX_IMPORT_BYTES + 1))
    message = str(error.value)
    assert f"{MAX_IMPORT_BYTES + 1:,} bytes" in message and f"the limit is {MAX_IMPORT_BYTES:,} bytes" in message


# ---------------------------------------------------------------- bounded memory, charged before it is taken


def _traced_peak(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("header", ["", "1 300000\n"])
def test_a_one_line_file_of_millions_of_numbers_is_refused_before_it_is_split(header):
    data = (header + "word " + " ".join(["0.25"] * 300_000) + "\n").encode()  # 1.5 MB, one row
    charged = []

    def parse():
        with pytest.raises(ImportFileError, match="300,000"):
            import_table("v.txt", data, charge=charged.append)

    assert _traced_peak(parse) < 64 * 1024  # nothing of the line's size: not even a copy of it
    assert charged == []  # refused on its shape: nothing was charged or allocated


@pytest.mark.parametrize("name", ["v.txt", "v.vec", "v.csv", "v.tsv", "v.npy"])
def test_a_parse_is_charged_before_it_allocates_and_takes_no_more_than_charged(name):
    rng = np.random.default_rng(0)
    weight, words = rng.normal(size=(3000, 40)).astype(np.float32), [f"word{i}" for i in range(3000)]
    data = {
        "v.txt": word2vec_text(weight, words).encode(),
        "v.vec": word2vec_text(weight, words).encode().split(b"\n", 1)[1],
        "v.csv": table_csv(weight, words).encode(),
        "v.tsv": projector_vectors(weight).encode(),
        "v.npy": table_npy(weight.astype(np.float64)),
    }[name]
    charged = []
    peak = _traced_peak(lambda: charged.append(import_table(name, data, charge=charged.append)))
    *asked, got = charged
    assert np.array_equal(got.weight, weight)
    assert len(asked) == 1 and asked[0] >= weight.nbytes  # once, before the table: at least the table
    assert peak <= asked[0]  # what the parse really took (beyond the file) stays within what it asked for
    assert peak < 4 * weight.nbytes  # a bounded parse: not tens of times the file's size


def test_a_refused_charge_stops_the_parse():
    class Busy(Exception):
        pass

    def refuse(nbytes):
        raise Busy(nbytes)

    with pytest.raises(Busy):
        import_table("v.txt", b"2 3\na 1 2 3\nb 4 5 6\n", charge=refuse)
