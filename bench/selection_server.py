"""selection_bench.py's server side: one datapool-server (images enabled,
built-in model), the SDK client, a pool committed from embedding rows, and
dry-run selections with or without a SelectionConfig."""

import inspect

import numpy as np

import benchlib
from benchlib import log

CHUNK_ROWS_BYTES = 1 << 20


def sdk():
    """(Client class, datapool_pb2, datapool_pb2_grpc) from the source
    tree's SDK (client/python), as tests/python/datapool_testlib does."""
    benchlib.use_test_helpers()
    from datapool_testlib import load_stubs
    pb2, pb2_grpc = load_stubs()
    from datapool_client import Client
    return Client, pb2, pb2_grpc


def start_server(binary, shared, inputs):
    """A RunningServer (tests/python/server_harness.py) on a free port:
    --device cpu, the built-in model, warnings only in its log."""
    benchlib.use_test_helpers()
    from server_harness import RunningServer
    return RunningServer(shared, inputs, binary=str(binary),
                         extra_args=["--device", "cpu",
                                     "--log-level", "warning"])


def name(i):
    """A sample's filename on the server."""
    return "s%04d" % i


def index(filename):
    return int(filename[1:])


def diversity_config(pb2):
    """Plain greedy k-center: one DIVERSITY objective on the embeddings."""
    O = pb2.SelectionObjective
    return pb2.SelectionConfig(objectives=[O(
        input=O.INPUT_EMBEDDINGS, strategy=O.STRATEGY_DIVERSITY)])


class Selector:
    """Selections against one server through the SDK. A SelectionConfig
    goes through `Client.select(..., selection_config=...)` when the SDK
    has that keyword, else as a SelectStream request built with the
    generated stubs (`via` says which was used)."""

    def __init__(self, client, pb2, pb2_grpc, channel_target):
        import grpc
        self.client = client
        self.pb2 = pb2
        params = inspect.signature(type(client).select).parameters
        self.via = "sdk" if "selection_config" in params else "stubs"
        from datapool_client import DatapoolError
        self.error, self.invalid = (DatapoolError,
                                    grpc.StatusCode.INVALID_ARGUMENT)
        self.channel = grpc.insecure_channel(channel_target, options=[
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.max_receive_message_length", 64 << 20)])
        self.stub = pb2_grpc.DatapoolStub(self.channel)

    def close(self):
        self.channel.close()

    def commit_pool(self, pool, X, rows):
        """Commits X[rows] into the new pool `pool` (every row, duplicates
        kept)."""
        r = self.client.select(pool, embeddings=X[rows],
                               filenames=[name(i) for i in rows],
                               n_samples=len(rows), remove_duplicates=False)
        if not r.committed or r.pool_size_after != len(rows):
            raise SystemExit("selection_bench: pool %s: committed %s, size "
                             "%d, expected %d rows" % (
                                 pool, r.committed, r.pool_size_after,
                                 len(rows)))
        log("  pool %s: %d rows committed (version %d)"
            % (pool, len(rows), r.version))

    def select(self, pool, X, candidates, b, config=None):
        """Dry-run selection of b among X[candidates] against `pool` (which
        need not exist). Returns (picks as indices into X, [(filename,
        distance or None)], stop reason, duplicates removed)."""
        names = [name(i) for i in candidates]
        r = None
        if config is None or self.via == "sdk":
            kw = {} if config is None else {"selection_config": config}
            try:
                r = self.client.select(pool, embeddings=X[candidates],
                                       filenames=names, n_samples=int(b),
                                       dry_run=True, **kw)
            except (TypeError, ValueError, self.error) as e:
                if config is None or (isinstance(e, self.error) and
                                      e.code != self.invalid):
                    raise
                # The SDK's keyword wants another type than the
                # SelectionConfig message: the stubs from now on.
                self.via = "stubs (the SDK refused a SelectionConfig: %s)" \
                    % str(e).splitlines()[0][:120]
                log("  " + self.via)
        if r is not None:
            picks = [(p.filename, p.distance) for p in r.selected]
            stop, dups = r.stop_reason, r.duplicates_removed
        else:
            resp = self.stub.SelectStream(
                self._messages(pool, X, candidates, names, b, config),
                timeout=600)
            picks = [(s.filename,
                      s.distance if s.HasField("distance") else None)
                     for s in resp.selected]
            stop = {1: "n_samples", 2: "min_distance", 3: "exhausted"}.get(
                resp.stop_reason, "unspecified")
            dups = resp.duplicates_removed
        return (np.asarray([index(f) for f, _ in picks], dtype=np.int64),
                picks, stop, dups)

    def _messages(self, pool, X, candidates, names, b, config):
        pb2 = self.pb2
        params = pb2.SelectionParams(pool=pool, n_samples_count=int(b),
                                     dry_run=True)
        params.config.CopyFrom(config)
        yield pb2.SelectRequest(params=params)
        d = X.shape[1]
        step = max(1, CHUNK_ROWS_BYTES // (4 * d + 16))
        for s in range(0, len(candidates), step):
            rows = candidates[s:s + step]
            yield pb2.SelectRequest(candidates=pb2.EmbeddingBlock(
                dimension=d, filenames=names[s:s + step],
                values=X[rows].ravel().tolist()))


def check_kcenter(X, pool_rows, candidates, picks, stop, b):
    """None when `picks` are a valid greedy k-center (farthest-first) run
    over X[candidates] given the pool X[pool_rows]
    (datapool_testlib.check_greedy_selection, tie-robust), else why not."""
    benchlib.use_test_helpers()
    from datapool_testlib import check_greedy_selection
    try:
        check_greedy_selection(
            X[pool_rows] if len(pool_rows) else np.zeros((0, X.shape[1])),
            {name(i): X[i] for i in candidates}, picks, stop, n_limit=b)
    except AssertionError as e:
        return str(e).splitlines()[0][:300]
    return None
