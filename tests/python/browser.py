"""Headless Chromium for tests of generated HTML (the selection report),
driven by Debian's python3-selenium through chromium-driver.

    with HeadlessPage() as page:
        page.open("file:///path/report.html")
        assert page.console_errors() == []
        assert page.requests() == ["file:///path/report.html"]
        n = page.evaluate("document.querySelectorAll('svg circle').length")
        page.screenshot("/tmp/report.png", full_page=True)

console_errors() is chromedriver's "browser" log at level SEVERE: console.error
and console.assert, uncaught exceptions, failed loads, CSP violations.
requests() is every Network.requestWillBeSent of chromedriver's "performance"
log (CDP events): the page itself, then whatever it fetched, data: URLs
included. Name resolution is mapped to nothing (--host-resolver-rules), so a
page that fetches from the network gets an error as well, and nothing leaves
the machine.

Each open() loads the page in a fresh tab and closes the tabs before it, then
empties both logs: a closed tab sends nothing more, a new one has nothing
to replay, so each page gets its own errors only. In one tab navigated from
page to page they leak into the next page: what the old page logs while it
is left (beforeunload), every time, and, now and then after a failed
navigation, the "Failed to load resource" entry of the page before it,
which chromium replays; both arrive after the new load has started, so
reading or clearing the log before it cannot tell them apart. A fresh tab
costs about 0.2 s a page, a fresh browser (another way to the same end)
about 1 s.

close() quits chromium and chromedriver: no chromium process is alive after
it; its zygotes and crash handlers, orphans by then, are reaped by pid 1 like
any orphan (the old hand-written driver made itself their subreaper).

When chromium, chromium-driver or python3-selenium is missing, require()
(called by HeadlessPage) skips the test, or fails it under
DATAPOOL_REQUIRE_BINARIES=1 (ctest, CI).
"""

import base64
import json
import math
import os
import shutil
import sys
import tempfile
import unittest

try:
    from selenium import webdriver
    from selenium.common.exceptions import JavascriptException, WebDriverException
    from selenium.webdriver.chrome.service import Service
except ImportError as e:  # reported by require()
    webdriver = None
    _import_error = e

__all__ = ["BrowserError", "HeadlessPage", "JavascriptException", "WebDriverException",
           "require"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

_FLAGS = (
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-component-update",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


class BrowserError(RuntimeError):
    """A page could not be loaded."""


def require():
    """Skips the calling test (fails it under DATAPOOL_REQUIRE_BINARIES=1)
    when something the browser needs is missing."""
    if webdriver is None:
        missing = "python3-selenium (%s in %s)" % (_import_error, sys.executable)
    else:
        missing = ", ".join(p for p in (CHROMIUM, CHROMEDRIVER)
                            if not os.access(p, os.X_OK))
    if missing:
        msg = ("headless browser unavailable, missing: %s (Debian packages chromium, "
               "chromium-driver, python3-selenium; scripts/setup.sh installs them)" % missing)
        if os.environ.get("DATAPOOL_REQUIRE_BINARIES") == "1":
            raise AssertionError(msg + " (DATAPOOL_REQUIRE_BINARIES=1)")
        raise unittest.SkipTest(msg)


class HeadlessPage:
    """One headless Chromium showing one page at a time; use as a context
    manager. Not thread-safe."""

    def __init__(self, width=1280, height=2000, timeout=30.0):
        self.width, self.height = int(width), int(height)
        self.timeout = float(timeout)
        self.driver = None
        self.tmp_dir = None
        self._errors, self._requests, self._failed = [], [], {}

    def __enter__(self):
        require()
        self.tmp_dir = tempfile.mkdtemp(prefix="headless_chromium_")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in _FLAGS + ("--window-size=%d,%d" % (self.width, self.height),
                              "--user-data-dir=" + os.path.join(self.tmp_dir, "profile")):
            options.add_argument(flag)
        if os.geteuid() == 0:  # chromium runs as root only without its sandbox
            options.add_argument("--no-sandbox")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        service = Service(CHROMEDRIVER, env=dict(os.environ, HOME=self.tmp_dir))
        try:
            self.driver = webdriver.Chrome(service=service, options=options)
            self.driver.set_page_load_timeout(self.timeout)
            self.driver.set_script_timeout(self.timeout)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Quits chromium and chromedriver and removes the profile; safe to
        call more than once."""
        driver, self.driver = self.driver, None
        try:
            if driver is not None:
                # The session's end closes chromium; then selenium 4.8 would ask
                # chromedriver to shut down and poll its port once a second:
                # Service.stop's SIGTERM ends it at once instead.
                driver.service.send_remote_shutdown_command = lambda: None
                driver.quit()
        finally:
            if self.tmp_dir is not None:
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
                self.tmp_dir = None

    def open(self, url):
        """Loads url in a new tab (the ones before are closed) and waits for
        its load event; console_errors() and requests() then report this
        page only. Raises BrowserError if the page itself fails to load."""
        d = self.driver
        old = d.window_handles
        d.switch_to.new_window("tab")
        new = d.current_window_handle
        for handle in old:
            d.switch_to.window(handle)
            d.close()
        d.switch_to.window(new)
        d.get_log("browser")  # what the old tabs left: not this page's
        d.get_log("performance")
        self._errors, self._requests, self._failed = [], [], {}
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height,
            "deviceScaleFactor": 1, "mobile": False})
        d.get(url)
        self._read_logs()
        if self._requests and self._requests[0][0] in self._failed:
            raise BrowserError("loading %s failed: %s"
                               % (url, self._failed[self._requests[0][0]]))

    def _read_logs(self):
        for e in self.driver.get_log("browser"):
            if e["level"] == "SEVERE":
                self._errors.append("%s error: %s" % (e["source"], e["message"]))
        for e in self.driver.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m["method"] == "Network.requestWillBeSent":
                self._requests.append((m["params"]["requestId"], m["params"]["request"]["url"]))
            elif m["method"] == "Network.loadingFailed":
                self._failed[m["params"]["requestId"]] = m["params"]["errorText"]

    def console_errors(self):
        """What went wrong in the page since open(), as "SOURCE error: TEXT"
        strings (SOURCE: console-api, javascript, network, security, ...)."""
        self._read_logs()
        return list(self._errors)

    def requests(self):
        """URLs the page requested since open(), in order, itself first."""
        self._read_logs()
        return [url for _, url in self._requests]

    def evaluate(self, expression):
        """The value of a JavaScript expression (a promise is awaited);
        selenium's JavascriptException if it throws."""
        return self.driver.execute_script("return (%s);" % expression)

    def screenshot(self, path, full_page=True):
        """Writes a PNG of the viewport, or of the whole document; returns path."""
        params = {"format": "png"}
        if full_page:
            size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "scale": 1,
                              "width": max(1, math.ceil(size["width"])),
                              "height": max(1, math.ceil(size["height"]))}
        data = self.driver.execute_cdp_cmd("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path
