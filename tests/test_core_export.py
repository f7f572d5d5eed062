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
        ("x.npy", npy_bytes(np.array([[1.0, np.nan], [0, 1]])), "NaN"),
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
