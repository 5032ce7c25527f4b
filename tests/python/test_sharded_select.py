"""Exact sharded greedy k-center across real server processes (issue 18):
three datapool-server processes on loopback share one folder; the
coordinator (datapool-shard-select) loads a slice of the candidates on each
over the shard RPC (datapool.cluster.v1) and runs the greedy loop. Its picks
and distances equal one server's Select on the same data, ties included
(duplicate rows and axis vectors at exactly equal distances), with and
without a pool read from the shared folder by name. The shard RPC takes
the servers' bearer tokens: none or a wrong one is UNAUTHENTICATED.

Run: /usr/bin/python3 -m unittest tests/python/test_sharded_select.py
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs  # noqa: E402
from server_harness import (RunningServer, require_binary,  # noqa: E402
                            server_binary)

TIMEOUT_S = 60
D = 8


def normalize_like_server(rows, count):
    """`count` float32 rows the server leaves unchanged: its normalisation
    (squares summed in double in order, one float scale) repeated to a fixed
    point; rows that oscillate between two values are left out."""
    kept = []
    for r in np.array(rows, dtype=np.float32):
        for _ in range(8):
            sq = 0.0
            for x in r:
                sq += float(x) * float(x)
            scaled = (r * np.float32(1.0 / math.sqrt(sq))).astype(np.float32)
            if np.array_equal(scaled, r):
                kept.append(r)
                break
            r = scaled
        if len(kept) == count:
            return np.array(kept, dtype=np.float32)
    raise AssertionError("too few rows reached a fixed point")


def candidates(rng):
    """300 unit rows: the 16 axis vectors ±e_i three times each (exact ties:
    their squared distances are 0, 2 or 4) and 252 random ones, shuffled."""
    axis = np.concatenate([np.eye(D), -np.eye(D)]).astype(np.float32)
    rows = np.concatenate([axis, axis, axis,
                           normalize_like_server(rng.normal(size=(600, D)), 252)])
    return rows[rng.permutation(len(rows))].astype(np.float32)


class ShardedSelectTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        self.shard_select = require_binary("DATAPOOL_SHARD_SELECT_BIN")
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-sharded-")
        self.addCleanup(tmp.cleanup)
        self.shared = os.path.join(tmp.name, "shared")
        self.input = os.path.join(tmp.name, "input")
        os.mkdir(self.shared)
        os.mkdir(self.input)
        self.rng = np.random.default_rng(18)

    def params(self, pool, n, **kw):
        diversity = self.pb2.SelectionObjective(
            input=self.pb2.SelectionObjective.INPUT_EMBEDDINGS,
            strategy=self.pb2.SelectionObjective.STRATEGY_DIVERSITY)
        return self.pb2.SelectionParams(
            pool=pool, n_samples_count=n, remove_duplicates=False,
            config=self.pb2.SelectionConfig(objectives=[diversity]), **kw)

    def select(self, server, params, rows, prefix):
        block = self.pb2.EmbeddingBlock(
            dimension=D, filenames=["%s%03d" % (prefix, i)
                                    for i in range(len(rows))],
            values=rows.ravel().tolist())
        stub = self.rpc.DatapoolStub(grpc.insecure_channel(server.address))
        return stub.Select(self.pb2.SelectRequest(params=params,
                                                  candidates=block),
                           timeout=TIMEOUT_S)

    def run_sharded(self, servers, n, k, pool=None, token_file=None):
        args = [self.shard_select,
                "--peers=" + ",".join(s.address for s in servers),
                "--candidates=cands.f32", "--n=%d" % n, "--d=%d" % D,
                "--k=%d" % k, "--threads=1"]
        if pool:
            args.append("--pool=" + pool)
        if token_file:
            args.append("--token-file=" + token_file)
        return subprocess.run(args, capture_output=True, text=True,
                              timeout=TIMEOUT_S)

    def sharded(self, servers, n, k, pool=None, token_file=None):
        done = self.run_sharded(servers, n, k, pool, token_file)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def test_sharded_picks_equal_one_servers(self):
        cands = candidates(self.rng)
        cands.tofile(os.path.join(self.shared, "cands.f32"))
        pool_rows = normalize_like_server(self.rng.normal(size=(60, D)), 6)
        with RunningServer(self.shared, self.input) as a, \
                RunningServer(self.shared, self.input) as b, \
                RunningServer(self.shared, self.input) as c:
            made = self.select(a, self.params("base", 6), pool_rows, "p")
            self.assertTrue(made.committed)
            self.assertEqual(made.pool_size_after, 6)
            for pool, k in ((None, 80), ("base", 80), (None, 400), ("base", 400)):
                with self.subTest(pool=pool, k=k):
                    one = self.select(
                        a, self.params(pool or "fresh", k, dry_run=True),
                        cands, "c")
                    want = [int(s.filename[1:]) for s in one.selected]
                    want_d = [s.distance if s.HasField("distance") else None
                              for s in one.selected]
                    got = self.sharded([a, b, c], len(cands), k, pool)
                    self.assertEqual(got["shards"], 3)
                    self.assertEqual(got["picks"], want)
                    self.assertEqual(got["distances"], want_d)
                    stop = self.pb2.StopReason.Name(one.stop_reason)
                    self.assertEqual(got["stop_reason"].upper(),
                                     stop.replace("STOP_REASON_", ""))
                    if k < len(cands):
                        continue
                    # Every row picked, duplicates included: the last 32
                    # picks are the duplicates, all at distance exactly 0,
                    # so the tie-break alone ordered them.
                    self.assertEqual(sorted(want), list(range(len(cands))))
                    self.assertEqual(want_d[-32:], [0.0] * 32)
                    self.assertGreater(want_d[-33], 0.0)


    def test_the_servers_tokens_guard_the_shard_rpc(self):
        cands = candidates(self.rng)
        cands.tofile(os.path.join(self.shared, "cands.f32"))
        tokens = os.path.join(self.input, "tokens")
        right = os.path.join(self.input, "right")
        wrong = os.path.join(self.input, "wrong")
        for path, text in ((tokens, "s3cret\n"), (right, "s3cret\n"),
                           (wrong, "guess\n")):
            with open(path, "w") as f:
                f.write(text)
        flags = ["--auth-token-file", tokens]
        with RunningServer(self.shared, self.input, flags) as a, \
                RunningServer(self.shared, self.input, flags) as b:
            for token_file in (None, wrong):
                refused = self.run_sharded([a, b], len(cands), 10,
                                           token_file=token_file)
                self.assertEqual(refused.returncode, 2)
                self.assertIn("UNAUTHENTICATED", refused.stderr)
            got = self.sharded([a, b], len(cands), 10, token_file=right)
            self.assertEqual(len(got["picks"]), 10)


if __name__ == "__main__":
    unittest.main()
