"""Building requests from a Client's arguments: validated embedding rows
and their blocks, selection and merge parameters, and the messages that
stream rows and uploaded images in chunks.

What is refused here is what cannot be put into a request at all (rows
that are not a 2-D array of numbers, a filename count that does not match,
a value of the wrong type). The rules on values the request can carry (a
count of at least 1, a fraction in (0, 1], ...) are the server's; it
answers INVALID_ARGUMENT.
"""

import numbers
import os

import numpy as np

from . import _images, _selection_config
from ._blocks import embedding_block
from ._gen import datapool_pb2 as pb
from .errors import invalid_argument
from .types import Embeddings

COLLISIONS = {
    "fail": pb.ON_COLLISION_FAIL,
    "prefix": pb.ON_COLLISION_PREFIX,
    "skip": pb.ON_COLLISION_SKIP,
}
# n_samples_count is a uint64.
_COUNT_END = 1 << 64


def to_int(value, what):
    """value as an int; bools and non-integers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid_argument("%s must be an int, got %r" % (what, value))
    return int(value)


def as_list(value, what):
    """None -> []; a single str/PathLike -> [it]; else list(value)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, os.PathLike)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise invalid_argument("%s must be a path or a list of paths, not %s"
                               % (what, type(value).__name__)) from None


def server_paths(paths):
    """The ``paths`` argument (paths on the server) as a list of str."""
    return [os.fspath(p) for p in as_list(paths, "paths")]


def check_sources(embeddings, paths, images, what):
    """Exactly one kind of candidates (or queries): embeddings or images."""
    if embeddings is not None and (paths or images):
        raise invalid_argument(
            "%s: give either embeddings or images (paths, images), "
            "not both" % what)
    if embeddings is None and not paths and not images:
        raise invalid_argument(
            "%s: no candidates: give embeddings (with filenames), paths "
            "(on the server) or images (local files)" % what)


class Table:
    """Validated embedding rows to send."""

    def __init__(self, embeddings, filenames, labels, what, default_names):
        if isinstance(embeddings, Embeddings):
            if filenames is None:
                filenames = embeddings.filenames
            if labels is None:
                labels = embeddings.labels
            embeddings = embeddings.embeddings
        try:
            rows = np.asarray(embeddings, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise invalid_argument("%s: not an array of numbers: %s"
                                   % (what, e)) from None
        if rows.ndim != 2:
            raise invalid_argument(
                "%s must be a 2-D array (n rows of d floats), got shape %s"
                % (what, rows.shape))
        n = rows.shape[0]
        if filenames is None:
            if not default_names:
                raise invalid_argument(
                    "%s need filenames: one per row" % what)
            filenames = ["query_%d" % i for i in range(n)]
        if isinstance(filenames, str):
            raise invalid_argument("filenames must be a list of str, "
                                   "not a str")
        filenames = list(filenames)
        if len(filenames) != n:
            raise invalid_argument(
                "%d filenames for %d rows of %s: need one per row"
                % (len(filenames), n, what))
        for name in filenames:
            if not isinstance(name, str):
                raise invalid_argument("filenames must be str, got %r"
                                       % (name,))
        if labels is not None:
            if isinstance(labels, (str, bytes)):
                raise invalid_argument("labels must be a list of int")
            labels = list(labels)
            if len(labels) != n:
                raise invalid_argument(
                    "%d labels for %d rows of %s: need one per row (or none)"
                    % (len(labels), n, what))
            labels = [to_int(x, "label") for x in labels]
        self.rows = np.ascontiguousarray(rows)
        self.filenames = filenames
        self.labels = labels

    def ranges(self, chunk_bytes, extra_row_bytes=0):
        """(begin, end) row ranges of about chunk_bytes each (at least
        one), for rows that take extra_row_bytes more in the message (their
        column values)."""
        n, d = self.rows.shape
        per_chunk = max(1, chunk_bytes // (d * 4 + 64 + extra_row_bytes))
        begin = 0
        while True:
            end = min(n, begin + per_chunk)
            yield begin, end
            begin = end
            if begin >= n:
                return

    def block(self, begin, end):
        """The EmbeddingBlock of rows [begin, end)."""
        return embedding_block(self.filenames[begin:end],
                               self.rows[begin:end],
                               None if self.labels is None
                               else self.labels[begin:end])


def set_n_samples(params, n_samples):
    """Puts n_samples into SelectionParams by its type: an int is a count
    (n_samples_count), a float a fraction (n_samples_fraction). Their
    ranges are the server's to check; only a count that the unsigned
    64-bit field cannot hold is refused here."""
    if n_samples is None:
        return
    if isinstance(n_samples, bool):
        raise invalid_argument("n_samples must be an int count or a "
                               "float fraction, not a bool")
    if isinstance(n_samples, numbers.Integral):
        count = int(n_samples)
        if not 0 <= count < _COUNT_END:
            raise invalid_argument(
                "n_samples count %d cannot be sent: the request holds a "
                "count as an unsigned 64-bit integer" % count)
        params.n_samples_count = count
    elif isinstance(n_samples, numbers.Real):
        params.n_samples_fraction = float(n_samples)
    else:
        raise invalid_argument("n_samples must be an int or a float, "
                               "got %r" % (n_samples,))


def selection_params(pool, n_samples, min_distance, dry_run, keep_history,
                     weak_labels, remove_duplicates, report, strategy=None,
                     selection_config=None):
    """The SelectionParams of Client.select's arguments (``strategy`` and
    ``selection_config``: see ``_selection_config``)."""
    if report and not dry_run:
        raise invalid_argument(
            "report=True is for dry runs; a committed selection always "
            "writes its report (see Client.report)")
    params = pb.SelectionParams(
        pool=pool, dry_run=bool(dry_run), keep_history=bool(keep_history),
        append_weak_labels=bool(weak_labels),
        remove_duplicates=bool(remove_duplicates),
        dry_run_report=bool(report))
    set_n_samples(params, n_samples)
    if min_distance is not None:
        params.min_distance = float(min_distance)
    _selection_config.apply(params, strategy, selection_config, min_distance)
    return params


def merge_request(target, sources, create, min_distance, on_collision,
                  keep_history, dry_run):
    """The MergePoolsRequest of Client.merge's arguments."""
    if isinstance(sources, str):
        sources = [sources]
    if on_collision not in COLLISIONS:
        raise invalid_argument(
            "on_collision must be one of %s, got %r"
            % (", ".join(sorted(COLLISIONS)), on_collision))
    request = pb.MergePoolsRequest(
        target=target, sources=list(sources), create=bool(create),
        on_collision=COLLISIONS[on_collision],
        keep_history=bool(keep_history), dry_run=bool(dry_run))
    if min_distance is not None:
        request.min_distance = float(min_distance)
    return request


def image_messages(make, first, uploads, chunk_bytes, columns=()):
    """Request messages carrying the uploads (``_images.LocalImage``) in
    chunks of about chunk_bytes; `first` (already holding the parameters
    and input paths) goes out first, then ``make()`` makes the next.
    ``columns``: CandidateColumns (``_columns.for_images``), the first in
    `first`, each other in a message of its own before the uploads'."""
    columns = list(columns)
    if columns:
        first.columns.CopyFrom(columns[0])
    if len(columns) > 1:
        yield first
        for chunk in columns[1:-1]:
            yield make(columns=chunk)
        first = make(columns=columns[-1])
    limit = chunk_bytes
    message = first
    size = 0
    for image in uploads:
        data = _images.read_image(image)
        offset = 0
        while True:
            room = limit - size if limit > size else 0
            take = min(max(room, 1), len(data) - offset)
            chunk = message.images.add()
            if offset == 0:
                chunk.filename = image.filename
                chunk.label = image.label
            chunk.data = data[offset:offset + take]
            offset += take
            chunk.last = offset == len(data)
            size += take + len(image.filename) + 16
            if size >= limit:
                yield message
                message = make()
                size = 0
            if offset >= len(data):
                break
    if size or message is first:
        yield message


def row_messages(first, field, table, chunk_bytes, columns=None):
    """Request messages carrying the Table's rows in blocks of about
    chunk_bytes in `field`; `first` (holding the parameters) carries the
    first. ``columns`` (``_columns.RowColumns`` of the same rows, or None):
    each message carries its rows' values in ``columns``."""
    extra = columns.row_bytes() if columns else 0
    message = first
    for begin, end in table.ranges(chunk_bytes, extra):
        getattr(message, field).CopyFrom(table.block(begin, end))
        if columns:
            message.columns.CopyFrom(columns.message(begin, end))
        yield message
        message = type(first)()
