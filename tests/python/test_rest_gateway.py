"""The REST/JSON gateway (datapool-server --http-listen) against the real
server binary: each route answers what the same gRPC call answers, with the
same tokens, limits, deadlines and metrics; errors come as grpc-gateway's
JSON with the mapped HTTP status; TLS when the server has it; the OpenAPI
document it serves is the committed one, and that one is not stale.

Run: /usr/bin/python3 -m unittest tests/python/test_rest_gateway.py
"""

import contextlib
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from datapool_testlib import REPO_ROOT, load_stubs, unit_rows  # noqa: E402
from pki import make_pki  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402

TIMEOUT_S = 20
TOKEN = "rest-token-3f9c"
REST_LINE = re.compile(r"REST on (https?)://127\.0\.0\.1:(\d+) ")
METRIC = re.compile(r'^datapool_rpc_requests_total\{(.*)\} (\S+)$', re.M)
OPENAPI = os.path.join(REPO_ROOT, "proto", "datapool", "v1",
                       "datapool.swagger.json")
REGEN = os.path.join(REPO_ROOT, "server", "gateway", "regen_openapi.py")
DIM = 4


def rest_port(server):
    m = REST_LINE.search(server.stderr_text())
    if m is None:
        raise AssertionError("no 'REST on' line\n" + server.describe())
    return m.group(1), int(m.group(2))


class RestGatewayTest(unittest.TestCase):
    """One server with tokens, small limits and the gateway, for the class."""

    @classmethod
    def setUpClass(cls):
        server_binary()
        cls.pb2, cls.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-rest-")
        cls.addClassCleanup(tmp.cleanup)
        cls.dir = tmp.name
        for name in ("shared", "input"):
            os.mkdir(os.path.join(cls.dir, name))
        cls.tokens = os.path.join(cls.dir, "tokens")
        with open(cls.tokens, "w") as f:
            f.write(TOKEN + "\n")
        cls.server = RunningServer(
            os.path.join(cls.dir, "shared"), os.path.join(cls.dir, "input"),
            ["--model", "none", "--auth-token-file", cls.tokens,
             "--http-listen", "127.0.0.1:0", "--max-message-mb", "1",
             "--max-candidates", "200"])
        cls.server.__enter__()
        cls.addClassCleanup(cls.server.stop)
        scheme, cls.port = rest_port(cls.server)
        assert scheme == "http"
        # Closed before the server stops (cleanups run last first): an
        # open client connection holds a server's stop for seconds.
        channel = grpc.insecure_channel(cls.server.address)
        cls.addClassCleanup(channel.close)
        cls.stub = cls.rpc.DatapoolStub(channel)
        cls.rng = np.random.default_rng(17)
        # A pool with two versions (history, reports) for the read calls.
        for version in (1, 2):
            reply = cls.call_grpc("Select", cls.select_request("shared", 30, 5))
            assert reply.version == version, reply

    # -- helpers -------------------------------------------------------------
    @classmethod
    def call_grpc(cls, method, request, token=TOKEN):
        metadata = [("authorization", "Bearer " + token)] if token else None
        return getattr(cls.stub, method)(request, timeout=TIMEOUT_S,
                                         metadata=metadata)

    @classmethod
    def block(cls, n, prefix):
        rows = unit_rows(cls.rng.normal(size=(n, DIM))).astype(np.float32)
        return cls.pb2.EmbeddingBlock(
            dimension=DIM, filenames=["%s%03d" % (prefix, i)
                                      for i in range(n)],
            values=rows.ravel().tolist())

    @classmethod
    def select_request(cls, pool, n, picks, dry_run=False):
        cls.batch = getattr(cls, "batch", 0) + 1
        return cls.pb2.SelectRequest(
            params=cls.pb2.SelectionParams(pool=pool, n_samples_count=picks,
                                           dry_run=dry_run),
            candidates=cls.block(n, "b%d_" % cls.batch))

    def rest(self, method, path, body=None, token=TOKEN, headers=None,
             content_type="application/json"):
        """(status, headers, parsed JSON or raw text) of one request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=TIMEOUT_S)
        try:
            sent = dict(headers or {})
            if token is not None:
                sent["Authorization"] = "Bearer " + token
            if isinstance(body, str):
                body = body.encode()
            if body is not None:
                sent["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=sent)
            reply = conn.getresponse()
            text = reply.read().decode()
            try:
                data = json.loads(text)
            except ValueError:
                data = text
            return reply.status, reply.headers, data
        finally:
            conn.close()

    def rest_message(self, method, path, reply_type, body=None, **kwargs):
        status, _, data = self.rest(method, path, body, **kwargs)
        self.assertEqual(status, 200, data)
        self.assertIsInstance(data, dict)
        return json_format.ParseDict(data, reply_type())

    def assertRestError(self, reply, http_status, grpc_code, needle=""):
        status, headers, data = reply
        self.assertEqual(status, http_status, data)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        self.assertEqual(data["code"], grpc_code.value[0], data)
        self.assertEqual(data["message"], data["error"])
        self.assertIn(needle, data["message"])
        return data

    def metric(self, method, code):
        with urllib.request.urlopen(self.metrics_url, timeout=TIMEOUT_S) as r:
            text = r.read().decode()
        for labels, value in METRIC.findall(text):
            if ('method="%s"' % method in labels
                    and 'code="%s"' % code in labels):
                return float(value)
        return 0.0

    @property
    def metrics_url(self):
        m = re.search(r"metrics on (http://\S+/metrics)",
                      self.server.stderr_text())
        return m.group(1)

    # -- same answers as gRPC ------------------------------------------------
    def test_read_calls_answer_as_grpc(self):
        pb2 = self.pb2
        self.assertEqual(
            self.rest_message("GET", "/v1/pools", pb2.ListPoolsResponse),
            self.call_grpc("ListPools", pb2.ListPoolsRequest()))
        self.assertEqual(
            self.rest_message("GET", "/v1/pools/shared", pb2.PoolInfo),
            self.call_grpc("GetPool", pb2.GetPoolRequest(pool="shared")))
        self.assertEqual(
            self.rest_message("GET", "/v1/pools/shared/history",
                              pb2.ListHistoryResponse),
            self.call_grpc("ListHistory", pb2.ListHistoryRequest(pool="shared")))
        newest = self.rest_message("GET", "/v1/pools/shared/report",
                                   pb2.SelectionReport)
        self.assertEqual(newest, self.call_grpc(
            "GetReport", pb2.GetReportRequest(pool="shared")))
        self.assertEqual(newest.version, 2)
        first = self.rest_message(
            "GET", "/v1/pools/shared/report?version=1&include_html=true",
            pb2.SelectionReport)
        self.assertEqual(first, self.call_grpc("GetReport", pb2.GetReportRequest(
            pool="shared", version=1, include_html=True)))
        self.assertIn("<html", first.html)

    def test_search_answers_as_grpc(self):
        request = self.pb2.SearchRequest(pool="shared", k=3,
                                         queries=self.block(4, "q"))
        body = json_format.MessageToJson(request)
        rest = self.rest_message("POST", "/v1/pools:search",
                                 self.pb2.SearchResponse, body)
        self.assertEqual(rest, self.call_grpc("Search", iter([request])))
        self.assertEqual(len(rest.results), 4)
        self.assertEqual(len(rest.results[0].neighbors), 3)

    def test_select_answers_as_grpc(self):
        # A dry run on the same pool: the same picks and distances. The
        # body is JSON whatever its type says (curl -d sends this one).
        request = self.select_request("shared", 20, 4, dry_run=True)
        rest = self.rest_message(
            "POST", "/v1/pools/shared:select", self.pb2.SelectResponse,
            json_format.MessageToJson(request),
            content_type="application/x-www-form-urlencoded")
        self.assertEqual(rest, self.call_grpc("Select", request))
        self.assertEqual(len(rest.selected), 4)
        self.assertFalse(rest.committed)
        # A commit: the same candidates into two new pools, one each way;
        # the pool named in the path wins over the body's.
        request = self.select_request("ignored", 25, 6)
        body = json_format.MessageToJson(request)
        rest = self.rest_message("POST", "/v1/pools/by-rest:select",
                                 self.pb2.SelectResponse, body)
        request.params.pool = "by-grpc"
        by_grpc = self.call_grpc("Select", request)
        self.assertTrue(rest.committed)
        self.assertEqual(rest.report.folder.replace("by-rest", "by-grpc"),
                         by_grpc.report.folder)
        rest.report.folder = by_grpc.report.folder
        self.assertEqual(rest, by_grpc)
        self.assertEqual(self.call_grpc("GetPool", self.pb2.GetPoolRequest(
            pool="by-rest")).size, 6)

    # -- auth -----------------------------------------------------------------
    def test_refused_without_the_token(self):
        for token in (None, "nope", TOKEN[:-1]):
            data = self.assertRestError(
                self.rest("GET", "/v1/pools", token=token), 401,
                grpc.StatusCode.UNAUTHENTICATED)
            if token:
                self.assertNotIn(token, json.dumps(data))
        status, headers, _ = self.rest("GET", "/v1/pools", token=None)
        self.assertEqual(headers.get("WWW-Authenticate"), "Bearer")
        status, _, _ = self.rest("GET", "/v1/pools", token=None,
                                 headers={"Authorization": "Basic " + TOKEN})
        self.assertEqual(status, 401)
        self.assertEqual(self.rest("GET", "/v1/pools")[0], 200)
        # The document, like server reflection, needs no token.
        status, _, doc = self.rest("GET", "/openapi.json", token=None)
        self.assertEqual(status, 200)
        self.assertEqual(doc["swagger"], "2.0")

    # -- errors ---------------------------------------------------------------
    def test_bad_json_is_400_saying_why(self):
        self.assertRestError(
            self.rest("POST", "/v1/pools/shared:select", '{"params": {'), 400,
            grpc.StatusCode.INVALID_ARGUMENT, "not a JSON SelectRequest")
        self.assertRestError(
            self.rest("POST", "/v1/pools/shared:select",
                      '{"params": {"nSample": 3}}'),
            400, grpc.StatusCode.INVALID_ARGUMENT, "nSample")
        self.assertRestError(
            self.rest("GET", "/v1/pools/shared/report?version=newest"), 400,
            grpc.StatusCode.INVALID_ARGUMENT, "'version' must be a uint64")
        self.assertRestError(
            self.rest("GET", "/v1/pools", headers={"Grpc-Timeout": "soon"}),
            400, grpc.StatusCode.INVALID_ARGUMENT, "Grpc-Timeout")
        # The service's own checks, mapped: no stopping condition.
        self.assertRestError(
            self.rest("POST", "/v1/pools/shared:select",
                      json.dumps({"candidates": json_format.MessageToDict(
                          self.block(3, "x"))})),
            400, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertRestError(self.rest("GET", "/v1/pools/absent"), 404,
                             grpc.StatusCode.NOT_FOUND, "absent")

    def test_unknown_routes(self):
        self.assertRestError(self.rest("GET", "/v1/nothing"), 404,
                             grpc.StatusCode.NOT_FOUND, "no route for GET")
        self.assertRestError(self.rest("GET", "/"), 404,
                             grpc.StatusCode.NOT_FOUND)
        # DeletePool has no route: the path is GetPool's, for GET only.
        reply = self.rest("DELETE", "/v1/pools/shared")
        self.assertRestError(reply, 405, grpc.StatusCode.UNIMPLEMENTED)
        self.assertEqual(reply[1].get("Allow"), "GET")
        self.assertRestError(self.rest("GET", "/v1/pools/shared:select"), 405,
                             grpc.StatusCode.UNIMPLEMENTED)
        self.assertEqual(self.call_grpc("GetPool", self.pb2.GetPoolRequest(
            pool="shared")).name, "shared")

    # -- limits, deadlines, metrics -------------------------------------------
    def test_limits_are_the_servers(self):
        # Over --max-message-mb 1: refused before it is read as JSON.
        body = '{"params": {"nSamplesCount": 1}, "padding": "%s"}' % (
            "x" * (1 << 20))
        self.assertRestError(self.rest("POST", "/v1/pools/big:select", body),
                             413, grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "exceeds the server's limit")
        # Over --max-candidates 200: the service's refusal, the same code.
        request = self.select_request("big", 201, 1)
        with self.assertRaises(grpc.RpcError) as refused:
            self.call_grpc("Select", request)
        data = self.rest("POST", "/v1/pools/big:select",
                         json_format.MessageToJson(request))[2]
        self.assertEqual(data["code"], refused.exception.code().value[0])
        self.assertEqual(data["message"], refused.exception.details())
        self.assertEqual(self.rest("GET", "/v1/pools/big")[0], 404)

    def test_calls_count_in_the_metrics(self):
        ok = self.metric("ListHistory", "OK")
        refused = self.metric("ListHistory", "UNAUTHENTICATED")
        self.assertEqual(self.rest("GET", "/v1/pools/shared/history")[0], 200)
        self.assertEqual(self.rest("GET", "/v1/pools/shared/history",
                                   token="bad")[0], 401)
        self.assertEqual(self.metric("ListHistory", "OK"), ok + 1)
        self.assertEqual(self.metric("ListHistory", "UNAUTHENTICATED"),
                         refused + 1)

    # -- the OpenAPI document -------------------------------------------------
    def test_openapi_document_is_served_and_not_stale(self):
        with open(OPENAPI, encoding="utf-8") as f:
            committed = f.read()
        status, _, served = self.rest("GET", "/openapi.json", token=None)
        self.assertEqual(status, 200)
        self.assertEqual(served, json.loads(committed))
        self.assertIn("/v1/pools/{params.pool}:select", served["paths"])
        with tempfile.TemporaryDirectory(prefix="datapool-openapi-") as tmp:
            fresh = os.path.join(tmp, "datapool.swagger.json")
            subprocess.run(["/usr/bin/python3", REGEN, fresh], check=True,
                           timeout=60)
            with open(fresh, encoding="utf-8") as f:
                self.assertEqual(
                    f.read(), committed,
                    "proto/datapool/v1/datapool.swagger.json is stale: run "
                    "server/gateway/regen_openapi.py")


class RestGatewayAdmissionTest(unittest.TestCase):
    """Heavy REST calls wait in the server's admission queue like gRPC's:
    with the only running slot held by a gRPC call, a REST call waits until
    its Grpc-Timeout (504), or with no queue room gets 429."""

    def setUp(self):
        server_binary()
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-rest-adm-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        for name in ("shared", "input"):
            os.mkdir(os.path.join(self.dir, name))

    @contextlib.contextmanager
    def slot_held(self, queued):
        """A server with one running slot and `queued` queue places; a
        SelectWithProgress holds the slot (its first progress message says
        it is admitted) until the block ends. Yields the REST port."""
        with RunningServer(
                os.path.join(self.dir, "shared"),
                os.path.join(self.dir, "input"),
                ["--model", "none", "--http-listen", "127.0.0.1:0",
                 "--max-running-calls", "1", "--max-queued-calls",
                 str(queued)]) as server:
            channel = grpc.insecure_channel(server.address)
            stub = self.rpc.DatapoolStub(channel)
            release = threading.Event()

            def requests():
                yield self.pb2.SelectRequest(
                    params=self.pb2.SelectionParams(pool="held",
                                                    n_samples_count=1),
                    candidates=self.pb2.EmbeddingBlock(
                        dimension=2, filenames=["a", "b"],
                        values=[1, 0, 0, 1]))
                release.wait(TIMEOUT_S)

            held = stub.SelectWithProgress(requests(), timeout=TIMEOUT_S * 2)
            first = next(held)
            self.assertEqual(first.progress.phase, "receiving")
            try:
                yield rest_port(server)[1]
            finally:
                release.set()
                self.assertEqual([m.result.version for m in held
                                  if m.HasField("result")], [1])
                channel.close()

    def rest_select(self, port, headers):
        conn = http.client.HTTPConnection("127.0.0.1", port,
                                          timeout=TIMEOUT_S)
        try:
            conn.request("POST", "/v1/pools/other:select", body=json.dumps({
                "params": {"nSamplesCount": 1},
                "candidates": {"dimension": 2, "filenames": ["c"],
                               "values": [1, 1]}}), headers=headers)
            reply = conn.getresponse()
            return reply.status, reply.headers, json.loads(reply.read())
        finally:
            conn.close()

    def test_deadline_is_forwarded(self):
        with self.slot_held(queued=1) as port:
            status, _, data = self.rest_select(port, {"Grpc-Timeout": "300m"})
            self.assertEqual(status, 504, data)
            self.assertEqual(data["code"],
                             grpc.StatusCode.DEADLINE_EXCEEDED.value[0])

    def test_no_queue_room_is_429_with_retry_after(self):
        with self.slot_held(queued=0) as port:
            status, headers, data = self.rest_select(port, {})
            self.assertEqual(status, 429, data)
            self.assertEqual(data["code"],
                             grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
            self.assertEqual(headers.get("Retry-After"), "2")


class RestGatewayStartTest(unittest.TestCase):
    """A bad or taken --http-listen stops the server at start, naming it."""

    def test_bad_or_taken_address_stops_the_start(self):
        with tempfile.TemporaryDirectory(prefix="datapool-rest-start-") as d:
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen(1)
                used = "127.0.0.1:%d" % taken.getsockname()[1]
                for address, needle in [("8080", "--http-listen must be"),
                                        ("127.0.0.1:70000", "HOST:PORT"),
                                        (used, "cannot serve REST on")]:
                    proc = subprocess.run(
                        [server_binary(), "--shared-dir", d, "--model",
                         "none", "--listen", "127.0.0.1:0",
                         "--metrics-listen", "", "--http-listen", address],
                        stdin=subprocess.DEVNULL, capture_output=True,
                        text=True, timeout=TIMEOUT_S)
                    self.assertEqual(proc.returncode, 2, (address, proc))
                    self.assertIn(needle, proc.stderr, address)
                    self.assertNotIn("listening on", proc.stdout, address)


class RestGatewayTlsTest(unittest.TestCase):
    """With --tls-cert the gateway speaks HTTPS only (mutual TLS too)."""

    def test_https_with_the_servers_certificate(self):
        server_binary()
        with tempfile.TemporaryDirectory(prefix="datapool-rest-tls-") as d:
            for name in ("shared", "input", "pki"):
                os.mkdir(os.path.join(d, name))
            pki = os.path.join(d, "pki")
            make_pki(pki)
            pem = lambda name: os.path.join(pki, name)  # noqa: E731
            args = ["--model", "none", "--http-listen", "127.0.0.1:0",
                    "--tls-cert", pem("server.pem"), "--tls-key",
                    pem("server.key"), "--tls-client-ca", pem("ca.pem")]
            with RunningServer(os.path.join(d, "shared"),
                               os.path.join(d, "input"), args) as server:
                scheme, port = rest_port(server)
                self.assertEqual(scheme, "https")
                url = "https://localhost:%d/v1/pools" % port
                context = ssl.create_default_context(cafile=pem("ca.pem"))
                context.load_cert_chain(pem("client.pem"), pem("client.key"))
                with urllib.request.urlopen(url, context=context,
                                            timeout=TIMEOUT_S) as reply:
                    self.assertEqual(json.loads(reply.read()), {"pools": []})
                # No client certificate, or plain HTTP: no answer.
                bare = ssl.create_default_context(cafile=pem("ca.pem"))
                with self.assertRaises((ssl.SSLError, ConnectionError,
                                        urllib.error.URLError)):
                    urllib.request.urlopen(url, context=bare,
                                           timeout=TIMEOUT_S).read()
                with self.assertRaises((http.client.HTTPException,
                                        ConnectionError, OSError)):
                    conn = http.client.HTTPConnection("127.0.0.1", port,
                                                      timeout=TIMEOUT_S)
                    conn.request("GET", "/v1/pools")
                    conn.getresponse().read()


if __name__ == "__main__":
    unittest.main()
