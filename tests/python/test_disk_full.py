"""A full disk under the real server: a commit that cannot be written fails
with RESOURCE_EXHAUSTED naming the path, leaves the pool exactly as it was
(same bytes, no temporary files, no half-made pool), and the server keeps
serving; once space is back, commits succeed.

The server runs in its own user and mount namespaces (`unshare -rm`, no
privileges needed) with a 1 MiB tmpfs as its shared folder; the test reads
that folder through /proc/<pid>/root. Where the kernel allows no user
namespaces the test is skipped, saying so (the C++ test
PoolStoreTest.FailedWriteLeavesPoolUnchanged covers failed writes anyway).

Run: /usr/bin/python3 -m unittest tests/python/test_disk_full.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs, unit_rows  # noqa: E402
from server_harness import RunningServer, health_check, server_binary  # noqa: E402

TIMEOUT_S = 60
TMPFS_BYTES = 1 << 20


def namespaces_available():
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    return subprocess.run([unshare, "-rm", "true"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


class DiskFullTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        if not namespaces_available():
            self.skipTest("unshare -rm is not permitted here: no private "
                          "tmpfs to fill")
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-full-")
        self.addCleanup(tmp.cleanup)
        self.shared = os.path.join(tmp.name, "shared")
        self.input = os.path.join(tmp.name, "input")
        os.mkdir(self.shared)
        os.mkdir(self.input)
        self.rng = np.random.default_rng(5)

    def request(self, pool, prefix, n):
        rows = unit_rows(self.rng.normal(size=(n, 16)))
        block = self.pb2.EmbeddingBlock(
            dimension=16, filenames=["%s/%05d.jpg" % (prefix, i)
                                     for i in range(n)],
            values=rows.ravel().tolist())
        return self.pb2.SelectRequest(
            params=self.pb2.SelectionParams(pool=pool, n_samples_count=n),
            candidates=block)

    def snapshot(self, root):
        """{relative path: bytes} of every file under `root`."""
        files = {}
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, root)] = f.read()
        return files

    def test_full_disk_changes_nothing(self):
        mount = ('mount -t tmpfs -o size=%d tmpfs "$0" && exec "$@"'
                 % TMPFS_BYTES)
        wrapper = ["unshare", "-rm", "sh", "-c", mount, self.shared]
        with RunningServer(self.shared, self.input, ["--model", "none"],
                           wrapper=wrapper) as server:
            # The server's view of its shared folder (the tmpfs).
            shared = "/proc/%d/root%s" % (server.proc.pid, self.shared)
            stub = self.rpc.DatapoolStub(grpc.insecure_channel(server.address))
            first = stub.Select(self.request("p", "a", 100), timeout=TIMEOUT_S)
            self.assertEqual(first.version, 1)
            before = self.snapshot(shared)
            self.assertIn("p/datapool_latest.csv", before)

            # Fill the disk but for a few KiB: no commit fits.
            with open(os.path.join(shared, "filler"), "wb") as f:
                try:
                    f.write(b"\0" * TMPFS_BYTES)
                    f.flush()
                except OSError:
                    pass
            before["filler"] = self.snapshot(shared)["filler"]
            free = os.statvfs(shared)
            self.assertLess(free.f_bavail * free.f_frsize, 16 << 10)

            cases = [("existing pool", self.request("p", "b", 300)),
                     ("new pool", self.request("q", "c", 300))]
            for what, request in cases:
                with self.assertRaises(grpc.RpcError, msg=what) as failed:
                    stub.Select(request, timeout=TIMEOUT_S)
                err = failed.exception
                self.assertEqual(err.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 "%s: %s\n%s" % (what, err.details(),
                                                 server.describe()))
                self.assertIn(self.shared, err.details(), what)
                # Byte for byte what it was: no temporary file, no folder
                # for the new pool.
                self.assertEqual(self.snapshot(shared), before, what)

            info = stub.GetPool(self.pb2.GetPoolRequest(pool="p"),
                                timeout=TIMEOUT_S)
            self.assertEqual((info.version, info.size), (1, 100))
            with self.assertRaises(grpc.RpcError) as missing:
                stub.GetPool(self.pb2.GetPoolRequest(pool="q"),
                             timeout=TIMEOUT_S)
            self.assertEqual(missing.exception.code(),
                             grpc.StatusCode.NOT_FOUND)
            self.assertEqual(health_check(grpc.insecure_channel(
                server.address)), 1)  # SERVING

            # Space again: the same commit goes through.
            os.remove(os.path.join(shared, "filler"))
            again = stub.Select(self.request("p", "b", 300), timeout=TIMEOUT_S)
            self.assertEqual((again.version, again.pool_size_after), (2, 400))


if __name__ == "__main__":
    unittest.main()
