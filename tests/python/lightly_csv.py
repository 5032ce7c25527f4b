"""Checker for the lightly embeddings CSV layout (our datapool_latest.csv).

`check_lightly_csv(path)` accepts exactly what the `lightly` package's
`load_embeddings` accepts, with a few deliberate tightenings (see below), and
raises `ValueError` with a message naming the file, the line and the cell for
anything else.

Layout: `filenames`, `embedding_0` ... `embedding_{D-1}` (D >= 1, in order),
then optionally `selected` and/or `masked` (each at most once), then
`labels`, which must be the last column. One row per sample. The file is read
with Python's `csv` module (RFC 4180 quoting), as lightly does.

Tightenings over lightly (lightly would accept these, our server must not
write them):
  * any whitespace anywhere in a header cell (lightly: only leading/trailing);
  * `labels` not last, `embedding_<i>` out of order or with gaps, columns after
    `labels`, repeated `selected`/`masked`;
  * a row whose cell count differs from the header's (lightly fails later,
    in numpy);
  * with `strict=True` (the default): non-finite embeddings (nan, inf),
    numbers padded with whitespace, labels that are not plain `-?[0-9]+`
    (Python's int() would take `1_0` or ` 3`), and `selected`/`masked` values
    other than 0/1.
"""

import csv
import math
import re

__all__ = ["check_lightly_csv"]

_EMBEDDING_RE = re.compile(r"embedding_(0|[1-9][0-9]*)")
_STRICT_INT_RE = re.compile(r"-?[0-9]+")
_WHITESPACE_RE = re.compile(r"\s")


def _fail(path, line, message):
    where = "%s" % path if line is None else "%s:%d" % (path, line)
    raise ValueError("%s: %s" % (where, message))


def _check_header(path, header):
    """Returns (number of embedding columns, index of labels, extra columns)."""
    if not header:
        _fail(path, 1, "empty header")
    for i, cell in enumerate(header):
        if _WHITESPACE_RE.search(cell):
            _fail(path, 1, "header cell %d %r contains whitespace" % (i, cell))
    if header[0] != "filenames":
        _fail(path, 1, "first column must be 'filenames', got %r" % header[0])
    if "labels" not in header:
        _fail(path, 1, "no 'labels' column")
    labels_idx = header.index("labels")
    if labels_idx != len(header) - 1:
        _fail(path, 1, "'labels' must be the last column, found at %d of %d "
              "(then %r)" % (labels_idx, len(header), header[labels_idx + 1:]))
    dim = 0
    extras = {}
    for col in range(1, labels_idx):
        name = header[col]
        m = _EMBEDDING_RE.fullmatch(name)
        if m:
            if extras:
                _fail(path, 1, "column %d %r comes after %r; embedding columns "
                      "must precede 'selected'/'masked'"
                      % (col, name, sorted(extras)))
            if int(m.group(1)) != dim:
                _fail(path, 1, "column %d is %r, expected 'embedding_%d' "
                      "(embedding columns must be numbered 0..D-1 in order)"
                      % (col, name, dim))
            dim += 1
        elif name in ("selected", "masked"):
            if name in extras:
                _fail(path, 1, "column %r appears twice" % name)
            extras[name] = col
        else:
            _fail(path, 1, "column %d %r is neither 'embedding_<i>', "
                  "'selected' nor 'masked'" % (col, name))
    if dim == 0:
        _fail(path, 1, "no 'embedding_<i>' columns")
    return dim, labels_idx, extras


def _parse_float(path, line, col_name, text, strict):
    if strict and text != text.strip():
        _fail(path, line, "%s value %r has surrounding whitespace"
              % (col_name, text))
    try:
        value = float(text)
    except ValueError:
        _fail(path, line, "%s value %r is not a float" % (col_name, text))
    if strict and not math.isfinite(value):
        _fail(path, line, "%s value %r is not finite" % (col_name, text))
    return value


def _parse_int(path, line, col_name, text, strict):
    if strict and not _STRICT_INT_RE.fullmatch(text):
        _fail(path, line, "%s value %r is not an integer" % (col_name, text))
    try:
        return int(text)
    except ValueError:
        _fail(path, line, "%s value %r is not an integer" % (col_name, text))


def check_lightly_csv(path, strict=True):
    """Validates a lightly embeddings CSV.

    Returns (filenames, embeddings, labels): lists of str, of lists of float
    (the `embedding_<i>` columns only, D per row) and of int. Raises
    ValueError for anything lightly's load_embeddings would reject, and for
    the tightenings listed in the module docstring.
    """
    path = str(path)
    with open(path, "r", newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=",", strict=True)
        try:
            header = next(reader)
        except StopIteration:
            _fail(path, None, "file is empty (no header)")
        except csv.Error as e:
            _fail(path, 1, "CSV syntax error: %s" % e)
        dim, labels_idx, extras = _check_header(path, header)
        ncols = len(header)

        filenames, embeddings, labels = [], [], []
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                _fail(path, reader.line_num, "CSV syntax error: %s" % e)
            line = reader.line_num
            if len(row) == 0:
                _fail(path, line, "empty row")
            if len(row) != ncols:
                _fail(path, line, "row has %d cells, header has %d"
                      % (len(row), ncols))
            if row[0] == "":
                _fail(path, line, "empty filename")
            vec = [_parse_float(path, line, header[c], row[c], strict)
                   for c in range(1, 1 + dim)]
            for name, col in extras.items():
                v = _parse_int(path, line, name, row[col], strict)
                if strict and v not in (0, 1):
                    _fail(path, line, "%s value %r is not 0 or 1"
                          % (name, row[col]))
            labels.append(_parse_int(path, line, "labels", row[labels_idx],
                                     strict))
            filenames.append(row[0])
            embeddings.append(vec)
    return filenames, embeddings, labels
