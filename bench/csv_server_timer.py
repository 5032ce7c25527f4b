"""csv_bench.py's server starts: datapool-server timed from exec to its pool
being listed by ListPools, with its peak RSS and CPU seconds."""

import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import log

STARTUP_TIMEOUT_S = 600
LISTENING_RE = re.compile(
    r"datapool-server: listening on (127\.0\.0\.1:[0-9]{1,5})\s*$", re.M)


def cpu_seconds(pid):
    """utime + stime of a running process, from /proc/PID/stat."""
    try:
        return benchlib.proc_cpu_s(pid)
    except (OSError, IndexError, ValueError):
        return -1.0


def peak_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class ServerTimer:
    def __init__(self, args):
        import grpc  # noqa: F401  (loaded before any clock starts)
        del grpc
        benchlib.use_test_helpers()
        from datapool_testlib import load_stubs
        self.pb2, self.pb2_grpc = load_stubs()
        self.args = args
        self.input_dir = Path(args.workdir) / "input"
        self.input_dir.mkdir(parents=True, exist_ok=True)

    def start(self, shared, model_none=True, expect=None):
        """One start: seconds from exec to the listening line and to the
        pool (name, rows) being listed; the server's peak RSS and CPU.

        Its own launcher rather than tests/python/server_harness.py, whose
        flags follow the server at HEAD: the script must also start older
        builds (a 'before' run)."""
        cmd = [self.args.server_bin, "--shared-dir", str(shared),
               "--input-dir", str(self.input_dir),
               "--listen", "127.0.0.1:0"]
        if model_none:
            cmd += ["--model", "none"]
        with tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=err)
            try:
                address = self._wait_listening(proc, t0)
                t_listen = time.perf_counter() - t0
                self._wait_listed(address, expect, t0)
                t_listed = time.perf_counter() - t0
                rss = peak_rss_kib(proc.pid)
                cpu = cpu_seconds(proc.pid)
                proc.send_signal(signal.SIGTERM)
                rc = proc.wait(timeout=60)
                if rc != 0:
                    raise RuntimeError("exit status %d after SIGTERM" % rc)
            except BaseException as e:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                err.seek(0)
                raise SystemExit("server start failed: %s\n%s\n%s" % (
                    e, " ".join(cmd),
                    err.read()[-4000:].decode("utf-8", "replace")))
            finally:
                proc.stdout.close()
        return dict(listen_s=t_listen, listed_s=t_listed, peak_rss_kib=rss,
                    cpu_s=cpu)

    def _wait_listed(self, address, expect, t0):
        """Until ListPools lists the pool expect = (name, rows) (None: the
        first answer)."""
        import grpc
        with grpc.insecure_channel(address) as channel:
            stub = self.pb2_grpc.DatapoolStub(channel)
            while True:
                pools = stub.ListPools(self.pb2.ListPoolsRequest(),
                                       timeout=60).pools
                listed = {p.name: p.size for p in pools}
                if (expect is None
                        or listed.get(expect[0]) == expect[1]):
                    break
                if time.perf_counter() - t0 > STARTUP_TIMEOUT_S:
                    raise RuntimeError("pool %r never listed: %r"
                                       % (expect, listed))
                time.sleep(0.01)

    @staticmethod
    def _wait_listening(proc, t0):
        """HOST:PORT from the line 'datapool-server: listening on HOST:PORT'
        on the child's stdout (the rest of stdout is not read: the server
        prints nothing more there)."""
        fd = proc.stdout.fileno()
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                left = STARTUP_TIMEOUT_S - (time.perf_counter() - t0)
                if left <= 0:
                    raise RuntimeError("no listening line within %d s"
                                       % STARTUP_TIMEOUT_S)
                if not sel.select(timeout=left):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError("server exited before listening")
                buf += chunk
                m = LISTENING_RE.search(buf.decode("utf-8", "replace"))
                if m:
                    return m.group(1)

    def series(self, shared, reps, model_none=True, expect=None, what=""):
        runs = []
        for _ in range(reps):
            runs.append(self.start(shared, model_none, expect))
        best = min(runs, key=lambda r: r["listed_s"])
        log("  %-46s %7.2f s (best of %d: %s)" % (
            what, best["listed_s"], reps,
            " ".join("%.2f" % r["listed_s"] for r in runs)))
        return dict(best=best, runs=runs)
