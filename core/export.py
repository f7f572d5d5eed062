"""Export a run (.npy, .csv, the Projector's .tsv files, word2vec text, the history as .npz) and import someone
else's matrix; nothing is unpickled or torch.load-ed, and a file that does not parse raises ImportFileError."""

from __future__ import annotations

import csv
import io
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np

from core.captions import count
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


def _check_shape(rows: int, dim: int, what: str) -> None:
    """Refuse a shape the app cannot hold, before anything of that size is allocated."""
    if rows > MAX_VOCAB or dim > MAX_DIM or rows * dim * 4 > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"{what} is {rows:,} x {dim:,}; the limit is {MAX_VOCAB:,} rows, {MAX_DIM:,} dimensions and "
            f"{MAX_IMPORT_BYTES // 1024**2} MB of float32."
        )


def _check_matrix(weight: np.ndarray, what: str) -> np.ndarray:
    """2-D, at least 2 rows, within the app's limits, finite; returned as float32."""
    if weight.ndim != 2:
        raise ImportFileError(f"{what} holds a {weight.ndim}-D array; an embedding matrix is 2-D (rows x dims).")
    rows, dim = weight.shape
    if rows < 2 or dim < 1:
        raise ImportFileError(f"{what} is {rows} x {dim}; a table needs at least 2 rows and 1 dimension.")
    _check_shape(rows, dim, what)
    with np.errstate(over="ignore", invalid="ignore"):
        weight = weight.astype(np.float32, copy=False)  # beyond float32's range: inf, refused below
    if not np.isfinite(weight).all():
        bad = int((~np.isfinite(weight)).any(axis=1).sum())
        raise ImportFileError(f"{what} has {count(bad, 'row')} with NaN or infinite values (or values beyond float32).")
    return weight


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"{what} is {len(data):,} bytes ({len(data) / 1024**2:.1f} MB); the limit is {MAX_IMPORT_BYTES:,} bytes "
            f"({MAX_IMPORT_BYTES // 1024**2} MB)."
        )


Reserve = Callable[[int, int], None]  # called with (rows, dims) before a parse allocates its table: may refuse


def _no_reserve(rows: int, dim: int) -> None:
    """Nothing to charge (plain Python, tests)."""


def load_npy(data: bytes, reserve: Reserve = _no_reserve) -> np.ndarray:
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "created on Python 2": a damaged header, refused below
            shape, fortran, dtype = read_header[version](buffer)  # the header only: no data is read yet
    except Exception as error:  # noqa: BLE001 (a fuzzed header raises what numpy's parser raises: say so, never more)
        raise ImportFileError(f"The .npy header cannot be read: {str(error)[:200]}") from None
    if dtype.kind != "f" or dtype.hasobject:
        raise ImportFileError(f"The .npy file holds {dtype} values; import a float matrix (float16/32/64).")
    if len(shape) != 2:
        raise ImportFileError(f"The .npy file holds a {len(shape)}-D array of shape {shape}; it must be 2-D.")
    if any(n < 0 for n in shape):
        raise ImportFileError(f"The .npy header cannot be read: shape {shape} has a negative size.")
    if math.prod(shape) * 4 > MAX_IMPORT_BYTES:
        raise ImportFileError(f"The .npy matrix is {shape[0]:,} x {shape[1]:,}: too large to import.")
    _check_shape(*shape, "The .npy file")
    offset, count = buffer.tell(), math.prod(shape)
    if len(data) - offset < count * dtype.itemsize:
        raise ImportFileError(
            f"The .npy file is damaged or cut short: its header says {count * dtype.itemsize:,} bytes of values, "
            f"the file has {len(data) - offset:,}."
        )
    reserve(*shape)
    values = np.frombuffer(data, dtype=dtype, count=count, offset=offset)  # a view of the upload: no copy
    with np.errstate(over="ignore", invalid="ignore"):
        weight = values.reshape(shape, order="F" if fortran else "C").astype(np.float32, order="C")  # one copy
    return _check_matrix(weight, "The .npy file")


# ---------------------------------------------------------------- text formats, read as their own tools read them
# word2vec's and gensim's readers split lines on "\n" and fields on a single space: a key may hold any other
# character (non-breaking and other Unicode spaces, tabs). The lines are read from the bytes one at a time, and the
# rows go into a float32 table allocated once its shape is known: parsing holds the table and one line at a time.
BOM = b"\xef\xbb\xbf"
TRAILING = frozenset(b" \t\r\v\f")  # what gensim's bytes.rstrip() drops from a line's end (ASCII only)
MAX_KEY_BYTES = 4096  # a word or label, in UTF-8 (word2vec's own tool keeps 100)
NUMBER_BYTES = 40  # the most text one number may take ("-1.2345678901234567e-308" and slack)


def _check_text(data: bytes, what: str) -> int:
    """Refuse a binary or oversized file; the offset its text starts at (after a UTF-8 byte order mark)."""
    _check_size(data, what)
    if data.startswith(NPY_MAGIC) or b"\x00" in data:  # a NUL anywhere: no text format has one
        raise ImportFileError(f"{what} is binary; a text file (UTF-8) is expected here.")
    return len(BOM) if data.startswith(BOM) else 0


def _lines(data: bytes, pos: int) -> Iterator[tuple[int, int, int]]:
    """(line number, start, end) of each non-blank line from `pos`: split on b"\n", trailing ASCII space dropped."""
    line_no, size = 1, len(data)
    while pos < size:
        newline = data.find(b"\n", pos)
        newline = size if newline < 0 else newline
        end = newline
        while end > pos and data[end - 1] in TRAILING:
            end -= 1
        if end > pos:
            yield line_no, pos, end
        pos, line_no = newline + 1, line_no + 1


def _remaining_lines(data: bytes, pos: int) -> int:
    """How many lines start at or after `pos`: at least the rows still to come."""
    return data.count(b"\n", pos) + (0 if data.endswith(b"\n") else 1)


def _key(data: bytes, start: int, end: int, line_no: int, what: str) -> str:
    if end - start > MAX_KEY_BYTES:
        raise ImportFileError(f"{what}, line {line_no}: the word is {end - start:,} bytes; the limit is "
                              f"{MAX_KEY_BYTES:,}.")  # fmt: skip
    try:
        return data[start:end].decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"{what} is not UTF-8 text (line {line_no}, byte {error.start + 1} of its word "
                              "cannot be decoded).") from None  # fmt: skip


def _numbers(text: bytes, sep: str, dim: int | None, line_no: int, what: str) -> np.ndarray:
    """One line's numbers, text straight to float32 as gensim does (`dim` of them if known), else an ImportFileError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # numpy's "could not be read to its end"
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow to inf: refused by _check_matrix
            values = np.fromstring(text, dtype=np.float32, sep=sep)
    except (ValueError, DeprecationWarning):
        values = None
    if values is not None and (dim is None or len(values) == dim) and len(values):
        return values
    fields_ = text.split(sep.encode()) if sep != " " else text.split()
    for field in fields_:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", DeprecationWarning)
                ok = len(np.fromstring(field, dtype=np.float32, sep=sep)) == 1
        except (ValueError, DeprecationWarning):
            ok = False
        if not ok:
            shown = field[:30].decode("utf-8", "replace")
            raise ImportFileError(f"{what}, line {line_no}: {shown!r} is not a number.")
    expected = "numbers" if dim is None else f"{dim}"
    raise ImportFileError(f"{what}, line {line_no}: {len(fields_)} numbers; expected {expected}.")


def _first_row_dim(data: bytes, start: int, end: int, sep: bytes, line_no: int, what: str) -> None:
    """Refuse a first line too long for any table, before it is split (a one-line file of millions of numbers)."""
    n = data.count(sep, start, end) + (0 if sep == b" " else 1)
    if n > MAX_DIM:
        raise ImportFileError(f"{what}, line {line_no}: {n:,} numbers; the limit is {MAX_DIM:,} dimensions.")


def _check_line(start: int, end: int, dim: int, line_no: int, what: str) -> None:
    if end - start > MAX_KEY_BYTES + NUMBER_BYTES * dim:
        raise ImportFileError(f"{what}, line {line_no}: {end - start:,} characters; a word and {dim:,} numbers "
                              f"take at most {MAX_KEY_BYTES + NUMBER_BYTES * dim:,}.")  # fmt: skip


def _table(rows: int, dim: int, what: str, reserve: Reserve) -> np.ndarray:
    _check_shape(rows, dim, what)
    reserve(rows, dim)
    return np.empty((rows, dim), dtype=np.float32)


def _rows(table: np.ndarray | None, n: int) -> np.ndarray:
    """The first n rows that were filled (a copy only when blank lines left spare rows)."""
    if table is None:
        return np.empty((0, 0), dtype=np.float32)
    return table if n == len(table) else table[:n].copy()


def _fill(table: np.ndarray, n: int, values: np.ndarray, what: str) -> None:
    if n >= len(table):
        raise ImportFileError(f"{what} has more than {len(table):,} rows of {table.shape[1]:,} numbers; the limit is "
                              f"{MAX_VOCAB:,} rows and {MAX_IMPORT_BYTES // 1024**2} MB of float32.")  # fmt: skip
    table[n] = values


def load_text_vectors(data: bytes, reserve: Reserve = _no_reserve) -> tuple[np.ndarray, list[str]]:
    """word2vec/GloVe text: `word v1 ... vD` per line (the word: all before its first space), a "V D" header or none."""
    what = "The vectors file"
    lines = _lines(data, _check_text(data, what))
    first = next(lines, None)
    if first is None:
        raise ImportFileError(f"{what} is empty.")
    line_no, start, end = first
    header = data[start:end].split(b" ") if end - start <= 64 else []
    has_header = len(header) == 2 and all(x.isdigit() for x in header)  # bytes.isdigit: ASCII digits only
    table, dim = None, None
    if has_header:
        rows, dim = int(header[0]), int(header[1])
        if dim < 1:
            raise ImportFileError(f"{what}'s header says {rows:,} x {dim}; a row needs at least 1 number.")
        _check_shape(rows, dim, f"{what}'s header says it")
        if rows > _remaining_lines(data, end):
            raise ImportFileError(f"{what}'s header says {rows:,} rows; the file has fewer lines.")
        table, first = _table(rows, dim, what, reserve), next(lines, None)
    words, n = [], 0
    while first is not None:
        line_no, start, end = first
        space = data.find(b" ", start, end)
        if space < 0:
            raise ImportFileError(f"{what}, line {line_no}: a word without numbers (a space separates them).")
        if table is None:  # GloVe: the first row says the dimension
            _first_row_dim(data, space, end, b" ", line_no, what)
            _check_line(start, end, MAX_DIM, line_no, what)
            values = _numbers(data[space + 1 : end], " ", None, line_no, what)
            dim = len(values)
            table = _table(_remaining_lines(data, start), dim, what, reserve)
        else:
            _check_line(start, end, dim, line_no, what)
            values = _numbers(data[space + 1 : end], " ", dim, line_no, what)
        if has_header and n == len(table):
            raise ImportFileError(f"{what}'s header says {len(table):,} rows; the file has more.")
        _fill(table, n, values, what)
        words.append(_key(data, start, space, line_no, what))
        n, first = n + 1, next(lines, None)
    if has_header and n != len(table):
        raise ImportFileError(f"{what}'s header says {len(table):,} rows; the file has {n:,}.")
    return _check_matrix(_rows(table, n), what), words


def load_vectors_tsv(data: bytes, reserve: Reserve = _no_reserve) -> np.ndarray:
    """The Projector's vectors.tsv: tab-separated numbers, one row per line, no header."""
    what = "The vectors .tsv"
    table, n = None, 0
    for line_no, start, end in _lines(data, _check_text(data, what)):
        if table is None:
            _first_row_dim(data, start, end, b"\t", line_no, what)
            _check_line(start, end, MAX_DIM, line_no, what)
            values = _numbers(data[start:end], "\t", None, line_no, what)
            table = _table(_remaining_lines(data, start), len(values), what, reserve)
        else:
            _check_line(start, end, table.shape[1], line_no, what)
            values = _numbers(data[start:end], "\t", table.shape[1], line_no, what)
        _fill(table, n, values, what)
        n += 1
    if table is None:
        raise ImportFileError(f"{what} is empty.")
    return _check_matrix(_rows(table, n), what)


def _decoded(data: bytes, pos: int, what: str, most: list[int]) -> Iterator[str]:
    """Each line with its "\n" (a quoted cell may span lines), decoded; one over most[0] bytes is refused first."""
    line_no, size = 1, len(data)
    while pos < size:
        newline = data.find(b"\n", pos)
        newline = size - 1 if newline < 0 else newline
        if newline + 1 - pos > most[0]:
            raise ImportFileError(f"{what}, line {line_no}: {newline + 1 - pos:,} characters; a row of this table "
                                  f"takes at most {most[0]:,}.")  # fmt: skip
        try:
            yield data[pos : newline + 1].decode("utf-8")
        except UnicodeDecodeError as error:
            raise ImportFileError(f"{what} is not UTF-8 text (line {line_no}, byte {error.start + 1}).") from None
        pos, line_no = newline + 1, line_no + 1


def load_csv(data: bytes, reserve: Reserve = _no_reserve) -> tuple[np.ndarray, list[str]]:
    """Our .csv: a header line, then a token and its D numbers per row (cells as Python's csv module reads them)."""
    what = "The .csv file"
    pos = _check_text(data, what)
    most = [MAX_KEY_BYTES + NUMBER_BYTES * (MAX_DIM + 1)]
    reader = csv.reader(_decoded(data, pos, what, most))
    table, words, n = None, [], 0
    try:
        for row in reader:
            if not row:
                continue
            if table is None:
                dim = len(row) - 1
                if dim < 1:
                    raise ImportFileError(f"{what}, line {reader.line_num}: a header of a token and its columns.")
                table = _table(max(1, _remaining_lines(data, pos) - 1), dim, what, reserve)  # less the header
                most[0] = MAX_KEY_BYTES + (NUMBER_BYTES + 3) * dim
                continue
            if len(row) != dim + 1:
                raise ImportFileError(f"{what}, line {reader.line_num}: {len(row)} columns; the header has {dim + 1}.")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # overflow to inf: refused by _check_matrix
                    values = np.array(row[1:], dtype=np.float32)
            except ValueError:
                bad = next(c for c in row[1:] if not _is_number(c))
                raise ImportFileError(f"{what}, line {reader.line_num}: {bad[:30]!r} is not a number.") from None
            _fill(table, n, values, what)
            if len(row[0].encode()) > MAX_KEY_BYTES:
                raise ImportFileError(f"{what}, line {reader.line_num}: the token is longer than {MAX_KEY_BYTES:,} "
                                      "bytes.")  # fmt: skip
            words.append(row[0])
            n += 1
    except csv.Error as error:
        raise ImportFileError(f"{what}, line {reader.line_num}: {error}.") from None
    if table is None or n == 0:
        raise ImportFileError(f"{what} needs a header line and at least one row.")
    return _check_matrix(_rows(table, n), what), words


def _is_number(text: str) -> bool:
    try:
        np.float32(text)
    except ValueError:
        return False
    return True


def load_metadata(data: bytes, n_rows: int) -> tuple[list[str], np.ndarray, list[str]]:
    """(labels, categories, names) of a metadata .tsv: a label column, or a header, labels and `category` (or 2nd)."""
    what = "The metadata .tsv"
    pos, size = _check_text(data, what), len(data)
    header, labels, raw, line_no, column = None, [], [], 0, None
    while pos < size:
        newline = data.find(b"\n", pos)
        newline = size if newline < 0 else newline
        line_no, start, end = line_no + 1, pos, newline - (newline > pos and data[newline - 1] == 13)
        pos = newline + 1
        if end == start:
            continue
        if end - start > 16 * MAX_KEY_BYTES:
            raise ImportFileError(f"{what}, line {line_no}: {end - start:,} characters; the limit is "
                                  f"{16 * MAX_KEY_BYTES:,}.")  # fmt: skip
        try:
            cells = data[start:end].decode("utf-8").split("\t")
        except UnicodeDecodeError as error:
            raise ImportFileError(f"{what} is not UTF-8 text (line {line_no}, byte {error.start + 1}).") from None
        if header is None and not labels and len(cells) > 1:
            header = [h.strip().lower() for h in cells]
            column = header.index("category") if "category" in header else 1
            continue
        if len(labels) == n_rows:
            raise ImportFileError(f"{what} has more than {n_rows:,} rows of labels; the matrix has {n_rows:,} rows.")
        labels.append(cells[0])
        if column is not None:
            raw.append(cells[column] if column < len(cells) else "")
    if len(labels) != n_rows:
        raise ImportFileError(f"{what} has {len(labels):,} rows of labels; the matrix has {n_rows:,} rows.")
    if column is None:
        return labels, np.full(n_rows, -1, dtype=np.int64), []
    names = sorted({r for r in raw if r not in ("", "none")})
    index = {name: i for i, name in enumerate(names)}
    return labels, np.array([index.get(r, -1) for r in raw], dtype=np.int64), names


LABEL_BYTES = 96  # what one label costs as a Python str in a list, for the charge before parsing (a short word)
PARSE_SLACK = 4 * 1024**2  # one line's temporaries (a line is at most MAX_KEY_BYTES + NUMBER_BYTES x MAX_DIM)


def parse_bytes(rows: int, dim: int, metadata: bool) -> int:
    """What parsing a (rows, dim) table takes beyond the uploads: the table, labels (twice with metadata), a line."""
    return rows * dim * 4 + rows * LABEL_BYTES * (2 if metadata else 1) + PARSE_SLACK


def kept_bytes(table: Imported) -> int:
    """What an imported table holds once parsed: its arrays and its labels."""
    labels = sum(map(sys.getsizeof, table.labels)) + 8 * len(table.labels)
    return table.weight.nbytes + table.categories.nbytes + labels + sum(map(sys.getsizeof, table.category_names))


def import_table(
    filename: str, data: bytes, metadata: bytes | None = None, charge: Callable[[int], None] | None = None
) -> Imported:
    """An upload (by extension) and optional metadata as Imported; `charge(parse_bytes(...))` may refuse, pre-alloc."""

    def reserve(rows: int, dim: int) -> None:
        if charge is not None:
            charge(parse_bytes(rows, dim, metadata is not None))

    name = filename.lower()
    labels = None
    try:
        if name.endswith(".npy"):
            weight = load_npy(data, reserve)
        elif name.endswith(".tsv"):
            weight = load_vectors_tsv(data, reserve)
        elif name.endswith(".csv"):
            weight, labels = load_csv(data, reserve)
        elif name.endswith((".txt", ".vec")):
            weight, labels = load_text_vectors(data, reserve)
        else:
            raise ImportFileError(f"{filename!r}: import a .npy, .tsv (Projector vectors), .csv, .txt or .vec file.")
        categories, names = np.full(len(weight), -1, dtype=np.int64), []
        if metadata is not None:
            labels, categories, names = load_metadata(metadata, len(weight))
    except ImportFileError:
        raise
    except (ValueError, csv.Error, UnicodeError, OverflowError, TypeError, IndexError) as error:
        # every path above says what is wrong in its own words; this is the net for what no test foresaw
        raise ImportFileError(f"{filename!r} cannot be read: {str(error)[:200]}") from None
    if labels is None:
        labels = [str(i) for i in range(len(weight))]
    return Imported(weight, labels, categories, names)


def layout(table: Imported, method: str, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows (n,), their 2-D layout (n, 2)) of at most `max_points` evenly spaced rows, by "pca" or "umap"."""
    shown = sample_rows(len(table.weight), max_points)
    return shown, project([table.weight[shown]], method=method, n_components=2, seed=0)[0]
