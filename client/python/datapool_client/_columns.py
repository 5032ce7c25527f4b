"""Client.select's ``columns``: numeric values per candidate, for
selection objectives that read a column (a METADATA or SCORES input), into
the ``CandidateColumns`` of the request's messages.

``columns`` maps a column name to either a sequence of numbers, one per
row of the candidate embeddings (in their order), or a dict {filename:
number} (for embeddings and images alike). Everything is checked here,
before any request is made: names are non-empty str, values finite
numbers (not bools, not str), a sequence has one value per row, and with
embeddings every row has a value (entries of a dict for other filenames
are not sent). Refusals are DatapoolError INVALID_ARGUMENT naming the
column (``columns['sharpness'][3]: must be finite, got nan``).
"""

import numbers
from collections.abc import Mapping

import numpy as np

from ._blocks import candidate_column
from ._gen import datapool_pb2 as pb
from .errors import invalid_argument

# Bytes a value takes in a message (a packed double), beside its filename.
_VALUE_BYTES = 8
_ROW_OVERHEAD = 4


def _where(name, key=None):
    where = "columns[%r]" % (name,)
    return where if key is None else "%s[%r]" % (where, key)


def _describe(value):
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, str):
        return "a str %r" % (value,)
    return "%r" % (value,)


def _check_number(value, where):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, numbers.Real):
        raise invalid_argument("%s: must be a number, got %s"
                               % (where, _describe(value)))


def _numbers(values, name):
    """A 1-D sequence of numbers as a float64 array."""
    if isinstance(values, (str, bytes)):
        raise invalid_argument(
            "%s: must be a sequence of numbers (one per row) or a dict "
            "{filename: number}, got a str" % _where(name))
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as e:
        raise invalid_argument("%s: not a sequence of numbers: %s"
                               % (_where(name), e)) from None
    if array.ndim != 1:
        raise invalid_argument(
            "%s: must be a 1-D sequence of numbers (one per row) or a dict "
            "{filename: number}, got shape %s" % (_where(name), array.shape))
    if array.dtype.kind not in "iuf":
        # Bools, str, complex, None...: name the first value that is not
        # a real number (as given: numpy makes [1, "2"] all str).
        given = array.tolist() if isinstance(values, np.ndarray) \
            else list(values)
        for i, value in enumerate(given):
            _check_number(value, "%s[%d]" % (_where(name), i))
    try:
        result = array.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise invalid_argument("%s: not numbers: %s"
                               % (_where(name), e)) from None
    bad = np.flatnonzero(~np.isfinite(result))
    if bad.size:
        i = int(bad[0])
        raise invalid_argument("%s[%d]: must be finite, got %r"
                               % (_where(name), i, float(result[i])))
    return result


def _by_filename(values, name):
    """A {filename: number} dict as (filenames, float64 array)."""
    filenames = []
    numbers_ = []
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise invalid_argument("%s: keys are filenames (non-empty str), "
                                   "got %r" % (_where(name), key))
        _check_number(value, _where(name, key))
        number = float(value)
        if not np.isfinite(number):
            raise invalid_argument("%s: must be finite, got %r"
                                   % (_where(name, key), number))
        filenames.append(key)
        numbers_.append(number)
    return filenames, np.asarray(numbers_, dtype=np.float64)


def parse(columns):
    """Checks select's ``columns``: a list of (name, values), values a
    float64 array (one per row) or (filenames, float64 array). None or
    empty: []."""
    if columns is None:
        return []
    if not isinstance(columns, Mapping):
        raise invalid_argument(
            "columns must be a dict {name: values}, got %s"
            % type(columns).__name__)
    parsed = []
    for name, values in columns.items():
        if not isinstance(name, str) or not name:
            raise invalid_argument("columns: a column name must be a "
                                   "non-empty str, got %r" % (name,))
        if isinstance(values, Mapping):
            parsed.append((name, _by_filename(values, name)))
        else:
            parsed.append((name, _numbers(values, name)))
    return parsed


class RowColumns:
    """Columns aligned with the candidate rows (embeddings)."""

    def __init__(self, filenames, names, values):
        self.filenames = filenames
        self.names = names
        self.values = values  # float64 arrays, one value per row each
        mean_name = (sum(len(f) for f in filenames) / len(filenames)
                     if filenames else 0)
        self._row_bytes = int(mean_name + _ROW_OVERHEAD
                              + _VALUE_BYTES * len(names))

    def row_bytes(self):
        """Bytes a row's filename and values take in a message, about."""
        return self._row_bytes

    def message(self, begin, end):
        """The CandidateColumns of rows [begin, end)."""
        return pb.CandidateColumns(
            filenames=self.filenames[begin:end],
            columns=[candidate_column(name, values[begin:end])
                     for name, values in zip(self.names, self.values)])


def for_rows(parsed, filenames, what="embeddings"):
    """The parsed columns aligned with rows named `filenames`: a
    RowColumns, or None when there are none."""
    if not parsed:
        return None
    n = len(filenames)
    names, aligned = [], []
    for name, values in parsed:
        if isinstance(values, tuple):
            by_name = dict(zip(*values))
            missing = [f for f in filenames if f not in by_name]
            if missing:
                raise invalid_argument(
                    "%s: no value for %d of the %d candidates (%s%s); give "
                    "one for each row of %s"
                    % (_where(name), len(missing), n,
                       ", ".join(repr(f) for f in missing[:3]),
                       ", ..." if len(missing) > 3 else "", what))
            values = np.fromiter((by_name[f] for f in filenames),
                                 dtype=np.float64, count=n)
        elif len(values) != n:
            raise invalid_argument(
                "%s: %d values for %d rows of %s: need one per row (or a "
                "dict {filename: number})" % (_where(name), len(values), n,
                                              what))
        names.append(name)
        aligned.append(values)
    return RowColumns(list(filenames), names, aligned)


def for_images(parsed, chunk_bytes):
    """The parsed columns for image candidates (which the server names):
    CandidateColumns messages of about chunk_bytes each. Columns naming
    the same filenames travel together; each dict entry is sent."""
    groups = {}  # frozenset of filenames -> (filenames, names, values)
    for name, values in parsed:
        if not isinstance(values, tuple):
            raise invalid_argument(
                "%s: a sequence of values goes with embeddings (one per "
                "row); for images give a dict {filename: number}"
                % _where(name))
        filenames, numbers_ = values
        key = frozenset(filenames)
        if key not in groups:
            groups[key] = (filenames, [], [])
        order, names, aligned = groups[key]
        if filenames != order:
            index = dict(zip(filenames, numbers_))
            numbers_ = np.fromiter((index[f] for f in order),
                                   dtype=np.float64, count=len(order))
        names.append(name)
        aligned.append(numbers_)
    messages = []
    for filenames, names, aligned in groups.values():
        rows = RowColumns(filenames, names, aligned)
        per_message = max(1, chunk_bytes // max(1, rows.row_bytes()))
        for begin in range(0, max(1, len(filenames)), per_message):
            messages.append(rows.message(begin, begin + per_message))
    return messages
