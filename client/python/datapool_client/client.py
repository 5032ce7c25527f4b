"""The Datapool client: a typed wrapper over the generated gRPC stubs."""

import json
import numbers
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Union

import grpc
import numpy as np

from . import _images
from ._gen import datapool_pb2 as pb
from ._gen import datapool_pb2_grpc as pb_grpc
from ._gen import health_pb2
from ._gen import health_pb2_grpc
from .errors import DatapoolError, invalid_argument
from .types import (Duplicate, Embeddings, MergedSource, MergeResult,
                    Neighbor, Pick, PoolInfo, QueryResult, Report,
                    SearchResults, SelectResult, Skipped, Version)

__all__ = ["Client", "TLS", "DEFAULT_TARGET", "ProgressCallback"]

DEFAULT_TARGET = "127.0.0.1:50051"
# Streamed requests are cut into messages of about this size.
DEFAULT_CHUNK_BYTES = 1 << 20

ProgressCallback = Callable[[str, int, int], None]
PathLike = Union[str, os.PathLike]
# An (n, d) numpy array or nested sequences of floats, or an Embeddings.
EmbeddingsLike = Union[np.ndarray, Sequence[Sequence[float]], Embeddings]

_STOP_REASONS = {
    pb.STOP_REASON_N_SAMPLES: "n_samples",
    pb.STOP_REASON_MIN_DISTANCE: "min_distance",
    pb.STOP_REASON_EXHAUSTED: "exhausted",
}
_COLLISIONS = {
    "fail": pb.ON_COLLISION_FAIL,
    "prefix": pb.ON_COLLISION_PREFIX,
    "skip": pb.ON_COLLISION_SKIP,
}
_HEALTH_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING",
                 3: "SERVICE_UNKNOWN"}


@dataclass(frozen=True)
class TLS:
    """TLS settings for ``Client(tls=...)``.

    Each of ca, cert and key is a PEM file path (str or os.PathLike) or the
    PEM bytes themselves. ca: the CA that signed the server's certificate
    (None: the system's CAs). cert and key: the client's certificate chain
    and private key, for a server that requires mutual TLS (both or
    neither). server_name: the name to verify the server's certificate
    against, when the target address does not carry it (e.g. connecting to
    an IP address with a certificate for ``localhost``).
    """
    ca: Optional[Union[PathLike, bytes]] = None
    cert: Optional[Union[PathLike, bytes]] = None
    key: Optional[Union[PathLike, bytes]] = None
    server_name: Optional[str] = None


def _pem(value, what):
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        with open(os.fspath(value), "rb") as f:
            return f.read()
    except OSError as e:
        raise invalid_argument("cannot read the TLS %s %s: %s"
                               % (what, value, e.strerror or e)) from None


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _block(filenames, rows, labels):
    """EmbeddingBlock of float32 rows (n, d), C-contiguous."""
    block = pb.EmbeddingBlock(dimension=rows.shape[1], filenames=filenames)
    if labels is not None:
        block.labels.extend(labels)
    if rows.size:
        # Field 3 (values), packed: merging the raw little-endian floats
        # is ~20x faster than extending the repeated field value by value.
        data = rows.astype("<f4", copy=False).tobytes()
        block.MergeFromString(b"\x1a" + _varint(len(data)) + data)
    return block


def _as_list(value, what):
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


class _Table:
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
            labels = [_int(x, "label") for x in labels]
        self.rows = np.ascontiguousarray(rows)
        self.filenames = filenames
        self.labels = labels

    def blocks(self, chunk_bytes):
        """EmbeddingBlocks of about chunk_bytes each (at least one)."""
        n, d = self.rows.shape
        per_chunk = max(1, chunk_bytes // (d * 4 + 64))
        begin = 0
        while True:
            end = min(n, begin + per_chunk)
            yield _block(self.filenames[begin:end], self.rows[begin:end],
                         None if self.labels is None
                         else self.labels[begin:end])
            begin = end
            if begin >= n:
                return


def _int(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid_argument("%s must be an int, got %r" % (what, value))
    return int(value)


class _Requests:
    """The request iterator handed to gRPC. It runs on gRPC's thread; when
    producing a message fails here (a local file cannot be read), it cancels
    the call, so the server never sees a complete request and commits
    nothing, and keeps the error for the caller."""

    def __init__(self, messages):
        self._messages = iter(messages)
        self._call = None
        self._attached = threading.Event()
        self.error = None

    def attach(self, call):
        self._call = call
        self._attached.set()

    def __iter__(self):
        return self

    def __next__(self):
        if self.error is not None:
            raise StopIteration
        try:
            return next(self._messages)
        except StopIteration:
            raise
        except DatapoolError as e:
            self.error = e
        except Exception as e:  # noqa: BLE001 - reported to the caller
            self.error = DatapoolError(
                grpc.StatusCode.INTERNAL,
                "preparing the request failed: %s: %s"
                % (type(e).__name__, e))
        # Cancel before ending the stream: ending it would half-close, and
        # the server would act on a partial request.
        self._attached.wait()
        self._call.cancel()
        raise StopIteration


class Client:
    """A connection to a Datapool server.

    Args:
        target: ``"HOST:PORT"`` of the server (default ``127.0.0.1:50051``).
        token: bearer token, sent as ``authorization: Bearer <token>`` on
            every call (servers started with ``--auth-token-file``).
        tls: None (plaintext), True (TLS trusting the system's CAs), a
            ``TLS`` (own CA, client certificate for mutual TLS), or
            ``grpc.ChannelCredentials``. Name the server as its certificate
            does (``localhost:50051``), or set ``TLS(server_name=...)``.
        timeout: deadline of each call in seconds (None: none). A call
            whose deadline passes fails with DEADLINE_EXCEEDED and, for a
            selection, commits nothing.
        chunk_bytes: size of the messages large requests (embeddings,
            uploaded images) are cut into.
        options: extra gRPC channel options, ``[(name, value)]``.

    Every method raises ``DatapoolError`` (carrying the gRPC status code)
    when the call fails. A Client may be shared between threads; use it as
    a context manager or call ``close()`` when done.

    Example::

        with Client("127.0.0.1:50051") as client:
            result = client.select("my_pool", paths=["train"], n_samples=100)
            print(result.filenames, result.version)
    """

    def __init__(self, target: str = DEFAULT_TARGET,
                 token: Optional[str] = None,
                 tls: Union[None, bool, TLS] = None,
                 timeout: Optional[float] = 600,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 options: Sequence = ()):
        self.target = target
        self.timeout = timeout
        self.chunk_bytes = max(1024, int(chunk_bytes))
        self._metadata = (("authorization", "Bearer " + token),) \
            if token else None
        # Responses (embeddings of many images, long pick lists) may exceed
        # gRPC's default 4 MiB receive limit.
        opts = [("grpc.max_receive_message_length", -1),
                ("grpc.max_send_message_length", -1)]
        if tls is None or tls is False:
            self._channel = grpc.insecure_channel(target, options=opts + list(
                options))
        else:
            if tls is True:
                tls = TLS()
            if isinstance(tls, grpc.ChannelCredentials):
                creds = tls
            elif isinstance(tls, TLS):
                if (tls.cert is None) != (tls.key is None):
                    raise invalid_argument(
                        "TLS: cert and key go together (mutual TLS)")
                creds = grpc.ssl_channel_credentials(
                    root_certificates=_pem(tls.ca, "CA"),
                    private_key=_pem(tls.key, "key"),
                    certificate_chain=_pem(tls.cert, "certificate"))
                if tls.server_name:
                    opts.append(("grpc.ssl_target_name_override",
                                 tls.server_name))
            else:
                raise invalid_argument(
                    "tls must be None, True or a TLS(...), not %r" % (tls,))
            self._channel = grpc.secure_channel(target, creds,
                                                options=opts + list(options))
        self._stub = pb_grpc.DatapoolStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    # -- lifecycle -----------------------------------------------------------
    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        return "Client(%r)" % self.target

    # -- plumbing ------------------------------------------------------------
    def _unary(self, method, request):
        try:
            return method(request, timeout=self.timeout,
                          metadata=self._metadata)
        except grpc.RpcError as e:
            raise DatapoolError.from_rpc_error(e) from None

    def _stream_unary(self, method, messages):
        requests = _Requests(messages)
        future = None
        try:
            future = method.future(requests, timeout=self.timeout,
                                   metadata=self._metadata)
            requests.attach(future)
            response = future.result()
        except grpc.FutureCancelledError:
            if requests.error is not None:
                raise requests.error from None
            raise DatapoolError(grpc.StatusCode.CANCELLED,
                                "the call was cancelled") from None
        except grpc.RpcError as e:
            if requests.error is not None:
                raise requests.error from None
            raise DatapoolError.from_rpc_error(e) from None
        except BaseException:
            if future is not None:
                requests.attach(future)
                future.cancel()
            raise
        if requests.error is not None:
            raise requests.error
        return response

    def _stream_progress(self, method, messages, progress):
        """Streams the requests; calls progress(phase, done, total) for each
        Progress message and returns the final result message."""
        requests = _Requests(messages)
        call = None
        result = None
        try:
            call = method(requests, timeout=self.timeout,
                          metadata=self._metadata)
            requests.attach(call)
            for message in call:
                if message.HasField("result"):
                    result = message.result
                elif message.HasField("progress"):
                    p = message.progress
                    progress(p.phase, p.done, p.total)
        except grpc.RpcError as e:
            if requests.error is not None:
                raise requests.error from None
            raise DatapoolError.from_rpc_error(e) from None
        except BaseException:
            # The callback raised, or KeyboardInterrupt: stop the work; a
            # cancelled selection commits nothing.
            if call is not None:
                requests.attach(call)
                call.cancel()
            raise
        if requests.error is not None:
            raise requests.error
        if result is None:
            raise DatapoolError(grpc.StatusCode.INTERNAL,
                                "the server ended the call without a result")
        return result

    def _image_messages(self, make, first, uploads):
        """Request messages carrying the uploads in chunks; `first` (already
        holding the parameters and input paths) goes out first."""
        limit = self.chunk_bytes
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

    def _row_messages(self, first, field, table):
        """Request messages carrying the rows in blocks of ~chunk_bytes in
        `field`; `first` (holding the parameters) carries the first."""
        message = first
        for block in table.blocks(self.chunk_bytes):
            getattr(message, field).CopyFrom(block)
            yield message
            message = type(first)()

    @staticmethod
    def _check_sources(embeddings, paths, images, what):
        if embeddings is not None and (paths or images):
            raise invalid_argument(
                "%s: give either embeddings or images (paths, images), "
                "not both" % what)
        if embeddings is None and not paths and not images:
            raise invalid_argument(
                "%s: no candidates: give embeddings (with filenames), paths "
                "(on the server) or images (local files)" % what)

    # -- selection -----------------------------------------------------------
    def select(self, pool: str, *,
               embeddings: Optional[EmbeddingsLike] = None,
               filenames: Optional[Sequence[str]] = None,
               labels: Optional[Sequence[int]] = None,
               paths: Union[None, str, Iterable[str]] = None,
               images: Union[None, PathLike, Iterable[PathLike]] = None,
               n_samples: Union[None, int, float] = None,
               min_distance: Optional[float] = None,
               dry_run: bool = False, keep_history: bool = True,
               weak_labels: bool = True, remove_duplicates: bool = True,
               report: bool = False,
               progress: Optional[ProgressCallback] = None) -> SelectResult:
        """Selects the most diverse candidates given what the pool holds
        and, unless dry_run, adds them to the pool (created on first use).

        Candidates are either embeddings or images:

        * ``embeddings``: array-like (n, d) of floats, with ``filenames``
          (one per row, unique) and optional ``labels`` (ints); or an
          ``Embeddings`` from ``embed()``. Sent in ~1 MiB chunks.
        * ``paths``: files or folders under the server's ``--input-dir``,
          relative to it; and/or ``images``: local image files or folders,
          uploaded in chunks (a folder's images are named
          ``<folder>/<path inside>`` and weakly labelled by first-level
          subfolder, as the CLI's ``--upload``). The server embeds them.

        Stopping: ``n_samples`` is a count (int >= 1) or a fraction (float
        in (0, 1]) of the eligible candidates; ``min_distance`` stops when
        the farthest remaining candidate is closer than that (0..2) to the
        pool and the picks. At least one is required; with both, the first
        met stops.

        Options: ``dry_run`` computes the picks and writes nothing;
        ``keep_history=False`` keeps no copy of the replaced version;
        ``weak_labels=False`` records label 0 for images;
        ``remove_duplicates=False`` keeps exact duplicate candidates.
        ``report=True`` with ``dry_run`` returns the selection report in
        ``result.report`` (committed selections always write theirs on the
        server; ``result.report.folder`` says where).

        ``progress(phase, done, total)`` is called while the call runs
        (phases in order: "receiving", "embedding", "selecting",
        "committing"; total 0 when unknown), from the calling thread. An
        exception it raises (or KeyboardInterrupt) cancels the call, and a
        cancelled selection commits nothing.

        Returns a SelectResult. Raises DatapoolError: INVALID_ARGUMENT (bad
        pool name or parameters, no stopping condition, malformed
        candidates), FAILED_PRECONDITION (another dimension or model than
        the pool's), NOT_FOUND (a local image path that does not exist).
        """
        paths = [os.fspath(p) for p in _as_list(paths, "paths")]
        images = _as_list(images, "images")
        self._check_sources(embeddings, paths, images, "select")
        params = pb.SelectionParams(
            pool=pool, dry_run=bool(dry_run), keep_history=bool(keep_history),
            append_weak_labels=bool(weak_labels),
            remove_duplicates=bool(remove_duplicates),
            dry_run_report=bool(report))
        if report and not dry_run:
            raise invalid_argument(
                "report=True is for dry runs; a committed selection always "
                "writes its report (see Client.report)")
        if n_samples is not None:
            if isinstance(n_samples, bool):
                raise invalid_argument("n_samples must be an int count or a "
                                       "float fraction, not a bool")
            if isinstance(n_samples, numbers.Integral):
                if n_samples < 1:
                    raise invalid_argument(
                        "n_samples must be >= 1 as a count, got %d (a "
                        "fraction is a float in (0, 1])" % n_samples)
                params.n_samples_count = int(n_samples)
            elif isinstance(n_samples, numbers.Real):
                params.n_samples_fraction = float(n_samples)
            else:
                raise invalid_argument("n_samples must be an int or a float, "
                                       "got %r" % (n_samples,))
        if min_distance is not None:
            params.min_distance = float(min_distance)

        if embeddings is not None:
            table = _Table(embeddings, filenames, labels, "embeddings", False)
            messages = self._row_messages(pb.SelectRequest(params=params),
                                          "candidates", table)
        else:
            if filenames is not None or labels is not None:
                raise invalid_argument(
                    "filenames and labels go with embeddings; images are "
                    "named by their paths")
            uploads = _images.list_local_images(images)
            first = pb.SelectRequest(params=params, input_paths=paths)
            messages = self._image_messages(pb.SelectRequest, first, uploads)
        if progress is None:
            response = self._stream_unary(self._stub.SelectStream, messages)
        else:
            response = self._stream_progress(self._stub.SelectWithProgress,
                                             messages, progress)
        return _select_result(response)

    # -- embedding -----------------------------------------------------------
    def embed(self, *, paths: Union[None, str, Iterable[str]] = None,
              images: Union[None, PathLike, Iterable[PathLike]] = None,
              weak_labels: bool = True,
              progress: Optional[ProgressCallback] = None) -> Embeddings:
        """Embeds images with the server's model; touches no pool.

        ``paths``: files or folders under the server's ``--input-dir``;
        ``images``: local files or folders, uploaded (named and labelled as
        in ``select``). ``weak_labels=False`` gives label 0 everywhere.
        ``progress(phase, done, total)`` as in ``select`` ("receiving",
        "embedding").

        Returns an Embeddings: ``.embeddings`` is a float32 array (n, d) of
        the model's raw (not normalised) outputs in input order, with
        ``.filenames``, ``.labels``, ``.skipped`` (files that could not be
        decoded, with the reason) and ``.model_fingerprint``. Raises
        DatapoolError: FAILED_PRECONDITION when the server has no model
        (``--model none``), INVALID_ARGUMENT for bad paths or no images.
        """
        paths = [os.fspath(p) for p in _as_list(paths, "paths")]
        images = _as_list(images, "images")
        if not paths and not images:
            raise invalid_argument("embed: no images: give paths (on the "
                                   "server) or images (local files)")
        uploads = _images.list_local_images(images)
        first = pb.EmbedRequest(input_paths=paths,
                                append_weak_labels=bool(weak_labels))
        messages = self._image_messages(pb.EmbedRequest, first, uploads)
        if progress is None:
            response = self._stream_unary(self._stub.Embed, messages)
        else:
            response = self._stream_progress(self._stub.EmbedWithProgress,
                                             messages, progress)
        block = response.embeddings
        n = len(block.filenames)
        d = block.dimension
        values = np.array(block.values, dtype=np.float32)
        if values.size != n * d:
            raise DatapoolError(
                grpc.StatusCode.INTERNAL,
                "the server sent %d values for %d rows of dimension %d"
                % (values.size, n, d))
        labels = list(block.labels) if len(block.labels) == n else [0] * n
        return Embeddings(filenames=list(block.filenames),
                          embeddings=values.reshape(n, d), labels=labels,
                          skipped=_skipped(response.skipped),
                          model_fingerprint=response.model_fingerprint)

    # -- search --------------------------------------------------------------
    def search(self, pool: str, *,
               embeddings: Optional[EmbeddingsLike] = None,
               filenames: Optional[Sequence[str]] = None,
               paths: Union[None, str, Iterable[str]] = None,
               images: Union[None, PathLike, Iterable[PathLike]] = None,
               k: int = 5) -> SearchResults:
        """The k nearest pool samples of each query.

        Queries are ``embeddings`` (array-like (n, d), or an Embeddings;
        ``filenames`` name them, default ``query_0``, ``query_1``...) or
        images (``paths`` on the server, ``images`` uploaded), not both;
        the server embeds images with its model. k: 1..1000.

        Returns a SearchResults: a list of QueryResult(query, neighbors),
        one per query, neighbors nearest first (Neighbor(filename,
        distance, label); distances between unit vectors, 0..2), and
        ``.skipped`` for images that could not be used. Raises
        DatapoolError: NOT_FOUND for a missing pool, FAILED_PRECONDITION
        for another dimension or model, INVALID_ARGUMENT for a bad k.
        """
        paths = [os.fspath(p) for p in _as_list(paths, "paths")]
        images = _as_list(images, "images")
        self._check_sources(embeddings, paths, images, "search")
        k = _int(k, "k")
        if not 1 <= k <= 1000:
            raise invalid_argument("k must be in 1..1000, got %d" % k)
        if embeddings is not None:
            table = _Table(embeddings, filenames, None, "embeddings", True)
            messages = self._row_messages(pb.SearchRequest(pool=pool, k=k),
                                          "queries", table)
        else:
            if filenames is not None:
                raise invalid_argument("filenames go with embeddings; "
                                       "images are named by their paths")
            uploads = _images.list_local_images(images)
            first = pb.SearchRequest(pool=pool, k=k, input_paths=paths)
            messages = self._image_messages(pb.SearchRequest, first, uploads)
        response = self._stream_unary(self._stub.Search, messages)
        return SearchResults(
            [QueryResult(r.query, [Neighbor(n.filename, n.distance, n.label)
                                   for n in r.neighbors])
             for r in response.results],
            _skipped(response.skipped))

    # -- pools ---------------------------------------------------------------
    def pools(self) -> List[PoolInfo]:
        """Every pool on the server (PoolInfo), as ListPools returns them."""
        response = self._unary(self._stub.ListPools, pb.ListPoolsRequest())
        return [_pool_info(p) for p in response.pools]

    def pool(self, name: str) -> PoolInfo:
        """The pool's PoolInfo (size, dimension, version, times, folder,
        model). Raises DatapoolError NOT_FOUND when it does not exist."""
        return _pool_info(self._unary(self._stub.GetPool,
                                      pb.GetPoolRequest(pool=name)))

    def history(self, name: str) -> List[Version]:
        """The pool's kept versions and the current one, oldest first
        (Version: version, time, size, csv_file, current). NOT_FOUND when
        the pool does not exist."""
        response = self._unary(self._stub.ListHistory,
                               pb.ListHistoryRequest(pool=name))
        return [Version(v.version, v.time, v.size, v.csv_file, v.current)
                for v in response.versions]

    def restore(self, name: str, version: int) -> PoolInfo:
        """Makes a kept version the pool's new latest, under a new version
        number (the replaced latest goes to history). Returns the pool
        after the restore. NOT_FOUND for an unknown pool or version."""
        version = _int(version, "version")
        if version < 0:
            raise invalid_argument("version must be >= 0, got %d" % version)
        response = self._unary(
            self._stub.RestoreVersion,
            pb.RestoreVersionRequest(pool=name, version=version))
        return _pool_info(response.pool)

    def delete(self, name: str) -> PoolInfo:
        """Removes the pool's folder with its history; returns the pool as
        it was. NOT_FOUND when it does not exist."""
        response = self._unary(self._stub.DeletePool,
                               pb.DeletePoolRequest(pool=name))
        return _pool_info(response.deleted)

    def merge(self, target: str, sources: Union[str, Sequence[str]], *,
              create: bool = False, min_distance: Optional[float] = None,
              on_collision: str = "fail", keep_history: bool = True,
              dry_run: bool = False) -> MergeResult:
        """Adds the samples of the source pools (unchanged) to target.

        create: target must not exist yet and is made (its model comes from
        the first source); otherwise it must exist. min_distance: a source
        sample joins only when at least that far from everything already
        there (farthest first); the rest count as too_close. on_collision,
        for a filename the target already has: ``"fail"`` (the whole merge
        fails with ALREADY_EXISTS), ``"prefix"`` (renamed
        ``<source>/<filename>``) or ``"skip"`` (dropped). dry_run reports
        and writes nothing.

        Returns a MergeResult. Raises DatapoolError: NOT_FOUND for a
        missing pool, FAILED_PRECONDITION for another dimension or model,
        ALREADY_EXISTS for a collision under "fail" or create with an
        existing target.
        """
        if isinstance(sources, str):
            sources = [sources]
        if on_collision not in _COLLISIONS:
            raise invalid_argument(
                "on_collision must be one of %s, got %r"
                % (", ".join(sorted(_COLLISIONS)), on_collision))
        request = pb.MergePoolsRequest(
            target=target, sources=list(sources), create=bool(create),
            on_collision=_COLLISIONS[on_collision],
            keep_history=bool(keep_history), dry_run=bool(dry_run))
        if min_distance is not None:
            request.min_distance = float(min_distance)
        r = self._unary(self._stub.MergePools, request)
        return MergeResult(
            pool=_pool_info(r.pool),
            sources=[MergedSource(s.pool, s.samples, s.merged, s.renamed,
                                  s.skipped_collisions, s.too_close)
                     for s in r.sources],
            pool_size_before=r.pool_size_before,
            pool_size_after=r.pool_size_after, committed=r.committed)

    def report(self, name: str, version: Optional[int] = None, *,
               html: bool = False) -> Report:
        """The selection report of the pool's ``version`` (default: the
        newest report). Every selection that commits picks writes one:
        report.json (``Report.data``, a dict) and a self-contained
        report.html (``Report.html``, fetched only with ``html=True``; a few
        hundred KB). ``Report.save(folder)`` writes both locally.

        Raises DatapoolError NOT_FOUND for a missing pool, or a version
        without a report (restores and merges write none)."""
        if version is None:
            version = 0  # the newest
        else:
            version = _int(version, "version")
            if version < 1:
                raise invalid_argument("version must be >= 1 (or None for "
                                       "the newest), got %d" % version)
        r = self._unary(self._stub.GetReport,
                        pb.GetReportRequest(pool=name, version=version,
                                            include_html=bool(html)))
        return _report(r)

    def health(self) -> str:
        """The server's overall health (grpc.health.v1): ``"SERVING"``
        when it serves, else ``"NOT_SERVING"``, ...; DatapoolError
        UNAVAILABLE when it cannot be reached."""
        response = self._unary(self._health.Check,
                               health_pb2.HealthCheckRequest())
        return _HEALTH_NAMES.get(response.status, str(response.status))


# -- proto -> dataclasses ------------------------------------------------------
def _skipped(items):
    return [Skipped(s.filename, s.reason) for s in items]


def _pool_info(p):
    return PoolInfo(name=p.name, size=p.size, dimension=p.dimension,
                    version=p.version, created_time=p.created_time,
                    updated_time=p.updated_time, folder=p.folder,
                    normalized=p.normalized,
                    model_fingerprint=p.model_fingerprint,
                    input_size=p.input_size, problem=p.problem)


def _report(r):
    return Report(version=r.version, folder=r.folder,
                  data=json.loads(r.json) if r.json else None,
                  html=r.html, error=r.error, json=r.json)


def _select_result(r):
    return SelectResult(
        selected=[Pick(s.filename,
                       s.distance if s.HasField("distance") else None,
                       s.label) for s in r.selected],
        skipped=_skipped(r.skipped),
        stop_reason=_STOP_REASONS.get(r.stop_reason, "unspecified"),
        version=r.version, committed=r.committed,
        pool_size_before=r.pool_size_before,
        pool_size_after=r.pool_size_after,
        candidates_received=r.candidates_received,
        candidates_already_in_pool=r.candidates_already_in_pool,
        duplicates_removed=r.duplicates_removed,
        distance_evaluations=r.distance_evaluations,
        evaluations_skipped=r.evaluations_skipped,
        report=_report(r.report) if r.HasField("report") else None,
        duplicates=[Duplicate(d.filename, d.same_as) for d in r.duplicates])
