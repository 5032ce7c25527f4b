"""Tests of the headless Chromium helper (browser.py: selenium and
chromium-driver), so that the browser checks of the selection report can
both pass and fail. Needs Debian's chromium, chromium-driver and
python3-selenium (scripts/setup.sh installs them): skipped without them, failed
under DATAPOOL_REQUIRE_BINARIES=1 (ctest).

Run: /usr/bin/python3 -m unittest tests/python/test_browser.py
"""

import os
import struct
import sys
import tempfile
import unittest
import zlib
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

try:
    debian_python.reexec_if_needed(__name__, "selenium")
except ImportError:
    pass  # browser.require() says what is missing

import browser  # noqa: E402
from browser import BrowserError, HeadlessPage  # noqa: E402

SVG_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>svg</title></head>
<body style="margin:0">
<svg id="plot" width="600" height="300" xmlns="http://www.w3.org/2000/svg"></svg>
<div style="height:3000px">tall, so that the full page is taller than the viewport</div>
<script>
  const svg = document.getElementById("plot");
  for (let i = 0; i < 7; i++) {
    const c = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    c.setAttribute("cx", 40 + 80 * i);
    c.setAttribute("cy", 150);
    c.setAttribute("r", 30);
    c.setAttribute("fill", "#c03");
    svg.appendChild(c);
  }
  // An inline image: data: URLs are allowed in a self-contained page.
  const img = new Image();
  img.src = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
  document.body.appendChild(img);
</script>
</body></html>
"""

ERROR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"></head><body>
<script>console.error("x");</script>
<script>console.log("fine"); console.warn("only a warning");</script>
<script>console.assert(1 + 1 === 3, "asserted");</script>
<script>throw new Error("thrown on purpose");</script>
<p>after</p>
</body></html>
"""

EXTERNAL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<script src="https://example.invalid/x.js"></script>
</head><body><p>external</p></body></html>
"""

# An error logged while the page is left, after the next load has started:
# in one tab navigated from page to page it lands in the next page's log.
FAREWELL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"></head><body><p>bye</p>
<script>addEventListener("beforeunload", () => console.error("leaving"));</script>
</body></html>
"""

# A script error and a missing resource (a file: URL: no network needed).
BROKEN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"></head><body>
<img src="missing-image.png">
<script>no_such_function();</script>
<p>broken</p>
</body></html>
"""


def png_info(path):
    """(width, height) of a PNG file, after checking its signature, chunk
    CRCs and IEND; raises AssertionError if it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, "bad CRC in %r" % kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", "bad chunk order"
    assert any(kind == b"IDAT" for kind, _ in chunks), "no image data"
    return struct.unpack(">II", chunks[0][1][:8])



def processes_naming(text):
    """(pid, name, state) of the processes, zombies included, whose command
    line contains text, and of the zombie children of this one."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        comm = stat[stat.index(b"(") + 1:stat.rindex(b")")].decode()
        state, ppid = stat.rsplit(b")", 1)[1].split()[:2]
        if os.fsencode(text) in cmdline or (int(ppid) == os.getpid() and state == b"Z"):
            found.append((int(d), comm, state.decode()))
    return found


class PageTest(unittest.TestCase):
    """One browser for these tests; open() starts each page afresh."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="browser_test_")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.pages = {}
        for name, html in (("svg", SVG_PAGE), ("errors", ERROR_PAGE),
                           ("external", EXTERNAL_PAGE), ("broken", BROKEN_PAGE),
                           ("farewell", FAREWELL_PAGE)):
            path = os.path.join(cls._tmp.name, name + ".html")
            with open(path, "w", encoding="utf-8") as f:
                f.write(html)
            cls.pages[name] = "file://" + path
        cls.page = HeadlessPage(width=1280, height=2000, timeout=15)
        cls.page.__enter__()
        cls.addClassCleanup(cls.page.close)

    def test_svg_page_without_errors(self):
        page = self.page
        page.open(self.pages["svg"])
        self.assertEqual(page.console_errors(), [])
        self.assertEqual(page.evaluate("document.querySelectorAll('#plot circle').length"), 7)
        self.assertEqual(page.evaluate("document.title"), "svg")
        self.assertEqual(page.evaluate("[window.innerWidth, window.innerHeight]"), [1280, 2000])
        # The page, then its inline image (which delays the load event).
        self.assertEqual(page.requests(), [self.pages["svg"], SVG_PAGE.split('"')[-2]])
        self.assertEqual(page.evaluate("document.images[0].naturalWidth"), 1)

        shot = os.path.join(self._tmp.name, "svg.png")
        self.assertEqual(page.screenshot(shot, full_page=True), shot)
        width, height = png_info(shot)
        self.assertEqual(width, 1280)
        self.assertGreater(height, 3000)  # the whole document, not the viewport
        view = os.path.join(self._tmp.name, "view.png")
        page.screenshot(view, full_page=False)
        self.assertEqual(png_info(view), (1280, 2000))

    def test_console_errors_and_exception_reported(self):
        page = self.page
        page.open(self.pages["errors"])
        errors = page.console_errors()
        self.assertEqual(len(errors), 3, errors)  # not the log or the warning
        self.assertRegex(errors[0], r'^console-api error: file://.*errors\.html 2:16 "x"$')
        self.assertRegex(errors[1], r'^console-api error: .*"asserted"$')
        self.assertRegex(errors[2], r"^javascript error: .*Uncaught Error: thrown on purpose$")
        self.assertEqual(page.console_errors(), errors)  # reading keeps them
        self.assertEqual(page.evaluate("document.querySelector('p').textContent"), "after")
        # A new page starts with none.
        page.open(self.pages["svg"])
        self.assertEqual(page.console_errors(), [])

    def test_external_script_requested_and_fails(self):
        page = self.page
        page.open(self.pages["external"])
        self.assertEqual(page.requests(), [self.pages["external"], "https://example.invalid/x.js"])
        self.assertEqual(page.console_errors(),
                         ["network error: https://example.invalid/x.js - "
                          "Failed to load resource: net::ERR_NAME_NOT_RESOLVED"])

    def test_evaluate(self):
        page = self.page
        page.open(self.pages["svg"])
        self.assertEqual(page.evaluate("({a: [1, 'b', null]})"), {"a": [1, "b", None]})
        self.assertEqual(page.evaluate("Promise.resolve(6 * 7)"), 42)
        self.assertIsNone(page.evaluate("undefined"))
        with self.assertRaisesRegex(browser.JavascriptException, "nothing_here"):
            page.evaluate("nothing_here()")
        # A throwing evaluate is the caller's, not the page's, error.
        self.assertEqual(page.console_errors(), [])

    def test_errors_stay_with_their_page(self):
        # Each page's errors, all of them and only them, whatever was loaded
        # before it in the same browser. In one tab navigated from page to
        # page, farewell's "leaving" is the next page's error (each time),
        # and, now and then, after a failed navigation, chromium replays the
        # "Failed to load resource" entry of the page before the failed one
        # into the next page.
        page = self.page
        missing = "file://" + os.path.join(self._tmp.name, "missing.html")
        for _ in range(3):
            for name in ("external", "missing", "svg", "broken", "missing", "svg",
                         "farewell", "svg", "errors", "missing", "broken", "farewell",
                         "svg"):
                if name == "missing":
                    with self.assertRaisesRegex(BrowserError, "ERR_FILE_NOT_FOUND"):
                        page.open(missing)
                    continue
                page.open(self.pages[name])
                errors = page.console_errors()
                if name in ("svg", "farewell"):
                    self.assertEqual(errors, [], "errors of an earlier page")
                    self.assertEqual(page.requests()[0], self.pages[name])
                elif name == "external":
                    self.assertEqual(len(errors), 1, errors)
                    self.assertIn("https://example.invalid/x.js", errors[0])
                elif name == "errors":
                    self.assertEqual(len(errors), 3, errors)
                else:  # broken: both of its errors, in either order
                    self.assertEqual(len(errors), 2, errors)
                    self.assertTrue(any("ReferenceError: no_such_function" in e
                                        for e in errors), errors)
                    self.assertTrue(any("ERR_FILE_NOT_FOUND" in e and "missing-image.png" in e
                                        for e in errors), errors)
                    self.assertEqual(page.requests()[1:],
                                     [self.pages["broken"].rsplit("/", 1)[0]
                                      + "/missing-image.png"])
            # Each open() closes the tab before it: no tabs pile up.
            self.assertEqual(len(page.driver.window_handles), 1)


class LifetimeTest(unittest.TestCase):
    """Each test its own browser."""

    def setUp(self):
        browser.require()  # what these tests leave out is there

    def test_close_leaves_no_processes(self):
        with HeadlessPage(timeout=15) as page:
            tmp_dir = page.tmp_dir
            page.open("data:text/html,<p>hi</p>")
            self.assertEqual(page.evaluate("document.body.textContent"), "hi")
            # Renderer, GPU, network service, zygotes.
            self.assertGreater(len(processes_naming(tmp_dir)), 3)
        self.assertIsNone(page.driver)
        self.assertEqual(processes_naming(tmp_dir), [])
        self.assertFalse(os.path.exists(tmp_dir))

    def test_chromium_that_exits_at_start(self):
        with mock.patch.object(browser, "CHROMIUM", "/bin/false"):
            page = HeadlessPage()
            with self.assertRaises(browser.WebDriverException):
                page.__enter__()
        self.assertIsNone(page.tmp_dir)

    def test_missing_driver_skips_or_fails(self):
        with mock.patch.object(browser, "CHROMEDRIVER", "/nonexistent/chromedriver"):
            with mock.patch.dict(os.environ, {"DATAPOOL_REQUIRE_BINARIES": "0"}):
                with self.assertRaisesRegex(unittest.SkipTest,
                                            "missing: /nonexistent/chromedriver.*chromium-driver"):
                    HeadlessPage().__enter__()
            with mock.patch.dict(os.environ, {"DATAPOOL_REQUIRE_BINARIES": "1"}):
                with self.assertRaisesRegex(AssertionError, "chromium-driver.*REQUIRE_BINARIES=1"):
                    HeadlessPage().__enter__()


if __name__ == "__main__":
    unittest.main()
