"""Hardening against the field's failures, with the real server binary: one
server per address, memory bounded by bytes, no call that hangs on a file,
names that are not UTF-8, a BOM in a CSV, a read-only shared folder, many
pools under a low open-file limit, /metrics behind half-open connections.

Run: /usr/bin/python3 -m unittest tests/python/test_hardening.py
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy", "cv2")

import cv2  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs, unit_rows  # noqa: E402
from server_harness import (RunningServer, cli_binary,  # noqa: E402
                            server_binary)

TIMEOUT_S = 60
SELECT = "/datapool.v1.Datapool/Select"


def write_png(path, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise AssertionError("cv2.imwrite failed for %s" % path)


def metrics_port(server):
    found = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                      server.stderr_text())
    if not found:
        raise AssertionError("no metrics line\n" + server.describe())
    return int(found.group(1))


class HardeningTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-hard-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.shared = os.path.join(tmp.name, "shared")
        self.input = os.path.join(tmp.name, "input")
        os.mkdir(self.shared)
        os.mkdir(self.input)

    def stub(self, server):
        return self.rpc.DatapoolStub(grpc.insecure_channel(server.address))

    def select_rows(self, pool, names, dim=8, seed=0):
        rows = unit_rows(np.random.default_rng(seed).normal(
            size=(len(names), dim)))
        return self.pb2.SelectRequest(
            params=self.pb2.SelectionParams(pool=pool, n_samples_count=1),
            candidates=self.pb2.EmbeddingBlock(
                dimension=dim, filenames=names, values=rows.ravel().tolist()))

    def start_fails(self, args, needle):
        proc = subprocess.run(
            [server_binary(), "--shared-dir", self.shared, "--input-dir",
             self.input] + args, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=TIMEOUT_S)
        self.assertEqual(proc.returncode, 2, proc)
        self.assertIn(needle, proc.stderr)
        self.assertNotIn("listening on", proc.stdout)

    def test_one_server_per_address(self):
        """gRPC and httplib both set SO_REUSEPORT by default: a second
        server on a taken address started and split the clients."""
        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as first:
            self.start_fails(["--model", "none", "--listen", first.address,
                              "--metrics-listen", "127.0.0.1:0"],
                             "cannot listen on " + first.address)
            taken = "127.0.0.1:%d" % metrics_port(first)
            self.start_fails(["--model", "none", "--listen", "127.0.0.1:0",
                              "--metrics-listen", taken],
                             "cannot serve metrics on " + taken)
            # The first one still serves.
            self.assertEqual(self.stub(first).Select(
                self.select_rows("p", ["a", "b"]), timeout=TIMEOUT_S).version,
                1)

    def test_request_bytes_are_bounded(self):
        """2048-d rows in large messages grew the server until the kernel
        killed it: --max-candidates counted rows only."""
        with RunningServer(self.shared, self.input,
                           ["--model", "none", "--max-request-mb", "8"]
                           ) as server:
            stub = self.stub(server)
            dim, per_message = 2048, 400  # 3.3 MB a message

            def messages():
                for m in range(4):
                    names = ["m%d-%d" % (m, i) for i in range(per_message)]
                    message = self.select_rows("big", names, dim=dim, seed=m)
                    if m > 0:
                        message.ClearField("params")  # first message only
                    yield message

            with self.assertRaises(grpc.RpcError) as refused:
                stub.SelectStream(messages(), timeout=TIMEOUT_S)
            self.assertEqual(refused.exception.code(),
                             grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("--max-request-mb", refused.exception.details())
            self.assertFalse(os.path.exists(os.path.join(self.shared, "big")))
            # Under the limit the same rows go through.
            reply = stub.SelectStream(iter(list(messages())[:2]),
                                      timeout=TIMEOUT_S)
            self.assertTrue(reply.committed)

    def test_files_in_the_input_folder_cannot_hang_or_bloat_a_call(self):
        """A FIFO named like an image blocked its call for ever (and its
        admission slot, and SIGTERM); a huge file was read whole."""
        batch = os.path.join(self.input, "batch")
        for i in range(3):
            write_png(os.path.join(batch, "img%d.png" % i), i)
        os.mkfifo(os.path.join(batch, "pipe.png"))
        with open(os.path.join(batch, "huge.png"), "wb") as f:
            f.write(os.urandom(2 << 20))
        with RunningServer(self.shared, self.input,
                           ["--max-image-mb", "1", "--max-running-calls", "1",
                            "--shutdown-grace-s", "2"],
                           shutdown_timeout=15) as server:
            stub = self.stub(server)
            request = self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool="imgs",
                                                n_samples_count=10),
                input_paths=["batch"])
            # One running call at a time: a call stuck on the pipe would
            # hold the only slot and the second call would time out too.
            for attempt in range(2):
                reply = stub.Select(request, timeout=TIMEOUT_S)
                skipped = {s.filename: s.reason for s in reply.skipped}
                self.assertIn("not a regular file", skipped["batch/pipe.png"])
                self.assertIn("limit", skipped["batch/huge.png"])
                if attempt == 0:
                    self.assertEqual(len(reply.selected), 3)
            for named in ("batch/pipe.png",):
                with self.assertRaises(grpc.RpcError) as refused:
                    stub.Select(self.pb2.SelectRequest(
                        params=self.pb2.SelectionParams(pool="imgs",
                                                        n_samples_count=1),
                        input_paths=[named]), timeout=TIMEOUT_S)
                self.assertEqual(refused.exception.code(),
                                 grpc.StatusCode.INVALID_ARGUMENT)
        # stop() asserted exit status 0 within the shutdown timeout.

    def test_names_that_are_not_utf8(self):
        """A file named caf\\xe9.png was committed while select answered
        INTERNAL, the CLI's search aborted and the CSV stopped being UTF-8.
        The rule: sample names are UTF-8. A walk skips such a file (its name
        escaped as \\xHH in the reason list), the CLI refuses to send one
        (exit 3 naming the bytes), and a message carrying one is refused
        whole; nothing is committed."""
        latin1 = b"caf\xe9.png"
        flat = os.path.join(self.input, "flat")
        write_png(os.path.join(flat, "ok.png"), 1)
        write_png(os.path.join(flat, "ok2.png"), 2)
        with open(os.path.join(os.fsencode(flat), latin1), "wb") as f:
            with open(os.path.join(flat, "ok.png"), "rb") as src:
                f.write(src.read())
        with RunningServer(self.shared, self.input) as server:
            channel = grpc.insecure_channel(server.address)
            # Embedding rows: the name's bytes patched into the wire form
            # (protobuf for Python refuses to build such a message).
            wire = self.select_rows("rows", ["a.png", "cafX.png"]
                                    ).SerializeToString()
            wire = wire.replace(b"cafX.png", latin1)
            raw = channel.unary_unary(SELECT,
                                      request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
            # proto3 strings are UTF-8: gRPC refuses to parse the message
            # (its own INTERNAL "failed to parse"), before the service.
            with self.assertRaises(grpc.RpcError):
                raw(wire, timeout=TIMEOUT_S)
            self.assertFalse(os.path.exists(os.path.join(self.shared,
                                                         "rows")))
            # A walk skips it, named with its bytes escaped; the response
            # decodes and the pool's CSV stays UTF-8.
            reply = self.stub(server).Select(self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool="imgs",
                                                n_samples_count=10),
                input_paths=["flat"]), timeout=TIMEOUT_S)
            self.assertEqual(sorted(s.filename for s in reply.selected),
                             ["flat/ok.png", "flat/ok2.png"])
            self.assertEqual([(s.filename, "UTF-8" in s.reason)
                              for s in reply.skipped],
                             [("flat/caf\\xE9.png", True)])
            with open(os.path.join(self.shared, "imgs",
                                   "datapool_latest.csv"), "rb") as f:
                f.read().decode("utf-8")
            # Uploaded from the CLI: refused before sending, exit 3 (a local
            # file's problem), nothing committed.
            proc = subprocess.run(
                [cli_binary(), "--server", server.address, "select",
                 "--pool", "up", "--upload", flat, "--n-samples", "5"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S)
            self.assertEqual(proc.returncode, 3, proc)
            self.assertIn(b"flat/caf\\xE9.png", proc.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.shared, "up")))
            # Search over the pool works from the CLI.
            proc = subprocess.run(
                [cli_binary(), "--server", server.address, "search",
                 "--pool", "imgs", "--input", "flat/ok.png", "-k", "2"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S)
            self.assertEqual(proc.returncode, 0, proc)

    def test_a_csv_with_a_byte_order_mark_is_read(self):
        csv = os.path.join(self.tmp, "bom.csv")
        with open(csv, "wb") as f:
            f.write(b"\xef\xbb\xbffilenames,embedding_0,embedding_1,labels\r\n"
                    b"a.jpg,1,0,0\r\nb.jpg,0,1,0\r\n")
        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as server:
            proc = subprocess.run(
                [cli_binary(), "--server", server.address, "select",
                 "--pool", "bom", "--embeddings", csv, "--n-samples", "2"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=TIMEOUT_S)
            self.assertEqual(proc.returncode, 0, proc)
            self.assertIn("a.jpg", proc.stdout)

    def test_new_pool_on_a_read_only_shared_folder(self):
        """The shared folder turns read-only under a running server (a
        remount): a new pool was NOT_FOUND ("cannot open lock file")."""
        # The server runs in its own user and mount namespaces on a bind
        # mount of the folder, remounted read-only once it has started.
        wrapper = ["unshare", "-rm", "sh", "-c",
                   'mount --bind "$0" "$0" && exec "$@"', self.shared]
        if subprocess.run(wrapper[:2] + ["true"]).returncode != 0:
            self.skipTest("unshare -rm is not permitted here")
        with RunningServer(self.shared, self.input, ["--model", "none"],
                           wrapper=wrapper) as server:
            subprocess.run(
                ["nsenter", "-t", str(server.proc.pid), "-U", "-m",
                 "--preserve-credentials", "mount", "-o", "remount,bind,ro",
                 self.shared], check=True, timeout=TIMEOUT_S)
            with self.assertRaises(grpc.RpcError) as refused:
                self.stub(server).Select(self.select_rows("p", ["a", "b"]),
                                         timeout=TIMEOUT_S)
            self.assertEqual(refused.exception.code(),
                             grpc.StatusCode.PERMISSION_DENIED,
                             refused.exception.details())
            self.assertIn("Read-only", refused.exception.details())

    def test_a_damaged_pool_is_isolated_and_repaired(self):
        """One damaged pool stopped the server from starting; a pool whose
        CSV was missing vanished and the next select recreated it at
        version 1 over its history and reports."""
        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as server:
            stub = self.stub(server)
            for pool in ("emptymeta", "digit", "nocsv", "fine"):
                for v in range(2):
                    stub.Select(self.select_rows(
                        pool, ["%s-%d-%d" % (pool, v, i) for i in range(3)],
                        seed=v), timeout=TIMEOUT_S)

        def path(pool, name="datapool_latest.csv"):
            return os.path.join(self.shared, pool, name)

        open(path("emptymeta", "datapool_meta.json"), "w").close()
        with open(path("digit"), "r+b") as f:
            text = f.read()
            at = text.index(b"0.", text.index(b"\n"))
            f.seek(at + 3)
            f.write(b"7" if text[at + 3:at + 4] != b"7" else b"3")
        os.remove(path("nocsv"))
        before = {p: sorted(os.listdir(os.path.join(self.shared, p)))
                  for p in ("emptymeta", "digit", "nocsv")}

        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as server:
            stub = self.stub(server)
            listed = {p.name: p for p in stub.ListPools(
                self.pb2.ListPoolsRequest(), timeout=TIMEOUT_S).pools}
            self.assertEqual(sorted(listed),
                             ["digit", "emptymeta", "fine", "nocsv"])
            self.assertEqual(listed["fine"].problem, "")
            self.assertEqual(listed["fine"].version, 2)
            for pool, needle in (("emptymeta", "datapool_meta.json"),
                                 ("digit", "does not match"),
                                 ("nocsv", "datapool_latest.csv")):
                self.assertIn(needle, listed[pool].problem)
                self.assertIn("pools restore " + pool, listed[pool].problem)
                for call in (
                        lambda: stub.Select(self.select_rows(pool, ["n1", "n2"]),
                                            timeout=TIMEOUT_S),
                        lambda: stub.GetPool(self.pb2.GetPoolRequest(pool=pool),
                                             timeout=TIMEOUT_S)):
                    with self.assertRaises(grpc.RpcError) as refused:
                        call()
                    self.assertEqual(refused.exception.code(),
                                     grpc.StatusCode.DATA_LOSS,
                                     refused.exception.details())
                # Nothing in it was written.
                self.assertEqual(sorted(os.listdir(os.path.join(
                    self.shared, pool))), before[pool])
            # The healthy pool serves as before.
            reply = stub.Select(self.select_rows("fine", ["f1", "f2"]),
                                timeout=TIMEOUT_S)
            self.assertEqual(reply.version, 3)
            # The repair: restore a kept version; the version continues
            # after the damaged one, the damaged files are set aside.
            history = stub.ListHistory(self.pb2.ListHistoryRequest(
                pool="nocsv"), timeout=TIMEOUT_S)
            self.assertEqual([e.version for e in history.versions], [1])
            restored = stub.RestoreVersion(self.pb2.RestoreVersionRequest(
                pool="nocsv", version=1), timeout=TIMEOUT_S)
            self.assertEqual(restored.pool.version, 3)
            self.assertEqual(restored.pool.size, 1)
            self.assertTrue(any(n.startswith("damaged-") for n in
                                os.listdir(os.path.join(self.shared, "nocsv"))))
            after = stub.Select(self.select_rows("nocsv", ["n1", "n2"]),
                                timeout=TIMEOUT_S)
            self.assertEqual(after.version, 4)

    def test_many_pools_under_a_low_open_file_limit(self):
        """Each pool holds its lock file open: pool 1,009 failed with
        INTERNAL under a soft limit of 1,024 and 1,013 pools on disk
        stopped the server from starting."""
        n = 1100
        for i in range(n):
            os.mkdir(os.path.join(self.shared, "p%04d" % i))
            with open(os.path.join(self.shared, "p%04d" % i,
                                   "datapool_latest.csv"), "w") as f:
                f.write("filenames,embedding_0,embedding_1,labels\n"
                        "a,1,0,0\nb,0,1,0\n")
        # Soft 1,024, hard 4,096: the server raises its soft limit.
        with RunningServer(self.shared, self.input, ["--model", "none"],
                           wrapper=["prlimit", "--nofile=1024:4096"]
                           ) as server:
            stub = self.stub(server)
            pools = stub.ListPools(self.pb2.ListPoolsRequest(),
                                   timeout=TIMEOUT_S).pools
            self.assertEqual(len(pools), n)
            self.assertEqual([p.name for p in pools if p.problem], [])
            self.assertEqual(stub.Select(self.select_rows("new", ["x", "y"]),
                                         timeout=TIMEOUT_S).version, 1)
        # A hard limit of 1,024: the default --max-pools follows it, and a
        # pool beyond is RESOURCE_EXHAUSTED, never INTERNAL.
        with RunningServer(self.shared, self.input, ["--model", "none"],
                           wrapper=["prlimit", "--nofile=1024:1024"]
                           ) as server:
            stub = self.stub(server)
            pools = stub.ListPools(self.pb2.ListPoolsRequest(),
                                   timeout=TIMEOUT_S).pools
            self.assertEqual(len(pools), n + 1)
            beyond = [p.name for p in pools if p.problem]
            self.assertEqual(len(beyond), n + 1 - (1024 - 256))
            for p in pools:
                if p.problem:
                    self.assertIn("--max-pools", p.problem)
            for pool in ("another", beyond[0]):
                with self.assertRaises(grpc.RpcError) as refused:
                    stub.Select(self.select_rows(pool, ["x", "y"]),
                                timeout=TIMEOUT_S)
                self.assertEqual(refused.exception.code(),
                                 grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 refused.exception.details())
            # The loaded ones serve.
            self.assertEqual(stub.Select(self.select_rows(
                pools[0].name, ["x", "y"]), timeout=TIMEOUT_S).version, 2)

    def test_history_and_reports_are_bounded(self):
        """Every version kept a full CSV copy (history grew with versions ×
        pool size, 1.4 GB in two minutes) and reports were never removed."""
        with RunningServer(self.shared, self.input,
                           ["--model", "none", "--keep-versions", "3",
                            "--keep-reports", "2"]) as server:
            stub = self.stub(server)
            base = ["b%03d" % i for i in range(300)]
            stub.Select(self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool="p",
                                                n_samples_count=300),
                candidates=self.select_rows("p", base).candidates),
                timeout=TIMEOUT_S)
            for v in range(2, 9):
                stub.Select(self.select_rows(
                    "p", ["v%d-%d" % (v, i) for i in range(4)], seed=v),
                    timeout=TIMEOUT_S)
            pool = os.path.join(self.shared, "p")
            history = stub.ListHistory(self.pb2.ListHistoryRequest(pool="p"),
                                       timeout=TIMEOUT_S).versions
            self.assertEqual([h.version for h in history], [5, 6, 7, 8])
            self.assertEqual(sorted(os.listdir(os.path.join(pool, "reports"))),
                             ["7", "8"])
            # Kept as the rows each version appended, but for the oldest.
            sizes = {h.version: os.path.getsize(os.path.join(pool, h.csv_file))
                     for h in history if h.version < 8}
            self.assertGreater(sizes[5], 20 * sizes[6])
            self.assertIn("datapool_appended.csv", history[1].csv_file)
            # Restore stays exact: version 6 is the 300 rows, then the pick
            # of each of versions 2-6, in order.
            restored = stub.RestoreVersion(self.pb2.RestoreVersionRequest(
                pool="p", version=6), timeout=TIMEOUT_S)
            self.assertEqual((restored.pool.version, restored.pool.size),
                             (9, 305))
            with open(os.path.join(pool, "datapool_latest.csv")) as f:
                names = [line.split(",")[0] for line in f][1:]
            self.assertEqual(sorted(names[:300]), base)  # in pick order
            self.assertEqual([n.split("-")[0] for n in names[300:]],
                             ["v2", "v3", "v4", "v5", "v6"])

    def test_metrics_answer_beside_half_open_connections(self):
        """64 connections that send nothing stalled /metrics for 15 s."""
        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as server:
            port = metrics_port(server)
            idle = []
            try:
                for _ in range(64):
                    idle.append(socket.create_connection(("127.0.0.1", port),
                                                         timeout=5))
                start = time.monotonic()
                with urllib.request.urlopen(
                        "http://127.0.0.1:%d/metrics" % port,
                        timeout=8) as response:
                    self.assertIn(b"datapool_pools", response.read())
                self.assertLess(time.monotonic() - start, 8)
            finally:
                for s in idle:
                    s.close()


if __name__ == "__main__":
    unittest.main()
