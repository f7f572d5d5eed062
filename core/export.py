"""Export a run (its table at a kept step, its history) and import someone else's embedding matrix to explore.

Export: .npy, .csv, the TensorFlow Embedding Projector's vectors.tsv and metadata.tsv, word2vec text, and the
history as .npz. Import: .npy, word2vec/GloVe text, the Projector's vectors.tsv, our .csv, and an optional metadata
.tsv. Nothing is ever unpickled and nothing goes through torch.load; a file that does not parse raises
ImportFileError saying what is wrong and where. An imported table is explored by its nearest neighbours
(core.rows.neighbour_table) and a 2-D layout of a sample of its rows (`layout`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from core.layouts import project
from core.limits import MAX_DIM, MAX_IMPORT_BYTES, MAX_VOCAB
from core.records import StepRecord
from core.rows import sample_rows

NPY_MAGIC = b"\x93NUMPY"
FLOAT_FORMAT = "%.9g"  # 9 significant digits: every float32 survives the trip through text exactly


class ImportFileError(ValueError):
    """A file that cannot be imported as an embedding matrix or its metadata; the message says why."""


@dataclass(frozen=True)
class Imported:
    """An imported table: (V, D) float32 weights, a label per row, and optional categories (-1 = none)."""

    weight: np.ndarray
    labels: list[str]
    categories: np.ndarray  # (V,) int
    category_names: list[str]


def table_npy(weight: np.ndarray) -> bytes:
    """The (V, D) table as a .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(weight), allow_pickle=False)
    return buffer.getvalue()


def _clean(label: str) -> str:
    """A label on one line without tabs (the TSV formats' separators)."""
    return " ".join(str(label).split()) or "_"


def table_csv(weight: np.ndarray, labels: Sequence[str]) -> str:
    """A `token,d0,...` header, then one row per token."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["token", *(f"d{j}" for j in range(weight.shape[1]))])
    for label, row in zip(labels, weight, strict=True):
        writer.writerow([_clean(label), *(FLOAT_FORMAT % v for v in row)])
    return out.getvalue()


def projector_vectors(weight: np.ndarray) -> str:
    """The Projector's vectors.tsv: one tab-separated row per token, no header."""
    return "".join("\t".join(FLOAT_FORMAT % v for v in row) + "\n" for row in weight)


def projector_metadata(labels: Sequence[str], categories: np.ndarray, category_names: Sequence[str]) -> str:
    """The Projector's metadata.tsv: a `word<TAB>category` header (two columns need one), then a line per token."""
    names = ["none" if c < 0 else _clean(category_names[c]) for c in np.asarray(categories)]
    return "word\tcategory\n" + "".join(f"{_clean(w)}\t{c}\n" for w, c in zip(labels, names, strict=True))


def word2vec_text(weight: np.ndarray, labels: Sequence[str]) -> str:
    """word2vec's text format: a "V D" line, then `word v1 ... vD` per row."""
    lines = [f"{weight.shape[0]} {weight.shape[1]}"]
    lines += [
        _clean(w).replace(" ", "_") + " " + " ".join(FLOAT_FORMAT % v for v in row)
        for w, row in zip(labels, weight, strict=True)
    ]
    return "\n".join(lines) + "\n"


def history_npz(records: Sequence[StepRecord]) -> bytes:
    """Every kept StepRecord's arrays, stacked by step: `step` (S,), `loss` (S,), `grad_mask` (S, V), ..."""
    if not records:
        raise ValueError("no step is kept yet")
    arrays = {"step": np.array([r.step for r in records]), "loss": np.array([r.loss for r in records])}
    for f in fields(StepRecord):
        values = [getattr(r, f.name) for r in records]
        if f.name not in arrays and all(isinstance(v, np.ndarray) for v in values):
            arrays[f.name] = np.stack(values)  # (S, ...)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _check_matrix(weight: np.ndarray, what: str) -> np.ndarray:
    """2-D, at least 2 rows, within the app's limits, finite; returned as float32."""
    if weight.ndim != 2:
        raise ImportFileError(f"{what} holds a {weight.ndim}-D array; an embedding matrix is 2-D (rows x dims).")
    rows, dim = weight.shape
    if rows < 2 or dim < 1:
        raise ImportFileError(f"{what} is {rows} x {dim}; a table needs at least 2 rows and 1 dimension.")
    if rows > MAX_VOCAB or dim > MAX_DIM or rows * dim * 4 > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"{what} is {rows:,} x {dim:,}; the limit is {MAX_VOCAB:,} rows, {MAX_DIM:,} dimensions and "
            f"{MAX_IMPORT_BYTES // 1024**2} MB of float32."
        )
    weight = weight.astype(np.float32)
    if not np.isfinite(weight).all():
        bad = int((~np.isfinite(weight)).any(axis=1).sum())
        raise ImportFileError(f"{what} has {bad:,} rows with NaN or infinite values (or values beyond float32).")
    return weight


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{what} is {len(data) / 1024**2:.0f} MB; the limit is {MAX_IMPORT_BYTES // 1024**2} MB.")


def load_npy(data: bytes) -> np.ndarray:
    """A (V, D) float matrix from .npy bytes; never unpickles (object arrays are refused)."""
    _check_size(data, "The .npy file")
    if not data.startswith(NPY_MAGIC):
        raise ImportFileError("This is not a .npy file (it does not start with NumPy's header).")
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            raise ValueError(f"version {version} is not supported; save with numpy.save")
        shape, _, dtype = read_header[version](buffer)  # the header only: no data is read yet
    except (ValueError, SyntaxError, EOFError) as error:
        raise ImportFileError(f"The .npy header cannot be read: {error}") from None
    if dtype.kind != "f" or dtype.hasobject:
        raise ImportFileError(f"The .npy file holds {dtype} values; import a float matrix (float16/32/64).")
    if len(shape) != 2:
        raise ImportFileError(f"The .npy file holds a {len(shape)}-D array of shape {shape}; it must be 2-D.")
    if math.prod(shape) * 4 > MAX_IMPORT_BYTES:
        raise ImportFileError(f"The .npy matrix is {shape[0]:,} x {shape[1]:,}: too large to import.")
    try:
        weight = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ImportFileError(f"The .npy file is damaged or cut short: {error}") from None
    return _check_matrix(weight, "The .npy file")


def _decode(data: bytes, what: str) -> str:
    _check_size(data, what)
    if data.startswith(NPY_MAGIC) or b"\x00" in data[:4096]:
        raise ImportFileError(f"{what} is binary; a text file (UTF-8) is expected here.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"{what} is not UTF-8 text (byte {error.start} cannot be decoded).") from None


def _floats(fields_: Sequence[str], line_no: int, what: str) -> list[float]:
    try:
        return [float(x) for x in fields_]
    except ValueError:
        for x in fields_:  # find the first field that is not a number, to name it
            try:
                float(x)
            except ValueError:
                raise ImportFileError(f"{what}, line {line_no}: {x[:30]!r} is not a number.") from None
        raise


def load_text_vectors(data: bytes) -> tuple[np.ndarray, list[str]]:
    """word2vec/GloVe text: `word v1 ... vD` per line, with an optional "V D" first line."""
    what = "The vectors file"
    lines = [(i, line) for i, line in enumerate(_decode(data, what).splitlines(), start=1) if line.strip()]
    if not lines:
        raise ImportFileError(f"{what} is empty.")
    header = lines[0][1].split()
    expected = None
    if len(header) == 2 and all(x.isdigit() for x in header):
        expected = (int(header[0]), int(header[1]))
        lines = lines[1:]
    words, rows = [], []
    dim = expected[1] if expected else len(lines[0][1].split()) - 1 if lines else 0
    if dim < 1:
        raise ImportFileError(f"{what}, line {lines[0][0] if lines else 1}: expected a word and its numbers.")
    for line_no, line in lines:
        parts = line.split()
        if len(parts) != dim + 1:
            raise ImportFileError(f"{what}, line {line_no}: {len(parts) - 1} numbers after the word; expected {dim}.")
        words.append(parts[0])
        rows.append(_floats(parts[1:], line_no, what))
        if len(rows) > MAX_VOCAB:
            raise ImportFileError(f"{what} has more than {MAX_VOCAB:,} rows; the limit is {MAX_VOCAB:,}.")
    if expected and expected[0] != len(rows):
        raise ImportFileError(f"{what}'s header says {expected[0]:,} rows; the file has {len(rows):,}.")
    return _check_matrix(np.array(rows, dtype=np.float64), what), words


def load_vectors_tsv(data: bytes) -> np.ndarray:
    """The Projector's vectors.tsv: tab-separated numbers, one row per line, no header."""
    what = "The vectors .tsv"
    lines = [(i, line) for i, line in enumerate(_decode(data, what).splitlines(), start=1) if line.strip()]
    if not lines:
        raise ImportFileError(f"{what} is empty.")
    dim = len(lines[0][1].split("\t"))
    rows = []
    for line_no, line in lines:
        parts = line.split("\t")
        if len(parts) != dim:
            raise ImportFileError(f"{what}, line {line_no}: {len(parts)} values; line 1 has {dim}.")
        rows.append(_floats(parts, line_no, what))
        if len(rows) > MAX_VOCAB:
            raise ImportFileError(f"{what} has more than {MAX_VOCAB:,} rows; the limit is {MAX_VOCAB:,}.")
    return _check_matrix(np.array(rows, dtype=np.float64), what)


def load_csv(data: bytes) -> tuple[np.ndarray, list[str]]:
    """Our .csv: a header line, then a token and its D numbers per row."""
    what = "The .csv file"
    reader = csv.reader(io.StringIO(_decode(data, what)))
    rows = [row for row in reader if row]
    if len(rows) < 2:
        raise ImportFileError(f"{what} needs a header line and at least one row.")
    dim = len(rows[0]) - 1
    words, values = [], []
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != dim + 1:
            raise ImportFileError(f"{what}, line {line_no}: {len(row)} columns; the header has {dim + 1}.")
        words.append(row[0])
        values.append(_floats(row[1:], line_no, what))
    return _check_matrix(np.array(values, dtype=np.float64), what), words


def load_metadata(data: bytes, n_rows: int) -> tuple[list[str], np.ndarray, list[str]]:
    """(labels, categories, category names) from a metadata .tsv: one column (no header), or a header line and
    columns of which the first is the label and a column named `category` (or the second) the category."""
    what = "The metadata .tsv"
    lines = [line for line in _decode(data, what).splitlines() if line != ""]
    if lines and "\t" in lines[0]:
        header, body = [h.strip().lower() for h in lines[0].split("\t")], lines[1:]
    else:
        header, body = None, lines
    if len(body) != n_rows:
        raise ImportFileError(f"{what} has {len(body):,} rows of labels; the matrix has {n_rows:,} rows.")
    cells = [line.split("\t") for line in body]
    labels = [c[0] for c in cells]
    if header is None or len(header) < 2:
        return labels, np.full(n_rows, -1, dtype=np.int64), []
    column = header.index("category") if "category" in header else 1
    raw = [c[column] if column < len(c) else "" for c in cells]
    names = sorted({r for r in raw if r not in ("", "none")})
    index = {name: i for i, name in enumerate(names)}
    return labels, np.array([index.get(r, -1) for r in raw], dtype=np.int64), names


def import_table(filename: str, data: bytes, metadata: bytes | None = None) -> Imported:
    """An uploaded matrix (by its extension) and optional metadata, as an Imported table."""
    name = filename.lower()
    labels = None
    if name.endswith(".npy"):
        weight = load_npy(data)
    elif name.endswith(".tsv"):
        weight = load_vectors_tsv(data)
    elif name.endswith(".csv"):
        weight, labels = load_csv(data)
    elif name.endswith((".txt", ".vec")):
        weight, labels = load_text_vectors(data)
    else:
        raise ImportFileError(f"{filename!r}: import a .npy, .tsv (Projector vectors), .csv, .txt or .vec file.")
    categories, names = np.full(len(weight), -1, dtype=np.int64), []
    if metadata is not None:
        labels, categories, names = load_metadata(metadata, len(weight))
    if labels is None:
        labels = [str(i) for i in range(len(weight))]
    return Imported(weight, labels, categories, names)


def layout(table: Imported, method: str, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows (n,), their 2-D layout (n, 2)) of at most `max_points` evenly spaced rows, by "pca" or "umap"."""
    shown = sample_rows(len(table.weight), max_points)
    return shown, project([table.weight[shown]], method=method, n_components=2, seed=0)[0]
