"""soak.py's server side: the server's lives (started, killed with SIGKILL,
stopped with SIGTERM, restarted on the same shared folder) and a sampler of
its RSS, open fds and threads and of the shared folder's size."""

import os
import threading
import time

import benchlib

benchlib.use_test_helpers()
from server_harness import RunningServer  # noqa: E402

RESTART_TRIES = 3
# Columns of a ServerLife sample (after its time).
SAMPLE_COLUMNS = (("rss_mib", 1), ("fds", 2), ("threads", 3),
                  ("rss_anon_mib", 4), ("rss_file_mib", 5))


def log(msg):
    benchlib.log("soak: " + msg)


# -- /proc -------------------------------------------------------------------

def proc_sample(pid):
    """(RSS, open fds, threads, RssAnon, RssFile) of a live process, or
    None; memory in MiB. RssFile is the touched pages of mapped files (the
    binary, its libraries, mapped CSVs): the kernel can reclaim them;
    RssAnon is the heap and stacks."""
    v = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                    v[key] = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, ValueError):
        return None
    if "VmRSS" not in v:  # a zombie has no VmRSS
        return None
    return (v["VmRSS"] / 1024.0, fds, v.get("Threads"),
            v.get("RssAnon", 0) / 1024.0, v.get("RssFile", 0) / 1024.0)


def tree_bytes(root):
    """(apparent bytes, allocated bytes, files) under root, each inode once
    (history files are hard links of former latest files)."""
    seen = set()
    size = alloc = files = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # renamed or removed meanwhile
            files += 1
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            size += st.st_size
            alloc += st.st_blocks * 512
    return size, alloc, files


# -- the server's lives ------------------------------------------------------

class ServerLife:
    def __init__(self, index, role):
        self.index = index
        self.role = role          # "soak", "final"
        self.pid = None
        self.started = None       # monotonic, when listening
        self.start_s = None       # spawn to listening
        self.ended = None
        self.end = None           # "SIGKILL", "SIGTERM", "SIGTERM failed: ..."
        # (monotonic, RSS MiB, fds, threads, RssAnon MiB, RssFile MiB)
        self.samples = []
        self.log_lines = 0
        self.log_head = []

    def summary(self, t0):
        out = {"life": self.index, "role": self.role, "pid": self.pid,
               "start_s": round(self.start_s, 3) if self.start_s else None,
               "up_s": (round(self.ended - self.started, 1)
                        if self.ended and self.started else None),
               "began_at_s": (round(self.started - t0, 1)
                              if self.started else None),
               "end": self.end, "samples": len(self.samples),
               "server_log_lines": self.log_lines,
               "server_log_head": self.log_head}
        if self.samples:
            for key, col in SAMPLE_COLUMNS:
                vals = [s[col] for s in self.samples]
                out[key] = {"start": vals[0], "max": max(vals),
                            "end": vals[-1]}
            # [s since the soak began, RSS, RssAnon, fds, threads]
            out["series"] = [[round(s[0] - t0, 1), round(s[1], 1),
                              round(s[4], 1), s[2], s[3]]
                             for s in self.samples]
        return out


class Supervisor:
    """Starts, kills and restarts the server; publishes its address."""

    def __init__(self, server_bin, shared, input_dir, log_level, env=None):
        self.server_bin = server_bin
        self.env = env
        self.shared = shared
        self.input_dir = input_dir
        self.log_level = log_level
        self.cond = threading.Condition()
        self.address = None
        self.generation = 0
        self.server = None
        self.life = None
        self.lives = []
        self.outages = []         # [start, end) monotonic, kill to listening
        self.start_failures = []  # messages

    def current(self):
        with self.cond:
            return self.address, self.generation

    def current_pid(self):
        with self.cond:
            return (self.life, self.life.pid) if self.server else (None, None)

    def start(self, role):
        """Starts a server (up to RESTART_TRIES times); False if none came up."""
        for attempt in range(RESTART_TRIES):
            life = ServerLife(len(self.lives), role)
            server = RunningServer(
                self.shared, self.input_dir, binary=self.server_bin,
                extra_args=["--model", "none", "--log-level", self.log_level],
                env=self.env)
            t = time.monotonic()
            try:
                server.__enter__()
            except AssertionError as e:
                self.start_failures.append(str(e)[:4000])
                log("server start failed (try %d): %s"
                    % (attempt + 1, str(e).splitlines()[0]))
                continue
            life.started = time.monotonic()
            life.start_s = life.started - t
            life.pid = server.proc.pid
            with self.cond:
                self.server, self.life = server, life
                self.lives.append(life)
                self.address = server.address
                self.generation += 1
                self.cond.notify_all()
            return True
        return False

    def _detach(self):
        with self.cond:
            server, life = self.server, self.life
            self.server = None
        return server, life

    def _note_log(self, server, life):
        # Past the startup lines ("datapool-server: ..."), what a server run
        # at --log-level warning writes is warnings and errors.
        lines = [l for l in server.stderr_text().splitlines()
                 if l.strip() and not l.startswith("datapool-server: ")]
        life.log_lines = len(lines)
        life.log_head = [l[:300] for l in lines[:5]]

    def kill9(self):
        server, life = self._detach()
        if server is None:
            return None
        t = time.monotonic()
        server.crash()
        life.ended, life.end = t, "SIGKILL"
        self._note_log(server, life)
        return t

    def stop(self):
        """SIGTERM; the harness checks exit status 0."""
        server, life = self._detach()
        if server is None:
            return
        life.ended = time.monotonic()
        try:
            server.stop()
            life.end = "SIGTERM, exit 0"
        except AssertionError as e:
            life.end = "SIGTERM failed: " + str(e).splitlines()[0]
        self._note_log(server, life)


class Sampler(threading.Thread):
    """Every second: the server's RSS, fds, threads; every disk_every s the
    shared folder's size. Stops a run whose disk use passes the limit."""

    def __init__(self, sup, shared, disk_every, max_disk_bytes, min_free,
                 stop_clients):
        super().__init__(daemon=True, name="soak-sampler")
        self.sup = sup
        self.shared = shared
        self.disk_every = disk_every
        self.max_disk_bytes = max_disk_bytes
        self.min_free = min_free
        self.stop_clients = stop_clients
        self.done = threading.Event()
        self.disk = []            # (monotonic, apparent bytes, allocated)
        self.disk_stop = None

    def run(self):
        next_disk = time.monotonic()
        while not self.done.is_set():
            life, pid = self.sup.current_pid()
            if pid is not None:
                s = proc_sample(pid)
                if s is not None and self.sup.current_pid()[1] == pid:
                    life.samples.append((time.monotonic(),) + s)
            now = time.monotonic()
            if now >= next_disk:
                next_disk = now + self.disk_every
                size, alloc, _ = tree_bytes(self.shared)
                self.disk.append((now, size, alloc))
                st = os.statvfs(self.shared)
                free = st.f_bavail * st.f_frsize
                if self.disk_stop is None and (size > self.max_disk_bytes or
                                               free < self.min_free):
                    self.disk_stop = ("shared folder %.0f MB (limit %.0f), "
                                      "%.1f GB free (floor %.1f)"
                                      % (size / 1e6, self.max_disk_bytes / 1e6,
                                         free / 1e9, self.min_free / 1e9))
                    log("stopping early: " + self.disk_stop)
                    self.stop_clients.set()
            self.done.wait(1.0)
