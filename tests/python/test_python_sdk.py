"""The Python SDK (client/python, package `datapool_client`) installed the
way client/python/README.md says -- a venv with --system-site-packages and
`pip install ./client/python`, offline (PIP_NO_INDEX) -- and used against
the real server binary (env DATAPOOL_SERVER_BIN).

The tests import the package from the venv's site-packages (asserted), not
from the source tree; the README's example runs with the venv's own
interpreter. Also checked: the committed generated modules match proto/.

Run: /usr/bin/python3 -m unittest tests/python/test_python_sdk.py
"""

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy", "cv2")

import cv2  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import (  # noqa: E402
    DIVERSITY_CONFIG, LIGHTLY_CONFIG, SDK_DIR, check_greedy_selection,
    dense_and_outliers, snapshot_tree, unit_rows)
from lightly_csv import check_lightly_csv  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402
from pki import make_pki  # noqa: E402

README = os.path.join(SDK_DIR, "README.md")
TIMEOUT_S = 60
NO_PROXY = [("grpc.enable_http_proxy", 0)]
TOKEN = "sdk-token-3f9c2e"
D = 16

# Set by setUpModule.
sdk = None          # the datapool_client module, imported from the venv
venv_python = None
venv_site = None
model_server = None   # built-in model
secure_server = None  # --model none, TLS with client certificates, tokens
tmp_root = None
pki_dir = None


def clean_env():
    """The environment for pip and the venv's Python: no PYTHONPATH, no
    pip configuration or index (offline), no proxies for gRPC."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k.upper() not in (
               "PYTHONPATH", "PYTHONHOME", "HTTP_PROXY", "HTTPS_PROXY",
               "GRPC_PROXY", "ALL_PROXY")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               PIP_NO_INPUT="1")
    return env


def run(args, what, **kw):
    proc = subprocess.run(args, capture_output=True, text=True,
                          env=clean_env(), timeout=300, **kw)
    if proc.returncode != 0:
        raise AssertionError("%s failed (exit %d): %s\n--- stdout ---\n%s\n"
                             "--- stderr ---\n%s" % (what, proc.returncode,
                                                     " ".join(args),
                                                     proc.stdout, proc.stderr))
    return proc


def install_sdk(venv):
    """The README's commands: a venv that sees Debian's packages, then
    pip install ./client/python."""
    run([sys.executable, "-m", "venv", "--system-site-packages", venv],
        "creating the venv")
    python = os.path.join(venv, "bin", "python")
    run([os.path.join(venv, "bin", "pip"), "install", SDK_DIR],
        "pip install ./client/python (offline)", cwd=tmp_root)
    site = run([python, "-c", "import sysconfig; "
                "print(sysconfig.get_paths()['purelib'])"],
               "asking the venv for its site-packages").stdout.strip()
    return python, site


def setUpModule():
    global sdk, venv_python, venv_site, model_server, secure_server
    global tmp_root, pki_dir
    server_binary()  # SkipTest early when unset
    tmp = tempfile.TemporaryDirectory(prefix="datapool-sdk-")
    unittest.addModuleCleanup(tmp.cleanup)
    tmp_root = tmp.name
    pki_dir = os.path.join(tmp_root, "pki")
    os.mkdir(pki_dir)
    make_pki(pki_dir)
    tokens = os.path.join(tmp_root, "tokens")
    with open(tokens, "w") as f:
        f.write("# sdk test\n%s\n" % TOKEN)

    def folders(name):
        shared = os.path.join(tmp_root, name, "shared")
        inp = os.path.join(tmp_root, name, "input")
        os.makedirs(shared)
        os.makedirs(inp)
        return shared, inp

    servers = {
        "model": RunningServer(*folders("model")),
        "secure": RunningServer(*folders("secure"), extra_args=[
            "--model", "none", "--auth-token-file", tokens,
            "--tls-cert", os.path.join(pki_dir, "server.pem"),
            "--tls-key", os.path.join(pki_dir, "server.key"),
            "--tls-client-ca", os.path.join(pki_dir, "ca.pem")]),
    }
    # The built-in model takes seconds to load: start the servers while
    # the venv is made.
    errors = {}

    def start(name):
        try:
            servers[name].__enter__()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors[name] = e
    threads = [threading.Thread(target=start, args=(n,)) for n in servers]
    for t in threads:
        t.start()
    try:
        venv_python, venv_site = install_sdk(os.path.join(tmp_root, "venv"))
    finally:
        for t in threads:
            t.join()
        for name, server in servers.items():
            if name not in errors:
                unittest.addModuleCleanup(server.stop)
    for e in errors.values():
        raise e
    model_server, secure_server = servers["model"], servers["secure"]

    sys.path.insert(0, venv_site)
    unittest.addModuleCleanup(sys.path.remove, venv_site)
    for name in [m for m in sys.modules if m.split(".")[0] ==
                 "datapool_client"]:
        del sys.modules[name]
    import datapool_client
    sdk = datapool_client


def clustered(rng, n_clusters, per_cluster, prefix):
    """Tight clusters of unit vectors: (names, (N, D) rows, labels)."""
    centers = unit_rows(rng.normal(size=(n_clusters, D)))
    names, rows, labels = [], [], []
    for c in range(n_clusters):
        for j in range(per_cluster):
            names.append("%s/c%d_%02d.jpg" % (prefix, c, j))
            rows.append(centers[c] + rng.normal(scale=0.02, size=D))
            labels.append(c)
    return names, unit_rows(rows).astype(np.float32), labels


def write_png(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise AssertionError("cv2.imwrite failed for %s" % path)


class InstalledPackageTest(unittest.TestCase):

    def test_imported_from_the_venv(self):
        self.assertTrue(os.path.realpath(sdk.__file__).startswith(
            os.path.realpath(venv_site) + os.sep), sdk.__file__)
        self.assertEqual(sdk.__version__, "0.1.0")
        out = run([venv_python, "-c", "import datapool_client as d; "
                   "print(d.__file__); print(d.__version__)"],
                  "importing in the venv", cwd=tmp_root).stdout.split()
        self.assertTrue(out[0].startswith(venv_site + os.sep), out)
        # The generated modules came along, inside the package.
        self.assertTrue(os.path.isfile(os.path.join(
            venv_site, "datapool_client", "_gen", "datapool_pb2.py")))

    def test_generated_modules_match_the_proto(self):
        for tool in ("protoc", "grpc_python_plugin"):
            if shutil.which(tool) is None and not os.path.exists(
                    "/usr/bin/" + tool):
                if os.environ.get("DATAPOOL_REQUIRE_BINARIES") == "1":
                    self.fail("%s not found" % tool)
                self.skipTest("%s not found" % tool)
        with tempfile.TemporaryDirectory(prefix="datapool-regen-") as out:
            run([os.path.join(SDK_DIR, "regen.sh"), out], "regen.sh")
            committed = os.path.join(SDK_DIR, "datapool_client", "_gen")
            fresh = sorted(os.listdir(out))
            self.assertEqual(
                fresh, sorted(f for f in os.listdir(committed)
                              if f.endswith(".py")))
            for name in fresh:
                with open(os.path.join(out, name), "rb") as a, \
                        open(os.path.join(committed, name), "rb") as b:
                    self.assertTrue(
                        a.read() == b.read(),
                        "client/python/datapool_client/_gen/%s is stale: run "
                        "client/python/regen.sh" % name)

    def test_readme_example_runs(self):
        with open(README, encoding="utf-8") as f:
            blocks = re.findall(r"^```python\n(.*?)^```", f.read(),
                                re.S | re.M)
        self.assertTrue(blocks, "no ```python block in " + README)
        script = os.path.join(tmp_root, "readme_example.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(blocks[0])
        env = clean_env()
        env["DATAPOOL_SERVER"] = model_server.address
        proc = subprocess.run([venv_python, script], capture_output=True,
                              text=True, env=env, cwd=tmp_root,
                              timeout=TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, "README example failed:\n%s\n%s"
                         % (proc.stdout, proc.stderr))
        self.assertIn("NOT_FOUND", proc.stdout)
        self.assertIn("committing 1 1", proc.stdout)
        with sdk.Client(model_server.address, options=NO_PROXY) as client:
            self.assertEqual(client.pool("demo").size, 100)


class SdkTestBase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = model_server
        cls.shared = os.path.join(tmp_root, "model", "shared")
        cls.input = os.path.join(tmp_root, "model", "input")
        cls.client = sdk.Client(model_server.address, timeout=TIMEOUT_S,
                                options=NO_PROXY)
        cls.addClassCleanup(cls.client.close)

    def assertCode(self, code, call, what=""):
        with self.assertRaises(sdk.DatapoolError, msg=what) as cm:
            call()
        e = cm.exception
        self.assertEqual(e.code, code, "%s: %s" % (what, e))
        self.assertEqual(e.code_name, code.name)
        self.assertTrue(e.message, what)
        self.assertEqual(str(e), "%s: %s" % (code.name, e.message))
        return e

    def csv_rows(self, pool):
        names, emb, labels = check_lightly_csv(
            os.path.join(self.shared, pool, "datapool_latest.csv"))
        return {n: (np.asarray(v), lab)
                for n, v, lab in zip(names, emb, labels)}


class SelectTest(SdkTestBase):

    def test_select_embeddings_commits_the_picks(self):
        rng = np.random.default_rng(1)
        names, rows, labels = clustered(rng, 3, 6, "emb")
        # strategy="diversity": greedy k-center, checked pick by pick below
        # (the default, typical, is StrategyTest's).
        r = self.client.select("sdk-emb", embeddings=rows, filenames=names,
                               labels=labels, n_samples=5,
                               strategy="diversity")
        self.assertIsInstance(r, sdk.SelectResult)
        self.assertEqual(len(r.selected), 5)
        self.assertIsNone(r.selected[0].distance)
        self.assertTrue(all(isinstance(p.distance, float)
                            for p in r.selected[1:]))
        self.assertEqual((r.stop_reason, r.version, r.committed),
                         ("n_samples", 1, True))
        self.assertEqual((r.pool_size_before, r.pool_size_after,
                          r.candidates_received, r.duplicates_removed),
                         (0, 5, len(names), 0))
        self.assertEqual(r.skipped, [])
        check_greedy_selection([], dict(zip(names, rows)),
                               [(p.filename, p.distance) for p in r.selected],
                               r.stop_reason, n_limit=5)
        self.assertEqual({p.label for p in r.selected[:3]}, {0, 1, 2})
        # What the server committed is what it answered.
        on_disk = self.csv_rows("sdk-emb")
        self.assertEqual(sorted(on_disk), sorted(r.filenames))
        for p in r.selected:
            i = names.index(p.filename)
            np.testing.assert_allclose(on_disk[p.filename][0], rows[i],
                                       atol=1e-5)
            self.assertEqual(on_disk[p.filename][1], labels[i])
            self.assertEqual(p.label, labels[i])
        # Exact duplicates are named, each with the row it equals.
        dup = self.client.select(
            "sdk-dups", embeddings=np.vstack([rows, rows[:1]]),
            filenames=names + ["again"], n_samples=1.0, dry_run=True)
        self.assertEqual(dup.duplicates_removed, 1)
        self.assertEqual(dup.duplicates, [sdk.Duplicate("again", names[0])])
        info = self.client.pool("sdk-emb")
        self.assertIsInstance(info, sdk.PoolInfo)
        self.assertEqual((info.name, info.size, info.dimension, info.version,
                          info.model_fingerprint),
                         ("sdk-emb", 5, D, 1, ""))
        self.assertEqual(info.folder, os.path.join(self.shared, "sdk-emb"))

        # search: each pool sample finds itself first.
        picked = [names.index(n) for n in r.filenames]
        results = self.client.search("sdk-emb", embeddings=rows[picked],
                                     filenames=r.filenames, k=3)
        self.assertEqual([q.query for q in results], r.filenames)
        for q in results:
            self.assertEqual(len(q.neighbors), 3)
            self.assertEqual(q.neighbors[0].filename, q.query)
            self.assertAlmostEqual(q.neighbors[0].distance, 0.0, places=5)
            d = [n.distance for n in q.neighbors]
            self.assertEqual(d, sorted(d))
        self.assertEqual(results.skipped, [])
        # Unnamed queries get names; k larger than the pool gives it all.
        results = self.client.search("sdk-emb", embeddings=rows[:2], k=50)
        self.assertEqual([q.query for q in results], ["query_0", "query_1"])
        self.assertEqual(len(results[0].neighbors), 5)

    def test_fraction_dry_run_and_min_distance(self):
        rng = np.random.default_rng(2)
        names = ["frac/%03d.jpg" % i for i in range(40)]
        rows = unit_rows(rng.normal(size=(40, D))).astype(np.float32)
        first = self.client.select("sdk-frac", embeddings=rows[:10],
                                   filenames=names[:10], n_samples=4)
        self.assertEqual(first.version, 1)
        before = snapshot_tree(os.path.join(self.shared, "sdk-frac"))

        # Dry run: 36 eligible (4 already in the pool); a quarter is 9.
        dry = self.client.select("sdk-frac", embeddings=rows,
                                 filenames=names, n_samples=0.25,
                                 dry_run=True)
        self.assertEqual(len(dry.selected), 9)
        self.assertEqual(dry.candidates_already_in_pool, 4)
        self.assertEqual((dry.committed, dry.version, dry.pool_size_after),
                         (False, 1, 4 + 9))
        self.assertEqual(snapshot_tree(os.path.join(self.shared, "sdk-frac")),
                         before)
        self.assertEqual(self.client.pool("sdk-frac").version, 1)
        eligible = [n for n in names if n not in first.filenames]

        # min_distance: stops when the farthest left is closer than it.
        pool_rows = rows[[names.index(n) for n in first.filenames]]
        r = self.client.select("sdk-frac", embeddings=rows, filenames=names,
                               min_distance=1.2, strategy="diversity")
        self.assertEqual(r.stop_reason, "min_distance")
        self.assertTrue(r.committed)
        self.assertTrue(all(p.distance >= 1.2 - 1e-4 for p in r.selected))
        check_greedy_selection(
            pool_rows, {n: rows[names.index(n)] for n in eligible},
            [(p.filename, p.distance) for p in r.selected], r.stop_reason,
            min_distance=1.2)
        self.assertEqual(sorted(self.csv_rows("sdk-frac")),
                         sorted(first.filenames + r.filenames))

        # 1.0 (a float) is the fraction "all", not one pick.
        all_left = self.client.select("sdk-frac", embeddings=rows,
                                      filenames=names, n_samples=1.0,
                                      dry_run=True)
        self.assertEqual(len(all_left.selected),
                         40 - first.pool_size_after - len(r.selected))
        self.assertIn(all_left.stop_reason, ("n_samples", "exhausted"))

    def test_large_request_is_streamed_in_chunks(self):
        rng = np.random.default_rng(3)
        n, d = 30000, 24   # ~2.9 MB of floats, over the 1 MiB chunks
        rows = rng.normal(size=(n, d)).astype(np.float32)
        names = ["big/%05d.jpg" % i for i in range(n)]
        r = self.client.select("sdk-big", embeddings=rows, filenames=names,
                               n_samples=3, dry_run=True)
        self.assertEqual(r.candidates_received, n)
        self.assertEqual(len(r.selected), 3)
        # The same through tiny messages.
        with sdk.Client(model_server.address, chunk_bytes=4096,
                        options=NO_PROXY) as small:
            r2 = small.select("sdk-big", embeddings=rows[:500],
                              filenames=names[:500], n_samples=3,
                              dry_run=True)
        r3 = self.client.select("sdk-big", embeddings=rows[:500],
                                filenames=names[:500], n_samples=3,
                                dry_run=True)
        self.assertEqual(r2.selected, r3.selected)

    def test_progress_callback(self):
        rng = np.random.default_rng(4)
        rows = rng.normal(size=(3000, D)).astype(np.float32)
        names = ["prog/%05d.jpg" % i for i in range(len(rows))]
        seen = []
        r = self.client.select(
            "sdk-progress", embeddings=rows, filenames=names, n_samples=300,
            progress=lambda phase, done, total: seen.append(
                (phase, done, total)))
        self.assertTrue(r.committed)
        self.assertEqual(len(r.selected), 300)
        phases = [s[0] for s in seen]
        order = ["receiving", "embedding", "selecting", "committing"]
        self.assertEqual(phases, sorted(phases, key=order.index), phases)
        self.assertIn("selecting", phases)
        self.assertEqual(seen[-1], ("committing", 1, 1))
        selecting = [s for s in seen if s[0] == "selecting"]
        self.assertTrue(all(t == 300 and 0 <= dn <= 300
                            for _, dn, t in selecting), selecting)
        self.assertEqual(self.csv_rows("sdk-progress").keys(),
                         set(r.filenames))

    def test_progress_callback_exception_cancels(self):
        rng = np.random.default_rng(5)
        rows = rng.normal(size=(100000, D)).astype(np.float32)
        names = ["stop/%06d.jpg" % i for i in range(len(rows))]

        class Stop(Exception):
            pass

        def progress(phase, done, total):
            if phase == "selecting":
                raise Stop()
        with self.assertRaises(Stop):
            self.client.select("sdk-cancel", embeddings=rows, filenames=names,
                               n_samples=50000, progress=progress)
        # Nothing was committed: the next selection makes version 1.
        after = self.client.select("sdk-cancel", embeddings=rows[:1],
                                   filenames=["late.jpg"], n_samples=1)
        self.assertEqual((after.version, after.pool_size_after), (1, 1))


class StrategyTest(SdkTestBase):
    """strategy= and selection_config=: "diversity" is plain greedy
    k-center; the default (typical) starts in the dense region; a config
    the server refuses commits nothing."""

    def test_balance_moves_the_picks_towards_the_target(self):
        rng = np.random.default_rng(8)
        rows = rng.standard_normal((40, 4))
        names = ["b%02d.jpg" % i for i in range(40)]
        labels = [0] * 30 + [1] * 10  # three to one
        balance = {"strategies": [
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "DIVERSITY"}},
            {"input": {"type": "LABELS"},
             "strategy": {"type": "BALANCE", "distribution": "uniform"}}]}
        r = self.client.select("sdk-balance", embeddings=rows,
                               filenames=names, labels=labels, n_samples=8,
                               dry_run=True, selection_config=balance)
        got = sorted(p.label for p in r.selected)
        self.assertEqual(got, [0, 0, 0, 0, 1, 1, 1, 1], r.selected)
        balance["strategies"][1]["strategy"] = {
            "type": "BALANCE", "target": {"0": 3, "1": 1}}
        r = self.client.select("sdk-balance", embeddings=rows,
                               filenames=names, labels=labels, n_samples=8,
                               dry_run=True, selection_config=balance)
        self.assertEqual(sorted(p.label for p in r.selected),
                         [0, 0, 0, 0, 0, 0, 1, 1], r.selected)

    def test_diversity_is_kcenter_and_typical_is_the_default(self):
        names, rows = dense_and_outliers(np.random.default_rng(5), D)
        rows = rows.astype(np.float32)

        def select(**kw):
            return self.client.select("sdk-strategy", embeddings=rows,
                                      filenames=names, n_samples=3,
                                      dry_run=True, **kw)

        diversity = select(strategy="diversity")
        check_greedy_selection([], dict(zip(names, rows)),
                               [(p.filename, p.distance)
                                for p in diversity.selected],
                               diversity.stop_reason, n_limit=3)
        picked = diversity.filenames
        self.assertEqual(len(picked), 3)
        self.assertTrue(picked[0].startswith("outlier/"), picked)
        self.assertLessEqual(sum(n.startswith("dense/") for n in picked), 1,
                             picked)
        # The same objective as a dict and as the message.
        self.assertEqual(select(selection_config=DIVERSITY_CONFIG).selected,
                         diversity.selected)
        message = sdk.pb.SelectionConfig(objectives=[sdk.pb.SelectionObjective(
            input=sdk.pb.SelectionObjective.INPUT_EMBEDDINGS,
            strategy=sdk.pb.SelectionObjective.STRATEGY_DIVERSITY)])
        self.assertEqual(select(selection_config=message).selected,
                         diversity.selected)

        default = select()
        self.assertEqual(len(default.selected), 3)
        self.assertTrue(default.filenames[0].startswith("dense/"),
                        default.filenames)
        self.assertNotEqual(default.filenames, picked)
        self.assertEqual(select(strategy="typical").selected,
                         default.selected)

        # Every input and strategy type; the DIVERSITY minimum distance is
        # the selection's. Then committed, with min_distance agreeing.
        r = select(selection_config=LIGHTLY_CONFIG)
        self.assertEqual(len(r.selected), 3)
        self.assertTrue(all(p.distance >= 0.2 - 1e-6
                            for p in r.selected[1:]), r.selected)
        r = self.client.select("sdk-strategy", embeddings=rows,
                               filenames=names, n_samples=3,
                               min_distance=0.2,
                               selection_config=LIGHTLY_CONFIG)
        self.assertEqual((r.committed, r.version, r.pool_size_after),
                         (True, 1, 3))

    def test_config_the_server_refuses_commits_nothing(self):
        names, rows = dense_and_outliers(np.random.default_rng(6), D)
        rows = rows.astype(np.float32)
        INVALID = grpc.StatusCode.INVALID_ARGUMENT
        refused = {"strategies": [
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "DIVERSITY"}},
            {"input": {"type": "RANDOM"},
             "strategy": {"type": "TYPICALITY"}}]}
        unspecified = sdk.pb.SelectionConfig(objectives=[
            sdk.pb.SelectionObjective(
                input=sdk.pb.SelectionObjective.INPUT_EMBEDDINGS)])
        before = snapshot_tree(self.shared)
        for config, field in ((refused, "config.objectives[1]"),
                              (unspecified, "config.objectives[0]")):
            for dry_run in (False, True):
                e = self.assertCode(INVALID, lambda: self.client.select(
                    "sdk-strategy-refused", embeddings=rows, filenames=names,
                    n_samples=3, dry_run=dry_run, selection_config=config),
                    field)
                self.assertIn(field, e.message)
        self.assertEqual(snapshot_tree(self.shared), before)
        self.assertNotIn("sdk-strategy-refused",
                         [p.name for p in self.client.pools()])

    def test_unknown_names_and_types_are_refused_before_calling(self):
        c = self.client
        rows = np.eye(3, D, dtype=np.float32)
        names = ["s/a.jpg", "s/b.jpg", "s/c.jpg"]
        INVALID = grpc.StatusCode.INVALID_ARGUMENT
        bad_type = {"strategies": [
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "DIVERSITY"}},
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "CLOSEST"}}]}
        for kw, needle in [
                (dict(strategy="fastest"), "'fastest'"),
                (dict(strategy="DIVERSITY"), "strategy must be"),
                (dict(strategy="diversity",
                      selection_config=DIVERSITY_CONFIG),
                 "not both"),
                (dict(selection_config=bad_type),
                 "selection_config strategies[1].strategy.type: unknown "
                 "strategy 'CLOSEST' (supported: DIVERSITY, TYPICALITY, "
                 "WEIGHTS, BALANCE, THRESHOLD, SIMILARITY)"),
                (dict(selection_config={"strategies": [
                    {"input": {"type": "PREDICTIONS"},
                     "strategy": {"type": "WEIGHTS"}}]}),
                 "strategies[0].input.type: unknown input 'PREDICTIONS'"),
                (dict(selection_config={"strategies": [
                    {"input": {"type": "SCORES", "task": "pred"},
                     "strategy": {"type": "WEIGHTS"}}]}),
                 "strategies[0].input.score: missing"),
                (dict(columns={"sharpness": [0.5, 0.1]}),
                 "columns['sharpness']: 2 values for 3 rows"),
                (dict(columns={"sharpness": [0.5, float("nan"), 0.1]}),
                 "columns['sharpness'][1]: must be finite"),
                (dict(selection_config={"strategies": [
                    {"input": {"type": "EMBEDDINGS"},
                     "strategy": {"type": "DIVERSITY", "strength": "1"}}]}),
                 "strategies[0].strategy.strength: must be a number"),
                (dict(selection_config={"strategies": [
                    {"input": {"type": "EMBEDDINGS"},
                     "strategy": {"type": "DIVERSITY", "strenght": 1}}]}),
                 "strategies[0].strategy.strenght: unknown key"),
                (dict(selection_config={"strategies": []}),
                 "selection_config strategies: empty"),
                (dict(selection_config='{"strategies": []}'),
                 "selection_config must be a dict"),
                (dict(selection_config=LIGHTLY_CONFIG, min_distance=0.3),
                 "min_distance=0.3 differs from selection_config "
                 "strategies[0].strategy.stopping_condition_minimum_distance")]:
            e = self.assertCode(INVALID, lambda: c.select(
                "sdk-strategy-arg", embeddings=rows, filenames=names,
                n_samples=1, **kw), repr(kw))
            self.assertIn(needle, e.message, repr(kw))
        self.assertNotIn("sdk-strategy-arg", [p.name for p in c.pools()])


class ColumnObjectivesTest(SdkTestBase):
    """select(columns=...) with the objectives that read them (METADATA,
    SCORES), THRESHOLD filters and SIMILARITY, on data whose picks can be
    worked out by hand."""

    def select(self, pool, rows, names, config, client=None, **kw):
        kw.setdefault("n_samples", len(names))
        kw.setdefault("dry_run", True)
        return (client or self.client).select(
            pool, embeddings=np.asarray(rows, dtype=np.float32),
            filenames=names, selection_config={"strategies": config}, **kw)

    def test_threshold_on_a_column_filters_the_candidates(self):
        n = 600
        rng = np.random.default_rng(11)
        rows = rng.normal(size=(n, D)).astype(np.float32)
        names = ["t/%04d.jpg" % i for i in range(n)]
        # Distinct values k/600; 450/600 is exactly 0.75.
        sharpness = rng.permutation(n) / n

        def config(operation, threshold):
            return [{"input": {"type": "EMBEDDINGS"},
                     "strategy": {"type": "DIVERSITY"}},
                    {"input": {"type": "METADATA", "key": "sharpness"},
                     "strategy": {"type": "THRESHOLD", "threshold": threshold,
                                  "operation": operation}}]

        # Small messages: the column comes in many parts, beside its rows.
        with sdk.Client(model_server.address, timeout=TIMEOUT_S,
                        chunk_bytes=4096, options=NO_PROXY) as small:
            for operation, passes in [
                    ("BIGGER", sharpness > 0.75),
                    ("BIGGER_EQUAL", sharpness >= 0.75),
                    ("smaller", sharpness < 0.75)]:
                r = self.select("sdk-threshold", rows, names,
                                config(operation, 0.75), client=small,
                                columns={"sharpness": sharpness})
                expected = {names[i] for i in np.flatnonzero(passes)}
                self.assertEqual(set(r.filenames), expected, operation)
                self.assertEqual(len(r.selected), len(expected))
                self.assertEqual(r.stop_reason, "exhausted", operation)
                self.assertEqual(r.candidates_received, n)
                self.assertEqual(r.candidates_filtered, n - len(expected),
                                 operation)
        self.assertEqual(sum(sharpness > 0.75), 149)  # the boundary counts
        # Committed, the column as {filename: value}: five picks, all
        # passing; the filtered ones never.
        by_name = dict(zip(names, sharpness))
        r = self.select("sdk-threshold", rows, names,
                        config("SMALLER_EQUAL", 0.1), n_samples=5,
                        dry_run=False, columns={"sharpness": by_name})
        self.assertEqual((r.committed, r.pool_size_after, len(r.selected)),
                         (True, 5, 5))
        self.assertTrue(all(by_name[f] <= 0.1 for f in r.filenames),
                        [by_name[f] for f in r.filenames])
        self.assertEqual(r.candidates_filtered, n - 61)  # 0/600 .. 60/600
        self.assertEqual(sorted(self.csv_rows("sdk-threshold")),
                         sorted(r.filenames))

    def test_a_column_the_config_reads_must_be_sent(self):
        rows = np.eye(3, D, dtype=np.float32)
        names = ["m/a.jpg", "m/b.jpg", "m/c.jpg"]
        config = [{"input": {"type": "EMBEDDINGS"},
                   "strategy": {"type": "DIVERSITY"}},
                  {"input": {"type": "METADATA", "key": "sharpness"},
                   "strategy": {"type": "WEIGHTS"}}]
        for columns in (None, {"brightness": [1, 2, 3]}):
            e = self.assertCode(
                grpc.StatusCode.INVALID_ARGUMENT,
                lambda: self.select("sdk-no-column", rows, names, config,
                                    dry_run=False, columns=columns))
            self.assertIn("objectives[1]", e.message)
            self.assertIn("sharpness", e.message)
        self.assertNotIn("sdk-no-column", [p.name for p in self.client.pools()])

    def test_weights_on_a_column_order_the_picks(self):
        # e1, e2, e3 orthonormal; near is e1 tilted towards e2, 0.29 from
        # e1 and 1.19 from e2.
        e = np.eye(4, D)
        near = unit_rows([e[0] + 0.3 * e[1]])[0]
        rows = [e[0], near, e[1], e[2]]
        names = ["w/e1.jpg", "w/near.jpg", "w/e2.jpg", "w/e3.jpg"]
        value = {"w/e1.jpg": 1.0, "w/near.jpg": 0.9, "w/e2.jpg": 0.5,
                 "w/e3.jpg": 0.4}

        def weights(strength=1):
            return {"input": {"type": "METADATA", "key": "value"},
                    "strategy": {"type": "WEIGHTS", "strength": strength}}

        # Alone: the largest value first; a negative strength the smallest.
        r = self.select("sdk-weights", rows, names, [weights()],
                        columns={"value": [value[n] for n in names]})
        self.assertEqual(r.filenames, ["w/e1.jpg", "w/near.jpg", "w/e2.jpg",
                                       "w/e3.jpg"])
        r = self.select("sdk-weights", rows, names, [weights(-1)],
                        columns={"value": value})
        self.assertEqual(r.filenames, ["w/e3.jpg", "w/e2.jpg", "w/near.jpg",
                                       "w/e1.jpg"])
        # With DIVERSITY: the product distance × value. e1 first (the
        # largest value into an empty pool), then e2 (1.41 × 0.5 = 0.71
        # beats e3's 1.41 × 0.4 = 0.57 and near's 0.29 × 0.9 = 0.26), then
        # e3 (0.57 > 0.26), near last.
        r = self.select("sdk-weights", rows, names,
                        [{"input": {"type": "EMBEDDINGS"},
                          "strategy": {"type": "DIVERSITY"}}, weights()],
                        columns={"value": value})
        self.assertEqual(r.filenames, ["w/e1.jpg", "w/e2.jpg", "w/e3.jpg",
                                       "w/near.jpg"])
        self.assertAlmostEqual(r.selected[1].distance, math.sqrt(2),
                               places=4)
        self.assertAlmostEqual(r.selected[3].distance,
                               float(np.linalg.norm(near - e[0])), places=4)

    def test_scores_margin_from_class_probabilities(self):
        probabilities = {  # pred_0, pred_1, pred_2 -> margin 1 - (p1 - p2)
            "s/a.jpg": (0.9, 0.05, 0.05),   # 0.15
            "s/b.jpg": (0.5, 0.4, 0.1),     # 0.9
            "s/c.jpg": (0.6, 0.3, 0.1),     # 0.7
            "s/d.jpg": (0.34, 0.33, 0.33),  # 0.99
            "s/e.jpg": (0.7, 0.2, 0.1),     # 0.5
            "s/f.jpg": (3, 2, 5),           # 0.3 0.2 0.5 once normalised: 0.8
        }
        names = sorted(probabilities)
        rows = np.random.default_rng(12).normal(size=(len(names), D))
        columns = {"pred_%d" % k: [probabilities[n][k] for n in names]
                   for k in range(3)}
        margin = {"type": "SCORES", "task": "pred",
                  "score": "uncertainty_margin"}
        r = self.select("sdk-scores", rows, names,
                        [{"input": margin, "strategy": {"type": "WEIGHTS"}}],
                        columns=columns)
        self.assertEqual(r.filenames, ["s/d.jpg", "s/b.jpg", "s/f.jpg",
                                       "s/c.jpg", "s/e.jpg", "s/a.jpg"])
        self.assertEqual(r.candidates_filtered, 0)
        # A THRESHOLD on the score keeps the three most uncertain.
        r = self.select("sdk-scores", rows, names,
                        [{"input": margin, "strategy": {"type": "WEIGHTS"}},
                         {"input": margin,
                          "strategy": {"type": "THRESHOLD",
                                       "threshold": 0.75,
                                       "operation": "BIGGER"}}],
                        columns=columns)
        self.assertEqual(r.filenames, ["s/d.jpg", "s/b.jpg", "s/f.jpg"])
        self.assertEqual(r.candidates_filtered, 3)

    def test_similarity_to_query_embeddings_and_a_pool(self):
        degrees = [10, 35, 60, 100, 140, 175]
        names = ["q/%03d.jpg" % a for a in degrees]
        rows = np.zeros((len(degrees), D))
        rows[:, 0] = np.cos(np.radians(degrees))
        rows[:, 1] = np.sin(np.radians(degrees))
        x = np.zeros(D)
        x[0] = 3.0  # at 0 degrees, normalised by the server

        def similarity(strength=1, **query):
            strategy = dict(type="SIMILARITY", strength=strength, **query)
            return [{"input": {"type": "EMBEDDINGS"}, "strategy": strategy}]

        nearest_first = ["q/010.jpg", "q/035.jpg", "q/060.jpg", "q/100.jpg",
                         "q/140.jpg", "q/175.jpg"]
        r = self.select("sdk-similar", rows, names,
                        similarity(query_embeddings=[x]))
        self.assertEqual(r.filenames, nearest_first)
        r = self.select("sdk-similar", rows, names,
                        similarity(-1, query_embeddings=[x],
                                   query_filenames=["x.jpg"]))
        self.assertEqual(r.filenames, nearest_first[::-1])
        # To the nearer of 0 and 180 degrees: 175 (5), 10, 35, 140 (40),
        # 60, 100 (80).
        r = self.select("sdk-similar", rows, names,
                        similarity(query_embeddings=np.stack([x, -x])))
        self.assertEqual(r.filenames, ["q/175.jpg", "q/010.jpg", "q/035.jpg",
                                       "q/140.jpg", "q/060.jpg", "q/100.jpg"])
        # A pool as the query set (Lightly's query_tag_name).
        self.client.select("sdk-similar-query", embeddings=[x],
                           filenames=["x.jpg"], n_samples=1)
        r = self.select("sdk-similar", rows, names,
                        similarity(query_tag_name="sdk-similar-query"))
        self.assertEqual(r.filenames, nearest_first)


class ImagesTest(SdkTestBase):
    """Uploaded and server-side images, embedded by the built-in model."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = np.random.default_rng(6)
        cls.local = os.path.join(tmp_root, "local", "photos")
        cls.expected = {}  # filename -> label
        for label, sub in enumerate(["cats", "dogs"]):
            for j in range(3):
                img = rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
                img[:, :, label] = 255  # tinted per class
                write_png(os.path.join(cls.local, sub, "%d.png" % j), img)
                cls.expected["photos/%s/%d.png" % (sub, j)] = label
        with open(os.path.join(cls.local, "dogs", "broken.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n not really")
        # The same tree in the server's input folder.
        shutil.copytree(cls.local, os.path.join(cls.input, "photos"))

    def test_select_embed_search_images(self):
        seen = []
        r = self.client.select(
            "sdk-img", images=[self.local], n_samples=4,
            progress=lambda *p: seen.append(p))
        self.assertEqual(len(r.selected), 4)
        self.assertEqual(r.candidates_received, 6)  # the broken one is skipped
        self.assertEqual([s.filename for s in r.skipped],
                         ["photos/dogs/broken.png"])
        self.assertTrue(r.skipped[0].reason)
        for p in r.selected:
            self.assertEqual(p.label, self.expected[p.filename], p)
        self.assertEqual(sorted(self.csv_rows("sdk-img")), sorted(r.filenames))
        phases = [s[0] for s in seen]
        self.assertEqual(seen[-1], ("committing", 1, 1))
        order = ["receiving", "embedding", "selecting", "committing"]
        self.assertEqual(phases, sorted(phases, key=order.index), phases)
        info = self.client.pool("sdk-img")
        self.assertTrue(info.model_fingerprint)

        # embed: uploads in tiny chunks and server-side paths agree.
        embedded = []
        with sdk.Client(model_server.address, chunk_bytes=2048,
                        options=NO_PROXY) as small:
            up = small.embed(images=self.local,
                             progress=lambda *p: embedded.append(p))
        self.assertIsInstance(up, sdk.Embeddings)
        self.assertEqual(up.embeddings.dtype, np.float32)
        self.assertEqual(up.embeddings.shape, (6, info.dimension))
        self.assertEqual(len(up), 6)
        self.assertEqual(np.asarray(up).shape, (6, info.dimension))
        self.assertEqual(up.filenames, sorted(self.expected))
        self.assertEqual(up.labels, [self.expected[n] for n in up.filenames])
        self.assertEqual([s.filename for s in up.skipped],
                         ["photos/dogs/broken.png"])
        self.assertEqual(up.model_fingerprint, info.model_fingerprint)
        self.assertIn("embedding", [p[0] for p in embedded])
        on_server = self.client.embed(paths=["photos"], weak_labels=False)
        self.assertEqual(on_server.filenames, up.filenames)
        self.assertEqual(on_server.labels, [0] * 6)
        np.testing.assert_allclose(on_server.embeddings, up.embeddings,
                                   rtol=1e-4, atol=1e-5)
        # The committed rows are the normalised embeddings.
        on_disk = self.csv_rows("sdk-img")
        for name in r.filenames:
            v = up.embeddings[up.filenames.index(name)]
            np.testing.assert_allclose(on_disk[name][0],
                                       v / np.linalg.norm(v), atol=1e-5)

        # search with an image finds it in the pool; with Embeddings too.
        name = r.filenames[0]
        hits = self.client.search("sdk-img", images=[os.path.join(
            tmp_root, "local", name)], k=2)
        self.assertEqual(hits[0].neighbors[0].filename, name)
        self.assertLess(hits[0].neighbors[0].distance, 1e-4)
        hits = self.client.search("sdk-img", embeddings=up, k=1)
        self.assertEqual([q.query for q in hits], up.filenames)
        # select takes Embeddings with their filenames and labels.
        again = self.client.select("sdk-img2", embeddings=up, n_samples=6)
        self.assertEqual(sorted(again.filenames), sorted(self.expected))
        for p in again.selected:
            self.assertEqual(p.label, self.expected[p.filename])

    def test_threshold_on_image_columns(self):
        # Values by filename: the broken image (skipped) and a file that
        # is no candidate have values too, which the server ignores.
        sharpness = {"photos/cats/%d.png" % j: 0.1 * (j + 1)
                     for j in range(3)}
        sharpness.update({"photos/dogs/%d.png" % j: 0.6 + 0.1 * j
                          for j in range(3)})
        sharpness.update({"photos/dogs/broken.png": 0.9,
                          "photos/elsewhere.png": 1.0})
        config = {"strategies": [
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "DIVERSITY"}},
            {"input": {"type": "METADATA", "key": "sharpness"},
             "strategy": {"type": "THRESHOLD", "threshold": 0.65,
                          "operation": "BIGGER"}}]}
        with sdk.Client(model_server.address, timeout=TIMEOUT_S,
                        chunk_bytes=1024, options=NO_PROXY) as small:
            for source in (dict(paths=["photos"]), dict(images=self.local)):
                r = small.select("sdk-img-threshold", n_samples=6,
                                 dry_run=True, selection_config=config,
                                 columns={"sharpness": sharpness}, **source)
                self.assertEqual(sorted(r.filenames),
                                 ["photos/dogs/1.png", "photos/dogs/2.png"],
                                 source)
                self.assertEqual(r.candidates_received, 6)
                self.assertEqual(r.candidates_filtered, 4)
                self.assertEqual(r.stop_reason, "exhausted")
            # A candidate without a value: the server refuses the call.
            del sharpness["photos/cats/0.png"]
            e = self.assertCode(
                grpc.StatusCode.INVALID_ARGUMENT,
                lambda: small.select("sdk-img-threshold", paths=["photos"],
                                     n_samples=6, selection_config=config,
                                     columns={"sharpness": sharpness}))
            self.assertIn("photos/cats/0.png", e.message)
        self.assertNotIn("sdk-img-threshold",
                         [p.name for p in self.client.pools()])

    def test_reports(self):
        # A dry run returns its report and writes nothing.
        dry = self.client.select("sdk-report", paths=["photos"], n_samples=2,
                                 dry_run=True, report=True)
        self.assertFalse(dry.committed)
        self.assertIsInstance(dry.report, sdk.Report)
        self.assertEqual(dry.report.folder, "")
        self.assertEqual(dry.report.data["counts"]["selected"], 2)
        self.assertFalse(dry.report.data["committed"])
        self.assertIn('id="plot-projection"', dry.report.html)
        with self.assertRaises(sdk.DatapoolError) as e:
            self.client.report("sdk-report")
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(sdk.DatapoolError) as e:
            self.client.select("sdk-report", paths=["photos"], n_samples=2,
                               report=True)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

        # Committed selections write theirs; the newest comes by default.
        first = self.client.select("sdk-report", paths=["photos"], n_samples=2)
        self.assertEqual(first.report.version, 1)
        self.assertTrue(first.report.folder.endswith("sdk-report/reports/1"),
                        first.report.folder)
        self.assertIsNone(first.report.data)
        second = self.client.select("sdk-report", paths=["photos"],
                                    n_samples=2)
        newest = self.client.report("sdk-report")
        self.assertEqual(newest.version, second.version)
        self.assertEqual(newest.html, "")
        counts = newest.data["counts"]
        self.assertEqual(counts["selected"], 2)
        self.assertEqual(counts["already_in_pool"], 2)
        self.assertEqual(counts["pool_size_after"], 4)
        self.assertEqual([p["filename"] for p in newest.data["selected"]],
                         second.filenames)
        old = self.client.report("sdk-report", 1, html=True)
        self.assertEqual(old.data["version"], 1)
        # Thumbnails of server-side images are embedded as JPEG.
        self.assertIn("data:image/jpeg;base64,", old.html)
        self.assertTrue(all(p["thumbnails"] for p in old.data["pairs"]))
        saved = old.save(os.path.join(tmp_root, "saved-report"))
        with open(saved) as f:
            self.assertEqual(f.read(), old.html)
        with open(os.path.join(tmp_root, "saved-report", "report.json")) as f:
            self.assertEqual(f.read(), old.json)
        with self.assertRaises(ValueError):
            newest.save(os.path.join(tmp_root, "no-page"))  # fetched without it
        # Notebooks show the page in an iframe (its styles stay inside).
        shown = old._repr_html_()
        self.assertTrue(shown.startswith("<iframe "), shown[:80])
        self.assertIn("&lt;svg id=&quot;plot-projection&quot;", shown)
        self.assertIsNone(newest._repr_html_())
        with self.assertRaises(sdk.DatapoolError) as e:
            self.client.report("sdk-report", 9)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_unreadable_upload_commits_nothing(self):
        d = os.path.join(tmp_root, "local", "dangling")
        os.makedirs(d)
        write_png(os.path.join(d, "a.png"),
                  np.zeros((8, 8, 3), dtype=np.uint8))
        os.symlink(os.path.join(d, "missing-target"),
                   os.path.join(d, "b.png"))
        for progress in (None, lambda *p: None):
            e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT,
                                lambda: self.client.select(
                                    "sdk-dangling", images=d, n_samples=1,
                                    progress=progress))
            self.assertIn("b.png", e.message)
        self.assertCode(grpc.StatusCode.NOT_FOUND,
                        lambda: self.client.pool("sdk-dangling"))
        self.assertCode(grpc.StatusCode.NOT_FOUND,
                        lambda: self.client.embed(
                            images=os.path.join(d, "nope.png")))


class PoolsTest(SdkTestBase):

    def test_history_restore_merge_delete(self):
        rng = np.random.default_rng(7)
        names, rows, labels = clustered(rng, 2, 6, "hist")
        c = self.client
        c.select("sdk-hist", embeddings=rows[:6], filenames=names[:6],
                 labels=labels[:6], n_samples=3)
        c.select("sdk-hist", embeddings=rows, filenames=names, labels=labels,
                 n_samples=2)
        versions = c.history("sdk-hist")
        self.assertTrue(all(isinstance(v, sdk.Version) for v in versions))
        self.assertEqual([(v.version, v.size, v.current) for v in versions],
                         [(1, 3, False), (2, 5, True)])
        self.assertEqual(versions[1].csv_file, "datapool_latest.csv")
        self.assertTrue(os.path.isfile(os.path.join(
            self.shared, "sdk-hist", versions[0].csv_file)))

        restored = c.restore("sdk-hist", 1)
        self.assertEqual((restored.name, restored.size, restored.version),
                         ("sdk-hist", 3, 3))
        self.assertEqual([v.version for v in c.history("sdk-hist")],
                         [1, 2, 3])
        self.assertEqual(len(self.csv_rows("sdk-hist")), 3)
        self.assertCode(grpc.StatusCode.NOT_FOUND,
                        lambda: c.restore("sdk-hist", 99), "unknown version")

        # A second pool sharing one filename with the first.
        shared_name = sorted(self.csv_rows("sdk-hist"))[0]
        c.select("sdk-other", embeddings=unit_rows(rng.normal(
            size=(3, D))).astype(np.float32),
            filenames=[shared_name, "o/1.jpg", "o/2.jpg"], n_samples=3)
        self.assertCode(grpc.StatusCode.ALREADY_EXISTS,
                        lambda: c.merge("sdk-hist", ["sdk-other"]),
                        "collision under on_collision='fail'")
        dry = c.merge("sdk-hist", "sdk-other", on_collision="skip",
                      dry_run=True)
        self.assertFalse(dry.committed)
        self.assertEqual(c.pool("sdk-hist").version, 3)
        m = c.merge("sdk-merged", ["sdk-hist", "sdk-other"], create=True,
                    on_collision="prefix")
        self.assertIsInstance(m, sdk.MergeResult)
        self.assertTrue(m.committed)
        self.assertEqual((m.pool.name, m.pool_size_before, m.pool_size_after),
                         ("sdk-merged", 0, 6))
        self.assertEqual([(s.pool, s.samples, s.merged, s.renamed)
                          for s in m.sources],
                         [("sdk-hist", 3, 3, 0), ("sdk-other", 3, 3, 1)])
        self.assertIn("sdk-other/" + shared_name, self.csv_rows("sdk-merged"))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT,
                        lambda: c.merge("x", ["y"], on_collision="rename"))

        listed = {p.name: p for p in c.pools()}
        self.assertTrue({"sdk-hist", "sdk-other", "sdk-merged"} <= set(listed))
        self.assertEqual(listed["sdk-merged"].size, 6)
        gone = c.delete("sdk-merged")
        self.assertEqual((gone.name, gone.size), ("sdk-merged", 6))
        self.assertFalse(os.path.exists(os.path.join(self.shared,
                                                     "sdk-merged")))
        self.assertNotIn("sdk-merged", [p.name for p in c.pools()])
        self.assertCode(grpc.StatusCode.NOT_FOUND,
                        lambda: c.delete("sdk-merged"))
        self.assertEqual(c.health(), "SERVING")


class ErrorsTest(SdkTestBase):

    def test_server_errors_carry_the_code(self):
        c = self.client
        rows = unit_rows(np.eye(4, D)).astype(np.float32)
        names = ["e/%d.jpg" % i for i in range(4)]
        NOT_FOUND = grpc.StatusCode.NOT_FOUND
        INVALID = grpc.StatusCode.INVALID_ARGUMENT
        self.assertCode(NOT_FOUND, lambda: c.pool("sdk-missing"))
        self.assertCode(NOT_FOUND, lambda: c.history("sdk-missing"))
        self.assertCode(NOT_FOUND, lambda: c.search(
            "sdk-missing", embeddings=rows, k=1))
        self.assertCode(INVALID, lambda: c.select(
            "bad/name", embeddings=rows, filenames=names, n_samples=1))
        e = self.assertCode(INVALID, lambda: c.select(
            "sdk-err", embeddings=rows, filenames=names),
            "no stopping condition")
        self.assertIn("stopping", e.message)
        # n_samples: the SDK only picks the field by the type (int: a
        # count, float: a fraction); the server's rule judges the value.
        for n_samples, message in [
                (0, "n_samples must be at least 1"),
                (np.int64(0), "n_samples must be at least 1"),
                (1.5, "n_samples fraction must be in (0, 1], got 1.5"),
                (0.0, "n_samples fraction must be in (0, 1], got "),
                (-0.5, "n_samples fraction must be in (0, 1], got -0.5"),
                (float("nan"), "n_samples fraction must be in (0, 1], got ")]:
            e = self.assertCode(INVALID, lambda: c.select(
                "sdk-err", embeddings=rows, filenames=names,
                n_samples=n_samples), repr(n_samples))
            self.assertIn(message, e.message, repr(n_samples))
        self.assertCode(INVALID, lambda: c.select(
            "sdk-err", embeddings=np.zeros((2, D)), filenames=names[:2],
            n_samples=1), "zero vectors")
        c.select("sdk-err", embeddings=rows, filenames=names, n_samples=1)
        e = self.assertCode(grpc.StatusCode.FAILED_PRECONDITION,
                            lambda: c.select("sdk-err",
                                             embeddings=rows[:, :8],
                                             filenames=names, n_samples=1))
        self.assertIn("dimension", e.message)
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION,
                        lambda: c.search("sdk-err", embeddings=rows[:, :8],
                                         k=1))
        self.assertIsInstance(e, Exception)

    def test_bad_arguments_are_refused_before_calling(self):
        c = self.client
        rows = np.ones((3, D), dtype=np.float32)
        names = ["a.jpg", "b.jpg", "c.jpg"]
        INVALID = grpc.StatusCode.INVALID_ARGUMENT
        for what, call in [
                ("1-D embeddings", lambda: c.select(
                    "sdk-arg", embeddings=rows[0], filenames=names[:1],
                    n_samples=1)),
                ("filename count", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names[:2],
                    n_samples=1)),
                ("no filenames", lambda: c.select(
                    "sdk-arg", embeddings=rows, n_samples=1)),
                ("label count", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names, labels=[1],
                    n_samples=1)),
                ("embeddings and images", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names,
                    paths=["x"], n_samples=1)),
                ("no candidates", lambda: c.select("sdk-arg", n_samples=1)),
                # What the request's uint64 count cannot hold; 0 goes to
                # the server (test_server_errors_carry_the_code).
                ("negative count", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names,
                    n_samples=-1)),
                ("count over 64 bits", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names,
                    n_samples=1 << 64)),
                ("bool n_samples", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names,
                    n_samples=True)),
                ("str n_samples", lambda: c.select(
                    "sdk-arg", embeddings=rows, filenames=names,
                    n_samples="3")),
                ("not numbers", lambda: c.select(
                    "sdk-arg", embeddings=[["x"] * D] * 3, filenames=names,
                    n_samples=1)),
                ("k", lambda: c.search("sdk-arg", embeddings=rows, k=0)),
                ("embed nothing", lambda: c.embed()),
                ("not an image", lambda: c.embed(images=README))]:
            self.assertCode(INVALID, call, what)
        self.assertNotIn("sdk-arg", [p.name for p in c.pools()])


class SecureServerTest(unittest.TestCase):
    """Bearer tokens over mutual TLS, on a server without a model."""

    def pem(self, name):
        return os.path.join(pki_dir, name)

    def client(self, **kw):
        kw.setdefault("tls", sdk.TLS(ca=self.pem("ca.pem"),
                                     cert=self.pem("client.pem"),
                                     key=self.pem("client.key")))
        return sdk.Client("localhost:%d" % secure_server.port,
                          timeout=TIMEOUT_S, options=NO_PROXY, **kw)

    def assertCode(self, code, call):
        with self.assertRaises(sdk.DatapoolError) as cm:
            call()
        self.assertEqual(cm.exception.code, code, cm.exception)
        return cm.exception

    def test_token_and_tls(self):
        UNAUTH = grpc.StatusCode.UNAUTHENTICATED
        with self.client() as c:
            self.assertCode(UNAUTH, c.pools)
            self.assertEqual(c.health(), "SERVING")  # open for probes
        with self.client(token="wrong") as c:
            self.assertCode(UNAUTH, c.pools)
        rows = unit_rows(np.eye(3, 4)).astype(np.float32)
        with self.client(token=TOKEN) as c:
            self.assertEqual(c.pools(), [])
            r = c.select("sdk-secure", embeddings=rows,
                         filenames=["a.jpg", "b.jpg", "c.jpg"], n_samples=2,
                         progress=lambda *p: None)
            self.assertEqual((r.version, len(r.selected)), (1, 2))
            self.assertEqual([p.name for p in c.pools()], ["sdk-secure"])
            # No model on this server.
            self.assertCode(grpc.StatusCode.FAILED_PRECONDITION,
                            lambda: c.embed(paths=["x.png"]))
        # PEM bytes instead of paths; an IP address with server_name.
        with open(self.pem("ca.pem"), "rb") as f:
            ca = f.read()
        tls = sdk.TLS(ca=ca, cert=self.pem("client.pem"),
                      key=self.pem("client.key"), server_name="localhost")
        with sdk.Client(secure_server.address, token=TOKEN, tls=tls,
                        options=NO_PROXY, timeout=TIMEOUT_S) as c:
            self.assertEqual(c.pool("sdk-secure").size, 2)
        # Without a client certificate, or in plaintext: no connection.
        with self.client(token=TOKEN, tls=sdk.TLS(ca=self.pem("ca.pem"))) as c:
            self.assertCode(grpc.StatusCode.UNAVAILABLE, c.pools)
        with self.client(token=TOKEN, tls=None) as c:
            self.assertCode(grpc.StatusCode.UNAVAILABLE, c.pools)


if __name__ == "__main__":
    unittest.main()
