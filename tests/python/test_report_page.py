"""The selection report in a real browser: the real server (built-in model)
selects images from its input folder twice, and report.html of each
selection is opened in Debian's headless Chromium (tests/python/browser.py,
selenium and chromium-driver):
no console errors, nothing fetched but the page itself (self-contained,
offline), every plot present and drawn with marks, the thumbnails decoded.
A full-page screenshot is kept in $DATAPOOL_TEST_OUTPUT (default: a temp
folder, printed) for a person to look at.

Run: /usr/bin/python3 -m unittest tests/python/test_report_page.py
"""

import json
import os
import shutil
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy", "cv2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from browser import HeadlessPage  # noqa: E402
from server_harness import RunningServer, cli_binary  # noqa: E402
import subprocess  # noqa: E402

# What the page must show, as JavaScript returning plain values.
PAGE_FACTS = r"""(() => {
  const plot = (id) => {
    const svg = document.getElementById(id);
    if (!svg) return null;
    const box = svg.getBoundingClientRect();
    const marks = (sel) => svg.querySelectorAll(sel).length;
    const curve = svg.querySelector("polyline.curve");
    return {width: box.width, height: box.height,
            bars: marks("rect.bar"), before: marks("rect.bar.before"),
            after: marks("rect.bar.after"), pool: marks("circle.pool"),
            rejected: marks("circle.rejected"), picks: marks("circle.pick"),
            curve_points: curve ? curve.points.numberOfItems : 0,
            curve_length: curve ? curve.getTotalLength() : 0,
            limit_lines: marks("line.limit"),
            drawn_bars: Array.from(svg.querySelectorAll("rect.bar"))
                .filter(r => r.getBBox().height > 0 && r.getBBox().width > 0).length};
  };
  const images = Array.from(document.images);
  return {
    title: document.title,
    histogram: plot("plot-histogram"),
    picks: plot("plot-picks"),
    projection: plot("plot-projection"),
    images: images.length,
    images_decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    missing_images: document.querySelectorAll(".missing").length,
    pairs: document.querySelectorAll("#pairs .pair").length,
    scripts: document.scripts.length,
  };
})()"""


def write_image(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise AssertionError("cv2.imwrite failed for %s" % path)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG" % path)
    return struct.unpack(">II", head[16:24])


class ReportPageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # One browser for both tests: each page is opened in a tab of its own.
        cls.page = HeadlessPage(width=1280, height=1000)
        cls.page.__enter__()
        cls.addClassCleanup(cls.page.close)
        cls.tmp = tempfile.mkdtemp(prefix="datapool-report-page-")
        cls.shared = os.path.join(cls.tmp, "shared")
        cls.input = os.path.join(cls.tmp, "input")
        os.makedirs(cls.shared)
        out = os.environ.get("DATAPOOL_TEST_OUTPUT")
        cls.output = out or os.path.join(cls.tmp, "output")
        os.makedirs(cls.output, exist_ok=True)
        # Three tinted "classes" of textured images with a blob each.
        rng = np.random.default_rng(11)
        tints = {"red": (40, 40, 200), "green": (40, 170, 40),
                 "blue": (200, 70, 40)}
        for name, tint in tints.items():
            for k in range(24):
                img = rng.normal(0, 35, (72, 96, 3)) + np.array(tint) * rng.uniform(0.4, 1.2)
                img = np.clip(img, 0, 255).astype(np.uint8)
                colour = tuple(int(c) for c in rng.integers(0, 256, 3))
                cv2.circle(img, (int(rng.integers(15, 80)), int(rng.integers(15, 55))),
                           int(rng.integers(5, 22)), colour, -1)
                write_image(os.path.join(cls.input, "photos", name, "%02d.jpg" % k), img)
        # One file that is not an image, and one identical to another.
        with open(os.path.join(cls.input, "photos", "red", "broken.jpg"), "wb") as f:
            f.write(b"\xff\xd8 not a jpeg")
        shutil.copy(os.path.join(cls.input, "photos", "green", "00.jpg"),
                    os.path.join(cls.input, "photos", "green", "00-copy.jpg"))
        cls.server = RunningServer(cls.shared, cls.input)
        cls.server.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args):
        proc = subprocess.run([cli_binary(), "--server", self.server.address] + list(args),
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        return proc

    def check_page(self, page, html_path, report):
        page.open("file://" + html_path)
        self.assertEqual(page.console_errors(), [])
        fetched = [u for u in page.requests()
                   if not u.startswith("data:") and u != "file://" + html_path]
        self.assertEqual(fetched, [], "the page fetched other resources")
        facts = page.evaluate(PAGE_FACTS)
        self.assertEqual(facts["scripts"], 0)
        counts = report["counts"]
        for name in ("histogram", "picks", "projection"):
            plot = facts[name]
            self.assertIsNotNone(plot, "plot %s missing" % name)
            self.assertGreater(plot["width"], 300, name)
            self.assertGreater(plot["height"], 100, name)
        hist = facts["histogram"]
        self.assertGreater(hist["drawn_bars"], 0)
        self.assertEqual(hist["bars"], hist["drawn_bars"])
        self.assertGreater(hist["after"], 0)
        picks = facts["picks"]
        self.assertGreaterEqual(picks["curve_points"], 2)
        self.assertGreater(picks["curve_length"], 0)
        proj = facts["projection"]
        self.assertEqual(proj["picks"], counts["selected"])
        self.assertEqual(proj["rejected"], counts["rejected"])
        self.assertEqual(proj["pool"], counts["pool_size_before"])
        # Every pair's two images decoded (the files are on the input folder).
        self.assertEqual(facts["pairs"], len(report["pairs"]))
        self.assertEqual(facts["images"], 2 * facts["pairs"])
        self.assertEqual(facts["images_decoded"], facts["images"])
        self.assertEqual(facts["missing_images"], 0)
        return facts

    def test_report_pages_render_offline_without_errors(self):
        first = json.loads(self.cli("select", "--pool", "shots", "--input", "photos/red",
                                    "photos/green", "--n-samples", "12", "--json").stdout)
        self.cli("select", "--pool", "shots", "--input", "photos",
                 "--min-distance", "0.12", "--n-samples", "40")
        reports = os.path.join(self.shared, "shots", "reports")
        self.assertEqual(sorted(os.listdir(reports)), ["1", "2"])
        page = self.page
        for version in ("1", "2"):
            folder = os.path.join(reports, version)
            with open(os.path.join(folder, "report.json")) as f:
                report = json.load(f)
            self.assertEqual(report["version"], int(version))
            if version == "1":
                # The report counts what the answer counted, the
                # unusable and identical files included.
                counts = report["counts"]
                self.assertEqual(counts["candidates_received"],
                                 first["candidates_received"])
                self.assertEqual(counts["duplicates_removed"], 1)
                self.assertEqual(len(report["duplicates"]), 1)
                self.assertEqual(report["duplicates"],
                                 [{"filename": d["filename"],
                                   "same_as": d["same_as"]}
                                  for d in first["duplicates"]])
                self.assertEqual(first["duplicates_removed"], 1)
                self.assertEqual(counts["skipped_files"], 1)
                self.assertEqual([s["filename"] for s in report["skipped"]],
                                 ["photos/red/broken.jpg"])
            html = os.path.join(folder, "report.html")
            facts = self.check_page(page, html, report)
            if version == "2":
                # The second run has a pool before it and a
                # min_distance line on both distance plots.
                self.assertGreater(facts["histogram"]["before"], 0)
                self.assertEqual(facts["histogram"]["limit_lines"], 1)
                self.assertEqual(facts["picks"]["limit_lines"], 1)
                self.assertEqual(facts["projection"]["pool"], 12)
            shot = os.path.join(self.output, "report-v%s.png" % version)
            page.screenshot(shot, full_page=True)
            width, height = png_size(shot)
            self.assertEqual(width, 1280)
            self.assertGreater(height, 1500)  # the whole page, not the viewport
            shutil.copy(html, os.path.join(self.output, "report-v%s.html" % version))
        print("\nreport screenshots in %s" % self.output, file=sys.stderr)

    def test_a_broken_page_would_be_caught(self):
        # The checks above can fail, each on its own: a page whose histogram
        # lost its bars, one without its projection plot, one that loads an
        # outside script, one with an inline script (which its
        # Content-Security-Policy blocks: an error too), and, in copies
        # without that policy, one that logs a console error and one that
        # loads a local style sheet without any error; and the errors stay
        # with the page that had them: the browser then passes the good page
        # again.
        self.cli("select", "--pool", "broken", "--input", "photos/blue", "--n-samples", "5")
        folder = os.path.join(self.shared, "broken", "reports", "1")
        with open(os.path.join(folder, "report.json")) as f:
            report = json.load(f)
        with open(os.path.join(folder, "report.html")) as f:
            html = f.read()
        csp = '<meta http-equiv="Content-Security-Policy"'
        self.assertIn(csp, html)
        no_csp = html.replace(csp, "<meta")

        def variant(name, text):
            path = os.path.join(self.tmp, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        no_bars = variant("no-bars.html", html.replace('class="bar ', 'class="gone '))
        no_plot = variant("no-plot.html", html.replace('id="plot-projection"', 'id="gone"'))
        outside = variant("outside.html", html.replace(
            "</body>", '<script src="https://example.invalid/x.js"></script></body>'))
        inline = variant("inline-script.html", html.replace(
            "</body>", "<script>no_such_function();</script></body>"))
        logs = variant("console-error.html", no_csp.replace(
            "</body>", '<script>console.error("injected");</script></body>'))
        variant("extra.css", "p { margin: 0 }")
        fetches = variant("fetches.html", no_csp.replace(
            "</head>", '<link rel="stylesheet" href="extra.css"></head>'))
        good = os.path.join(folder, "report.html")
        page = self.page
        self.check_page(page, good, report)
        with self.assertRaisesRegex(AssertionError, "not greater than 0"):
            self.check_page(page, no_bars, report)
        with self.assertRaisesRegex(AssertionError, "plot projection missing"):
            self.check_page(page, no_plot, report)
        with self.assertRaisesRegex(AssertionError, "example.invalid"):
            self.check_page(page, outside, report)
        self.check_page(page, good, report)
        with self.assertRaisesRegex(AssertionError,
                                    "security error: .*Content Security Policy"):
            self.check_page(page, inline, report)
        with self.assertRaisesRegex(AssertionError, 'console-api error: .*"injected"'):
            self.check_page(page, logs, report)
        with self.assertRaisesRegex(AssertionError,
                                    "(?s)extra.css.*the page fetched other resources"):
            self.check_page(page, fetches, report)
        self.check_page(page, good, report)


if __name__ == "__main__":
    unittest.main()
