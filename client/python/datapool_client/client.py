"""The Datapool client: a typed wrapper over the generated gRPC stubs.

Building requests is in ``_requests``, making the calls in ``_calls``, and
turning responses into the dataclasses of ``types`` in ``_convert``.
"""

from typing import (Any, Callable, Iterable, List, Mapping, Optional,
                    Sequence, Union)

import numpy as np

from . import _calls, _columns, _convert, _images, _train
from . import _requests as req
from ._channel import TLS, PathLike, make_channel
from ._gen import datapool_pb2 as pb
from ._gen import datapool_pb2_grpc as pb_grpc
from ._gen import health_pb2
from ._gen import health_pb2_grpc
from .errors import invalid_argument
from .types import (Embeddings, MergeResult, ModelChange, PoolInfo, Report,
                    SearchResults, SelectResult, TrainResult, Version)

__all__ = ["Client", "TLS", "DEFAULT_TARGET", "ProgressCallback"]

DEFAULT_TARGET = "127.0.0.1:50051"
# Streamed requests are cut into messages of about this size.
DEFAULT_CHUNK_BYTES = 1 << 20

ProgressCallback = Callable[[str, int, int], None]
# An (n, d) numpy array or nested sequences of floats, or an Embeddings.
EmbeddingsLike = Union[np.ndarray, Sequence[Sequence[float]], Embeddings]
# A column of select's ``columns``: one number per candidate row, or
# {filename: number}.
ColumnValues = Union[np.ndarray, Sequence[float], Mapping[str, float]]


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
        self._channel = make_channel(target, tls, options)
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
        return _calls.unary(method, request, self.timeout, self._metadata)

    def _stream_unary(self, method, messages):
        return _calls.stream_unary(method, messages, self.timeout,
                                   self._metadata)

    def _stream_progress(self, method, messages, progress):
        return _calls.stream_progress(method, messages, progress,
                                      self.timeout, self._metadata)

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
               progress: Optional[ProgressCallback] = None,
               strategy: Optional[str] = None,
               selection_config: Union[None, Mapping[str, Any],
                                       pb.SelectionConfig] = None,
               columns: Optional[Mapping[str, ColumnValues]] = None
               ) -> SelectResult:
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
        in (0, 1]) of the eligible candidates (the type picks which; the
        server checks the value); ``min_distance`` stops when
        the farthest remaining candidate is closer than that (0..2) to the
        pool and the picks. At least one is required; with both, the first
        met stops.

        Ranking: ``strategy`` is ``"typical"`` (what None gives, the
        server's default: diverse picks that prefer samples from dense
        regions) or ``"diversity"`` (plain greedy k-center, the picks of
        earlier Datapool versions). Or ``selection_config``: Lightly's
        selection-config layout as a dict (``{"strategies": [{"input":
        {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}, ...]}``;
        inputs EMBEDDINGS, RANDOM, LABELS, METADATA (``"key"``: a column),
        SCORES (``"task"``, ``"score"``: uncertainty_entropy,
        uncertainty_margin or uncertainty_least_confidence from the
        class-probability columns ``<task>_0`` ... ``<task>_{C-1}``);
        strategies DIVERSITY, TYPICALITY, WEIGHTS, BALANCE, THRESHOLD
        (``"threshold"``, ``"operation"``: SMALLER, SMALLER_EQUAL, BIGGER,
        BIGGER_EQUAL; a filter applied before the ranking) and SIMILARITY
        (``"query_tag_name"``: a pool, or ``"query_embeddings"``: an
        array-like (n, d) or an Embeddings, with optional
        ``"query_filenames"``); a DIVERSITY
        ``stopping_condition_minimum_distance`` is the min_distance), or a
        ``pb.SelectionConfig``. Not both.

        Columns: ``columns`` gives the numbers that METADATA and SCORES
        inputs read, ``{name: values}``; values are either a sequence of
        numbers, one per row of ``embeddings`` in their order, or a dict
        ``{filename: number}`` (embeddings or images; for embeddings every
        row needs a value and entries for other filenames are not sent).
        Values must be finite numbers. They travel with the candidates in
        the streamed messages. Only the columns given are sent; a column
        that a METADATA or SCORES input reads must have a value for every
        candidate (the server checks).

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

        Returns a SelectResult (``candidates_filtered``: how many a
        THRESHOLD left out). Raises DatapoolError: INVALID_ARGUMENT (bad
        pool name or parameters, no stopping condition, malformed
        candidates, an unknown strategy or selection_config type; a column
        that is not finite numbers, or whose length is not the row count,
        refused before calling),
        FAILED_PRECONDITION (another dimension or model than
        the pool's), NOT_FOUND (a local image path that does not exist).
        """
        paths = req.server_paths(paths)
        images = req.as_list(images, "images")
        req.check_sources(embeddings, paths, images, "select")
        params = req.selection_params(
            pool, n_samples, min_distance, dry_run=dry_run,
            keep_history=keep_history, weak_labels=weak_labels,
            remove_duplicates=remove_duplicates, report=report,
            strategy=strategy, selection_config=selection_config)
        parsed_columns = _columns.parse(columns)
        if embeddings is not None:
            table = req.Table(embeddings, filenames, labels, "embeddings",
                              False)
            messages = req.row_messages(
                pb.SelectRequest(params=params), "candidates", table,
                self.chunk_bytes,
                _columns.for_rows(parsed_columns, table.filenames))
        else:
            if filenames is not None or labels is not None:
                raise invalid_argument(
                    "filenames and labels go with embeddings; images are "
                    "named by their paths")
            column_messages = _columns.for_images(parsed_columns,
                                                  self.chunk_bytes)
            uploads = _images.list_local_images(images)
            first = pb.SelectRequest(params=params, input_paths=paths)
            messages = req.image_messages(pb.SelectRequest, first, uploads,
                                          self.chunk_bytes, column_messages)
        if progress is None:
            response = self._stream_unary(self._stub.SelectStream, messages)
        else:
            response = self._stream_progress(self._stub.SelectWithProgress,
                                             messages, progress)
        return _convert.select_result(response)

    # -- embedding -----------------------------------------------------------
    def embed(self, *, paths: Union[None, str, Iterable[str]] = None,
              images: Union[None, PathLike, Iterable[PathLike]] = None,
              weak_labels: bool = True,
              progress: Optional[ProgressCallback] = None,
              pool: Optional[str] = None) -> Embeddings:
        """Embeds images with the server's model; touches no pool.

        ``paths``: files or folders under the server's ``--input-dir``;
        ``images``: local files or folders, uploaded (named and labelled as
        in ``select``). ``weak_labels=False`` gives label 0 everywhere.
        ``progress(phase, done, total)`` as in ``select`` ("receiving",
        "embedding"). ``pool``: embed with that pool's model (the one its
        rows were made with, which may not be the server's default, e.g.
        for a SIMILARITY query set) instead of the server's default; the
        pool is not changed.

        Returns an Embeddings: ``.embeddings`` is a float32 array (n, d) of
        the model's raw (not normalised) outputs in input order, with
        ``.filenames``, ``.labels``, ``.skipped`` (files that could not be
        decoded, with the reason) and ``.model_fingerprint`` (of the model
        that embedded them). Raises DatapoolError: FAILED_PRECONDITION when
        the server has no model (``--model none``) or ``pool`` has none
        (client embeddings) or its checkpoint cannot be loaded, NOT_FOUND
        when there is no pool ``pool``, INVALID_ARGUMENT for bad paths or
        no images.
        """
        paths = req.server_paths(paths)
        images = req.as_list(images, "images")
        if not paths and not images:
            raise invalid_argument("embed: no images: give paths (on the "
                                   "server) or images (local files)")
        uploads = _images.list_local_images(images)
        first = pb.EmbedRequest(input_paths=paths,
                                append_weak_labels=bool(weak_labels),
                                pool=pool or "")
        messages = req.image_messages(pb.EmbedRequest, first, uploads,
                                      self.chunk_bytes)
        if progress is None:
            response = self._stream_unary(self._stub.Embed, messages)
        else:
            response = self._stream_progress(self._stub.EmbedWithProgress,
                                             messages, progress)
        return _convert.embeddings(response)

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
        paths = req.server_paths(paths)
        images = req.as_list(images, "images")
        req.check_sources(embeddings, paths, images, "search")
        k = req.to_int(k, "k")
        if not 1 <= k <= 1000:
            raise invalid_argument("k must be in 1..1000, got %d" % k)
        if embeddings is not None:
            table = req.Table(embeddings, filenames, None, "embeddings", True)
            messages = req.row_messages(pb.SearchRequest(pool=pool, k=k),
                                        "queries", table, self.chunk_bytes)
        else:
            if filenames is not None:
                raise invalid_argument("filenames go with embeddings; "
                                       "images are named by their paths")
            uploads = _images.list_local_images(images)
            first = pb.SearchRequest(pool=pool, k=k, input_paths=paths)
            messages = req.image_messages(pb.SearchRequest, first, uploads,
                                          self.chunk_bytes)
        return _convert.search_results(
            self._stream_unary(self._stub.Search, messages))

    # -- pools ---------------------------------------------------------------
    def pools(self) -> List[PoolInfo]:
        """Every pool on the server (PoolInfo), as ListPools returns them."""
        response = self._unary(self._stub.ListPools, pb.ListPoolsRequest())
        return [_convert.pool_info(p) for p in response.pools]

    def pool(self, name: str) -> PoolInfo:
        """The pool's PoolInfo (size, dimension, version, times, folder,
        model). Raises DatapoolError NOT_FOUND when it does not exist."""
        return _convert.pool_info(self._unary(self._stub.GetPool,
                                              pb.GetPoolRequest(pool=name)))

    def history(self, name: str) -> List[Version]:
        """The pool's kept versions and the current one, oldest first
        (Version: version, time, size, csv_file, current). NOT_FOUND when
        the pool does not exist."""
        return _convert.versions(self._unary(
            self._stub.ListHistory, pb.ListHistoryRequest(pool=name)))

    def restore(self, name: str, version: int) -> PoolInfo:
        """Makes a kept version the pool's new latest, under a new version
        number (the replaced latest goes to history). Returns the pool
        after the restore. NOT_FOUND for an unknown pool or version."""
        version = req.to_int(version, "version")
        if version < 0:
            raise invalid_argument("version must be >= 0, got %d" % version)
        response = self._unary(
            self._stub.RestoreVersion,
            pb.RestoreVersionRequest(pool=name, version=version))
        return _convert.pool_info(response.pool)

    def train(self, pool: str, *,
              paths: Union[None, str, Iterable[str]] = None,
              images: Union[None, PathLike, Iterable[PathLike]] = None,
              epochs: Optional[int] = None, batch_size: Optional[int] = None,
              seed: int = 0, device: str = "auto",
              learning_rate: Optional[float] = None,
              temperature: Optional[float] = None,
              augment: Optional[Mapping[str, float]] = None,
              drop_unreadable: bool = False, keep_history: bool = True,
              create: bool = False,
              progress: Optional[ProgressCallback] = None) -> TrainResult:
        """Trains the pool's model self-supervised on the server (SimCLR)
        on the pool's own images (its samples the server can read under
        its ``--input-dir``) plus ``paths`` (on the server) and ``images``
        (local files or folders, uploaded), which train the model but do
        not join the pool; then re-embeds every sample with the trained
        model and commits one new version with the new checkpoint (as
        ``set_pool_model``). ``epochs`` (default 10), ``batch_size``
        (default 32), ``seed`` (on a CPU the same seed and images give
        the same model) and ``device`` ("auto", "cpu" or "cuda").
        ``learning_rate`` (Adam, default 1e-3), ``temperature`` (of the
        contrastive loss, default 0.5) and ``augment``, a mapping from
        TrainAugmentation's fields to numbers that changes how the two
        views of each image are made (e.g. ``{"flip_probability": 0,
        "hue": 0}`` for digits or text); ranges are checked by the server.
        ``progress(phase, done, total)`` as in ``select``
        ("training" counts steps). Cancelling (KeyboardInterrupt in the
        callback, the client's timeout) changes nothing. ``create``: a
        pool that does not exist is made: the server's default model is
        trained on ``paths`` and ``images`` only (two or more) and
        committed as version 1 of a pool with no samples
        (``result.created``), whose ``select`` calls then embed images
        with the trained model; an existing pool trains as usual. Raises
        DatapoolError: NOT_FOUND for a missing pool (without ``create``),
        FAILED_PRECONDITION with fewer than two readable images or
        unreadable samples (unless ``drop_unreadable``), ABORTED when
        another call made the pool meanwhile (run it again)."""
        first = _train.train_request(
            pool, epochs=epochs, batch_size=batch_size, seed=seed,
            device=device, learning_rate=learning_rate,
            temperature=temperature, augment=augment,
            drop_unreadable=drop_unreadable, keep_history=keep_history,
            create=create)
        first.input_paths.extend(req.server_paths(paths))
        uploads = _images.list_local_images(req.as_list(images, "images"))
        messages = req.image_messages(pb.TrainRequest, first, uploads,
                                      self.chunk_bytes)
        response = self._stream_progress(
            self._stub.Train, messages,
            progress if progress is not None else lambda *_: None)
        return TrainResult(
            pool=_convert.pool_info(response.pool), images=response.images,
            epochs=response.epochs, steps=response.steps,
            first_loss=response.first_loss, last_loss=response.last_loss,
            train_seconds=response.train_seconds,
            images_per_second=response.images_per_second,
            device=response.device, reembedded=response.reembedded,
            dropped=_convert.skipped(response.dropped),
            skipped=_convert.skipped(response.skipped),
            continued=response.continued, resumed=response.resumed,
            state_kept=response.state_kept, created=response.created)

    def set_pool_model(self, name: str, model: PathLike, *,
                       input_size: Optional[int] = None,
                       drop_unreadable: bool = False,
                       keep_history: bool = True) -> ModelChange:
        """Makes the TorchScript file ``model`` (local; uploaded in chunks)
        pool ``name``'s model: the server reads every sample's image again
        from its ``--input-dir`` (the sample's filename relative to it),
        embeds it with the model and commits all of them as one new version
        with the new checkpoint (the old one stays in history with the old
        rows). ``input_size``: the model's input side (default: the
        server's ``--input-size``). Samples whose image cannot be read fail
        the call, named (FAILED_PRECONDITION), unless ``drop_unreadable``
        leaves them out. Raises DatapoolError: NOT_FOUND for a missing pool,
        INVALID_ARGUMENT for a file that is not a usable model, ABORTED when
        the pool changed meanwhile (run it again); nothing changes then."""
        size = 0 if input_size is None else req.to_int(input_size,
                                                        "input_size")
        if input_size is not None and not 8 <= size <= 4096:
            raise invalid_argument("input_size must be in [8, 4096], got %d"
                                   % size)
        try:
            with open(model, "rb") as f:
                data = f.read()
        except OSError as e:
            raise invalid_argument("model: cannot read %s: %s"
                                   % (model, e.strerror or e))

        def messages():
            first = pb.SetPoolModelRequest(
                pool=name, input_size=size,
                drop_unreadable=bool(drop_unreadable),
                keep_history=bool(keep_history))
            at = 0
            while True:
                message = first if at == 0 else pb.SetPoolModelRequest()
                message.model_chunk = data[at:at + self.chunk_bytes]
                yield message
                at += self.chunk_bytes
                if at >= len(data):
                    return

        response = self._stream_unary(self._stub.SetPoolModel, messages())
        return ModelChange(pool=_convert.pool_info(response.pool),
                           reembedded=response.reembedded,
                           dropped=_convert.skipped(response.dropped))

    def delete(self, name: str) -> PoolInfo:
        """Removes the pool's folder with its history; returns the pool as
        it was. NOT_FOUND when it does not exist."""
        response = self._unary(self._stub.DeletePool,
                               pb.DeletePoolRequest(pool=name))
        return _convert.pool_info(response.deleted)

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
        request = req.merge_request(target, sources, create, min_distance,
                                    on_collision, keep_history, dry_run)
        return _convert.merge_result(self._unary(self._stub.MergePools,
                                                 request))

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
            version = req.to_int(version, "version")
            if version < 1:
                raise invalid_argument("version must be >= 1 (or None for "
                                       "the newest), got %d" % version)
        r = self._unary(self._stub.GetReport,
                        pb.GetReportRequest(pool=name, version=version,
                                            include_html=bool(html)))
        return _convert.report(r)

    def health(self) -> str:
        """The server's overall health (grpc.health.v1): ``"SERVING"``
        when it serves, else ``"NOT_SERVING"``, ...; DatapoolError
        UNAVAILABLE when it cannot be reached."""
        return _convert.health_status(self._unary(
            self._health.Check, health_pb2.HealthCheckRequest()))
