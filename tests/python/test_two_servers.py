"""Two real server processes on one shared folder: each pool is written by
one owner (lock file + OS lock); the other refuses writes with
FAILED_PRECONDITION naming the owner, and takes the pool over once the owner
has stopped.

Run: /usr/bin/python3 -m unittest tests/python/test_two_servers.py
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs, unit_rows  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402

TIMEOUT_S = 60


class TwoServersTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-two-")
        self.addCleanup(tmp.cleanup)
        self.shared = os.path.join(tmp.name, "shared")
        self.input = os.path.join(tmp.name, "input")
        os.mkdir(self.shared)
        os.mkdir(self.input)
        self.rng = np.random.default_rng(3)

    def select(self, server, pool, prefix, n=2):
        rows = unit_rows(self.rng.normal(size=(8, 6)))
        block = self.pb2.EmbeddingBlock(
            dimension=6, filenames=["%s%d" % (prefix, i) for i in range(8)],
            values=rows.ravel().tolist())
        request = self.pb2.SelectRequest(
            params=self.pb2.SelectionParams(pool=pool, n_samples_count=n),
            candidates=block)
        stub = self.rpc.DatapoolStub(grpc.insecure_channel(server.address))
        return stub.Select(request, timeout=TIMEOUT_S)

    def test_one_owner_then_take_over(self):
        a = RunningServer(self.shared, self.input)
        a.__enter__()
        try:
            first = self.select(a, "shared-pool", "a")
            self.assertEqual(first.version, 1)
            with RunningServer(self.shared, self.input) as b:
                with self.assertRaises(grpc.RpcError) as refused:
                    self.select(b, "shared-pool", "b")
                self.assertEqual(refused.exception.code(),
                                 grpc.StatusCode.FAILED_PRECONDITION)
                self.assertIn("pid %d" % a.proc.pid,
                              refused.exception.details())
                # The owner keeps writing meanwhile.
                self.assertEqual(self.select(a, "shared-pool", "c").version, 2)
                # B owns the pools it creates; A may not write those.
                self.assertEqual(self.select(b, "b-pool", "d").version, 1)
                with self.assertRaises(grpc.RpcError) as foreign:
                    self.select(a, "b-pool", "e")
                self.assertEqual(foreign.exception.code(),
                                 grpc.StatusCode.FAILED_PRECONDITION)
                # A stops: B takes its pool over, with A's last commit.
                a.stop()
                taken = self.select(b, "shared-pool", "f")
                self.assertEqual(taken.pool_size_before, 4)
                self.assertEqual(taken.version, 3)
                with open(os.path.join(self.shared, "shared-pool",
                                       "datapool.lock")) as f:
                    self.assertIn("pid %d" % b.proc.pid, f.read())
        finally:
            a.stop()


if __name__ == "__main__":
    unittest.main()
