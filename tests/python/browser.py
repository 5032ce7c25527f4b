"""Headless Chromium driven over the DevTools protocol, Python stdlib only.

For tests of generated HTML (the selection report): load a page, collect what
went wrong in it (console errors, uncaught exceptions, failed loads), list
what it requested, evaluate JavaScript in it, and take a screenshot.

    with HeadlessPage() as page:
        page.open("file:///path/report.html")
        assert page.console_errors() == []
        assert all(u.startswith(("file:", "data:")) for u in page.requests())
        n = page.evaluate("document.querySelectorAll('svg circle').length")
        page.screenshot("/tmp/report.png", full_page=True)

The browser is Debian's `chromium`, started with --remote-debugging-pipe:
protocol messages are JSON texts, each ended by a NUL byte; chromium reads
them on its fd 3 and writes on its fd 4. Each open() creates a page target
of its own, attaches to it with flatten=True (every page command carries
that session's id) and closes the previous page's target; events are taken
only from the current session. Name resolution is mapped to nothing
(--host-resolver-rules), so a page that fetches anything from the network
gets an error, which console_errors() reports.

Why a fresh target per page, and not one tab navigated from page to page:
chromium replays console messages it keeps for a page (Log.entryAdded, with
the original timestamp and request id) when a frame's DevTools agents are
set up again. After a navigation that failed (its chrome-error:// page is
committed in a process of its own) the next navigation of the same tab got,
now and then, the "Failed to load resource" entry of the page before the
failed one: it arrives after that navigation has started, so no flush or
clearing before it can tell it from the new page's own errors. A new target
has nothing stored to replay, and whatever an old target still sends
carries its old session id, which is ignored.

Every wait (startup, command replies, page load) has a timeout and fails
with BrowserError, whose text ends with the tail of chromium's stderr; a
chromium that exits fails the wait at once. On exit the browser is asked to
close (Browser.close, a few seconds at most), then its whole process group
and its crash handlers are killed (SIGKILL) and reaped, whether or not it
closed: no chromium process, zombie or temporary file is left.
"""

import base64
import ctypes
import fcntl
import json
import math
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# A test runs offline and as root in a container: no sandbox (needs user
# namespaces or setuid), no GPU, nothing that phones home, no first-run UI.
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--password-store=basic",
    "--mute-audio",
    "--hide-scrollbars",
    "--renderer-process-limit=1",
)

_STDERR_TAIL = 3000
_CLOSE_TIMEOUT = 5.0  # for Browser.close, before the kill


# Chromium's helper processes (zygotes, renderer, GPU, network service) can
# outlive the browser process by a moment; orphans go to the nearest
# "child subreaper", else to pid 1, which in a container is often no init and
# never reaps them (zombies). While a HeadlessPage is open this process is a
# child subreaper (prctl), so that close() can reap chromium's whole process
# group itself. Orphans of other children of this process also come here
# meanwhile; they would otherwise have gone to pid 1.
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_subreaper_lock = threading.Lock()
_subreaper_users = 0
_subreaper_was_set = False


def _prctl(*args):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(*args) == 0
    except (OSError, AttributeError):
        return False


def _acquire_subreaper():
    global _subreaper_users, _subreaper_was_set
    with _subreaper_lock:
        if _subreaper_users == 0:
            flag = ctypes.c_int(0)
            _prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
            _subreaper_was_set = bool(flag.value)
            if not _subreaper_was_set:
                _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        _subreaper_users += 1


def _release_subreaper():
    global _subreaper_users
    with _subreaper_lock:
        _subreaper_users -= 1
        if _subreaper_users == 0 and not _subreaper_was_set:
            _prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


class BrowserError(RuntimeError):
    """Chromium failed, exited, timed out or answered a command with an error."""


class _CommandError(BrowserError):
    """Chromium answered a command with an error (the browser is fine)."""


class JavaScriptError(RuntimeError):
    """An expression given to HeadlessPage.evaluate threw."""


class HeadlessPage:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, chromium=DEFAULT_CHROMIUM, width=1280, height=2000,
                 timeout=30.0, extra_args=()):
        self.chromium = chromium
        self.width = int(width)
        self.height = int(height)
        self.timeout = float(timeout)
        self.extra_args = tuple(extra_args)
        self._proc = None
        self._tmp = None
        self._stderr = None
        self._to_browser = None    # we write, chromium reads on its fd 3
        self._from_browser = None  # chromium writes on its fd 4, we read
        self._buf = b""
        self._next_id = 0
        self._replies = {}
        self._target = None        # the current page's target id
        self._session = None       # and the session attached to it
        self._lifecycle = []       # (frameId, loaderId, name) of the page
        self._errors = []
        self._requests = []
        self._outsiders = set()    # chromium's processes outside its group

    # -- lifetime -----------------------------------------------------------

    def __enter__(self):
        try:
            self._launch()
            self._attach()
            # Started before the browser answers: see _shutdown.
            self._outsiders = set(_processes_naming(self._tmp, self._proc.pid))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _launch(self):
        if not (os.path.isfile(self.chromium) and os.access(self.chromium, os.X_OK)):
            raise BrowserError("chromium not found or not executable: %s "
                               "(Debian package chromium)" % self.chromium)
        self._tmp = tempfile.mkdtemp(prefix="headless_chromium_")
        self._stderr = open(os.path.join(self._tmp, "stderr.log"), "w+b")
        # Both pipe ends that go to the child are moved to fds >= 5 so that
        # putting them on 3 and 4 in the child cannot overwrite one another.
        # Ours are non-blocking; all of them close-on-exec.
        r_in, w_in = os.pipe()    # chromium's fd 3
        r_out, w_out = os.pipe()  # chromium's fd 4
        child_in = fcntl.fcntl(r_in, fcntl.F_DUPFD_CLOEXEC, 5)
        child_out = fcntl.fcntl(w_out, fcntl.F_DUPFD_CLOEXEC, 5)
        os.close(r_in)
        os.close(w_out)
        self._to_browser, self._from_browser = w_in, r_out
        os.set_blocking(w_in, False)
        os.set_blocking(r_out, False)

        def child_fds():
            # In the child, after fork, before exec: dup2 clears
            # close-on-exec, so 3 and 4 survive the exec, with 0-2 and
            # whatever this process made inheritable (Python's own fds are
            # not, PEP 446). pass_fds cannot name 3 and 4: subprocess checks
            # them in the parent, where they may be closed or other files,
            # and would close them after this function.
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = [self.chromium, *_FLAGS,
                "--user-data-dir=" + os.path.join(self._tmp, "profile"),
                "--window-size=%d,%d" % (self.width, self.height),
                *self.extra_args, "about:blank"]
        env = dict(os.environ, HOME=self._tmp)  # no ~/.config, ~/.pki writes
        _acquire_subreaper()
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=self._stderr,
                stderr=self._stderr, close_fds=False, preexec_fn=child_fds,
                start_new_session=True, env=env)
        except BaseException:
            _release_subreaper()
            raise
        finally:
            os.close(child_in)
            os.close(child_out)

    def close(self):
        """Closes the browser (politely, then SIGKILL to its process group),
        reaps it and removes the profile. Safe to call more than once."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                try:
                    self._shutdown(proc)
                finally:
                    _release_subreaper()
        finally:
            for fd in (self._to_browser, self._from_browser):
                if fd is not None:
                    os.close(fd)
            self._to_browser = self._from_browser = None
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

    def _shutdown(self, proc):
        # Chromium's crash handlers (chrome_crashpad_handler) double-fork out
        # of its process group and session; they stop by themselves once the
        # browser is gone. They are found by their command line, which names
        # this page's temporary directory (their --database is under HOME),
        # and are children of this process (subreaper) by now.
        outsiders = self._outsiders | set(_processes_naming(self._tmp, proc.pid))
        pidfd = None
        try:
            pidfd = os.pidfd_open(proc.pid)
        except OSError:
            pass
        try:
            if proc.poll() is None and self._to_browser is not None:
                try:
                    self._write({"id": self._new_id(), "method": "Browser.close"},
                                time.monotonic() + 2)
                except (BrowserError, OSError):
                    pass
                # Wait for the exit without reaping, so that the pid, and
                # with it the process group id, cannot be reused before the
                # group is killed below.
                if pidfd is not None:
                    select.select([pidfd], [], [], _CLOSE_TIMEOUT)
                else:
                    try:
                        proc.wait(_CLOSE_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        pass
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()  # killed: no timeout needed
            if pidfd is not None:
                os.close(pidfd)
            # The rest of the group, killed too: each is a child of this
            # process by now (subreaper) or the child of one that is.
            while True:
                try:
                    os.waitpid(-proc.pid, 0)
                except ChildProcessError:
                    break
                except InterruptedError:
                    continue
            me = os.getpid()
            for pid in sorted(outsiders):
                stat = _stat(pid)
                if stat is None:
                    continue
                if stat[0] == me:  # our child: its pid is ours until reaped
                    try:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                    except (ProcessLookupError, ChildProcessError):
                        pass
                elif pid in _processes_naming(self._tmp, None, [pid]):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    @property
    def pid(self):
        """The browser's pid (also its process group id), or None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def tmp_dir(self):
        """The temporary directory (profile, HOME, stderr log) while open;
        every chromium process names it on its command line."""
        return self._tmp

    # -- the page -----------------------------------------------------------

    def _attach(self):
        """Switches to a new page target (about:blank), with the domains
        enabled and nothing collected, then closes the previous one. Events
        of the previous target, late ones and replays included, carry its
        session id from then on and are ignored."""
        old = self._target
        target = self.send("Target.createTarget", {"url": "about:blank"},
                           session=False)["targetId"]
        try:
            session = self.send("Target.attachToTarget",
                                {"targetId": target, "flatten": True},
                                session=False)["sessionId"]
        except BaseException:
            try:
                self._close_target(target)
            except BrowserError:
                pass  # the first error is the one to report
            raise
        self._target, self._session = target, session
        self._errors = []
        self._requests = []
        self._lifecycle = []
        self.send("Page.enable")
        self.send("Page.setLifecycleEventsEnabled", {"enabled": True})
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Network.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height,
                   "deviceScaleFactor": 1, "mobile": False})
        if old is not None:
            self._close_target(old)

    def _close_target(self, target):
        try:
            self.send("Target.closeTarget", {"targetId": target}, session=False)
        except _CommandError:
            pass  # gone already (a page can close itself): nothing to close

    def open(self, url, timeout=None):
        """Loads url in a new page (the previous one is closed) and waits for
        its load event (all scripts, images and style sheets of the document
        done). console_errors() and requests() then report this page only."""
        self._attach()
        nav = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if nav.get("errorText"):
            raise BrowserError("navigation to %s failed: %s%s"
                               % (url, nav["errorText"], self._stderr_tail()))
        frame, loader = nav.get("frameId"), nav.get("loaderId")
        # Page.lifecycleEvent "load" is Page.loadEventFired with the frame and
        # loader ids, so that the load event of about:blank, the new
        # target's first document, cannot be taken for this one's.
        self._wait(lambda: any(f == frame and name == "load"
                               and (loader is None or l == loader)
                               for f, l, name in self._lifecycle),
                   timeout, "the load event of %s" % url)

    def console_errors(self):
        """What went wrong in the page since open(), as strings:
        console.error/console.assert calls, uncaught exceptions and error
        log entries (failed resource loads, CSP violations, ...)."""
        self._flush()
        return list(self._errors)

    def requests(self):
        """URLs the page requested since open(), in order (the document
        itself included)."""
        self._flush()
        return list(self._requests)

    def evaluate(self, expression, timeout=None):
        """The value of a JavaScript expression (promises awaited), as JSON
        gives it back; raises JavaScriptError if it throws."""
        r = self.send("Runtime.evaluate",
                      {"expression": expression, "returnByValue": True,
                       "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in r:
            raise JavaScriptError("%s: %s" % (expression,
                                              _exception_text(r["exceptionDetails"])))
        result = r["result"]
        if "unserializableValue" in result:  # NaN, Infinity, -0, bigint
            return result["unserializableValue"]
        return result.get("value")

    def screenshot(self, path, full_page=True, timeout=None):
        """Writes a PNG of the viewport, or of the whole document with
        full_page; returns path."""
        params = {"format": "png", "fromSurface": True}
        if full_page:
            m = self.send("Page.getLayoutMetrics", timeout=timeout)
            size = m.get("cssContentSize") or m["contentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "scale": 1,
                              "width": max(1, math.ceil(size["width"])),
                              "height": max(1, math.ceil(size["height"]))}
        data = self.send("Page.captureScreenshot", params, timeout=timeout)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    # -- protocol -----------------------------------------------------------

    def send(self, method, params=None, session=True, timeout=None):
        """Sends a DevTools command (to the page's session unless session is
        False: then to the browser) and returns its result."""
        if self._proc is None:
            raise BrowserError("browser not running (use HeadlessPage as a "
                               "context manager)")
        msg_id = self._new_id()
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session and self._session is not None:
            msg["sessionId"] = self._session
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._write(msg, deadline)
        self._wait(lambda: msg_id in self._replies, timeout,
                   "the reply to %s" % method, deadline)
        reply = self._replies.pop(msg_id)
        if "error" in reply:
            raise _CommandError("%s failed: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def _flush(self):
        # A round trip through the page's renderer: the events it sent before
        # the reply (console messages, requests) have then been read.
        if self._session is not None:
            self.send("Runtime.evaluate", {"expression": "0"})

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def _write(self, msg, deadline):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._error("timed out sending %s" % msg.get("method"))
            _, writable, _ = select.select([], [self._to_browser], [], remaining)
            if writable:
                try:
                    data = data[os.write(self._to_browser, data):]
                except BrokenPipeError:
                    raise self._gone("sending %s" % msg.get("method"))

    def _wait(self, done, timeout, what, deadline=None):
        if deadline is None:
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._error("timed out after %.1f s waiting for %s"
                                  % (self.timeout if timeout is None else timeout, what))
            readable, _, _ = select.select([self._from_browser], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise self._gone("waiting for %s" % what)
            self._buf += chunk
            *messages, self._buf = self._buf.split(b"\0")
            for raw in messages:
                if raw:
                    self._dispatch(json.loads(raw))

    def _dispatch(self, msg):
        if "id" in msg:
            self._replies[msg["id"]] = msg
            return
        if msg.get("sessionId") != self._session or self._session is None:
            return
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Page.lifecycleEvent":
            self._lifecycle.append((p.get("frameId"), p.get("loaderId"), p.get("name")))
        elif method == "Network.requestWillBeSent":
            self._requests.append(p["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(_remote_text(a) for a in p.get("args", []))
            self._errors.append("console.%s: %s%s"
                                % (p["type"], text, _where(p.get("stackTrace"))))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self._errors.append("uncaught exception: %s%s"
                                % (_exception_text(d), _at(d.get("url"), d.get("lineNumber"))))
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            if e.get("level") == "error":
                self._errors.append("%s error: %s%s" % (e.get("source", "log"),
                                                       e.get("text", ""),
                                                       _at(e.get("url"), e.get("lineNumber"))))

    def _stderr_tail(self):
        if self._stderr is None:
            return ""
        try:
            self._stderr.flush()
            with open(self._stderr.name, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - _STDERR_TAIL))
                tail = f.read().decode("utf-8", "replace").strip()
        except OSError as e:
            tail = "(unreadable: %s)" % e
        return "\n--- chromium stderr (tail) ---\n" + (tail or "(empty)")

    def _gone(self, doing):
        # The pipe closed: chromium exits (or is gone already). Its status is
        # read without reaping it; close() kills its group, then reaps.
        code = _exit_status(self._proc, 1.0)
        if code is None:
            return self._error("chromium closed the DevTools pipe while " + doing)
        how = ("killed by signal %d" % -code if code < 0 else "exit status %d" % code)
        return self._error("chromium exited (%s) while %s" % (how, doing))

    def _error(self, text):
        return BrowserError(text + self._stderr_tail())


def _exit_status(proc, timeout):
    """proc's exit status (-signal if killed) once it exits, within timeout,
    without reaping it; None if it runs on."""
    if proc.returncode is not None:
        return proc.returncode
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:
        pidfd = None
    if pidfd is not None:
        try:
            select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
    except ChildProcessError:
        return proc.returncode
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _stat(pid):
    """(ppid, pgrp) of a process, zombies included; None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def _processes_naming(text, not_in_group, pids=None):
    """Pids of live processes, outside process group not_in_group, whose
    command line contains text."""
    key = os.fsencode(text)
    if pids is None:
        try:
            pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
        except OSError:
            return []
    found = []
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if key not in f.read():
                    continue
        except OSError:
            continue
        stat = _stat(pid)
        if stat is not None and stat[1] != not_in_group:
            found.append(pid)
    return found


def _remote_text(obj):
    if obj.get("type") == "string":
        return obj.get("value", "")
    if "value" in obj:
        return json.dumps(obj["value"])
    return obj.get("unserializableValue") or obj.get("description") or obj.get("type", "?")


def _exception_text(details):
    exc = details.get("exception") or {}
    desc = exc.get("description") or exc.get("value")
    if desc is None:
        return details.get("text", "exception")
    first = str(desc).splitlines()[0] if str(desc) else ""
    text = details.get("text", "")
    return ("%s %s" % (text, first)).strip() if text != first else first


def _at(url, line):
    if not url:
        return ""
    return " (%s:%d)" % (url, line + 1) if isinstance(line, int) else " (%s)" % url


def _where(stack):
    frames = (stack or {}).get("callFrames") or []
    if not frames:
        return ""
    return _at(frames[0].get("url"), frames[0].get("lineNumber"))
