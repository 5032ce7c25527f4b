"""End-to-end tests of the `datapool` CLI (env DATAPOOL_CLI_BIN) against the
real server binary (env DATAPOOL_SERVER_BIN) on loopback, and of the server
binary's command-line handling.

Run: /usr/bin/python3 -m unittest tests/python/test_cli_e2e.py
"""

import csv
import json
import os
import signal
import pty
import re
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import numpy as np  # noqa: E402

from datapool_testlib import (  # noqa: E402
    DIVERSITY_CONFIG, LIGHTLY_CONFIG, STOP_EXHAUSTED, STOP_MIN_DISTANCE,
    STOP_N_SAMPLES, check_greedy_selection, dense_and_outliers, snapshot_tree,
    unit_rows)
from cli_testlib import (  # noqa: E402
    ERROR_LINE_RE, EXIT_SERVER, CliAssertions)
from lightly_csv import check_lightly_csv  # noqa: E402
from server_harness import (  # noqa: E402
    RunningServer, cli_binary, server_binary)

CLI_TIMEOUT_S = 90  # the CLI must give up on its own well before this
SERVER_EXIT_TIMEOUT_S = 30
D = 8
SELECT_KEYS = {"selected", "stop_reason", "pool_size_before",
               "pool_size_after", "version", "committed", "dry_run",
               "candidates_received", "candidates_already_in_pool"}
POOL_KEYS = {"name", "size", "dimension", "version", "created_time",
             "updated_time", "folder", "normalized", "model_fingerprint"}
RFC3339_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$")
_STOP_NAMES = {"n_samples": STOP_N_SAMPLES, "min_distance": STOP_MIN_DISTANCE,
               "exhausted": STOP_EXHAUSTED}


def write_lightly_csv(path, names, rows, labels):
    """Writes the lightly layout with Python's csv module (RFC 4180)."""
    rows = np.asarray(rows, dtype=np.float64)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["filenames"] + ["embedding_%d" % j
                                    for j in range(rows.shape[1])]
                   + ["labels"])
        for name, row, label in zip(names, rows, labels):
            w.writerow([name] + [repr(float(v)) for v in row] + [int(label)])
    # Read back through the checker: the test inputs themselves are valid.
    got_names, got_rows, got_labels = check_lightly_csv(path)
    assert got_names == list(names) and got_labels == list(labels)
    return dict(zip(got_names, unit_rows(got_rows))), dict(zip(names, labels))


def bound_closed_port():
    """A socket bound to a loopback port but not listening: connections to
    it are refused, and no other process can take the port meanwhile."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, "127.0.0.1:%d" % s.getsockname()[1]


def base_env():
    env = dict(os.environ)
    for k in ("DATAPOOL_SERVER", "http_proxy", "https_proxy", "grpc_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    return env


# Maps, but the server refuses it: TYPICALITY takes the embeddings.
REFUSED_CONFIG = {"strategies": [
    {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}},
    {"input": {"type": "RANDOM"}, "strategy": {"type": "TYPICALITY"}}]}


class CliTestBase(CliAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        server_binary()
        cls.cli_bin = cli_binary()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-cli-")
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.shared = os.path.join(cls.tmp, "shared")
        cls.input = os.path.join(cls.tmp, "input")
        cls.data = os.path.join(cls.tmp, "data")
        for d in (cls.shared, cls.input, cls.data):
            os.mkdir(d)
        cls.server = RunningServer(cls.shared, cls.input)
        cls.server.__enter__()
        cls.addClassCleanup(cls.server.stop)
        cls.address = cls.server.address

    def run_cli(self, *args, server="flag", env_server=None):
        """Runs the CLI; server="flag" prepends --server ADDRESS, None omits
        it, any other string is passed as --server's value."""
        argv = [self.cli_bin]
        if server == "flag":
            argv += ["--server", self.address]
        elif server is not None:
            argv += ["--server", server]
        argv += [str(a) for a in args]
        env = base_env()
        if env_server is not None:
            env["DATAPOOL_SERVER"] = env_server
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, env=env,
                                  timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            self.fail("CLI hung for %d s: %s\nstdout: %s\nstderr: %s"
                      % (CLI_TIMEOUT_S, argv, e.stdout, e.stderr))

    def explain(self, proc):
        return ("command: %s\nexit status: %d\nstdout:\n%s\nstderr:\n%s\n%s"
                % (proc.args, proc.returncode, proc.stdout, proc.stderr,
                   self.server.describe()))

    def assertUsageError(self, *args, **kw):
        """Exit 1, a message, and which --help to read."""
        proc = self.cli_usage_error(*args, **kw)
        self.assertIn("--help", proc.stderr, self.explain(proc))
        return proc

    def csv_path(self, name):
        return os.path.join(self.data, name)

    def assertPool(self, pool, name, size, version):
        self.assertTrue(POOL_KEYS <= set(pool), "POOL lacks %s: %r"
                        % (POOL_KEYS - set(pool), pool))
        self.assertEqual(pool["name"], name)
        self.assertEqual(pool["size"], size)
        self.assertEqual(pool["dimension"], D)
        self.assertEqual(pool["version"], version)
        self.assertIs(pool["normalized"], True)
        self.assertEqual(pool["model_fingerprint"], "")
        self.assertEqual(os.path.realpath(pool["folder"]),
                         os.path.realpath(os.path.join(self.shared, name)))
        for key in ("created_time", "updated_time"):
            self.assertRegex(pool[key], RFC3339_RE)
        self.assertLessEqual(pool["created_time"][:19],
                             pool["updated_time"][:19])

    def check_select_json(self, out, candidates, labels, pool_rows, n_limit,
                          min_distance, dry_run):
        """Common checks of a `select --json` answer; returns the names."""
        self.assertTrue(SELECT_KEYS <= set(out), "select JSON lacks %s: %r"
                        % (SELECT_KEYS - set(out), out))
        self.assertIs(out["dry_run"], dry_run)
        self.assertIs(out["committed"], (not dry_run) and bool(out["selected"]))
        self.assertIn(out["stop_reason"], _STOP_NAMES)
        picks = []
        for s in out["selected"]:
            self.assertEqual(set(s), {"filename", "distance", "label"}, s)
            self.assertIsInstance(s["filename"], str)
            self.assertIsInstance(s["label"], int)
            self.assertEqual(s["label"], labels[s["filename"]], s)
            if s["distance"] is not None:
                self.assertIsInstance(s["distance"], (int, float), s)
                self.assertNotIsInstance(s["distance"], bool, s)
            picks.append((s["filename"], s["distance"]))
        check_greedy_selection(pool_rows, candidates, picks,
                               _STOP_NAMES[out["stop_reason"]],
                               n_limit=n_limit, min_distance=min_distance)
        if picks and len(pool_rows) == 0:
            self.assertIsNone(picks[0][1])
        self.assertEqual(out["pool_size_before"], len(pool_rows))
        self.assertEqual(out["pool_size_after"],
                         len(pool_rows) + len(picks))
        return [p[0] for p in picks]


class CliScenarioTest(CliTestBase):

    def test_pool_lifecycle(self):
        rng = np.random.default_rng(8080)
        folder = os.path.join(self.shared, "cli-pool")
        latest = os.path.join(folder, "datapool_latest.csv")
        history = os.path.join(folder, "history")
        rows_by_name = {}
        labels_by_name = {}

        # --- v1: 10 of 40 ---
        names_a = ["a/img_%03d.png" % i for i in range(38)]
        names_a += ["a/dir x/img,1.png", 'a/say "hi".png']
        vec_a, lab_a = write_lightly_csv(
            self.csv_path("a.csv"), names_a,
            unit_rows(rng.normal(size=(40, D))), rng.integers(0, 4, 40))
        rows_by_name.update(vec_a)
        labels_by_name.update(lab_a)
        # --strategy diversity: greedy k-center, which check_select_json
        # verifies pick by pick (the default, typical, is CliStrategyTest's).
        out1 = self.cli_json("select", "--pool", "cli-pool", "--embeddings",
                             self.csv_path("a.csv"), "--n-samples", "10",
                             "--strategy", "diversity", "--json")
        v1 = self.check_select_json(out1, vec_a, lab_a, [], 10, None, False)
        self.assertEqual(len(v1), 10)
        self.assertEqual(out1["stop_reason"], "n_samples")
        self.assertEqual(out1["version"], 1)
        self.assertEqual(out1["candidates_received"], 40)
        self.assertEqual(out1["candidates_already_in_pool"], 0)
        dists = [s["distance"] for s in out1["selected"]]
        self.assertIsNone(dists[0])
        for k in range(2, len(dists)):
            self.assertLessEqual(dists[k], dists[k - 1] + 1e-6,
                                 "distances not non-increasing: %s" % dists)
        self.assertCsv(latest, v1, rows_by_name, labels_by_name)
        self.assertEqual(self.history_csvs(history), [])

        # --- v2: --min-distance 0.5, --server after the subcommand ---
        pool_rows = [rows_by_name[n] for n in v1]
        fresh = unit_rows(rng.normal(size=(15, D)))
        near_pool = unit_rows(np.array(pool_rows)
                              + rng.normal(scale=0.01, size=(10, D)))
        near_fresh = unit_rows(fresh[:5] + rng.normal(scale=0.01, size=(5, D)))
        names_b = (["b/new_%02d.png" % i for i in range(15)]
                   + ["b/near_pool_%02d.png" % i for i in range(10)]
                   + ["b/near_new_%02d.png" % i for i in range(5)])
        order = rng.permutation(30)
        vec_b, lab_b = write_lightly_csv(
            self.csv_path("b.csv"), [names_b[i] for i in order],
            np.vstack([fresh, near_pool, near_fresh])[order],
            [int(x) for x in rng.integers(0, 4, 30)])
        for name in names_b[15:25]:
            self.assertLess(min(np.linalg.norm(np.array(pool_rows)
                                               - vec_b[name], axis=1)), 0.1)
        rows_by_name.update(vec_b)
        labels_by_name.update(lab_b)
        out2 = self.cli_json("select", "--pool", "cli-pool", "--embeddings",
                             self.csv_path("b.csv"), "--min-distance", "0.5",
                             "--strategy", "diversity", "--json", "--server",
                             self.address, server=None)
        v2 = self.check_select_json(out2, vec_b, lab_b, pool_rows, None, 0.5,
                                    False)
        self.assertEqual(out2["version"], 2)
        self.assertEqual(out2["stop_reason"], "min_distance")
        self.assertFalse(set(v2) & set(names_b[15:25]),
                         "near-duplicates of the pool were picked")
        self.assertGreaterEqual(len(v2), 10)
        for s in out2["selected"]:
            self.assertGreaterEqual(s["distance"], 0.5)
        hist = self.history_csvs(history)
        self.assertEqual(len(hist), 1, hist)
        self.assertIn("v000001", hist[0])
        self.assertCsv(os.path.join(history, hist[0]), v1, rows_by_name,
                       labels_by_name)
        self.assertCsv(latest, v1 + v2, rows_by_name, labels_by_name)
        size2 = len(v1) + len(v2)

        # --- pools list / show ---
        listed = self.cli_json("pools", "list", "--json")
        self.assertEqual(set(listed), {"pools"})
        mine = [p for p in listed["pools"] if p["name"] == "cli-pool"]
        self.assertEqual(len(mine), 1, listed)
        self.assertPool(mine[0], "cli-pool", size2, 2)
        shown = self.cli_json("pools", "show", "cli-pool", "--json")
        self.assertEqual(shown, mine[0])
        self.assertIn("cli-pool", self.cli_ok("pools", "list").stdout)
        self.assertIn("cli-pool", self.cli_ok("pools", "show",
                                              "cli-pool").stdout)

        # --- dry runs change nothing ---
        pool_rows = [rows_by_name[n] for n in v1 + v2]
        vec_c, lab_c = write_lightly_csv(
            self.csv_path("c.csv"), ["c/%02d.png" % i for i in range(20)],
            unit_rows(rng.normal(size=(20, D))), [1] * 20)
        before = snapshot_tree(folder)
        for n_arg, want in (("0.25", 5), ("1.0", 20), ("1", 1)):
            out = self.cli_json("select", "--pool", "cli-pool", "--embeddings",
                                self.csv_path("c.csv"), "--n-samples", n_arg,
                                "--strategy", "diversity", "--dry-run",
                                "--json")
            picked = self.check_select_json(out, vec_c, lab_c, pool_rows,
                                            want, None, True)
            self.assertEqual(len(picked), want, "--n-samples %s" % n_arg)
            self.assertEqual(out["version"], 2)
            self.assertIs(out["committed"], False)
        self.assertEqual(snapshot_tree(folder), before)
        self.assertEqual(self.cli_json("pools", "show", "cli-pool",
                                       "--json")["version"], 2)

        # --- another dimension: FAILED_PRECONDITION, nothing changes ---
        write_lightly_csv(self.csv_path("d4.csv"), ["d/%d.png" % i
                                                    for i in range(6)],
                          unit_rows(rng.normal(size=(6, 4))), [0] * 6)
        self.cli_error("FAILED_PRECONDITION", "select", "--pool", "cli-pool",
                       "--embeddings", self.csv_path("d4.csv"),
                       "--n-samples", "3")
        self.assertEqual(snapshot_tree(folder), before)

        # --- v3: awkward filenames, --no-history ---
        weird = ["w/comma,name.png", 'w/say "hi".png', "w/it's.png",
                 "w/\u00fcn\u00efc\u00f6d\u00e9 \u00df.jpg"]
        vec_w, lab_w = write_lightly_csv(
            self.csv_path("w.csv"), weird, unit_rows(rng.normal(size=(4, D))),
            [42, 0, 3, 1])
        rows_by_name.update(vec_w)
        labels_by_name.update(lab_w)
        out3 = self.cli_json("select", "--pool", "cli-pool", "--embeddings",
                             self.csv_path("w.csv"), "--min-distance", "0.01",
                             "--strategy", "diversity", "--no-history",
                             "--json")
        v3 = self.check_select_json(out3, vec_w, lab_w, pool_rows, None, 0.01,
                                    False)
        self.assertEqual(sorted(v3), sorted(weird))
        self.assertEqual(out3["stop_reason"], "exhausted")
        self.assertEqual(out3["version"], 3)
        self.assertEqual(self.history_csvs(history), hist,
                         "--no-history still kept v2")
        self.assertCsv(latest, v1 + v2 + v3, rows_by_name, labels_by_name)

        # --- delete ---
        deleted = self.cli_json("pools", "delete", "cli-pool", "--json")
        self.assertEqual(set(deleted), {"deleted"})
        self.assertPool(deleted["deleted"], "cli-pool", size2 + 4, 3)
        self.assertFalse(os.path.exists(folder))
        self.cli_error("NOT_FOUND", "pools", "show", "cli-pool")
        self.cli_error("NOT_FOUND", "pools", "delete", "cli-pool")
        self.assertNotIn("cli-pool", [p["name"] for p in self.cli_json(
            "pools", "list", "--json")["pools"]])

    def history_csvs(self, history):
        if not os.path.isdir(history):
            return []
        return sorted(f for f in os.listdir(history) if f.endswith(".csv"))

    def assertCsv(self, path, names, rows_by_name, labels_by_name):
        got_names, got_rows, got_labels = check_lightly_csv(path)
        self.assertEqual(len(got_names), len(set(got_names)), path)
        self.assertEqual(sorted(got_names), sorted(names), path)
        for n, row, label in zip(got_names, got_rows, got_labels):
            np.testing.assert_allclose(row, rows_by_name[n], atol=1e-5,
                                       err_msg="%s: %r" % (path, n))
            self.assertEqual(label, labels_by_name[n], "%s: %r" % (path, n))

    def test_bad_input_files_change_nothing(self):
        before = snapshot_tree(self.shared)
        # A candidates CSV that cannot be read is a local error (3).
        missing = os.path.join(self.data, "does-not-exist.csv")
        self.cli_local_error("does-not-exist.csv", "select", "--pool",
                             "cli-bad", "--embeddings", missing,
                             "--n-samples", "1")
        self.cli_local_error(self.data, "select", "--pool", "cli-bad",
                             "--embeddings", self.data, "--n-samples", "1")
        bad = os.path.join(self.data, "bad-header.csv")
        with open(bad, "w") as f:
            f.write("filename,embedding_0,labels\na.png,1.0,0\n")
        self.cli_local_error("bad-header.csv", "select", "--pool", "cli-bad",
                             "--embeddings", bad, "--n-samples", "1")
        ragged = os.path.join(self.data, "ragged.csv")
        with open(ragged, "w") as f:
            f.write("filenames,embedding_0,embedding_1,labels\n"
                    "a.png,1.0,0\n")
        self.cli_local_error("ragged.csv", "select", "--pool", "cli-bad",
                             "--embeddings", ragged, "--n-samples", "1")
        self.cli_local_error("ragged.csv", "search", "--pool", "cli-bad",
                             "--embeddings", ragged)
        # Neither stopping condition: the server refuses (2).
        vec, _ = write_lightly_csv(self.csv_path("one.csv"), ["x.png"],
                                   [[1.0] * D], [0])
        self.cli_error("INVALID_ARGUMENT", "select", "--pool", "cli-bad",
                       "--embeddings", self.csv_path("one.csv"))
        # A bad pool name: the server refuses (2).
        self.cli_error("INVALID_ARGUMENT", "select", "--pool", "../x",
                       "--embeddings", self.csv_path("one.csv"),
                       "--n-samples", "1")
        self.assertEqual(snapshot_tree(self.shared), before)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))


class CliSearchTest(CliTestBase):

    def test_search_nearest_pool_samples(self):
        rng = np.random.default_rng(7)
        rows = unit_rows(rng.normal(size=(30, 8)))
        names = ["pool/%02d.jpg" % i for i in range(30)]
        pool_csv = self.csv_path("search-pool.csv")
        write_lightly_csv(pool_csv, names, rows, [0] * 30)
        self.cli_json("select", "--pool", "searchable", "--embeddings",
                      pool_csv, "--n-samples", "30", "--json")
        queries = unit_rows(rows[[4, 21]] + 0.01)
        query_csv = self.csv_path("search-queries.csv")
        write_lightly_csv(query_csv, ["q4", "q21"], queries, [0, 0])
        out = self.cli_json("search", "--pool", "searchable", "--embeddings",
                            query_csv, "-k", "4", "--json")
        self.assertEqual([r["query"] for r in out["results"]], ["q4", "q21"])
        for r, q in zip(out["results"], queries):
            want = np.argsort(np.linalg.norm(rows - q, axis=1), kind="stable")[:4]
            self.assertEqual([n["filename"] for n in r["neighbors"]],
                             [names[i] for i in want])
            for n, i in zip(r["neighbors"], want):
                self.assertAlmostEqual(n["distance"],
                                       float(np.linalg.norm(rows[i] - q)), 5)
        self.assertEqual(out["skipped"], [])
        # Human output: a table, one row per (query, neighbour).
        text = self.cli_ok("search", "--pool", "searchable", "--embeddings",
                           query_csv, "--k", "1").stdout
        lines = text.splitlines()
        self.assertEqual(lines[0].split(),
                         ["QUERY", "#", "DISTANCE", "LABEL", "FILENAME"], text)
        self.assertEqual([line.split()[:2] + line.split()[-1:]
                          for line in lines[1:]],
                         [["q4", "1", "pool/04.jpg"],
                          ["q21", "1", "pool/21.jpg"]], text)
        self.cli_error("NOT_FOUND", "search", "--pool", "nope", "--embeddings",
                       query_csv, "-k", "1")
        self.assertUsageError("search", "--pool", "searchable", "--embeddings",
                              query_csv, "-k", "0")


class CliHistoryTest(CliTestBase):

    def test_history_and_restore(self):
        rng = np.random.default_rng(11)
        csvs = []
        for run in range(3):
            rows = unit_rows(rng.normal(size=(12, 6)))
            path = self.csv_path("hist-%d.csv" % run)
            write_lightly_csv(path, ["r%d/%02d.jpg" % (run, i) for i in range(12)],
                              rows, [run] * 12)
            csvs.append(path)
            self.cli_json("select", "--pool", "hist", "--embeddings", path,
                          "--n-samples", "2", "--json")
        hist = self.cli_json("pools", "history", "hist", "--json")["versions"]
        self.assertEqual([v["version"] for v in hist], [1, 2, 3])
        self.assertEqual([v["current"] for v in hist], [False, False, True])
        self.assertEqual([v["size"] for v in hist], [2, 4, 6])
        pool_dir = os.path.join(self.shared, "hist")
        v1_csv = os.path.join(pool_dir, hist[0]["csv_file"])
        with open(v1_csv) as f:
            v1_text = f.read()
        out = self.cli_json("pools", "restore", "hist", "1", "--json")
        self.assertEqual(out["restored_version"], 1)
        self.assertEqual(out["pool"]["version"], 4)
        self.assertEqual(out["pool"]["size"], 2)
        with open(os.path.join(pool_dir, "datapool_latest.csv")) as f:
            self.assertEqual(f.read(), v1_text)
        check_lightly_csv(os.path.join(pool_dir, "datapool_latest.csv"))
        hist = self.cli_json("pools", "history", "hist", "--json")["versions"]
        self.assertEqual([v["version"] for v in hist], [1, 2, 3, 4])
        # Human output lists the versions and marks the current one.
        text = self.cli_ok("pools", "history", "hist").stdout
        self.assertIn("(current)", text)
        self.cli_error("NOT_FOUND", "pools", "restore", "hist", "9")
        self.cli_error("INVALID_ARGUMENT", "pools", "restore", "hist", "4")
        self.assertUsageError("pools", "restore", "hist", "one")


class CliReportTest(CliTestBase):

    def test_report_command_and_report_out(self):
        rng = np.random.default_rng(12)
        path = self.csv_path("report.csv")
        write_lightly_csv(path, ["rep/%02d.jpg" % i for i in range(40)],
                          unit_rows(rng.normal(size=(40, 5))), [0] * 40)
        # No report before the first selection.
        self.cli_error("NOT_FOUND", "report", "rep")
        out = self.cli_json("select", "--pool", "rep", "--embeddings", path,
                            "--n-samples", "6", "--json")
        folder = os.path.join(self.shared, "rep", "reports", "1")
        self.assertEqual(out["report"], {"version": 1, "folder": folder,
                                         "error": ""})
        text = self.cli_ok("select", "--pool", "rep", "--embeddings", path,
                           "--n-samples", "4").stdout
        folder2 = os.path.join(self.shared, "rep", "reports", "2")
        self.assertIn("Report: %s/report.html" % folder2, text)

        # The summary, the newest by default, and report.json with --json.
        text = self.cli_ok("report", "rep").stdout
        self.assertIn("Selection report: pool 'rep', version 2 (committed", text)
        self.assertRegex(text, r"selected\s+4\s+stopped: n_samples")
        self.assertRegex(text, r"pool size\s+10\s+was 6")
        self.assertIn("Page: %s/report.html" % folder2, text)
        data = self.cli_json("report", "rep", "1", "--json")
        self.assertEqual(data["version"], 1)
        self.assertEqual(data["counts"]["selected"], 6)
        with open(os.path.join(folder, "report.json")) as f:
            self.assertEqual(json.load(f), data)

        # --out saves both files; select --report-out too (committed and dry).
        saved = os.path.join(self.tmp, "saved-v1")
        proc = self.cli_ok("report", "rep", "1", "--out", saved)
        self.assertIn("Saved the report", proc.stderr)
        with open(os.path.join(saved, "report.html")) as f, \
                open(os.path.join(folder, "report.html")) as g:
            self.assertEqual(f.read(), g.read())
        dry_dir = os.path.join(self.tmp, "dry-report")
        out = self.cli_json("select", "--pool", "rep", "--embeddings", path,
                            "--n-samples", "3", "--dry-run", "--report-out",
                            dry_dir, "--json")
        self.assertFalse(out["committed"])
        with open(os.path.join(dry_dir, "report.json")) as f:
            dry = json.load(f)
        self.assertFalse(dry["committed"])
        self.assertEqual([p["filename"] for p in dry["selected"]],
                         [p["filename"] for p in out["selected"]])
        self.assertEqual(sorted(os.listdir(os.path.join(self.shared, "rep",
                                                        "reports"))), ["1", "2"])
        committed_dir = os.path.join(self.tmp, "committed-report")
        self.cli_ok("select", "--pool", "rep", "--embeddings", path,
                    "--n-samples", "2", "--report-out", committed_dir)
        with open(os.path.join(committed_dir, "report.json")) as f:
            self.assertEqual(json.load(f)["version"], 3)

        # Errors: a restored version has none; bad arguments; a bad --out.
        self.cli_ok("pools", "restore", "rep", "1")
        proc = self.cli_error("NOT_FOUND", "report", "rep", "4")
        self.assertIn("restore", proc.stderr)
        self.cli_error("NOT_FOUND", "report", "missing-pool")
        self.assertUsageError("report", "rep", "zero")
        self.assertUsageError("report", "rep", "0")
        self.assertUsageError("report")
        self.assertUsageError("report", "rep", "1", "2")
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w") as f:
            f.write("x")
        self.cli_local_error(blocker, "report", "rep", "1", "--out",
                             os.path.join(blocker, "sub"))


class CliMergeTest(CliTestBase):

    def make_pool(self, pool, names, rows):
        path = self.csv_path(pool + ".csv")
        write_lightly_csv(path, names, rows, [0] * len(names))
        self.cli_json("select", "--pool", pool, "--embeddings", path,
                      "--n-samples", "1.0", "--json")
        return check_lightly_csv(
            os.path.join(self.shared, pool, "datapool_latest.csv"))

    def test_merge_pools(self):
        rng = np.random.default_rng(31)
        a_names, a_rows, _ = self.make_pool(
            "ma", ["a/%d.jpg" % i for i in range(6)],
            unit_rows(rng.normal(size=(6, 5))))
        # b shares two filenames with a, and one sample is a near copy of a's.
        b_src = unit_rows(rng.normal(size=(5, 5)))
        b_src[0] = np.asarray(a_rows[0]) + 1e-4
        b_names, _, _ = self.make_pool(
            "mb", ["near.jpg", "a/1.jpg", "a/2.jpg", "b/3.jpg", "b/4.jpg"],
            b_src)

        # A new pool from both; the shared names fail by default.
        self.cli_error("ALREADY_EXISTS", "pools", "merge", "mc", "ma", "mb",
                       "--new")
        self.assertFalse(os.path.exists(os.path.join(self.shared, "mc")))
        out = self.cli_json("pools", "merge", "mc", "ma", "mb", "--new",
                            "--on-collision", "prefix", "--json")
        self.assertTrue(out["committed"])
        self.assertEqual(out["pool"]["version"], 1)
        self.assertEqual(out["pool_size_after"], 11)
        self.assertEqual([s["renamed"] for s in out["sources"]], [0, 2])
        names, _, _ = check_lightly_csv(
            os.path.join(self.shared, "mc", "datapool_latest.csv"))
        self.assertEqual(names[:6], a_names)
        self.assertEqual(names[6:], ["mb/" + n if n in a_names else n
                                     for n in b_names])

        # Into an existing pool, with min_distance and skip: the near copy
        # and the taken names stay out.
        dry = self.cli_json("pools", "merge", "ma", "mb", "--on-collision",
                            "skip", "--min-distance", "0.01", "--dry-run",
                            "--json")
        self.assertFalse(dry["committed"])
        self.assertEqual(dry["pool"]["version"], 1)
        out = self.cli_json("pools", "merge", "ma", "mb", "--on-collision",
                            "skip", "--min-distance", "0.01", "--json")
        src = out["sources"][0]
        self.assertEqual((src["samples"], src["skipped_collisions"],
                          src["too_close"], src["merged"]), (5, 2, 1, 2))
        self.assertEqual(out["pool"]["version"], 2)
        names, _, _ = check_lightly_csv(
            os.path.join(self.shared, "ma", "datapool_latest.csv"))
        self.assertEqual(names[6:], [n for n in b_names if n.startswith("b/")])
        text = self.cli_ok("pools", "merge", "ma", "mb", "--on-collision",
                           "skip", "--min-distance", "0.01").stdout
        self.assertIn("Merged 0 of 5 samples from 'mb'", text)
        self.assertIn("(nothing written)", text)

        # Errors: another dimension, a missing pool, bad flags.
        self.make_pool("wide", ["w.jpg"], unit_rows(rng.normal(size=(1, 7))))
        self.cli_error("FAILED_PRECONDITION", "pools", "merge", "ma", "wide")
        self.cli_error("NOT_FOUND", "pools", "merge", "ma", "nope")
        self.cli_error("NOT_FOUND", "pools", "merge", "nope", "ma")
        self.cli_error("ALREADY_EXISTS", "pools", "merge", "ma", "mb", "--new")
        self.cli_error("INVALID_ARGUMENT", "pools", "merge", "ma", "ma")
        self.assertUsageError("pools", "merge", "ma")
        self.assertUsageError("pools", "merge", "ma", "mb", "--on-collision",
                              "rename")


class CliProgressTest(CliTestBase):
    """A progress line on a terminal only; Ctrl-C cancels the selection and
    nothing is committed."""

    def big_csv(self, name, n, d, seed):
        path = self.csv_path(name)
        rng = np.random.default_rng(seed)
        rows = unit_rows(rng.normal(size=(n, d)))
        with open(path, "w") as f:
            f.write("filenames," + ",".join("embedding_%d" % j
                                           for j in range(d)) + ",labels\n")
            for i in range(n):
                f.write("r%06d.jpg," % i
                        + ",".join("%.6f" % v for v in rows[i]) + ",0\n")
        return path

    def start_on_pty(self, *args):
        """Starts the CLI with stderr on a pseudo-terminal (stdout piped);
        returns (process, pty master fd)."""
        master, slave = pty.openpty()
        # stdout to a file: the picks' listing may exceed a pipe's buffer.
        out = tempfile.TemporaryFile()
        self.addCleanup(out.close)
        proc = subprocess.Popen(
            [self.cli_bin, "--server", self.address] + [str(a) for a in args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=slave,
            env=base_env())
        proc.stdout_file = out
        os.close(slave)
        self.addCleanup(os.close, master)
        return proc, master

    @staticmethod
    def stdout_of(proc):
        proc.wait(timeout=CLI_TIMEOUT_S)
        proc.stdout_file.seek(0)
        return proc.stdout_file.read()

    def test_progress_line_on_a_terminal_only(self):
        path = self.big_csv("progress.csv", 20000, 16, 1)
        proc, master = self.start_on_pty("select", "--pool", "bar",
                                         "--embeddings", path,
                                         "--n-samples", "4000")
        shown = self.read_terminal(master, proc, "\0", CLI_TIMEOUT_S)  # until the CLI exits
        stdout = self.stdout_of(proc)
        self.assertEqual(proc.returncode, 0, shown)
        self.assertIn("selecting", shown)
        self.assertIn("/4000 [", shown)
        self.assertIn("\r", shown)
        self.assertIn(b"Selected 4000 of 20000", stdout)
        self.assertNotIn(b"selecting", stdout)
        # Piped, or with --json: no progress line at all.
        piped = self.cli_ok("select", "--pool", "bar2", "--embeddings", path,
                            "--n-samples", "10")
        self.assertNotIn("selecting", piped.stderr)
        proc, master = self.start_on_pty("select", "--pool", "bar3",
                                         "--embeddings", path,
                                         "--n-samples", "10", "--json")
        shown = self.read_terminal(master, proc, "\0", CLI_TIMEOUT_S)
        self.stdout_of(proc)
        self.assertNotIn("selecting", shown)

    def test_ctrl_c_cancels_and_commits_nothing(self):
        path = self.big_csv("long.csv", 60000, 16, 2)
        proc, master = self.start_on_pty("select", "--pool", "interrupted",
                                         "--embeddings", path,
                                         "--n-samples", "50000")
        self.read_terminal(master, proc, "selecting", CLI_TIMEOUT_S)
        proc.send_signal(signal.SIGINT)
        shown = self.read_terminal(master, proc, "\0", CLI_TIMEOUT_S)
        self.stdout_of(proc)
        self.assertEqual(proc.returncode, 130, shown)
        self.assertIn("cancelled; nothing was committed", shown)
        # Commits to a pool are serialised: once this one is in, the
        # cancelled selection has let go of the pool without writing.
        small = self.csv_path("after.csv")
        write_lightly_csv(small, ["late.jpg"], [[1.0] * 16], [0])
        out = self.cli_json("select", "--pool", "interrupted", "--embeddings",
                            small, "--n-samples", "1", "--json")
        self.assertEqual((out["version"], out["pool_size_after"]), (1, 1))


class CliSelectedMaskedTest(CliTestBase):

    def test_selected_and_masked_columns(self):
        rng = np.random.default_rng(21)
        rows = unit_rows(rng.normal(size=(10, 5)))
        names = ["f%d.jpg" % i for i in range(10)]
        path = self.csv_path("flags.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filenames"] + ["embedding_%d" % j for j in range(5)]
                       + ["selected", "masked", "labels"])
            for i in range(10):
                w.writerow([names[i]] + ["%r" % float(v) for v in rows[i]]
                           + [1 if i in (6, 1) else 0, 1 if i == 4 else 0, 0])
        out = self.cli_json("select", "--pool", "flags", "--embeddings", path,
                            "--n-samples", "4", "--json")
        picked = [s["filename"] for s in out["selected"]]
        self.assertEqual(picked[:2], ["f1.jpg", "f6.jpg"])
        self.assertEqual(len(picked), 4)
        self.assertNotIn("f4.jpg", picked)
        names_in_pool, _, _ = check_lightly_csv(
            os.path.join(self.shared, "flags", "datapool_latest.csv"))
        self.assertEqual(names_in_pool, picked)


class CliStrategyTest(CliTestBase):
    """--strategy and --selection-config: diversity is plain greedy
    k-center; the default (typical) starts in the dense region; a config
    the server refuses commits nothing; bad flags and files are refused
    before any call."""

    def write_config(self, name, config):
        path = os.path.join(self.data, name)
        with open(path, "w", encoding="utf-8") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f)
        return path

    def test_diversity_is_kcenter_and_typical_is_the_default(self):
        names, rows = dense_and_outliers(np.random.default_rng(5), D)
        path = self.csv_path("strategy.csv")
        vec, lab = write_lightly_csv(path, names, rows, [0] * len(names))

        def select(*flags):
            return self.cli_json("select", "--pool", "strategy",
                                 "--embeddings", path, "--n-samples", "3",
                                 "--dry-run", "--json", *flags)

        diversity = select("--strategy", "diversity")
        picked = self.check_select_json(diversity, vec, lab, [], 3, None,
                                        True)
        self.assertTrue(picked[0].startswith("outlier/"), picked)
        self.assertLessEqual(sum(n.startswith("dense/") for n in picked), 1,
                             picked)
        # The same objective from a file.
        config = self.write_config("diversity.json", DIVERSITY_CONFIG)
        self.assertEqual(select("--selection-config", config)["selected"],
                         diversity["selected"])

        default = select()
        default_picks = [s["filename"] for s in default["selected"]]
        self.assertEqual(len(default_picks), 3, default)
        self.assertTrue(default_picks[0].startswith("dense/"), default_picks)
        self.assertNotEqual(default_picks, picked)
        self.assertEqual(select("--strategy", "typical")["selected"],
                         default["selected"])

        # Every input and strategy type; the DIVERSITY minimum distance is
        # the selection's. Then committed, with --min-distance agreeing.
        lightly = self.write_config("lightly.json", LIGHTLY_CONFIG)
        out = select("--selection-config", lightly)
        self.assertEqual(len(out["selected"]), 3, out)
        for s in out["selected"][1:]:
            self.assertGreaterEqual(s["distance"], 0.2 - 1e-6, out)
        out = self.cli_json("select", "--pool", "strategy", "--embeddings",
                            path, "--n-samples", "3", "--min-distance", "0.2",
                            "--selection-config", lightly, "--json")
        self.assertEqual((out["committed"], out["version"],
                          out["pool_size_after"]), (True, 1, 3), out)

    def test_config_the_server_refuses_commits_nothing(self):
        names, rows = dense_and_outliers(np.random.default_rng(6), D)
        path = self.csv_path("strategy-refused.csv")
        write_lightly_csv(path, names, rows, [0] * len(names))
        config = self.write_config("refused.json", REFUSED_CONFIG)
        before = snapshot_tree(self.shared)
        for dry in ((), ("--dry-run",)):
            proc = self.cli_error("INVALID_ARGUMENT", "select", "--pool",
                                  "strategy-refused", "--embeddings", path,
                                  "--n-samples", "3", "--selection-config",
                                  config, *dry)
            self.assertIn("config.objectives[1]", proc.stderr,
                          self.explain(proc))
            self.assertEqual(proc.stdout, "", self.explain(proc))
        self.assertEqual(snapshot_tree(self.shared), before)
        self.assertFalse(os.path.exists(os.path.join(self.shared,
                                                     "strategy-refused")))
        self.assertNotIn("strategy-refused", [
            p["name"] for p in self.cli_json("pools", "list",
                                             "--json")["pools"]])

    def test_bad_flags_and_files_are_refused_locally(self):
        emb = self.csv_path("strategy-usage.csv")
        write_lightly_csv(emb, ["u.png"], [[1.0] * D], [0])
        select = ("select", "--pool", "p", "--embeddings", emb,
                  "--n-samples", "1")
        bad_type = {"strategies": [
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "DIVERSITY"}},
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "SIMILAR"}}]}
        cases = [
            (("--strategy", "fastest"),
             ["--strategy", "typical", "diversity", "'fastest'"]),
            (("--strategy", "diversity", "--selection-config",
              self.write_config("ok.json", DIVERSITY_CONFIG)),
             ["--strategy", "--selection-config"]),
            (("--selection-config", self.write_config("type.json", bad_type)),
             ["--selection-config strategies[1].strategy.type: unknown "
              "strategy 'SIMILAR' (supported: DIVERSITY, TYPICALITY, "
              "WEIGHTS, BALANCE, THRESHOLD, SIMILARITY)"]),
            (("--selection-config", self.write_config("input.json", {
                "strategies": [{"input": {"type": "PREDICTIONS"},
                                "strategy": {"type": "WEIGHTS"}}]})),
             ["strategies[0].input.type", "'PREDICTIONS'"]),
            (("--selection-config", self.write_config("key.json", {
                "strategies": [{"input": {"type": "EMBEDDINGS"},
                                "strategy": {"type": "DIVERSITY",
                                             "strenght": 2}}]})),
             ["strategies[0].strategy.strenght: unknown key"]),
            (("--selection-config", self.write_config("strength.json", {
                "strategies": [{"input": {"type": "EMBEDDINGS"},
                                "strategy": {"type": "DIVERSITY",
                                             "strength": "high"}}]})),
             ["strategies[0].strategy.strength: must be a number"]),
            (("--selection-config", self.write_config("broken.json",
                                                      '{"strategies": [')),
             ["--selection-config: not valid JSON"]),
            (("--selection-config",
              self.write_config("lightly-usage.json", LIGHTLY_CONFIG),
              "--min-distance", "0.3"),
             ["--min-distance 0.3 differs from --selection-config "
              "strategies[0].strategy.stopping_condition_minimum_distance"]),
        ]
        sock, closed = bound_closed_port()
        with sock:  # refused before any call: the server is never asked
            for flags, needles in cases:
                with self.subTest(flags=flags):
                    proc = self.assertUsageError(*select, *flags,
                                                 server=closed)
                    self.assertIn("(see datapool select --help)",
                                  proc.stderr, self.explain(proc))
                    for needle in needles:
                        self.assertIn(needle, proc.stderr, self.explain(proc))
            missing = os.path.join(self.data, "no-such-config.json")
            self.cli_local_error("no-such-config.json", *select,
                                 "--selection-config", missing,
                                 server=closed)
            self.assertUsageError("pools", "list", "--strategy", "diversity",
                                  server=closed)

    def test_help_names_the_default_and_the_old_behaviour(self):
        text = self.cli_ok("select", "--help", server=None).stdout
        flags = text.split("\nFlags:\n", 1)[1].split("\n\n", 1)[0]
        strategy = flags.split("--strategy NAME", 1)[1].split("\n  --", 1)[0]
        self.assertIn("typical (the default", " ".join(strategy.split()))
        self.assertIn("diversity (plain greedy k-center",
                      " ".join(strategy.split()))
        self.assertIn("--selection-config FILE.json", flags)


class CliCandidateColumnsTest(CliTestBase):
    """select --columns: a THRESHOLD on one METADATA column filters, WEIGHTS
    of another orders; the CLI's usage errors come before any call."""

    def test_columns_threshold_and_metadata_weights(self):
        rng = np.random.default_rng(31)
        names = ["c/img_%d.png" % i for i in range(10)]
        emb = self.csv_path("columns-candidates.csv")
        write_lightly_csv(emb, names, rng.normal(size=(10, D)), [0] * 10)
        sharpness = [i / 10 for i in range(10)]  # img_5.. pass > 0.45
        quality = [4, 10, 2, 8, 6, 3, 9, 5, 7, 1]
        columns = self.csv_path("columns.csv")
        with open(columns, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["quality", "filenames", "sharpness"])
            for name, q, s in reversed(list(zip(names, quality, sharpness))):
                w.writerow([q, name, repr(s)])
            w.writerow([1, "not-a-candidate.png", 0.9])  # ignored
        config = os.path.join(self.data, "columns-config.json")
        with open(config, "w", encoding="utf-8") as f:
            json.dump({"strategies": [
                {"input": {"type": "METADATA", "key": "sharpness"},
                 "strategy": {"type": "THRESHOLD", "threshold": 0.45,
                              "operation": "BIGGER"}},
                {"input": {"type": "METADATA", "key": "quality"},
                 "strategy": {"type": "WEIGHTS"}}]}, f)
        select = ("select", "--pool", "columns", "--embeddings", emb,
                  "--n-samples", "10", "--selection-config", config,
                  "--columns", columns)
        out = self.cli_json(*select, "--dry-run", "--json")
        # Only img_5..img_9 pass; the weights order them, highest first.
        self.assertEqual([s["filename"] for s in out["selected"]],
                         ["c/img_6.png", "c/img_8.png", "c/img_7.png",
                          "c/img_5.png", "c/img_9.png"], out)
        self.assertEqual(out["candidates_filtered"], 5, out)
        self.assertEqual(out["stop_reason"], "exhausted", out)
        text = self.cli_ok(*select).stdout
        self.assertIn("5 filtered by a threshold", text)
        self.assertIn("Selected 5 of 10 candidates", text)

        # A non-numeric cell in the column the threshold reads, a column
        # no file has: usage errors, the server never asked.
        bad = self.csv_path("columns-bad.csv")
        with open(bad, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["filenames", "sharpness", "quality"])
            for i, name in enumerate(names):
                w.writerow([name, "sharp" if i == 3 else i / 10, i])
        sock, closed = bound_closed_port()
        with sock:
            proc = self.assertUsageError(*select[:-1], bad, server=closed)
            self.assertIn("--columns %s: line 5, column 2: 'sharpness' must "
                          "be a finite number, got 'sharp'" % bad,
                          proc.stderr, self.explain(proc))
            proc = self.assertUsageError(*select[:-2], server=closed)
            self.assertIn("strategies[0].input.key: no column 'sharpness'",
                          proc.stderr, self.explain(proc))


class CliConnectionTest(CliTestBase):

    def test_health(self):
        proc = self.cli_ok("health")
        self.assertEqual(proc.stdout.strip(), "SERVING")
        self.assertEqual(self.cli_json("health", "--json"),
                         {"status": "SERVING"})

    def test_server_flag_position_and_env(self):
        # --server after the subcommand.
        self.assertEqual(self.cli_ok("health", "--server", self.address,
                                     server=None).stdout.strip(), "SERVING")
        # DATAPOOL_SERVER is used when --server is absent ...
        out = self.cli_json("pools", "list", "--json", server=None,
                            env_server=self.address)
        self.assertIsInstance(out["pools"], list)
        sock, closed = bound_closed_port()
        with sock:
            # ... and really is (a dead address there makes the call fail) ...
            proc = self.run_cli("health", server=None, env_server=closed)
            self.assertEqual(proc.returncode, EXIT_SERVER, self.explain(proc))
            # ... and --server overrides it.
            self.assertEqual(self.cli_ok("health", env_server=closed)
                             .stdout.strip(), "SERVING")

    def test_unreachable_server_fails_fast(self):
        sock, closed = bound_closed_port()
        with sock:
            for args in (("health",), ("pools", "list", "--json"),
                         ("pools", "show", "p")):
                proc = self.run_cli(*args, server=closed)
                self.assertEqual(proc.returncode, EXIT_SERVER,
                                 self.explain(proc))
                m = ERROR_LINE_RE.search(proc.stderr)
                self.assertTrue(m, self.explain(proc))
                self.assertIn(m.group(1), ("UNAVAILABLE", "DEADLINE_EXCEEDED"),
                              self.explain(proc))
                self.assertEqual(proc.stdout.strip(), "", self.explain(proc))

    def test_usage_errors(self):
        sock, closed = bound_closed_port()
        with sock:
            # A usage error must not depend on the server: point at a dead one.
            emb = self.csv_path("usage.csv")
            write_lightly_csv(emb, ["u.png"], [[1.0] * D], [0])
            for args in ((),
                         ("frobnicate",),
                         ("select",),
                         ("select", "--pool", "p", "--n-samples", "1"),
                         ("select", "--embeddings", emb, "--n-samples", "1"),
                         ("select", "--pool", "p", "--embeddings", emb,
                          "--n-samples", "abc"),
                         ("select", "--pool", "p", "--embeddings", emb,
                          "--min-distance", "far"),
                         ("select", "--pool", "p", "--embeddings", emb,
                          "--n-samples", "1", "--bogus"),
                         ("select", "--pool"),
                         ("select", "--pool", "p", "--embeddings", emb,
                          "--n-samples", "1", "-k", "3"),
                         ("pools",),
                         ("pools", "show"),
                         ("pools", "show", "a", "b"),
                         ("pools", "list", "--pool", "p"),
                         ("pools", "frobnicate"),
                         ("pools", "merge", "a", "b", "--on-collision", "x"),
                         ("embed", "--input", "x"),
                         ("search", "--pool", "p", "--embeddings", emb,
                          "-k", "0"),
                         ("health", "extra"),
                         ("--timeout", "0", "health"),
                         ("--tls-cert", emb, "health"),
                         ("--bogus", "health")):
                proc = self.assertUsageError(*args, server=closed)
                if "--bogus" in args:
                    self.assertIn("bogus", proc.stderr, self.explain(proc))
                # The command's own help is named, once there is one.
                if args[:1] == ("select",) or "health" in args:
                    self.assertIn("(see datapool %s --help)"
                                  % ("select" if args[0] == "select"
                                     else "health"),
                                  proc.stderr, self.explain(proc))

    def test_local_files_that_cannot_be_used(self):
        sock, closed = bound_closed_port()
        with sock:  # checked before any call: the server is never asked
            missing = os.path.join(self.data, "no-such.pem")
            for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
                args = [flag, missing, "health"]
                if flag != "--tls-ca":  # the pair goes together
                    other = "--tls-key" if flag == "--tls-cert" else "--tls-cert"
                    args = [other, missing] + args
                self.cli_local_error("no-such.pem", *args, server=closed)
            self.cli_local_error(
                os.path.join(self.data, "no-folder"), "embed", "--input", "x",
                "--out", os.path.join(self.data, "no-folder", "e.csv"),
                server=closed)
            self.cli_local_error(
                "no-such-image.jpg", "select", "--pool", "p", "--upload",
                os.path.join(self.data, "no-such-image.jpg"),
                "--n-samples", "1", server=closed)


class CliHelpTest(CliTestBase):
    """`--help` on datapool and on every command (found in the command list
    of `datapool --help`, so a new command is checked too)."""

    def commands(self):
        text = self.cli_ok("--help", server=None).stdout
        listed = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
        commands = [re.split(r"\s{2,}", line.strip())[0]
                    for line in listed.splitlines()]
        self.assertIn("select", commands, text)
        self.assertIn("pools merge", commands, text)
        return commands

    def test_main_help(self):
        proc = self.cli_ok("--help", server=None)
        self.assertEqual(proc.stderr, "")
        text = proc.stdout
        for flag in ("--server", "--timeout", "--token", "--tls", "--tls-ca",
                     "--tls-cert", "--tls-key", "--json"):
            self.assertRegex(text, r"\n  %s\b" % re.escape(flag), text)
        codes = text.split("\nExit codes:\n", 1)[1].split("\n\n", 1)[0]
        self.assertEqual(re.findall(r"(?m)^  (\d+) ", codes),
                         ["0", "1", "2", "3", "130"], text)
        for command in ("select", "embed", "search", "pools list",
                        "pools show", "pools delete", "pools history",
                        "pools restore", "pools merge", "health"):
            self.assertRegex(text, r"\n  %s {2,}\S" % command, text)
        self.assertEqual(self.cli_ok("help", server=None).stdout, text)
        # No command at all: the same help, on stderr, as a usage error.
        proc = self.run_cli(server=None)
        self.assertEqual(proc.returncode, 1, self.explain(proc))
        self.assertIn("Exit codes:", proc.stderr)

    def test_every_command_has_help_with_an_example(self):
        sock, closed = bound_closed_port()
        with sock:  # help never calls the server
            for command in self.commands():
                with self.subTest(command=command):
                    words = command.split()
                    proc = self.cli_ok(*words, "--help", server=closed)
                    text = proc.stdout
                    self.assertTrue(text.startswith("Usage: datapool %s"
                                                    % command), text)
                    examples = text.split("\nExamples:\n", 1)[1]
                    self.assertRegex(examples, r"^  datapool %s\b"
                                     % re.escape(command), text)
                    # Its own flags only, and the global ones by name.
                    self.assertIn("--json", text)
                    if command != "select":
                        self.assertNotIn("--n-samples", text)
                    # The same, flags before the command and via `help`.
                    self.assertEqual(self.cli_ok("--help", *words,
                                                 server=closed).stdout, text)
                    self.assertEqual(self.cli_ok("help", *words,
                                                 server=closed).stdout, text)
            groups = self.cli_ok("pools", "--help", server=closed).stdout
            self.assertIn("pools restore", groups)
            self.assertEqual(self.cli_ok("help", "pools",
                                         server=closed).stdout, groups)

    def test_json_on_every_command(self):
        emb = self.csv_path("json.csv")
        write_lightly_csv(emb, ["j1.png", "j2.png"], [[1.0] + [0.0] * (D - 1),
                                                      [0.0] * (D - 1) + [1.0]],
                          [0, 0])
        self.cli_json("select", "--pool", "js", "--embeddings", emb,
                      "--n-samples", "2", "--json")
        more = self.csv_path("json-more.csv")
        write_lightly_csv(more, ["j3.png"], [[1.0] * D], [0])
        for path in (emb, more):  # two versions: one to restore
            self.cli_json("select", "--pool", "js2", "--embeddings", path,
                          "--n-samples", "1", "--json")
        for args in (("search", "--pool", "js", "--embeddings", emb),
                     ("pools", "list"), ("pools", "show", "js"),
                     ("pools", "history", "js"),
                     ("pools", "merge", "js", "js2", "--on-collision", "skip",
                      "--dry-run"),
                     ("pools", "restore", "js2", "1"), ("health",)):
            with self.subTest(args=args):
                # --json before the command works as well as after it.
                self.cli_json("--json", *args)
                self.assertNotIn("\x1b", self.cli_ok(*args).stdout)
        deleted = self.cli_json("pools", "delete", "js2", "--json")
        self.assertEqual(deleted["deleted"]["name"], "js2")

    def test_readable_tables(self):
        emb = self.csv_path("table.csv")
        write_lightly_csv(emb, ["t1.png"], [[1.0] * D], [0])
        self.cli_json("select", "--pool", "a-rather-long-pool-name",
                      "--embeddings", emb, "--n-samples", "1", "--json")
        self.cli_json("select", "--pool", "tb", "--embeddings", emb,
                      "--n-samples", "1", "--json")
        for args, header in ((("pools", "list"),
                              ["NAME", "SIZE", "DIMENSION", "VERSION",
                               "UPDATED"]),
                             (("pools", "history", "tb"),
                              ["VERSION", "TIME", "SIZE", "FILE"])):
            lines = self.cli_ok(*args).stdout.splitlines()
            self.assertEqual(lines[0].split(), header, lines)
            # Aligned: each column starts at the same place on every line
            # (a right-aligned column ends at the same place).
            starts = [lines[0].index(h) for h in header]
            for line in lines[1:]:
                self.assertEqual(line, line.rstrip(), lines)
                self.assertGreater(len(line), starts[-1], lines)
                self.assertNotEqual(line[starts[-1]], " ", lines)
                self.assertEqual(line[starts[-1] - 1], " ", lines)


class ServerCommandLineTest(unittest.TestCase):

    def run_server(self, args):
        argv = [server_binary()] + args
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True,
                                  timeout=SERVER_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            self.fail("server did not exit within %d s: %s\nstdout: %s\n"
                      "stderr: %s" % (SERVER_EXIT_TIMEOUT_S, argv, e.stdout,
                                      e.stderr))

    def test_bad_command_lines(self):
        with tempfile.TemporaryDirectory(prefix="datapool-srvargs-") as tmp:
            shared = os.path.join(tmp, "shared")
            inp = os.path.join(tmp, "input")
            os.mkdir(shared)
            os.mkdir(inp)
            common = ["--input-dir", inp, "--listen", "127.0.0.1:0"]

            proc = self.run_server(["--shared-dir", shared, "--bogus"]
                                   + common)
            self.assertNotEqual(proc.returncode, 0, proc)
            self.assertIn("bogus", proc.stdout + proc.stderr, proc)
            self.assertNotIn("listening on", proc.stdout, proc)

            not_a_dir = os.path.join(tmp, "regular-file")
            with open(not_a_dir, "w") as f:
                f.write("x")
            proc = self.run_server(["--shared-dir", not_a_dir] + common)
            self.assertNotEqual(proc.returncode, 0, proc)
            self.assertNotIn("listening on", proc.stdout, proc)
            self.assertIn(not_a_dir, proc.stdout + proc.stderr, proc)
            with open(not_a_dir) as f:
                self.assertEqual(f.read(), "x")
            self.assertEqual(os.listdir(shared), [])

            # Limits must be positive integers in range.
            for flag, value in [("--max-pools", "0"),
                                ("--max-candidates", "lots"),
                                ("--max-filename-bytes", "8")]:
                proc = self.run_server(["--shared-dir", shared, flag, value]
                                       + common)
                self.assertEqual(proc.returncode, 2, proc)
                self.assertIn(flag, proc.stderr, proc)
                self.assertNotIn("listening on", proc.stdout, proc)


if __name__ == "__main__":
    unittest.main()
