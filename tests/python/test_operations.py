"""What operators rely on, against the real server binary: Prometheus
metrics scraped over HTTP, one JSON log line per call, gRPC server
reflection (grpcurl / grpc_cli need no proto files) and flags given as
DATAPOOL_* environment variables.

The reflection calls are encoded by hand (Debian has no Python reflection
client): grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo with
`list_services` and `file_containing_symbol`.

Run: /usr/bin/python3 -m unittest tests/python/test_operations.py
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402

from datapool_testlib import load_stubs, unit_rows  # noqa: E402
from server_harness import (RunningServer, _read_varint, _varint,  # noqa: E402
                            cli_binary, health_check, server_binary)

TIMEOUT_S = 30
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


def _fields(data):
    """[(field number, wire type, value)] of one protobuf message; value is
    an int (varint) or bytes (length-delimited)."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            n, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + n], pos + n
        else:
            raise AssertionError("unexpected wire type %d" % wire)
        out.append((field, wire, value))
    return out


def _string_field(number, text):
    data = text.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


METRICS_LINE = re.compile(r"metrics on (http://\S+/metrics)")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url):
    """{(name, frozenset of (label, value))): value} of a Prometheus text
    page; checks that every sample's family has HELP and TYPE lines."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:
        if reply.status != 200:
            raise AssertionError("HTTP %d from %s" % (reply.status, url))
        content_type = reply.headers.get("Content-Type", "")
        text = reply.read().decode()
    if not content_type.startswith("text/plain"):
        raise AssertionError("Content-Type %r" % content_type)
    typed, samples = set(), {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in typed and family not in typed:
            raise AssertionError("sample without # TYPE: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        samples[(name, labels)] = float(m.group(4))
    return samples


class OperationsTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-ops-")
        self.addCleanup(tmp.cleanup)
        self.shared = os.path.join(tmp.name, "shared")
        self.input = os.path.join(tmp.name, "input")
        os.mkdir(self.shared)
        os.mkdir(self.input)

    def reflect(self, address, request):
        call = grpc.insecure_channel(address).stream_stream(
            REFLECTION, request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        responses = list(call(iter([request]), timeout=TIMEOUT_S))
        self.assertEqual(len(responses), 1)
        return _fields(responses[0])

    def refused_start(self, *args, env=None):
        """Runs the server with `args` on a free port and checks that it
        stops at start with exit 2 (a bad setting); the finished process."""
        proc = subprocess.run(
            [server_binary(), "--shared-dir", self.shared, "--listen",
             "127.0.0.1:0", *args], env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=TIMEOUT_S)
        self.assertEqual(proc.returncode, 2, proc)
        return proc

    def test_reflection_lists_and_describes_the_service(self):
        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as server:
            # ServerReflectionRequest.list_services (field 7).
            reply = self.reflect(server.address, _string_field(7, ""))
            listed = [v for f, _, v in reply if f == 6]  # list_services_response
            self.assertEqual(len(listed), 1, reply)
            names = sorted(_fields(service)[0][2].decode()
                           for f, _, service in _fields(listed[0]) if f == 1)
            self.assertIn("datapool.v1.Datapool", names)
            self.assertIn("grpc.health.v1.Health", names)

            # file_containing_symbol (field 4): the API's own descriptor.
            reply = self.reflect(server.address,
                                 _string_field(4, "datapool.v1.Datapool"))
            files = [v for f, _, v in reply if f == 4]  # file_descriptor_response
            self.assertEqual(len(files), 1, reply)
            protos = [descriptor_pb2.FileDescriptorProto.FromString(v)
                      for f, _, v in _fields(files[0]) if f == 1]
            api = [p for p in protos if p.package == "datapool.v1"]
            self.assertEqual(len(api), 1, [p.name for p in protos])
            methods = {m.name for s in api[0].service for m in s.method}
            self.assertTrue({"Select", "SelectStream", "Embed", "Search",
                             "MergePools", "RestoreVersion"} <= methods,
                            methods)

    def test_metrics_and_call_log(self):
        with RunningServer(self.shared, self.input,
                           ["--model", "none"]) as server:
            m = METRICS_LINE.search(server.stderr_text())
            self.assertTrue(m, server.describe())
            url = m.group(1)
            before = scrape(url)
            stub = self.rpc.DatapoolStub(grpc.insecure_channel(server.address))
            rows = unit_rows(np.random.default_rng(2).normal(size=(6, 4)))
            reply = stub.Select(self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool="seen", n_samples_count=3),
                candidates=self.pb2.EmbeddingBlock(
                    dimension=4, filenames=["f%d" % i for i in range(6)],
                    values=rows.ravel().tolist())), timeout=TIMEOUT_S)
            self.assertEqual(reply.version, 1)
            with self.assertRaises(grpc.RpcError):
                stub.GetPool(self.pb2.GetPoolRequest(pool="nope"),
                             timeout=TIMEOUT_S)
            after = scrape(url)

            def delta(name, **labels):
                key = (name, frozenset(labels.items()))
                return after.get(key, 0) - before.get(key, 0)

            self.assertEqual(delta("datapool_rpc_requests_total",
                                   method="Select", code="OK"), 1)
            self.assertEqual(delta("datapool_rpc_requests_total",
                                   method="GetPool", code="NOT_FOUND"), 1)
            self.assertEqual(delta("datapool_rpc_duration_seconds_count",
                                   method="Select"), 1)
            self.assertEqual(delta("datapool_rpc_duration_seconds_bucket",
                                   method="Select", le="+Inf"), 1)
            self.assertEqual(delta("datapool_commit_seconds_count"), 1)
            self.assertEqual(delta("datapool_report_seconds_count"), 1)
            self.assertEqual(delta("datapool_selection_seconds_count"), 1)
            self.assertEqual(after[("datapool_pool_samples",
                                    frozenset({("pool", "seen")}))], 3)
            self.assertEqual(after[("datapool_pools", frozenset())], 1)
            self.assertEqual(after[("datapool_rpc_in_flight", frozenset())], 0)

            # One JSON line per call, with what happened.
            calls = [json.loads(line) for line in
                     server.stderr_text().splitlines() if line.startswith("{")]
            select = [c for c in calls if c["rpc"] == "Select"]
            self.assertEqual(len(select), 1, calls)
            self.assertEqual((select[0]["pool"], select[0]["status"],
                              select[0]["candidates"], select[0]["selected"],
                              select[0]["version"], select[0]["committed"]),
                             ("seen", "OK", 6, 3, 1, True))
            self.assertGreaterEqual(select[0]["ms"], 0)
            missing = [c for c in calls if c["rpc"] == "GetPool"]
            self.assertEqual(missing[0]["status"], "NOT_FOUND")
            self.assertIn("nope", missing[0]["error"])

        with RunningServer(self.shared, self.input,
                           ["--model", "none", "--log-level", "warning"]) as quiet:
            stub = self.rpc.DatapoolStub(grpc.insecure_channel(quiet.address))
            stub.ListPools(self.pb2.ListPoolsRequest(), timeout=TIMEOUT_S)
        self.assertFalse([line for line in quiet.stderr_text().splitlines()
                          if line.startswith("{")], quiet.stderr_text())

    def test_live_at_once_ready_once_pools_are_loaded(self):
        """Health while the pools load: "liveness" SERVING, "" NOT_SERVING
        and API calls UNAVAILABLE; then ready. The pool's CSV is a named pipe
        here, so loading waits, deterministically, until the test writes
        it."""
        pool = os.path.join(self.shared, "slow")
        os.mkdir(pool)
        fifo = os.path.join(pool, "datapool_latest.csv")
        os.mkfifo(fifo)
        with socket.socket() as s:  # a free port (the line comes after loading)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        address = "127.0.0.1:%d" % port
        proc = subprocess.Popen(
            [server_binary(), "--shared-dir", self.shared, "--listen", address,
             "--metrics-listen", "127.0.0.1:0", "--model", "none"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            channel = grpc.insecure_channel(address)
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
            self.assertEqual(health_check(channel, "liveness"), 1)  # SERVING
            self.assertEqual(health_check(channel), 2)  # NOT_SERVING
            self.assertEqual(health_check(channel, "datapool.v1.Datapool"), 2)
            cli = subprocess.run(
                [cli_binary(), "--server", address, "health", "--service",
                 "liveness"], capture_output=True, text=True, timeout=TIMEOUT_S)
            self.assertEqual((cli.returncode, cli.stdout.strip()),
                             (0, "SERVING"), cli)
            # Answered but not SERVING: exit 2, as when the server refuses.
            cli = subprocess.run([cli_binary(), "--server", address, "health"],
                                 capture_output=True, text=True,
                                 timeout=TIMEOUT_S)
            self.assertEqual((cli.returncode, cli.stdout.strip()),
                             (2, "NOT_SERVING"), cli)
            cli = subprocess.run([cli_binary(), "--server", address, "health",
                                  "--json"], capture_output=True, text=True,
                                 timeout=TIMEOUT_S)
            self.assertEqual((cli.returncode, json.loads(cli.stdout)),
                             (2, {"status": "NOT_SERVING"}), cli)
            stub = self.rpc.DatapoolStub(channel)
            with self.assertRaises(grpc.RpcError) as loading:
                stub.ListPools(self.pb2.ListPoolsRequest(), timeout=TIMEOUT_S)
            self.assertEqual(loading.exception.code(),
                             grpc.StatusCode.UNAVAILABLE)
            self.assertIn("loading", loading.exception.details())

            with open(fifo, "w") as f:  # the load goes on
                f.write("filenames,embedding_0,embedding_1,labels\n"
                        "a.jpg,1,0,0\nb.jpg,0,1,0\n")
            self.assertIn("listening on", proc.stdout.readline())
            self.assertEqual(health_check(channel), 1)
            pools = stub.ListPools(self.pb2.ListPoolsRequest(),
                                   timeout=TIMEOUT_S).pools
            self.assertEqual([(p.name, p.size) for p in pools], [("slow", 2)])
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, err)

        # SIGTERM while the pools load stops the server at once, cleanly.
        os.remove(fifo)
        os.remove(os.path.join(pool, "datapool.lock"))
        os.mkfifo(fifo)
        proc = subprocess.Popen(
            [server_binary(), "--shared-dir", self.shared, "--listen", address,
             "--metrics-listen", "", "--model", "none"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            channel = grpc.insecure_channel(address)
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
            self.assertEqual(health_check(channel, "liveness"), 1)
            proc.terminate()
            out, err = proc.communicate(timeout=TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("while loading the pools; stopped", err)
        self.assertNotIn("listening on", out)

    def test_sigterm_during_a_long_selection(self):
        """SIGTERM while a selection runs: the server stops accepting calls,
        gives the call --shutdown-grace-s, then cancels it; the selection
        stops between picks, nothing is written, and the server exits 0."""
        server = RunningServer(self.shared, self.input,
                               ["--model", "none", "--shutdown-grace-s", "1"],
                               shutdown_timeout=20)
        server.__enter__()
        try:
            stub = self.rpc.DatapoolStub(grpc.insecure_channel(server.address))
            rows = unit_rows(np.random.default_rng(3).normal(size=(100000, 32)))
            request = self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool="long",
                                                n_samples_count=50000),
                candidates=self.pb2.EmbeddingBlock(
                    dimension=32, filenames=["%06d" % i for i in range(100000)],
                    values=rows.ravel().tolist()))
            call = stub.SelectWithProgress(iter([request]), timeout=300)
            for reply in call:
                if reply.progress.phase == "selecting":
                    break
        finally:
            server.stop()  # SIGTERM; asserts exit status 0 in time
        with self.assertRaises(grpc.RpcError) as ended:
            for _ in call:
                pass
        self.assertIn(ended.exception.code(), (grpc.StatusCode.CANCELLED,
                                               grpc.StatusCode.UNAVAILABLE),
                      ended.exception.details())
        self.assertIn("finishing in-flight calls", server.stderr_text())
        # Nothing half-written: no pool folder, no temporary file anywhere.
        self.assertEqual(os.listdir(self.shared), [])

    def test_flags_from_the_environment(self):
        env = dict(os.environ, DATAPOOL_MAX_POOLS="1",
                   DATAPOOL_MAX_FILENAME_BYTES="20", DATAPOOL_MODEL="none")
        with RunningServer(self.shared, self.input, env=env) as server:
            self.assertIn("no model", server.stderr_text())
            stub = self.rpc.DatapoolStub(grpc.insecure_channel(server.address))
            rows = unit_rows(np.random.default_rng(1).normal(size=(3, 4)))

            def select(pool, names):
                return stub.Select(self.pb2.SelectRequest(
                    params=self.pb2.SelectionParams(pool=pool,
                                                    n_samples_count=1),
                    candidates=self.pb2.EmbeddingBlock(
                        dimension=4, filenames=names,
                        values=rows.ravel().tolist())), timeout=TIMEOUT_S)

            self.assertEqual(select("one", ["a", "b", "c"]).version, 1)
            for pool, names, code in [
                    ("two", ["a", "b", "c"],
                     grpc.StatusCode.RESOURCE_EXHAUSTED),
                    ("one", ["a", "b", "x" * 21],
                     grpc.StatusCode.INVALID_ARGUMENT)]:
                with self.assertRaises(grpc.RpcError) as refused:
                    select(pool, names)
                self.assertEqual(refused.exception.code(), code,
                                 refused.exception.details())

        # A bad value names the variable; the flag wins over the variable.
        bad = dict(os.environ, DATAPOOL_PRUNE="maybe")
        proc = self.refused_start("--model", "none", env=bad)
        self.assertIn("DATAPOOL_PRUNE", proc.stderr)
        flag_wins = dict(os.environ, DATAPOOL_MAX_POOLS="0")
        with RunningServer(self.shared, self.input,
                           ["--model", "none", "--max-pools", "5"],
                           env=flag_wins):
            pass

    def test_jpeg_decoder_flag(self):
        """--jpeg-decoder takes turbojpeg (the default) or opencv; anything
        else stops the server at start, naming the flag."""
        help_text = subprocess.run(
            [server_binary(), "--help"], stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=TIMEOUT_S)
        self.assertIn("--jpeg-decoder", help_text.stdout + help_text.stderr)
        for value in ("turbojpeg", "opencv"):
            with RunningServer(self.shared, self.input,
                               ["--model", "none", "--jpeg-decoder", value]):
                pass
        proc = self.refused_start("--model", "none", "--jpeg-decoder",
                                  "libjpeg")
        self.assertIn("--jpeg-decoder must be turbojpeg or opencv, got "
                      "'libjpeg'", proc.stderr)

    def test_prune_flags(self):
        """--prune forces pruned passes, --no-prune plain ones (the default
        chooses by data); both at once stop the server at start."""
        for flag in ("--prune", "--no-prune"):
            with RunningServer(self.shared, self.input, ["--model", "none",
                                                         flag]):
                pass
        proc = self.refused_start("--model", "none", "--prune", "--no-prune")
        self.assertIn("--prune and --no-prune exclude each other",
                      proc.stderr)

    def test_openmp_threads_wait_passively(self):
        """libgomp's idle threads (libtorch's intra-op threads) sleep
        instead of spinning, set before libgomp starts
        (server/app/omp_wait_policy.cc re-executes the binary), unless the
        environment already chose: OMP_DISPLAY_ENV makes libgomp print what
        it runs with."""
        base = {k: v for k, v in os.environ.items()
                if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

        def libgomp_settings(**extra):
            proc = subprocess.run(
                [server_binary(), "--help"],
                env=dict(base, OMP_DISPLAY_ENV="VERBOSE", **extra),
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=TIMEOUT_S)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            # Printed once: libgomp started in the re-executed image only.
            self.assertEqual(proc.stderr.count("OPENMP DISPLAY ENVIRONMENT "
                                               "BEGIN"), 1, proc.stderr)
            return dict(re.findall(
                r"^\s*(OMP_WAIT_POLICY|GOMP_SPINCOUNT) = '([^']*)'",
                proc.stderr, re.M))

        self.assertEqual(libgomp_settings(),
                         {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"})
        self.assertEqual(
            libgomp_settings(OMP_WAIT_POLICY="ACTIVE")["OMP_WAIT_POLICY"],
            "ACTIVE")
        self.assertEqual(
            libgomp_settings(GOMP_SPINCOUNT="300000")["GOMP_SPINCOUNT"],
            "300000")

    def test_libtorch_is_loaded_only_with_a_model(self):
        """libtorch and the backend come in a library the server loads
        only when it takes images (server/app/model_library.h): with
        --model none neither is mapped, and a missing library does not
        matter; with a model both are, and a missing one stops the server
        at start, naming the file."""
        def mapped(args):
            with RunningServer(self.shared, self.input, args) as srv:
                with open("/proc/%d/maps" % srv.proc.pid) as f:
                    maps = {os.path.basename(line.split()[-1])
                            for line in f if ".so" in line}
                # What the server says it runs (written before listening).
                return maps, srv.stderr_text()

        def has(maps, prefix):
            return any(name.startswith(prefix) for name in maps)

        maps, said = mapped(["--model", "none"])
        self.assertFalse(has(maps, "libtorch_cpu.so"), sorted(maps))
        self.assertFalse(has(maps, "libdatapool_torch_backend.so"))
        self.assertTrue(has(maps, "libgrpc++.so"))  # the maps are read
        self.assertIn("no model (embeddings only)", said)
        maps, said = mapped([])
        self.assertTrue(has(maps, "libdatapool_torch_backend.so"))
        self.assertTrue(has(maps, "libtorch_cpu.so"), sorted(maps))
        self.assertRegex(said, r"model built-in sha256:[0-9a-f]+, [0-9]+-d")

        missing = os.path.join(self.input, "no-such-backend.so")
        with RunningServer(self.shared, self.input,
                           ["--model", "none", "--model-library", missing]):
            pass
        proc = self.refused_start("--metrics-listen", "", "--model-library",
                                  missing)
        self.assertIn("cannot load the model library " + missing,
                      proc.stderr)
        self.assertIn("No such file", proc.stderr)
        # A shared library that is not a model library.
        other = os.path.join(self.input, "not-a-backend.so")
        os.symlink("/lib/x86_64-linux-gnu/libm.so.6", other)
        proc = self.refused_start("--metrics-listen", "", "--model-library",
                                  other)
        self.assertIn("is not a model library of this build", proc.stderr)


if __name__ == "__main__":
    unittest.main()
