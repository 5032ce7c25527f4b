"""Tests of the headless Chromium helper (browser.py), so that the browser
checks of the selection report can both pass and fail. Needs Debian's
chromium (scripts/setup.sh installs it); never skipped.

Run: /usr/bin/python3 -m unittest tests/python/test_browser.py
"""

import os
import signal
import struct
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from browser import BrowserError, HeadlessPage, JavaScriptError  # noqa: E402

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
<script>throw new Error("thrown on purpose");</script>
<p>after</p>
</body></html>
"""

EXTERNAL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<script src="https://example.invalid/x.js"></script>
</head><body><p>external</p></body></html>
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


def processes_of(pgid, text):
    """Pids (zombies included) in process group pgid, or whose command line
    contains text, or zombie children of this process named chrom*."""
    found = []
    me = os.getpid()
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
        comm = stat[stat.index(b"(") + 1:stat.rindex(b")")]
        state, ppid, pgrp = stat.rsplit(b")", 1)[1].split()[:3]
        if (int(pgrp) == pgid or os.fsencode(text) in cmdline
                or (int(ppid) == me and state == b"Z" and comm.startswith(b"chrom"))):
            found.append((int(d), comm.decode(), state.decode()))
    return found


class PageTest(unittest.TestCase):
    """One browser for these tests; open() starts each page afresh."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="browser_test_")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.pages = {}
        for name, html in (("svg", SVG_PAGE), ("errors", ERROR_PAGE),
                           ("external", EXTERNAL_PAGE), ("broken", BROKEN_PAGE)):
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
        requests = page.requests()
        self.assertEqual(requests[0], self.pages["svg"])
        # Images delay the load event: the data: one is there.
        self.assertEqual(page.evaluate("document.images[0].naturalWidth"), 1)
        self.assertEqual([u for u in requests if not u.startswith(("file:", "data:"))], [])

        shot = os.path.join(self._tmp.name, "svg.png")
        self.assertEqual(page.screenshot(shot, full_page=True), shot)
        self.assertGreater(os.path.getsize(shot), 0)
        width, height = png_info(shot)
        self.assertEqual(width, 1280)
        self.assertGreater(height, 3000)  # the whole document, not the viewport
        view = os.path.join(self._tmp.name, "view.png")
        page.screenshot(view, full_page=False)
        self.assertEqual(png_info(view), (1280, 2000))

    def test_console_error_and_exception_reported(self):
        page = self.page
        page.open(self.pages["errors"])
        errors = page.console_errors()
        self.assertEqual(len(errors), 2, errors)
        self.assertRegex(errors[0], r"^console\.error: x \(file://.*errors\.html:3\)$")
        self.assertIn("uncaught exception", errors[1])
        self.assertIn("thrown on purpose", errors[1])
        self.assertEqual(page.evaluate("document.querySelector('p').textContent"), "after")
        # A new page starts with none.
        page.open(self.pages["svg"])
        self.assertEqual(page.console_errors(), [])

    def test_external_script_requested_and_fails(self):
        page = self.page
        page.open(self.pages["external"])
        self.assertIn("https://example.invalid/x.js", page.requests())
        errors = page.console_errors()
        self.assertTrue(any("example.invalid/x.js" in e for e in errors), errors)
        self.assertTrue(any("ERR_NAME_NOT_RESOLVED" in e for e in errors), errors)

    def test_evaluate(self):
        page = self.page
        page.open(self.pages["svg"])
        self.assertEqual(page.evaluate("({a: [1, 'b', null]})"), {"a": [1, "b", None]})
        self.assertEqual(page.evaluate("Promise.resolve(6 * 7)"), 42)
        self.assertIsNone(page.evaluate("undefined"))
        self.assertEqual(page.evaluate("NaN"), "NaN")
        with self.assertRaisesRegex(JavaScriptError, "ReferenceError: nothing_here"):
            page.evaluate("nothing_here()")
        with self.assertRaisesRegex(JavaScriptError, "nope"):
            page.evaluate("Promise.reject(new Error('nope'))")
        # A throwing evaluate is the caller's, not the page's, error.
        self.assertEqual(page.console_errors(), [])

    def test_errors_stay_with_their_page(self):
        # Each page's errors, all of them and only them, whatever was loaded
        # before it in the same browser. A failed navigation followed by
        # another one is the case that used to leak: chromium replayed the
        # "Failed to load resource" entry of the page before the failed one
        # into the next page (now and then: several rounds).
        page = self.page
        missing = "file://" + os.path.join(self._tmp.name, "missing.html")
        pages_before = None
        for _ in range(8):
            for name in ("external", "missing", "svg", "broken", "missing",
                         "svg", "errors", "missing", "broken", "svg"):
                if name == "missing":
                    with self.assertRaisesRegex(BrowserError, "ERR_FILE_NOT_FOUND"):
                        page.open(missing)
                    continue
                page.open(self.pages[name])
                errors = page.console_errors()
                if name == "svg":
                    self.assertEqual(errors, [], "errors of an earlier page")
                    self.assertEqual(page.requests()[0], self.pages["svg"])
                elif name == "external":
                    self.assertEqual(len(errors), 1, errors)
                    self.assertIn("ERR_NAME_NOT_RESOLVED", errors[0])
                    self.assertIn("https://example.invalid/x.js", errors[0])
                elif name == "errors":
                    self.assertEqual(len(errors), 2, errors)
                    self.assertIn("console.error: x", errors[0])
                    self.assertIn("thrown on purpose", errors[1])
                else:  # broken: both of its errors, in either order
                    self.assertEqual(len(errors), 2, errors)
                    self.assertTrue(any("ReferenceError: no_such_function" in e
                                        for e in errors), errors)
                    self.assertTrue(any("ERR_FILE_NOT_FOUND" in e and "missing-image.png" in e
                                        for e in errors), errors)
                    self.assertEqual(page.requests()[1:],
                                     [self.pages["broken"].rsplit("/", 1)[0]
                                      + "/missing-image.png"])
            # Each open() closes the page before it: no tabs pile up.
            targets = page.send("Target.getTargets", session=False)["targetInfos"]
            pages_now = len([t for t in targets if t["type"] == "page"])
            if pages_before is None:
                pages_before = pages_now
            self.assertEqual(pages_now, pages_before, targets)

    def test_missing_file_fails_to_open(self):
        missing = os.path.join(self._tmp.name, "missing.html")
        with self.assertRaisesRegex(BrowserError, "ERR_FILE_NOT_FOUND"):
            self.page.open("file://" + missing)


class LifetimeTest(unittest.TestCase):
    """Each test its own browser."""

    def assertAllGone(self, pgid, tmp_dir):
        self.assertEqual(processes_of(pgid, tmp_dir), [])
        self.assertFalse(os.path.exists(tmp_dir))

    def test_close_leaves_no_processes(self):
        with HeadlessPage(timeout=15) as page:
            pid, tmp_dir = page.pid, page.tmp_dir
            page.open("data:text/html,<p>hi</p>")
            # Renderer, GPU, network service, zygotes and crash handlers.
            self.assertGreater(len(processes_of(pid, tmp_dir)), 3)
        self.assertIsNone(page.pid)
        self.assertAllGone(pid, tmp_dir)

    def test_timeout_and_browser_exit_raise(self):
        with HeadlessPage(timeout=15) as page:
            pid, tmp_dir = page.pid, page.tmp_dir
            with self.assertRaisesRegex(BrowserError, r"(?s)timed out after 0\.5 s.*"
                                        r"Runtime\.evaluate.*chromium stderr"):
                page.evaluate("new Promise(() => {})", timeout=0.5)
            os.kill(pid, signal.SIGKILL)
            with self.assertRaisesRegex(
                    BrowserError, r"(?s)chromium exited \(killed by signal 9\).*chromium stderr"):
                page.evaluate("1")
        self.assertAllGone(pid, tmp_dir)

    def test_chromium_that_exits_at_start(self):
        with self.assertRaisesRegex(BrowserError, r"chromium exited \(exit status 1\)"):
            with HeadlessPage(chromium="/bin/false"):
                pass

    def test_missing_chromium(self):
        with self.assertRaisesRegex(BrowserError, "not found"):
            with HeadlessPage(chromium="/nonexistent/chromium"):
                pass


if __name__ == "__main__":
    unittest.main()
