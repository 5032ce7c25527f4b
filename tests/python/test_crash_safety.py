"""Crash harness: the real server is killed with SIGKILL while clients
commit, at 100+ different moments, and restarted each time. After every
restart the pool must load, equal a committed version, and hold every
acknowledged selection; temporary files must be gone.

The kill is not timed by sleeps: a client thread commits back to back and
the test kills the server as soon as a chosen number of commits has been
acknowledged, so the next commit is cut at whatever point it has reached.

Run: /usr/bin/python3 -m unittest tests/python/test_crash_safety.py
"""

import os
import random
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs, unit_rows  # noqa: E402
from lightly_csv import check_lightly_csv  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402

CYCLES = 110
POOL = "crash"
D = 48


class CrashSafetyTest(unittest.TestCase):

    def test_kill_during_commits(self):
        server_binary()
        pb2, rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-crash-")
        self.addCleanup(tmp.cleanup)
        shared = os.path.join(tmp.name, "shared")
        inp = os.path.join(tmp.name, "input")
        os.mkdir(shared)
        os.mkdir(inp)
        pool_dir = os.path.join(shared, POOL)
        rng = np.random.default_rng(1)
        chooser = random.Random(2)
        expected = []  # pool filenames in order, as committed
        version = 0
        batch = 0

        for cycle in range(CYCLES):
            server = RunningServer(shared, inp, extra_args=["--model", "none"])
            server.__enter__()
            try:
                stub = rpc.DatapoolStub(grpc.insecure_channel(server.address))
                # 1. What survived the last kill is a committed version.
                if version > 0:
                    info = stub.GetPool(pb2.GetPoolRequest(pool=POOL), timeout=30)
                    self.assertIn(info.version, (version, version + 1),
                                  "cycle %d" % cycle)
                    names, _, _ = check_lightly_csv(
                        os.path.join(pool_dir, "datapool_latest.csv"))
                    self.assertEqual(names[:len(expected)], expected,
                                     "an acknowledged pick was lost (cycle %d)"
                                     % cycle)
                    self.assertEqual(info.size, len(names))
                    if info.version == version + 1:
                        # The commit in flight at the kill had landed.
                        self.assertGreater(len(names), len(expected))
                        expected = names
                        version += 1
                    else:
                        self.assertEqual(len(names), len(expected))
                    leftovers = [f for f in os.listdir(pool_dir) if ".tmp-" in f]
                    self.assertEqual(leftovers, [], "cycle %d" % cycle)

                # 2. Commit back to back; kill after `target` acknowledgements.
                target = chooser.randint(0, 3)
                acked = threading.Event() if target > 0 else None
                acks = []
                stop = threading.Event()

                def commit_loop():
                    nonlocal batch
                    while not stop.is_set():
                        batch += 1
                        rows = unit_rows(rng.normal(size=(300, D)))
                        names = ["b%05d/%03d.jpg" % (batch, i) for i in range(300)]
                        request = pb2.SelectRequest(
                            params=pb2.SelectionParams(pool=POOL,
                                                       n_samples_count=25),
                            candidates=pb2.EmbeddingBlock(
                                dimension=D, filenames=names,
                                values=rows.ravel().tolist()))
                        try:
                            r = stub.Select(request, timeout=30)
                        except grpc.RpcError:
                            return  # the server was killed
                        acks.append((r.version, [s.filename for s in r.selected]))
                        if acked is not None and len(acks) >= target:
                            acked.set()

                thread = threading.Thread(target=commit_loop)
                thread.start()
                if acked is not None:
                    self.assertTrue(acked.wait(60), "no commit acknowledged")
            finally:
                server.crash()
            stop.set()
            thread.join(60)
            self.assertFalse(thread.is_alive())
            for v, picks in acks:
                self.assertEqual(v, version + 1, "versions are consecutive")
                version = v
                expected.extend(picks)

        self.assertGreater(version, CYCLES)  # commits really happened


if __name__ == "__main__":
    unittest.main()
