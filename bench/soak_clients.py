"""soak.py's clients: threads that call the current server back to back
(Selects and reads), and the thread-safe record of every call's outcome."""

import collections
import random
import threading
import time

import grpc
import numpy as np

READS = ("GetPool", "ListPools", "ListHistory", "Search")


class Stats:
    """Every call's outcome; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.Counter()            # method -> calls
        self.errors = collections.Counter()        # (method, code) -> calls
        self.error_times = []                      # (monotonic, code)
        self.latency = collections.defaultdict(list)  # method -> ok seconds
        self.acked = collections.defaultdict(set)  # pool -> filenames
        self.acked_version = collections.Counter()  # pool -> highest version
        self.commits = 0
        self.ok_not_committed = 0
        self.sent_rows = 0

    def record_ok(self, method, seconds):
        with self.lock:
            self.ok[method] += 1
            if len(self.latency[method]) < 200000:
                self.latency[method].append(seconds)

    def record_error(self, method, code):
        with self.lock:
            self.errors[(method, code)] += 1
            self.error_times.append((time.monotonic(), code))

    def record_select(self, pool, response):
        with self.lock:
            if response.committed:
                self.commits += 1
                self.acked[pool].update(s.filename for s in response.selected)
                self.acked_version[pool] = max(self.acked_version[pool],
                                               response.version)
            else:
                self.ok_not_committed += 1


class Client(threading.Thread):
    """Calls the current server back to back until `stop` or its call cap."""

    def __init__(self, index, args, pb2, rpc, sup, stats, stop, max_calls):
        super().__init__(daemon=True, name="soak-client-%d" % index)
        self.index = index
        self.args = args
        self.pb2, self.rpc = pb2, rpc
        self.sup, self.stats, self.stop = sup, stats, stop
        self.max_calls = max_calls
        self.rng = np.random.default_rng([args.seed, index])
        self.pick = random.Random(args.seed * 1000003 + index)
        self.pools = ["soak-%d" % p for p in range(args.pools)]
        self.calls = 0

    def rows(self, n):
        x = self.rng.standard_normal((n, self.args.dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.ravel().tolist()

    def run(self):
        channel, generation, stub = None, -1, None
        while not self.stop.is_set() and self.calls < self.max_calls:
            address, g = self.sup.current()
            if g != generation:
                if channel is not None:
                    channel.close()
                channel = grpc.insecure_channel(address)
                stub = self.rpc.DatapoolStub(channel)
                generation = g
            n = self.calls
            self.calls += 1
            pool = self.pick.choice(self.pools)
            method = "Select"
            if self.pick.random() < self.args.read_share:
                method = self.pick.choice(READS)
            t = time.monotonic()
            try:
                self.call(stub, method, pool, n)
            except grpc.RpcError as e:
                code = e.code().name if e.code() is not None else "NONE"
                self.stats.record_error(method, code)
                # The server may be down: do not spin on a dead address.
                self.stop.wait(0.1)
                continue
            except Exception as e:  # a bug here must not hang the soak
                self.stats.record_error(method, "CLIENT_" + type(e).__name__)
                self.stop.wait(0.1)
                continue
            self.stats.record_ok(method, time.monotonic() - t)
        if channel is not None:
            channel.close()

    def call(self, stub, method, pool, n):
        """One call (the client's n-th) of method on pool."""
        pb2 = self.pb2
        deadline = self.args.deadline_s
        if method == "Select":
            names = ["c%d-%d-%d.jpg" % (self.index, n, i)
                     for i in range(self.args.rows)]
            request = pb2.SelectRequest(
                params=pb2.SelectionParams(
                    pool=pool, n_samples_count=self.pick.randint(
                        self.args.min_picks, self.args.max_picks)),
                candidates=pb2.EmbeddingBlock(
                    dimension=self.args.dim, filenames=names,
                    values=self.rows(self.args.rows)))
            response = stub.Select(request, timeout=deadline)
            self.stats.record_select(pool, response)
        elif method == "GetPool":
            stub.GetPool(pb2.GetPoolRequest(pool=pool), timeout=deadline)
        elif method == "ListPools":
            stub.ListPools(pb2.ListPoolsRequest(), timeout=deadline)
        elif method == "ListHistory":
            stub.ListHistory(pb2.ListHistoryRequest(pool=pool),
                             timeout=deadline)
        else:
            q = 4
            request = pb2.SearchRequest(
                pool=pool, k=5, queries=pb2.EmbeddingBlock(
                    dimension=self.args.dim,
                    filenames=["q%d.jpg" % i for i in range(q)],
                    values=self.rows(q)))
            stub.Search(iter([request]), timeout=deadline)
