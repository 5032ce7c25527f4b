"""End-to-end tests of the datapool gRPC API from Python against the real
server binary (env DATAPOOL_SERVER_BIN), with the raw generated stubs: the
ones the Python SDK commits (client/python/datapool_client/_gen).

Run: /usr/bin/python3 -m unittest tests/python/test_python_client.py
"""

import concurrent.futures
import datetime
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import (  # noqa: E402
    STOP_EXHAUSTED, STOP_MIN_DISTANCE, STOP_N_SAMPLES, check_greedy_selection,
    load_stubs, snapshot_tree, unit_rows)
from lightly_csv import check_lightly_csv  # noqa: E402
from server_harness import (  # noqa: E402
    RunningServer, health_check, server_binary)

RPC_TIMEOUT_S = 30
NO_PROXY = [("grpc.enable_http_proxy", 0)]
D = 16
RFC3339_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$")


def parse_rfc3339(text):
    return datetime.datetime.strptime(text.split(".")[0].rstrip("Z"),
                                      "%Y-%m-%dT%H:%M:%S")


def clustered(rng, n_clusters, per_cluster, spread=0.02, prefix="c"):
    """Tight clusters of unit vectors: (names, (N, D) array, labels)."""
    centers = unit_rows(rng.normal(size=(n_clusters, D)))
    names, rows, labels = [], [], []
    for c in range(n_clusters):
        for j in range(per_cluster):
            names.append("%s%d/img_%02d.png" % (prefix, c, j))
            rows.append(centers[c] + rng.normal(scale=spread, size=D))
            labels.append(c)
    return names, unit_rows(rows), labels


def random_units(rng, n, prefix):
    names = ["%s_%03d.jpg" % (prefix, i) for i in range(n)]
    return names, unit_rows(rng.normal(size=(n, D))), [i % 5 for i in range(n)]


class DatapoolApiTestBase(unittest.TestCase):
    """One server per test class, in a temporary shared dir."""

    @classmethod
    def setUpClass(cls):
        cls.pb2, cls.pb2_grpc = load_stubs()
        server_binary()  # SkipTest early when unset
        tmp = tempfile.TemporaryDirectory(prefix="datapool-pytest-")
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.shared = os.path.join(cls.tmp, "shared")
        cls.input = os.path.join(cls.tmp, "input")
        os.mkdir(cls.shared)
        os.mkdir(cls.input)
        cls.server = RunningServer(cls.shared, cls.input)
        cls.server.__enter__()
        cls.addClassCleanup(cls.server.stop)
        cls.channel = grpc.insecure_channel(
            cls.server.address, options=NO_PROXY)
        cls.addClassCleanup(cls.channel.close)
        cls.stub = cls.pb2_grpc.DatapoolStub(cls.channel)

    # -- helpers -------------------------------------------------------------
    def block(self, names, rows, labels=None, dimension=None):
        rows = np.asarray(rows, dtype=np.float64)
        dim = dimension if dimension is not None else (
            rows.shape[1] if rows.ndim == 2 else 0)
        b = self.pb2.EmbeddingBlock(dimension=dim)
        b.filenames.extend(names)
        b.values.extend(float(v) for v in rows.reshape(-1))
        if labels is not None:
            b.labels.extend(int(x) for x in labels)
        return b

    def params(self, pool, n=None, fraction=None, min_distance=None,
               keep_history=None, dry_run=False):
        p = self.pb2.SelectionParams(pool=pool, dry_run=dry_run)
        # Plain k-center (farthest-first), which check_greedy_selection
        # checks; the default mode (typicality-weighted) has its own tests.
        p.config.objectives.add(
            input=self.pb2.SelectionObjective.INPUT_EMBEDDINGS,
            strategy=self.pb2.SelectionObjective.STRATEGY_DIVERSITY)
        if n is not None:
            p.n_samples_count = n
        if fraction is not None:
            p.n_samples_fraction = fraction
        if min_distance is not None:
            p.min_distance = min_distance
        if keep_history is not None:
            p.keep_history = keep_history
        return p

    def request(self, params, names, rows, labels=None, dimension=None):
        return self.pb2.SelectRequest(
            params=params,
            candidates=self.block(names, rows, labels, dimension))

    def rpc(self, method, request):
        try:
            return method(request, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as e:
            self.fail("unexpected RPC error %s: %s\n%s"
                      % (e.code(), e.details(), self.server.describe()))

    def assertRpcError(self, code, method, request, what):
        with self.assertRaises(grpc.RpcError,
                               msg="%s: expected %s" % (what, code)) as cm:
            method(request, timeout=RPC_TIMEOUT_S)
        self.assertEqual(cm.exception.code(), code,
                         "%s: got %s: %s" % (what, cm.exception.code(),
                                             cm.exception.details()))
        self.assertTrue(cm.exception.details(),
                        "%s: error without a message" % what)
        # The server still answers afterwards.
        self.rpc(self.stub.ListPools, self.pb2.ListPoolsRequest())
        return cm.exception

    def picks(self, response):
        return [(s.filename, s.distance if s.HasField("distance") else None)
                for s in response.selected]

    def stop_name(self, response):
        return {self.pb2.STOP_REASON_N_SAMPLES: STOP_N_SAMPLES,
                self.pb2.STOP_REASON_MIN_DISTANCE: STOP_MIN_DISTANCE,
                self.pb2.STOP_REASON_EXHAUSTED: STOP_EXHAUSTED}.get(
                    response.stop_reason, "unspecified")

    def assertLabels(self, response, names, labels):
        by_name = dict(zip(names, labels))
        for s in response.selected:
            self.assertEqual(s.label, by_name[s.filename],
                             "label of %r" % s.filename)

    def assertCsvRows(self, path, expected):
        """expected: {filename: (unit vector, label)}; checks the file."""
        names, emb, labels = check_lightly_csv(path)
        self.assertEqual(len(names), len(set(names)),
                         "duplicate filenames in %s" % path)
        self.assertEqual(sorted(names), sorted(expected), path)
        for name, vec, label in zip(names, emb, labels):
            want_vec, want_label = expected[name]
            self.assertEqual(len(vec), len(want_vec), path)
            np.testing.assert_allclose(vec, want_vec, atol=1e-5,
                                       err_msg="%s: row %r" % (path, name))
            self.assertEqual(label, want_label, "%s: label of %r"
                             % (path, name))

    def pool_dir(self, pool):
        return os.path.join(self.shared, pool)

    def get_pool(self, pool):
        return self.rpc(self.stub.GetPool, self.pb2.GetPoolRequest(pool=pool))


class SelectScenarioTest(DatapoolApiTestBase):

    def test_health_serving(self):
        try:
            status = health_check(self.channel, "")
        except grpc.RpcError as e:
            self.fail("health check failed: %s %s" % (e.code(), e.details()))
        self.assertEqual(status, 1, "overall health status is not SERVING")

    def test_two_runs_honour_the_pool(self):
        rng = np.random.default_rng(20261128)
        names1, rows1, labels1 = clustered(rng, 3, 8)
        vec1 = dict(zip(names1, rows1))

        # --- first run: 5 picks into a new pool ---
        r1 = self.rpc(self.stub.Select, self.request(
            self.params("py-pool", n=5), names1, rows1, labels1))
        self.assertEqual(len(r1.selected), 5)
        self.assertTrue(r1.committed)
        self.assertEqual(r1.version, 1)
        self.assertEqual(r1.pool_size_before, 0)
        self.assertEqual(r1.pool_size_after, 5)
        self.assertEqual(r1.candidates_received, len(names1))
        self.assertEqual(r1.candidates_already_in_pool, 0)
        self.assertEqual(r1.stop_reason, self.pb2.STOP_REASON_N_SAMPLES)
        self.assertLabels(r1, names1, labels1)
        check_greedy_selection([], vec1, self.picks(r1), self.stop_name(r1),
                               n_limit=5)
        # Farthest-first over 3 tight clusters covers every cluster first.
        self.assertEqual({s.label for s in r1.selected[:3]}, {0, 1, 2})
        first = [s.filename for s in r1.selected]

        info1 = self.get_pool("py-pool")
        self.assertEqual((info1.size, info1.dimension, info1.version),
                         (5, D, 1))
        latest = os.path.join(self.pool_dir("py-pool"), "datapool_latest.csv")
        self.assertCsvRows(latest, {n: (vec1[n], labels1[names1.index(n)])
                                    for n in first})

        # --- second run: near-duplicates of the picks + far new points ---
        near_names, near_rows = [], []
        for j, name in enumerate(first):
            v = unit_rows([vec1[name] + rng.normal(scale=0.003, size=D)])[0]
            self.assertLess(np.linalg.norm(v - vec1[name]), 0.05)
            near_names.append("near/dup_%d.png" % j)
            near_rows.append(v)
        pool_rows = np.array([vec1[n] for n in first])
        far_names, far_rows = [], []
        while len(far_rows) < 4:
            v = unit_rows(rng.normal(size=(1, D)))[0]
            others = np.vstack([pool_rows] + far_rows) if far_rows \
                else pool_rows
            if np.min(np.linalg.norm(others - v, axis=1)) > 0.6:
                far_names.append("far/new_%d.png" % len(far_rows))
                far_rows.append(v)
        repeat = first[0]  # already in the pool: must be skipped
        names2 = near_names + far_names + [repeat]
        rows2 = np.vstack([near_rows, far_rows, [vec1[repeat]]])
        labels2 = [7] * len(near_names) + [8] * len(far_names) + [0]
        order = rng.permutation(len(names2))
        names2 = [names2[i] for i in order]
        rows2 = rows2[order]
        labels2 = [labels2[i] for i in order]

        r2 = self.rpc(self.stub.Select, self.request(
            self.params("py-pool", min_distance=0.3), names2, rows2, labels2))
        picked2 = [s.filename for s in r2.selected]
        self.assertFalse(set(picked2) & set(near_names),
                         "near-duplicates of the pool were picked: %s"
                         % picked2)
        self.assertNotIn(repeat, picked2)
        self.assertEqual(sorted(picked2), sorted(far_names))
        self.assertEqual(r2.stop_reason, self.pb2.STOP_REASON_MIN_DISTANCE)
        self.assertEqual(r2.pool_size_before, 5)
        self.assertEqual(r2.pool_size_after, 5 + len(far_names))
        self.assertEqual(r2.version, 2)
        self.assertTrue(r2.committed)
        self.assertEqual(r2.candidates_received, len(names2))
        self.assertEqual(r2.candidates_already_in_pool, 1)
        self.assertLabels(r2, names2, labels2)
        for s in r2.selected:
            self.assertTrue(s.HasField("distance"),
                            "pick into a non-empty pool without distance")
            self.assertGreaterEqual(s.distance, 0.3)
        eligible2 = {n: v for n, v in zip(names2, rows2) if n != repeat}
        check_greedy_selection(pool_rows, eligible2, self.picks(r2),
                               self.stop_name(r2), min_distance=0.3)

        # --- on disk ---
        vec2 = dict(zip(names2, rows2))
        lab2 = dict(zip(names2, labels2))
        expected = {n: (vec1[n], labels1[names1.index(n)]) for n in first}
        expected.update({n: (vec2[n], lab2[n]) for n in picked2})
        self.assertCsvRows(latest, expected)
        history = os.path.join(self.pool_dir("py-pool"), "history")
        csvs = sorted(f for f in os.listdir(history) if f.endswith(".csv"))
        self.assertEqual(len(csvs), 1, "history/ holds %s" % csvs)
        self.assertCsvRows(os.path.join(history, csvs[0]),
                           {n: (vec1[n], labels1[names1.index(n)])
                            for n in first})
        meta = os.path.join(self.pool_dir("py-pool"), "datapool_meta.json")
        with open(meta, encoding="utf-8") as f:
            json.load(f)

        info2 = self.get_pool("py-pool")
        self.assertEqual(info2.name, "py-pool")
        self.assertEqual((info2.size, info2.dimension, info2.version),
                         (9, D, 2))
        self.assertTrue(info2.normalized)
        self.assertEqual(info2.model_fingerprint, "")
        self.assertEqual(os.path.realpath(info2.folder),
                         os.path.realpath(self.pool_dir("py-pool")))
        for t in (info2.created_time, info2.updated_time):
            self.assertRegex(t, RFC3339_RE)
        self.assertEqual(info2.created_time, info1.created_time)
        self.assertLessEqual(parse_rfc3339(info2.created_time),
                             parse_rfc3339(info2.updated_time))
        self.assertLessEqual(parse_rfc3339(info1.updated_time),
                             parse_rfc3339(info2.updated_time))
        listed = self.rpc(self.stub.ListPools, self.pb2.ListPoolsRequest())
        mine = [p for p in listed.pools if p.name == "py-pool"]
        self.assertEqual(mine, [info2])

    def test_fraction_counts_eligible_candidates(self):
        rng = np.random.default_rng(7)
        names, rows, labels = random_units(rng, 10, "frac")
        r1 = self.rpc(self.stub.Select, self.request(
            self.params("py-frac", n=2), names[:2], rows[:2], labels[:2]))
        self.assertEqual((r1.version, r1.pool_size_after), (1, 2))
        # 10 received, 2 already in the pool: 8 eligible.
        for fraction, want in ((0.5, 4), (0.3, 2), (1.0, 8)):
            r = self.rpc(self.stub.Select, self.request(
                self.params("py-frac", fraction=fraction, dry_run=True),
                names, rows, labels))
            self.assertEqual(r.candidates_received, 10)
            self.assertEqual(r.candidates_already_in_pool, 2)
            self.assertEqual(len(r.selected), want, "fraction %s" % fraction)
            self.assertFalse(r.committed)
            self.assertEqual(r.version, 1)
            self.assertEqual(r.pool_size_before, 2)
            check_greedy_selection(
                rows[:2], dict(zip(names[2:], rows[2:])), self.picks(r),
                self.stop_name(r), n_limit=want)
        self.assertEqual(self.get_pool("py-frac").version, 1)

    def _stream(self, params, names, rows, labels, cuts):
        """SelectStream with candidates split at `cuts`; params only first."""
        bounds = [0] + list(cuts) + [len(names)]
        messages = []
        for k in range(len(bounds) - 1):
            a, b = bounds[k], bounds[k + 1]
            m = self.pb2.SelectRequest(candidates=self.block(
                names[a:b], rows[a:b], labels[a:b], dimension=D))
            if k == 0:
                m.params.CopyFrom(params)
            messages.append(m)
        self.assertEqual(len(messages), 3)
        return self.rpc(self.stub.SelectStream, iter(messages))

    def assertSameSelection(self, a, b):
        self.assertEqual([(s.filename, s.label) for s in a.selected],
                         [(s.filename, s.label) for s in b.selected])
        for x, y in zip(a.selected, b.selected):
            self.assertEqual(x.HasField("distance"), y.HasField("distance"))
            self.assertAlmostEqual(x.distance, y.distance, places=6)
        for field in ("stop_reason", "pool_size_before", "candidates_received",
                      "candidates_already_in_pool"):
            self.assertEqual(getattr(a, field), getattr(b, field), field)

    def test_stream_matches_unary(self):
        rng = np.random.default_rng(99)
        names, rows, labels = clustered(rng, 4, 6, spread=0.05, prefix="s")
        cuts = (7, 20)  # 7 + 13 + 4 rows
        pool = "py-stream"

        dry = self.rpc(self.stub.Select, self.request(
            self.params(pool, n=8, dry_run=True), names, rows, labels))
        self.assertEqual(len(dry.selected), 8)
        self.assertFalse(dry.committed)
        self.assertEqual(dry.version, 0)
        self.assertEqual(dry.pool_size_before, 0)
        self.assertFalse(os.path.exists(self.pool_dir(pool)),
                         "a dry run created the pool folder")
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.GetPool,
                            self.pb2.GetPoolRequest(pool=pool),
                            "GetPool after a dry run into a new pool")

        sdry = self._stream(self.params(pool, n=8, dry_run=True), names, rows,
                            labels, cuts)
        self.assertSameSelection(sdry, dry)
        self.assertFalse(sdry.committed)
        self.assertEqual(sdry.version, 0)
        self.assertEqual(sdry.pool_size_after, dry.pool_size_after)
        self.assertEqual(sdry.candidates_received, len(names))

        real = self._stream(self.params(pool, n=8), names, rows, labels, cuts)
        self.assertSameSelection(real, dry)
        self.assertTrue(real.committed)
        self.assertEqual(real.version, 1)
        self.assertEqual(real.pool_size_after, 8)
        check_greedy_selection([], dict(zip(names, rows)), self.picks(real),
                               self.stop_name(real), n_limit=8)
        self.assertEqual(self.get_pool(pool).size, 8)

        # Against the existing pool: stream and unary dry runs agree and
        # change nothing on disk.
        before = snapshot_tree(self.pool_dir(pool))
        names2, rows2, labels2 = clustered(rng, 3, 8, spread=0.05, prefix="t")
        by_name = {n: (v, lab) for n, v, lab in zip(names, rows, labels)}
        repeats = [n for n, _ in self.picks(real)][:3]  # already in the pool
        names2 += repeats
        rows2 = np.vstack([rows2, [by_name[n][0] for n in repeats]])
        labels2 += [by_name[n][1] for n in repeats]
        p = self.params(pool, n=6, min_distance=0.2, dry_run=True)
        u = self.rpc(self.stub.Select, self.request(p, names2, rows2,
                                                    labels2))
        s = self._stream(p, names2, rows2, labels2, (5, 17))
        self.assertSameSelection(s, u)
        self.assertEqual((u.pool_size_before, u.version, u.committed),
                         (8, 1, False))
        self.assertEqual(u.candidates_already_in_pool, 3)
        picked_vecs = [dict(zip(names, rows))[n] for n, _ in self.picks(real)]
        check_greedy_selection(picked_vecs,
                               dict(zip(names2[:-3], rows2[:-3])),
                               self.picks(u), self.stop_name(u), n_limit=6,
                               min_distance=0.2)
        self.assertEqual(snapshot_tree(self.pool_dir(pool)), before,
                         "a dry run changed files")
        self.assertEqual(self.get_pool(pool).version, 1)

    def test_keep_history_false(self):
        rng = np.random.default_rng(5)
        names, rows, labels = random_units(rng, 12, "hist")
        pool = "py-nohist"
        for k, keep in enumerate((None, False, True)):
            a = 4 * k
            r = self.rpc(self.stub.Select, self.request(
                self.params(pool, n=2, keep_history=keep),
                names[a:a + 4], rows[a:a + 4], labels[a:a + 4]))
            self.assertEqual(r.version, k + 1)
        history = os.path.join(self.pool_dir(pool), "history")
        csvs = sorted(f for f in os.listdir(history) if f.endswith(".csv"))
        # Run 1 creates v1 (nothing replaced); run 2 (keep_history=false)
        # replaces v1 without keeping it; run 3 (true) keeps v2 (4 rows).
        self.assertEqual(len(csvs), 1, csvs)
        hist_names, _, _ = check_lightly_csv(os.path.join(history, csvs[0]))
        self.assertEqual(len(hist_names), 4, "history holds v2 (4 rows)")

    def test_concurrent_selects_serialise(self):
        rng = np.random.default_rng(11)
        pool = "py-conc"
        jobs = []
        for t in range(4):
            names, rows, labels = random_units(rng, 6, "conc%d" % t)
            jobs.append(self.request(self.params(pool, n=2), names, rows,
                                     labels))
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            results = list(ex.map(
                lambda req: self.stub.Select(req, timeout=RPC_TIMEOUT_S),
                jobs))
        self.assertEqual(sorted(r.version for r in results), [1, 2, 3, 4])
        self.assertEqual(sorted(r.pool_size_before for r in results),
                         [0, 2, 4, 6])
        for r in results:
            self.assertEqual(r.pool_size_after, r.pool_size_before + 2)
            self.assertEqual(r.version, r.pool_size_after // 2)
        info = self.get_pool(pool)
        self.assertEqual((info.size, info.version), (8, 4))
        names, _, _ = check_lightly_csv(
            os.path.join(self.pool_dir(pool), "datapool_latest.csv"))
        self.assertEqual(sorted(names),
                         sorted(s.filename for r in results
                                for s in r.selected))


    def test_many_concurrent_writers_with_min_distance(self):
        # 8 clients x 25 selections into one pool, each seeing every earlier
        # commit: no acknowledged pick is lost and min_distance holds across
        # all of them.
        pool = "py-writers"
        min_distance = 0.35
        rng = np.random.default_rng(5)
        centres = unit_rows(rng.normal(size=(60, D)))
        jobs = []
        for c in range(8):
            for r in range(25):
                idx = rng.integers(0, len(centres), size=6)
                rows = unit_rows(centres[idx] + 0.05 * rng.normal(size=(6, D)))
                names = ["w%d/r%02d/%d.jpg" % (c, r, i) for i in range(6)]
                jobs.append(self.request(
                    self.params(pool, n=3, min_distance=min_distance),
                    names, rows, None))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            results = list(ex.map(
                lambda req: self.stub.Select(req, timeout=RPC_TIMEOUT_S),
                jobs))
        acknowledged = [s.filename for r in results for s in r.selected]
        commits = sum(1 for r in results if r.committed)
        self.assertGreater(commits, 10)
        self.assertEqual(len(acknowledged), len(set(acknowledged)))
        info = self.get_pool(pool)
        self.assertEqual(info.size, len(acknowledged))
        self.assertEqual(info.version, commits)
        names, rows, _ = check_lightly_csv(
            os.path.join(self.pool_dir(pool), "datapool_latest.csv"))
        self.assertEqual(sorted(names), sorted(acknowledged))
        rows = np.asarray(rows)
        dist = np.linalg.norm(rows[:, None, :] - rows[None, :, :], axis=2)
        np.fill_diagonal(dist, np.inf)
        self.assertGreaterEqual(dist.min(), min_distance - 1e-6)


class ErrorTest(DatapoolApiTestBase):

    def setUp(self):
        rng = np.random.default_rng(3)
        self.names, self.rows, self.labels = random_units(rng, 6, "err")
        if not os.path.exists(self.pool_dir("py-err")):
            r = self.rpc(self.stub.Select, self.request(
                self.params("py-err", n=2), self.names[:3], self.rows[:3],
                self.labels[:3]))
            self.assertEqual(r.version, 1)
        self.before = snapshot_tree(self.shared)

    def tearDown(self):
        self.assertEqual(snapshot_tree(self.shared), self.before,
                         "a failed request changed files")
        self.assertEqual(self.get_pool("py-err").version, 1)

    def select_error(self, code, what, request):
        return self.assertRpcError(code, self.stub.Select, request, what)

    def good(self, **kw):
        kw.setdefault("n", 2)
        return self.params("py-err", **kw)

    def test_documented_errors(self):
        INVALID = grpc.StatusCode.INVALID_ARGUMENT
        names, rows, labels = self.names[3:], self.rows[3:], self.labels[3:]

        rng = np.random.default_rng(4)
        e = self.select_error(
            grpc.StatusCode.FAILED_PRECONDITION, "wrong dimension",
            self.request(self.good(), names, unit_rows(
                rng.normal(size=(3, 8))), labels))
        self.assertTrue(re.search(r"\b16\b", e.details()) and
                        re.search(r"\b8\b", e.details()),
                        "dimension error should name both dimensions: %r"
                        % e.details())

        bad = rows.copy()
        bad[1, 4] = float("nan")
        self.select_error(INVALID, "NaN value",
                          self.request(self.good(), names, bad, labels))
        self.select_error(INVALID, "empty candidates",
                          self.request(self.good(), [], np.zeros((0, D)),
                                       dimension=D))
        self.select_error(INVALID, "pool '../x'", self.request(
            self.params("../x", n=2), names, rows, labels))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))
        self.select_error(INVALID, "no stopping condition", self.request(
            self.params("py-err"), names, rows, labels))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.GetPool,
                            self.pb2.GetPoolRequest(pool="no-such-pool"),
                            "GetPool of a missing pool")
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.DeletePool,
                            self.pb2.DeletePoolRequest(pool="no-such-pool"),
                            "DeletePool of a missing pool")

    def test_bad_pool_names(self):
        for name in ("", ".hidden", "a/b", "..", "a b", "x" * 129, "/abs",
                     "a\\b"):
            self.select_error(
                grpc.StatusCode.INVALID_ARGUMENT, "pool name %r" % name,
                self.request(self.params(name, n=2), self.names[3:],
                             self.rows[3:], self.labels[3:]))
        # The longest allowed name works (dry run: nothing written).
        ok = self.rpc(self.stub.Select, self.request(
            self.params("a." + "x" * 126, n=1, dry_run=True), self.names[3:],
            self.rows[3:], self.labels[3:]))
        self.assertEqual(len(ok.selected), 1)

    def test_malformed_candidates(self):
        INVALID = grpc.StatusCode.INVALID_ARGUMENT
        names, rows, labels = self.names[3:], self.rows[3:], self.labels[3:]

        zero = rows.copy()
        zero[0] = 0.0
        self.select_error(INVALID, "zero vector",
                          self.request(self.good(), names, zero, labels))
        inf = rows.copy()
        inf[2, 0] = float("inf")
        self.select_error(INVALID, "infinite value",
                          self.request(self.good(), names, inf, labels))

        req = self.request(self.good(), names, rows, labels)
        del req.candidates.values[-1]
        self.select_error(INVALID, "values not n*dimension", req)

        req = self.request(self.good(), names, rows, labels)
        del req.candidates.labels[-1]
        self.select_error(INVALID, "labels neither empty nor one per row",
                          req)

        self.select_error(INVALID, "duplicate filename", self.request(
            self.good(), [names[0], names[1], names[0]], rows, labels))
        self.select_error(INVALID, "empty filename", self.request(
            self.good(), [names[0], "", names[2]], rows, labels))
        self.select_error(INVALID, "dimension 0", self.request(
            self.good(), [], np.zeros((0, 0)), dimension=0))

        self.select_error(INVALID, "n_samples_count = 0",
                          self.request(self.good(n=0), names, rows, labels))
        for f in (0.0, -0.5, 1.5, float("nan")):
            self.select_error(INVALID, "n_samples_fraction = %r" % f,
                              self.request(self.good(n=None, fraction=f),
                                           names, rows, labels))
        for md in (-0.1, float("nan")):
            self.select_error(INVALID, "min_distance = %r" % md,
                              self.request(self.good(n=None, min_distance=md),
                                           names, rows, labels))

        self.select_error(INVALID, "Select without params",
                          self.pb2.SelectRequest(candidates=self.block(
                              names, rows, labels)))

        first = self.request(self.good(), names[:1], rows[:1], labels[:1])
        later = self.request(self.good(), names[1:], rows[1:], labels[1:])
        self.assertRpcError(INVALID, self.stub.SelectStream,
                            iter([first, later]),
                            "stream with params in a later message")
        no_params = self.pb2.SelectRequest(candidates=self.block(
            names, rows, labels))
        self.assertRpcError(INVALID, self.stub.SelectStream, iter([no_params]),
                            "stream without params in the first message")
        self.assertRpcError(INVALID, self.stub.SelectStream, iter([]),
                            "empty stream")
        mixed = self.pb2.SelectRequest(candidates=self.block(
            names[1:], unit_rows(np.ones((2, 8))), labels[1:]))
        self.assertRpcError(INVALID, self.stub.SelectStream,
                            iter([self.request(self.good(), names[:1],
                                               rows[:1], labels[:1]), mixed]),
                            "stream whose messages disagree on dimension")


class ProgressTest(DatapoolApiTestBase):
    """SelectWithProgress: progress messages while the call runs, the result
    last; cancelling it commits nothing."""

    def big_request(self, pool, n, picks, seed):
        rng = np.random.default_rng(seed)
        rows = unit_rows(rng.normal(size=(n, 32)))
        names = ["%s/%06d.jpg" % (pool, i) for i in range(n)]
        return self.request(self.params(pool, n=picks), names, rows)

    def test_progress_then_result(self):
        replies = list(self.stub.SelectWithProgress(
            iter([self.big_request("prog", 20000, 3000, 1)]), timeout=120))
        self.assertTrue(replies[-1].HasField("result"), replies[-1])
        result = replies[-1].result
        self.assertTrue(result.committed)
        self.assertEqual(len(result.selected), 3000)
        progress = [r.progress for r in replies[:-1]]
        self.assertTrue(all(r.HasField("progress") for r in replies[:-1]))
        phases = [p.phase for p in progress]
        order = ["receiving", "selecting", "committing"]
        self.assertEqual(sorted(set(phases), key=order.index),
                         [ph for ph in order if ph in phases])
        self.assertEqual(phases, sorted(phases, key=order.index), phases)
        selecting = [p for p in progress if p.phase == "selecting"]
        self.assertTrue(selecting, phases)
        self.assertTrue(all(p.total == 3000 and p.done <= 3000
                            for p in selecting))
        self.assertEqual(selecting[-1].done, 3000)
        done = [p.done for p in selecting]
        self.assertEqual(done, sorted(done))
        self.assertEqual((progress[-1].phase, progress[-1].done,
                          progress[-1].total), ("committing", 1, 1))
        # Throttled: far fewer messages than picks.
        self.assertLess(len(selecting), 500)

    def test_cancel_commits_nothing(self):
        call = self.stub.SelectWithProgress(
            iter([self.big_request("cancelled", 100000, 50000, 2)]),
            timeout=300)
        for reply in call:
            if reply.HasField("progress") and reply.progress.phase == "selecting":
                call.cancel()
                break
        self.assertEqual(call.code(), grpc.StatusCode.CANCELLED)
        # Commits to one pool are serialised: once this one is in, the
        # cancelled call has let go of the pool without writing.
        after = self.stub.Select(self.request(
            self.params("cancelled", n=1), ["late.jpg"],
            unit_rows(np.ones((1, 32)))), timeout=120)
        self.assertEqual((after.version, after.pool_size_after), (1, 1))


class RestartTest(unittest.TestCase):
    """The pool state survives a server restart (read back from disk)."""

    def test_restart(self):
        pb2, pb2_grpc = load_stubs()
        server_binary()
        with tempfile.TemporaryDirectory(prefix="datapool-restart-") as tmp:
            shared = os.path.join(tmp, "shared")
            inp = os.path.join(tmp, "input")
            os.mkdir(shared)
            os.mkdir(inp)
            rng = np.random.default_rng(21)
            names, rows, labels = random_units(rng, 6, "rs")
            block = pb2.EmbeddingBlock(dimension=D, filenames=names,
                                       values=rows.reshape(-1).tolist(),
                                       labels=labels)
            with RunningServer(shared, inp) as server:
                with grpc.insecure_channel(server.address,
                                           options=NO_PROXY) as ch:
                    r = pb2_grpc.DatapoolStub(ch).Select(pb2.SelectRequest(
                        params=pb2.SelectionParams(pool="persist",
                                                   n_samples_count=3),
                        candidates=block), timeout=RPC_TIMEOUT_S)
                    self.assertEqual((r.version, r.pool_size_after), (1, 3))
                    picked = [s.filename for s in r.selected]
            self.assertTrue(server.stdout_lines())  # the listening line
            with RunningServer(shared, inp) as server2:
                with grpc.insecure_channel(server2.address,
                                           options=NO_PROXY) as ch:
                    stub = pb2_grpc.DatapoolStub(ch)
                    info = stub.GetPool(pb2.GetPoolRequest(pool="persist"),
                                        timeout=RPC_TIMEOUT_S)
                    self.assertEqual(
                        (info.size, info.dimension, info.version), (3, D, 1))
                    self.assertEqual(
                        [p.name for p in stub.ListPools(
                            pb2.ListPoolsRequest(),
                            timeout=RPC_TIMEOUT_S).pools], ["persist"])
                    # Same candidates again: the 3 picks are in the pool, the
                    # other 3 are eligible.
                    r2 = stub.Select(pb2.SelectRequest(
                        params=pb2.SelectionParams(pool="persist",
                                                   n_samples_count=10),
                        candidates=block), timeout=RPC_TIMEOUT_S)
                    self.assertEqual(r2.candidates_already_in_pool, 3)
                    self.assertEqual(r2.pool_size_before, 3)
                    self.assertEqual(r2.version, 2)
                    self.assertEqual(
                        r2.stop_reason, pb2.STOP_REASON_EXHAUSTED)
                    self.assertEqual(
                        sorted(s.filename for s in r2.selected),
                        sorted(set(names) - set(picked)))
                    d = stub.DeletePool(pb2.DeletePoolRequest(pool="persist"),
                                        timeout=RPC_TIMEOUT_S)
                    self.assertEqual((d.deleted.name, d.deleted.version),
                                     ("persist", 2))
                    self.assertFalse(os.path.exists(
                        os.path.join(shared, "persist")))


if __name__ == "__main__":
    unittest.main()
