"""examples/walkthrough.sh runs as documented (with the binaries under test)
and does what it says: two selections with reports, a dry run's report saved
locally, history, a restore (no report), a merge, and the Python SDK
version of the same. Keeps the examples from rotting.

Run: /usr/bin/python3 -m unittest tests/python/test_examples.py
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from datapool_testlib import REPO_ROOT  # noqa: E402
from server_harness import cli_binary, server_binary  # noqa: E402

WALKTHROUGH = os.path.join(REPO_ROOT, "examples", "walkthrough.sh")


def csv_rows(path):
    with open(path) as f:
        return [line.split(",", 1)[0] for line in f.read().splitlines()[1:]]


class WalkthroughTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="datapool-walkthrough-")
        bin_dir = os.path.dirname(server_binary())
        if os.path.dirname(cli_binary()) != bin_dir:
            raise AssertionError("the walkthrough wants datapool and "
                                 "datapool-server in one folder")
        env = dict(os.environ, DATAPOOL_BIN_DIR=bin_dir)
        env.pop("DATAPOOL_SERVER", None)
        # Its own process group: on a timeout the script and the server it
        # started are killed together.
        proc = subprocess.Popen([WALKTHROUGH, cls.work], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        cls.proc = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        cls.shared = os.path.join(cls.work, "shared")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def explain(self):
        return "stdout:\n%s\nstderr:\n%s" % (self.proc.stdout[-6000:],
                                             self.proc.stderr[-4000:])

    def load(self, *parts):
        with open(os.path.join(self.work, *parts)) as f:
            return json.load(f)

    def test_runs_every_step(self):
        self.assertEqual(self.proc.returncode, 0, self.explain())
        for step in ["1. First selection", "2. Second selection", "3. The report",
                     "4. A dry run", "5. History", "6. Restore", "7. Another team",
                     "8. The same from Python", "Done"]:
            self.assertIn("=== " + step, self.proc.stdout, self.explain())
        # The server it started is gone.
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
        self.assertNotIn(self.shared, ps.stdout)

    def test_second_selection_adds_what_the_pool_lacks(self):
        report = self.load("shared", "demo", "reports", "2", "report.json")
        self.assertEqual(report["stop_reason"], "min_distance")
        self.assertTrue(report["committed"])
        self.assertEqual(report["counts"]["pool_size_before"], 12)
        picks = [p["filename"] for p in report["selected"]]
        desert = [p for p in picks if p.startswith("batch2/desert/")]
        self.assertGreater(len(desert), len(picks) / 2, picks)
        # Nothing rejected is farther than min_distance once it stopped.
        self.assertLess(report["distance_to_pool"]["after"]["max"], 0.5)
        self.assertIn("Selection report: pool 'demo', version 2", self.proc.stdout)

    def test_reports_and_saved_copies(self):
        reports = os.path.join(self.shared, "demo", "reports")
        # Selections wrote reports 1 and 2; the restore (3) and merge (4) none.
        self.assertEqual(sorted(os.listdir(reports)), ["1", "2"])
        for v in ("1", "2"):
            with open(os.path.join(reports, v, "report.html")) as f:
                page = f.read()
            self.assertIn('id="plot-projection"', page)
            self.assertIn("data:image/jpeg;base64,", page)  # thumbnails
        self.assertEqual(self.load("report-v1.json")["version"], 1)
        dry = self.load("dry-run-report", "report.json")
        self.assertFalse(dry["committed"])
        self.assertEqual(dry["counts"]["selected"], 5)
        self.assertTrue(os.path.exists(os.path.join(self.work, "dry-run-report",
                                                    "report.html")))
        # The SDK version saved its reports too.
        self.assertEqual(self.load("notebook-report", "report.json")["pool"],
                         "notebook")
        self.assertFalse(self.load("dry-run", "report.json")["committed"])

    def test_history_restore_and_merge(self):
        meta = self.load("shared", "demo", "datapool_meta.json")
        self.assertEqual(meta["version"], 4)
        rows = csv_rows(os.path.join(self.shared, "demo", "datapool_latest.csv"))
        # Version 1's 12 batch-1 picks (restored), then the 8 night ones.
        self.assertEqual(len(rows), 20, rows)
        self.assertTrue(all(r.startswith("batch1/") for r in rows[:12]), rows)
        self.assertTrue(all(r.startswith("batch3/night/") for r in rows[12:]), rows)
        history = os.listdir(os.path.join(self.shared, "demo", "history"))
        for v in (1, 2, 3):
            self.assertTrue(any("_v%06d_datapool_latest.csv" % v in h for h in history),
                            history)
        notebook = self.load("shared", "notebook", "datapool_meta.json")
        self.assertEqual(notebook["version"], 4)
        self.assertFalse(os.path.exists(os.path.join(self.shared, "notebook-night")))


if __name__ == "__main__":
    unittest.main()
