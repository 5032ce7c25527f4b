"""A Select through the service, sharded over the replicas (issue 18):
three real datapool-server processes on loopback share one folder, with
--shard-select-min-candidates low enough that a DIVERSITY-only Select of
300 candidates runs sharded (the owner holds one slice in process, the
other replicas one each over the shard RPC, with the caller's token). Its
picks, distances, stop reason and committed CSV (latest and history)
equal one server's alone on the same requests, with and without a pool,
duplicates and already-pooled rows ineligible, ties included; the
replicas' metrics show the shards' steps; the same over TLS; the
request's shard_over_replicas overrides the threshold. A replica
killed before a Select: the owner runs it in process instead, the same
picks; once it counts the replica down, over the two that are up.

Run: /usr/bin/python3 -m unittest tests/python/test_sharded_service.py
"""

import os
import re
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs  # noqa: E402
from pki import make_pki  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402
from test_replicas import METRICS_LINE, free_ports, wait_until  # noqa: E402
from test_sharded_select import D, candidates  # noqa: E402

TIMEOUT_S = 60
TOKEN = "sharded-select-token-0123456789"
POOL = "div"


class ShardedServiceSelectTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-sharded-svc-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.shared = os.path.join(tmp.name, "shared")
        self.alone_shared = os.path.join(tmp.name, "alone")
        self.input = os.path.join(tmp.name, "input")
        for d in (self.shared, self.alone_shared, self.input):
            os.mkdir(d)
        tokens = os.path.join(tmp.name, "tokens")
        with open(tokens, "w") as f:
            f.write(TOKEN + "\n")
        self.auth = ["--auth-token-file", tokens]
        self.rng = np.random.default_rng(18)
        self.servers = []
        self.addCleanup(self.stop_all)
        self.credentials = {}  # server address: channel credentials

    def stop_all(self):
        for server in self.servers:
            server.stop()

    def start(self, shared, extra):
        server = RunningServer(shared, self.input,
                               ["--model", "none"] + self.auth + extra)
        server.__enter__()
        self.servers.append(server)
        return server

    def start_replicas(self, extra=()):
        ports = free_ports(3)
        peers = ",".join("127.0.0.1:%d" % p for p in ports)
        return [self.start(self.shared, [
            "--listen", "127.0.0.1:%d" % port, "--replicas", "3",
            "--replica-index", str(i), "--peers", peers,
            "--shard-select-min-candidates", "100"] + list(extra))
            for i, port in enumerate(ports)]

    def owner(self, replicas):
        with open(os.path.join(self.shared, POOL, "datapool.lock")) as f:
            text = f.read()
        return next(r for r in replicas if "pid %d" % r.proc.pid in text)

    def select(self, server, rows, prefix, n, dry_run=False,
               remove_duplicates=True, shard=None):
        diversity = self.pb2.SelectionObjective(
            input=self.pb2.SelectionObjective.INPUT_EMBEDDINGS,
            strategy=self.pb2.SelectionObjective.STRATEGY_DIVERSITY)
        params = self.pb2.SelectionParams(
            pool=POOL, n_samples_count=n, dry_run=dry_run,
            remove_duplicates=remove_duplicates,
            config=self.pb2.SelectionConfig(objectives=[diversity]))
        if shard is not None:
            params.shard_over_replicas = shard
        block = self.pb2.EmbeddingBlock(
            dimension=D, filenames=["%s%03d" % (prefix, i)
                                    for i in range(len(rows))],
            values=rows.ravel().tolist())
        creds = self.credentials.get(server.address)
        channel = (grpc.secure_channel(server.address, creds) if creds
                   else grpc.insecure_channel(server.address))
        self.addCleanup(channel.close)
        return self.rpc.DatapoolStub(channel).Select(
            self.pb2.SelectRequest(params=params, candidates=block),
            timeout=TIMEOUT_S,
            metadata=[("authorization", "Bearer " + TOKEN)])

    def assert_same_selection(self, got, want):
        self.assertEqual([s.filename for s in got.selected],
                         [s.filename for s in want.selected])
        self.assertEqual(
            [s.distance if s.HasField("distance") else None
             for s in got.selected],
            [s.distance if s.HasField("distance") else None
             for s in want.selected])
        for field in ("stop_reason", "committed", "version",
                      "pool_size_before", "pool_size_after",
                      "candidates_already_in_pool"):
            self.assertEqual(getattr(got, field), getattr(want, field), field)

    def assert_same_files(self, history=True):
        """The pool's CSV and its history's, byte for byte."""
        def files(shared):
            out = {}
            root = os.path.join(shared, POOL)
            for folder, _, names in os.walk(root):
                for name in names:
                    if name.endswith(".csv"):
                        path = os.path.join(folder, name)
                        # History names carry the commit's time.
                        key = re.sub(r"[^/]*_(v\d+_)", r"\1",
                                     os.path.relpath(path, root))
                        with open(path, "rb") as f:
                            out[key] = f.read()
            return out
        got, want = files(self.shared), files(self.alone_shared)
        self.assertIn("datapool_latest.csv", want)
        if history:
            self.assertGreater(len(want), 1, want.keys())
        self.assertEqual(got, want)

    def metric(self, server, name, labels=""):
        url = METRICS_LINE.search(server.stderr_text()).group(1)
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        found = re.search(r"^%s%s (\S+)$" % (re.escape(name),
                                              re.escape(labels)), text, re.M)
        return float(found.group(1)) if found else 0.0

    def selections(self, server, result="sharded"):
        """`server`'s datapool_sharded_selections_total{result=...}."""
        return self.metric(server, "datapool_sharded_selections_total",
                           '{result="%s"}' % result)

    def assert_others_stepped(self, replicas, owner, at_least):
        """Every replica but the owner answered `at_least` shard steps."""
        for r in replicas:
            if r is not owner:
                self.assertGreaterEqual(
                    self.metric(r, "datapool_shard_steps_total"), at_least)

    def test_a_sharded_select_equals_one_servers(self):
        replicas = self.start_replicas()
        alone = self.start(self.alone_shared, [])
        first = candidates(self.rng)
        second = candidates(self.rng)
        # Into a new pool (the first pick from the candidates' mean, every
        # duplicate eligible), then into it (its rows ineligible by name,
        # duplicates dropped), then a dry run up to every row.
        steps = [(first, "a", 60, False, False),
                 (first, "a", 60, False, True),
                 (second, "b", 400, True, True)]
        for i, (rows, prefix, n, dry_run, dedupe) in enumerate(steps):
            with self.subTest(step=i):
                want = self.select(alone, rows, prefix, n, dry_run, dedupe)
                got = self.select(replicas[i % 3], rows, prefix, n, dry_run,
                                  dedupe)
                self.assert_same_selection(got, want)
                self.assertEqual(len(want.selected),
                                 {0: 60, 1: 60, 2: 300 - 16 * 2}[i])
        self.assertGreater(self.select(alone, first, "a", 1, True)
                           .candidates_already_in_pool, 0)
        self.assert_same_files()
        # It ran sharded: three selections coordinated by the owner, the
        # other replicas' shards answered the picks.
        owner = self.owner(replicas)
        self.assertEqual(self.selections(owner), 3)
        self.assert_others_stepped(replicas, owner, 60)
        self.assertIn("selection sharded over 3 replicas",
                      owner.stderr_text())
        # Below the threshold: not sharded; unless the request asks
        # (shard_over_replicas), which also keeps one above it unsharded.
        small = candidates(self.rng)[:90]
        want = self.select(alone, small, "s", 10, True)
        self.assert_same_selection(
            self.select(replicas[0], small, "s", 10, True), want)
        self.assert_same_selection(
            self.select(replicas[0], first, "a", 10, True, shard=False),
            self.select(alone, first, "a", 10, True))
        self.assertEqual(self.selections(owner), 3)
        self.assert_same_selection(
            self.select(replicas[1], small, "s", 10, True, shard=True), want)
        self.assertEqual(self.selections(owner), 4)

    def test_over_tls(self):
        """With TLS the owner reaches the other replicas' shards over TLS,
        trusting --peer-tls-ca, with the caller's token."""
        pki = os.path.join(self.tmp, "pki")
        os.mkdir(pki)
        make_pki(pki)
        ca = os.path.join(pki, "ca.pem")
        replicas = self.start_replicas([
            "--tls-cert", os.path.join(pki, "server.pem"),
            "--tls-key", os.path.join(pki, "server.key"),
            "--peer-tls-ca", ca])
        with open(ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        for r in replicas:
            self.credentials[r.address] = creds
        alone = self.start(self.alone_shared, [])
        rows = candidates(self.rng)
        self.assert_same_selection(self.select(replicas[1], rows, "a", 50),
                                   self.select(alone, rows, "a", 50))
        self.assert_same_files(history=False)
        owner = self.owner(replicas)
        self.assertEqual(self.selections(owner), 1)
        self.assert_others_stepped(replicas, owner, 49)

    def test_a_dead_replica_means_the_select_runs_here(self):
        replicas = self.start_replicas(["--peer-down-after-s", "1"])
        alone = self.start(self.alone_shared, [])
        rows = candidates(self.rng)
        self.assert_same_selection(self.select(replicas[0], rows, "a", 50),
                                   self.select(alone, rows, "a", 50))
        owner = self.owner(replicas)
        victim = next(r for r in replicas if r is not owner)
        victim.crash()
        more = candidates(self.rng)
        self.assert_same_selection(self.select(owner, more, "b", 70),
                                   self.select(alone, more, "b", 70))
        self.assert_same_files()
        self.assertEqual(self.selections(owner), 1)
        self.assertEqual(self.selections(owner, "in_process"), 1)
        self.assertIn("it runs on this replica instead", owner.stderr_text())
        # Once the owner counts it down, the next ones are sliced over the
        # two replicas that are up.
        later = candidates(self.rng)
        want = self.select(alone, later, "c", 90, dry_run=True)

        def over_two():
            got = self.select(owner, later, "c", 90, dry_run=True)
            self.assert_same_selection(got, want)
            return "selection sharded over 2 replicas" in owner.stderr_text()
        wait_until(over_two, "a selection sharded over the 2 live replicas")


if __name__ == "__main__":
    unittest.main()
