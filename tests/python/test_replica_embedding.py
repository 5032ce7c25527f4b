"""Images sent to a replica that does not own their pool are decoded and
embedded there, with the pool's model, and only their embeddings travel to
the owner: three real server processes on loopback sharing one folder, the
built-in model (and a pool given another model), uploads and server-side
paths.

Whichever replica the images reach, the caller gets the same answer: the
same picks, distances, skipped and duplicate files, the same rows in the
pool's CSV and the same model recorded for a new pool; Search and Embed
likewise. The embedding happened where the images arrived: that replica's
datapool_images_embedded_total grew and the owner's did not. A wrong token
is refused by the first replica, which embeds nothing.

Run: /usr/bin/python3 -m unittest test_replica_embedding   (cwd tests/python)
"""

import json
import os
import re
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy", "cv2", "torch")

import cv2  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from datapool_testlib import load_stubs  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402
from test_replicas import free_ports  # noqa: E402

TIMEOUT_S = 120
TOKEN = "replica-embedding-token-0123456789"
GOOD = [("authorization", "Bearer " + TOKEN)]
# The CPU and one thread each: small images, a small machine.
SERVER_ARGS = ("--device", "cpu", "--threads", "1", "--decode-threads", "1",
               "--batch-size", "8")
METRICS_LINE = re.compile(r"metrics on (http://\S+/metrics)")


class ChannelMeans(torch.nn.Module):
    """N x 3 x S x S -> N x 3: another model than the built-in one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=[2, 3])


def png(rng, size=40):
    """A random smooth colour image, PNG-encoded."""
    small = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    image = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


class ReplicaEmbeddingTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        server_binary()
        cls.pb2, cls.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-replica-embed-")
        cls.addClassCleanup(tmp.cleanup)
        cls.shared = os.path.join(tmp.name, "shared")
        cls.input = os.path.join(tmp.name, "input")
        os.mkdir(cls.shared)
        os.mkdir(cls.input)
        tokens = os.path.join(tmp.name, "tokens")
        with open(tokens, "w") as f:
            f.write(TOKEN + "\n")
        cls.model_pt = os.path.join(tmp.name, "means.pt")
        torch.jit.script(ChannelMeans().eval()).save(cls.model_pt)
        with open(cls.model_pt, "rb") as f:
            cls.model_bytes = f.read()
        rng = np.random.default_rng(18)
        # Uploads: images, one identical to another, two that are none.
        cls.uploads = [("up/%02d.png" % i, png(rng), i % 3)
                       for i in range(14)]
        cls.uploads.append(("up/copy.png", cls.uploads[3][1], 0))
        cls.uploads.append(("up/empty.png", b"", 1))
        cls.uploads.append(("up/noise.jpg", bytes(rng.integers(
            0, 256, 300, dtype=np.uint8)), 2))
        # Server-side paths, in class folders (weak labels).
        for c in ("a", "b"):
            os.mkdir(os.path.join(cls.input, c))
            for i in range(6):
                with open(os.path.join(cls.input, c, "%d.png" % i),
                          "wb") as f:
                    f.write(png(rng))
        with open(os.path.join(cls.input, "b", "bad.png"), "wb") as f:
            f.write(b"not an image")
        ports = free_ports(3)
        peers = ",".join("127.0.0.1:%d" % p for p in ports)
        cls.servers = []
        for i in range(3):
            server = RunningServer(cls.shared, cls.input, [
                "--listen", "127.0.0.1:%d" % ports[i], "--replicas", "3",
                "--replica-index", str(i), "--peers", peers,
                "--auth-token-file", tokens] + list(SERVER_ARGS))
            server.__enter__()
            cls.addClassCleanup(server.stop)
            cls.servers.append(server)
        cls.channels = [grpc.insecure_channel(s.address) for s in cls.servers]
        for channel in cls.channels:
            cls.addClassCleanup(channel.close)
        cls.stubs = [cls.rpc.DatapoolStub(c) for c in cls.channels]
        # Pools by owner: the first replica that holds each after a Select
        # of embeddings (replica 0 forwards it to the owner).
        cls.owners = {}

    # -- helpers ---------------------------------------------------------------
    def owner(self, pool):
        """The index of the replica holding `pool`'s lock."""
        with open(os.path.join(self.shared, pool, "datapool.lock")) as f:
            text = f.read()
        for index, server in enumerate(self.servers):
            if "pid %d" % server.proc.pid in text:
                return index
        self.fail("no replica holds %s: %r" % (pool, text))

    def pools_owned(self, prefix, want):
        """New pool names owned by the replicas `want`, in that order: each
        made once with one embedding (its owner takes its lock), then
        deleted."""
        found = {}
        for i in range(60):
            pool = "%s-%d" % (prefix, i)
            self.stubs[0].Select(self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool=pool, n_samples_count=1),
                candidates=self.pb2.EmbeddingBlock(
                    dimension=2, filenames=["probe"], values=[1.0, 0.0])),
                timeout=TIMEOUT_S, metadata=GOOD)
            found.setdefault(self.owner(pool), pool)
            self.stubs[0].DeletePool(self.pb2.DeletePoolRequest(pool=pool),
                                     timeout=TIMEOUT_S, metadata=GOOD)
            if all(w in found for w in want):
                return [found[w] for w in want]
        self.fail("no pools owned by %r" % (want,))

    def embedded_total(self, index):
        url = METRICS_LINE.search(self.servers[index].stderr_text()).group(1)
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        m = re.search(r"^datapool_images_embedded_total (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def upload_requests(self, pool, uploads, n, chunk=700):
        """SelectRequests: params first, then the uploads in chunks."""
        params = self.pb2.SelectionParams(pool=pool, n_samples_count=n,
                                          remove_duplicates=True)
        yield self.pb2.SelectRequest(params=params)
        for name, data, label in uploads:
            parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
            parts = parts or [b""]
            for j, part in enumerate(parts):
                yield self.pb2.SelectRequest(images=[self.pb2.ImageChunk(
                    filename=name if j == 0 else "", data=part,
                    last=j == len(parts) - 1, label=label)])

    def csv_text(self, pool):
        with open(os.path.join(self.shared, pool,
                               "datapool_latest.csv")) as f:
            return f.read()

    def meta(self, pool):
        with open(os.path.join(self.shared, pool,
                               "datapool_meta.json")) as f:
            return json.load(f)

    def assertSameSelection(self, a, b):
        """Two SelectResponses alike but for what names the pool."""
        self.assertEqual([(s.filename, s.label) for s in a.selected],
                         [(s.filename, s.label) for s in b.selected])
        for x, y in zip(a.selected, b.selected):
            self.assertEqual(x.HasField("distance"), y.HasField("distance"))
            if x.HasField("distance"):
                self.assertAlmostEqual(x.distance, y.distance, places=6)
        for field in ("pool_size_before", "pool_size_after", "version",
                      "committed", "candidates_received",
                      "candidates_already_in_pool", "duplicates_removed",
                      "stop_reason"):
            self.assertEqual(getattr(a, field), getattr(b, field), field)
        self.assertEqual(list(a.skipped), list(b.skipped))
        self.assertEqual(list(a.duplicates), list(b.duplicates))

    # -- tests -------------------------------------------------------------------
    def test_uploads_and_paths_embedded_where_they_arrive(self):
        here, there = self.pools_owned("sel", (0, 1))
        owner = 1
        embedded = [self.embedded_total(i) for i in range(3)]
        # New pools: uploads (with a duplicate and two unusable files).
        via_other = self.stubs[0].SelectStream(
            self.upload_requests(there, self.uploads, 5), timeout=TIMEOUT_S,
            metadata=GOOD)
        direct = self.stubs[0].SelectStream(
            self.upload_requests(here, self.uploads, 5), timeout=TIMEOUT_S,
            metadata=GOOD)
        self.assertEqual(self.owner(there), owner)
        self.assertEqual(self.owner(here), 0)
        self.assertSameSelection(via_other, direct)
        self.assertEqual(len(via_other.selected), 5)
        self.assertEqual({s.filename for s in via_other.skipped},
                         {"up/empty.png", "up/noise.jpg"})
        self.assertEqual([(d.filename, d.same_as)
                          for d in via_other.duplicates],
                         [("up/copy.png", "up/03.png")])
        self.assertEqual(self.csv_text(there), self.csv_text(here))
        for key in ("model_fingerprint", "input_size", "dimension", "size"):
            self.assertEqual(self.meta(there)[key], self.meta(here)[key])
        self.assertTrue(self.meta(there)["model_fingerprint"])
        # Replica 0 embedded both calls' 14 usable images; the owner none.
        self.assertEqual(self.embedded_total(0), embedded[0] + 28)
        self.assertEqual(self.embedded_total(owner), embedded[owner])
        # Existing pools, server-side paths (weak labels, one bad file),
        # with progress: the caller sees the embedding progress.
        calls = {}
        for pool in (there, here):
            request = self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool=pool, n_samples_count=4),
                input_paths=["a", "b"])
            replies = list(self.stubs[0].SelectWithProgress(
                iter([request]), timeout=TIMEOUT_S, metadata=GOOD))
            self.assertTrue(replies[-1].HasField("result"))
            phases = [r.progress.phase for r in replies[:-1]]
            self.assertIn("embedding", phases)
            calls[pool] = (replies[-1].result, phases)
        self.assertSameSelection(calls[there][0], calls[here][0])
        # The same phases in the same order (how many messages each has
        # depends on time).
        self.assertEqual(*[[p for i, p in enumerate(phases)
                            if i == 0 or phases[i - 1] != p]
                           for _, phases in calls.values()])
        self.assertEqual([s.filename for s in calls[there][0].skipped],
                         ["b/bad.png"])
        self.assertEqual(self.csv_text(there), self.csv_text(here))
        self.assertEqual(self.embedded_total(0), embedded[0] + 28 + 24)
        self.assertEqual(self.embedded_total(owner), embedded[owner])
        # Unary Select with paths.
        unary = [self.stubs[0].Select(self.pb2.SelectRequest(
            params=self.pb2.SelectionParams(pool=pool, n_samples_count=2,
                                            dry_run=True),
            input_paths=["a"]), timeout=TIMEOUT_S, metadata=GOOD)
            for pool in (there, here)]
        self.assertSameSelection(unary[0], unary[1])
        # Search with uploaded queries, and Embed with the pool's model.
        found = [self.stubs[0].Search(iter([self.pb2.SearchRequest(
            pool=pool, k=3, images=[self.pb2.ImageChunk(
                filename=n, data=d, last=True) for n, d, _ in
                self.uploads[:4]])]), timeout=TIMEOUT_S, metadata=GOOD)
            for pool in (there, here)]
        self.assertEqual(found[0], found[1])
        self.assertEqual(len(found[0].results), 4)
        embeds = [self.stubs[0].Embed(iter([self.pb2.EmbedRequest(
            pool=pool, input_paths=["a"])]), timeout=TIMEOUT_S,
            metadata=GOOD) for pool in (there, here)]
        self.assertEqual(embeds[0], embeds[1])
        self.assertEqual(self.embedded_total(owner), embedded[owner])
        # The owner's log shows embeddings coming, never images.
        self.assertIn('"rpc":"SelectStream"',
                      self.servers[owner].stderr_text().replace(" ", ""))

    def test_pool_model_read_from_the_folder(self):
        """A pool built with another model: the replica the images reach
        loads that model from the pool's checkpoint in the shared folder."""
        here, there = self.pools_owned("model", (0, 2))
        for pool in (here, there):
            # Rows the model change can read again: from the input folder.
            self.stubs[0].Select(self.pb2.SelectRequest(
                params=self.pb2.SelectionParams(pool=pool, n_samples_count=3),
                input_paths=["a"]), timeout=TIMEOUT_S, metadata=GOOD)
            chunks = [self.pb2.SetPoolModelRequest(
                pool=pool, input_size=16, model_chunk=self.model_bytes)]
            self.stubs[0].SetPoolModel(iter(chunks), timeout=TIMEOUT_S,
                                       metadata=GOOD)
            self.assertEqual(self.meta(pool)["dimension"], 3)
        embedded = self.embedded_total(2)
        results = [self.stubs[0].SelectStream(
            self.upload_requests(pool, self.uploads[3:], 4),
            timeout=TIMEOUT_S, metadata=GOOD) for pool in (there, here)]
        self.assertSameSelection(results[0], results[1])
        self.assertEqual(self.csv_text(there), self.csv_text(here))
        self.assertEqual(self.meta(there)["model_fingerprint"],
                         self.meta(here)["model_fingerprint"])
        self.assertEqual(self.embedded_total(2), embedded)

    def test_embeddings_of_another_model_refused_by_the_owner(self):
        """Embeddings a replica made with a model that is not the pool's
        (its model changed between the two steps, or the replicas run
        different defaults) never enter the pool: FAILED_PRECONDITION, to
        retry, and nothing written. A client sending image_embeddings
        itself (no replica's marker) gets INVALID_ARGUMENT."""
        existing, new = self.pools_owned("other", (1, 2))
        self.stubs[1].Select(self.pb2.SelectRequest(
            params=self.pb2.SelectionParams(pool=existing, n_samples_count=2),
            input_paths=["a"]), timeout=TIMEOUT_S, metadata=GOOD)
        version = self.meta(existing)["version"]
        model = self.meta(existing)["model_fingerprint"]
        for pool, owner in ((existing, 1), (new, 2)):
            for fingerprint, size in (("sha256:" + "0" * 64, 64),
                                      (model, 32)):
                embedded = self.pb2.ImageEmbeddings(
                    rows=self.pb2.EmbeddingBlock(
                        dimension=2, filenames=["x.png"], values=[0.6, 0.8]),
                    model_fingerprint=fingerprint, input_size=size)
                with self.assertRaises(grpc.RpcError) as refused:
                    self.stubs[owner].SelectStream(iter([
                        self.pb2.SelectRequest(params=self.pb2.SelectionParams(
                            pool=pool, n_samples_count=1)),
                        self.pb2.SelectRequest(image_embeddings=embedded)]),
                        timeout=TIMEOUT_S, metadata=GOOD + [
                            ("x-datapool-forwarded", "0")])
                self.assertEqual(refused.exception.code(),
                                 grpc.StatusCode.FAILED_PRECONDITION)
                self.assertIn("changed meanwhile",
                              refused.exception.details())
        # From a client (no replica's marker): refused whatever the model.
        embedded = self.pb2.ImageEmbeddings(
            rows=self.pb2.EmbeddingBlock(
                dimension=2, filenames=["x.png"], values=[0.6, 0.8]),
            model_fingerprint=model, input_size=64)
        with self.assertRaises(grpc.RpcError) as refused:
            self.stubs[1].SelectStream(iter([
                self.pb2.SelectRequest(params=self.pb2.SelectionParams(
                    pool=existing, n_samples_count=1)),
                self.pb2.SelectRequest(image_embeddings=embedded)]),
                timeout=TIMEOUT_S, metadata=GOOD)
        self.assertEqual(refused.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("send the images", refused.exception.details())
        self.assertEqual(self.meta(existing)["version"], version)
        self.assertFalse(os.path.exists(os.path.join(self.shared, new,
                                                     "datapool_meta.json")))

    def test_wrong_token_refused_by_the_first_replica(self):
        _, there = self.pools_owned("token", (0, 1))
        embedded = [self.embedded_total(i) for i in range(3)]
        refused_before = self.servers[1].stderr_text().count(
            "UNAUTHENTICATED")
        for metadata in ([("authorization", "Bearer wrong")], None):
            with self.assertRaises(grpc.RpcError) as refused:
                self.stubs[0].SelectStream(
                    self.upload_requests(there, self.uploads, 3),
                    timeout=TIMEOUT_S, metadata=metadata)
            self.assertEqual(refused.exception.code(),
                             grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual([self.embedded_total(i) for i in range(3)],
                         embedded)
        self.assertEqual(self.servers[1].stderr_text().count(
            "UNAUTHENTICATED"), refused_before)
        self.assertFalse(os.path.exists(os.path.join(self.shared, there,
                                                     "datapool_latest.csv")))


if __name__ == "__main__":
    unittest.main()
