"""Starts the real datapool server binary for end-to-end tests.

    with RunningServer(shared_dir, input_dir) as server:
        channel = grpc.insecure_channel(server.address)
        ...

The server is started with `--listen 127.0.0.1:0`; the harness learns the
port from the line `datapool-server: listening on 127.0.0.1:<port>` on the
child's stdout (no sleeps: it waits on the pipe with `selectors`, 30 s at
most). Afterwards a thread keeps draining stdout into `.output_lines` so that
the child never blocks on a full pipe. stderr (the server's log) goes to a
temporary file; `describe()` puts both into failure messages.

On exit the server gets SIGTERM and must exit with status 0 within 30 s; if
it does not, it is killed and the harness raises AssertionError (chained to
any exception raised in the `with` body).

Binaries: env DATAPOOL_SERVER_BIN (server), DATAPOOL_CLI_BIN (CLI). When one
is unset, `require_binary` raises unittest.SkipTest, or fails when
DATAPOOL_REQUIRE_BINARIES=1.
"""

import os
import re
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 30.0

LISTENING_RE = re.compile(
    r"datapool-server: listening on (127\.0\.0\.1:([0-9]{1,5}))\s*$")


def free_ports(n):
    """n loopback ports free right now (the servers bind them next)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def require_binary(env_name):
    """Path of the binary named by env `env_name`, or SkipTest."""
    path = os.environ.get(env_name, "")
    if not path:
        msg = "%s is not set" % env_name
        if os.environ.get("DATAPOOL_REQUIRE_BINARIES") == "1":
            raise AssertionError(msg + " (DATAPOOL_REQUIRE_BINARIES=1)")
        raise unittest.SkipTest(msg)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError("%s=%r is not an executable file"
                             % (env_name, path))
    return path


def server_binary():
    return require_binary("DATAPOOL_SERVER_BIN")


def cli_binary():
    return require_binary("DATAPOOL_CLI_BIN")


def _tail(text, limit=20000):
    return text if len(text) <= limit else "...\n" + text[-limit:]


class RunningServer:
    """Context manager running the server binary on a free loopback port.

    Attributes once entered: `address` ("127.0.0.1:PORT"), `port` (int),
    `proc` (subprocess.Popen), `output_lines` (stdout lines so far, without
    newlines; read under `lock` or copy via `stdout_lines()`), `args`.
    """

    def __init__(self, shared_dir, input_dir, extra_args=(), binary=None,
                 startup_timeout=STARTUP_TIMEOUT_S,
                 shutdown_timeout=SHUTDOWN_TIMEOUT_S, env=None, wrapper=()):
        self.binary = binary or server_binary()
        # `wrapper`: a command that execs the rest of its arguments (the
        # server keeps the child's pid), e.g. unshare.
        self.args = [str(a) for a in wrapper] + [self.binary,
                     "--shared-dir", str(shared_dir),
                     "--input-dir", str(input_dir),
                     "--listen", "127.0.0.1:0",
                     # Tests run in parallel: no fixed metrics port.
                     "--metrics-listen", "127.0.0.1:0"] + [
                         str(a) for a in extra_args]
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.env = env
        self.proc = None
        self.address = None
        self.port = None
        self.output_lines = []
        self.lock = threading.Lock()
        self._stderr = None
        self._drain = None
        self._stopped = False

    # -- diagnostics -------------------------------------------------------
    def stdout_lines(self):
        with self.lock:
            return list(self.output_lines)

    def stderr_text(self):
        if self._stderr is None or self._stderr.closed:
            return getattr(self, "_stderr_final", "")
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")

    def describe(self):
        rc = None if self.proc is None else self.proc.poll()
        return ("server command: %s\nexit status: %s\n"
                "--- server stdout ---\n%s\n--- server stderr ---\n%s"
                % (" ".join(self.args), rc,
                   _tail("\n".join(self.stdout_lines())),
                   _tail(self.stderr_text())))

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self):
        self._stderr = tempfile.TemporaryFile(prefix="datapool-server-stderr-")
        try:
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=self._stderr, env=self.env)
        except OSError:
            self._stderr.close()
            raise
        try:
            leftover = self._wait_for_listening()
        except BaseException as e:
            self._kill()
            self._finish_drain()
            msg = self.describe()
            self._close_stderr()
            if not isinstance(e, Exception):
                raise
            raise AssertionError("server did not start: %s\n%s"
                                 % (e, msg)) from e
        self._drain = threading.Thread(target=self._drain_loop,
                                       args=(leftover,), daemon=True,
                                       name="datapool-server-stdout")
        self._drain.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def _add_line(self, raw):
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        with self.lock:
            self.output_lines.append(line)
        return line

    def _wait_for_listening(self):
        """Reads stdout until the listening line; returns unconsumed bytes."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "no 'datapool-server: listening on 127.0.0.1:<port>' "
                        "line on stdout within %.0f s" % self.startup_timeout)
                if not sel.select(timeout=remaining):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    if buf:
                        self._add_line(buf)
                    raise AssertionError(
                        "server closed stdout (exited?) before printing the "
                        "listening line")
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    m = LISTENING_RE.search(self._add_line(raw))
                    if m:
                        self.address = m.group(1)
                        self.port = int(m.group(2))
                        if not 0 < self.port < 65536:
                            raise AssertionError("bad port in %r" % raw)
                        return buf

    def _drain_loop(self, buf):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                self._add_line(raw)
        if buf:
            self._add_line(buf)

    def _finish_drain(self):
        if self._drain is not None:
            self._drain.join(timeout=self.shutdown_timeout)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _close_stderr(self):
        if self._stderr is not None and not self._stderr.closed:
            self._stderr_final = self.stderr_text()
            self._stderr.close()

    def crash(self):
        """SIGKILL, as a crash or a power cut would stop it; waits for the
        process to be gone. stop() is then a no-op."""
        if self._stopped or self.proc is None:
            return
        self._stopped = True
        self._kill()
        self._finish_drain()
        self._close_stderr()

    def stop(self):
        """SIGTERM; asserts exit status 0 within shutdown_timeout."""
        if self._stopped or self.proc is None:
            return
        self._stopped = True
        problem = None
        try:
            rc = self.proc.poll()
            if rc is not None:
                problem = "server exited on its own (status %d) before the " \
                          "test asked it to stop" % rc
            else:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout=self.shutdown_timeout)
                except subprocess.TimeoutExpired:
                    self._kill()
                    problem = ("server did not exit within %.0f s of SIGTERM; "
                               "killed" % self.shutdown_timeout)
                else:
                    if rc != 0:
                        problem = ("server exited with status %d after "
                                   "SIGTERM, expected 0" % rc)
        finally:
            self._kill()
            self._finish_drain()
            if problem is not None:
                msg = problem + "\n" + self.describe()
            self._close_stderr()
        if problem is not None:
            raise AssertionError(msg)


def health_check(channel, service="", timeout=10):
    """Calls grpc.health.v1.Health/Check without generated stubs.

    Returns the ServingStatus number (1 = SERVING); raises grpc.RpcError.
    The request is `HealthCheckRequest{service}` and the response
    `HealthCheckResponse{status}` (field 1 of each), encoded by hand.
    """
    data = service.encode("utf-8")
    if data:
        request = b"\x0a" + _varint(len(data)) + data
    else:
        request = b""
    call = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b)
    response = call(request, timeout=timeout)
    return _parse_health_response(response)


HEALTH_STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING",
                       3: "SERVICE_UNKNOWN"}


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def _parse_health_response(data):
    status = 0
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if field == 1:
                status = value
        elif wire == 2:
            n, pos = _read_varint(data, pos)
            pos += n
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError("unexpected wire type %d in health response"
                             % wire)
    return status
