#!/usr/bin/python3
"""Soak: N clients against the real server for M minutes, kill -9 every T s.

The server runs with `--model none` on 127.0.0.1 (port 0) and a fresh
shared folder. N client threads send Select calls (random embeddings,
unique filenames `c{client}-{call}-{row}.jpg`, n_samples 5-20) into P pools,
and some reads (GetPool, ListPools, ListHistory, Search). Every T seconds
the server gets SIGKILL and is started again on the same shared folder
(a new port; the clients follow). At the end the last server gets SIGTERM,
a fresh one is started and checked, stopped with SIGTERM, and each pool's
datapool_latest.csv is read back.

Reported: calls and calls/s, errors by method and gRPC code (during the
outages and outside them), acknowledged picks (Select answers with
committed=true) and those missing from the CSVs (must be 0), the server's
RSS, open fds and threads per life (sampled every second), and disk: the
shared folder, each pool's history/ and reports/, versions and bytes per
version.

    /usr/bin/python3 bench/soak.py [--clients 8] [--minutes 2]
        [--kill-every 20] [--pools 4] [--rows 200] [--dim 64] [--seed 1]
        [--json-out FILE] [--workdir DIR] [--strict]

Binaries: env DATAPOOL_SERVER_BIN and DATAPOOL_CLI_BIN, else
build/datapool-server and build/datapool under the repository root (the CLI
is not used; it is only reported). Stubs: the Python SDK's generated
modules (client/python/datapool_client/_gen). Needs only Debian's
python3-grpcio, python3-protobuf and python3-numpy.
This is a benchmark, not a test: it is not part of ctest.
"""

import argparse
import collections
import csv
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no __pycache__ in tests/python
sys.path.insert(0, str(REPO / "tests" / "python"))
import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs  # noqa: E402
from server_harness import RunningServer  # noqa: E402

from machine_use import MachineUse  # noqa: E402

# Codes a client sees because the server is down or was killed mid-call.
OUTAGE_CODES = ("UNAVAILABLE", "CANCELLED", "DEADLINE_EXCEEDED", "UNKNOWN",
                "INTERNAL")
# Errors that fall this long after a restart still count as the outage's
# (clients reconnect to the new port).
OUTAGE_GRACE_S = 1.0
RESTART_TRIES = 3
# Columns of a ServerLife sample (after its time).
SAMPLE_COLUMNS = (("rss_mib", 1), ("fds", 2), ("threads", 3),
                  ("rss_anon_mib", 4), ("rss_file_mib", 5))


def log(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


def binary(env_name, default):
    path = os.environ.get(env_name) or str(REPO / default)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit("soak: %s is not an executable file (set %s or build first)"
                 % (path, env_name))
    return path


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


# -- accounting --------------------------------------------------------------

class Stats:
    """Every call's outcome; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.Counter()            # method -> calls
        self.errors = collections.Counter()        # (method, code) -> calls
        self.error_times = []                      # (monotonic, code)
        self.latency = collections.defaultdict(list)  # method -> ok seconds
        self.acked = collections.defaultdict(set)  # pool -> filenames
        self.acked_version = collections.Counter()  # pool -> highest version
        self.commits = 0
        self.ok_not_committed = 0
        self.sent_rows = 0

    def record_ok(self, method, seconds):
        with self.lock:
            self.ok[method] += 1
            if len(self.latency[method]) < 200000:
                self.latency[method].append(seconds)

    def record_error(self, method, code):
        with self.lock:
            self.errors[(method, code)] += 1
            self.error_times.append((time.monotonic(), code))

    def record_select(self, pool, response):
        with self.lock:
            if response.committed:
                self.commits += 1
                self.acked[pool].update(s.filename for s in response.selected)
                self.acked_version[pool] = max(self.acked_version[pool],
                                               response.version)
            else:
                self.ok_not_committed += 1


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


# -- clients -----------------------------------------------------------------

class Client(threading.Thread):
    """Calls the current server back to back until `stop` or its call cap."""

    def __init__(self, index, args, pb2, rpc, sup, stats, stop, max_calls):
        super().__init__(daemon=True, name="soak-client-%d" % index)
        self.index = index
        self.args = args
        self.pb2, self.rpc = pb2, rpc
        self.sup, self.stats, self.stop = sup, stats, stop
        self.max_calls = max_calls
        self.rng = np.random.default_rng([args.seed, index])
        self.pick = random.Random(args.seed * 1000003 + index)
        self.pools = ["soak-%d" % p for p in range(args.pools)]
        self.calls = 0

    def rows(self, n):
        x = self.rng.standard_normal((n, self.args.dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.ravel().tolist()

    def run(self):
        pb2 = self.pb2
        channel, generation, stub = None, -1, None
        deadline = self.args.deadline_s
        while not self.stop.is_set() and self.calls < self.max_calls:
            address, g = self.sup.current()
            if g != generation:
                if channel is not None:
                    channel.close()
                channel = grpc.insecure_channel(address)
                stub = self.rpc.DatapoolStub(channel)
                generation = g
            n = self.calls
            self.calls += 1
            pool = self.pick.choice(self.pools)
            method = "Select"
            if self.pick.random() < self.args.read_share:
                method = self.pick.choice(("GetPool", "ListPools",
                                           "ListHistory", "Search"))
            t = time.monotonic()
            try:
                if method == "Select":
                    names = ["c%d-%d-%d.jpg" % (self.index, n, i)
                             for i in range(self.args.rows)]
                    request = pb2.SelectRequest(
                        params=pb2.SelectionParams(
                            pool=pool, n_samples_count=self.pick.randint(
                                self.args.min_picks, self.args.max_picks)),
                        candidates=pb2.EmbeddingBlock(
                            dimension=self.args.dim, filenames=names,
                            values=self.rows(self.args.rows)))
                    response = stub.Select(request, timeout=deadline)
                    self.stats.record_select(pool, response)
                elif method == "GetPool":
                    stub.GetPool(pb2.GetPoolRequest(pool=pool),
                                 timeout=deadline)
                elif method == "ListPools":
                    stub.ListPools(pb2.ListPoolsRequest(), timeout=deadline)
                elif method == "ListHistory":
                    stub.ListHistory(pb2.ListHistoryRequest(pool=pool),
                                     timeout=deadline)
                else:
                    q = 4
                    request = pb2.SearchRequest(
                        pool=pool, k=5, queries=pb2.EmbeddingBlock(
                            dimension=self.args.dim,
                            filenames=["q%d.jpg" % i for i in range(q)],
                            values=self.rows(q)))
                    stub.Search(iter([request]), timeout=deadline)
            except grpc.RpcError as e:
                code = e.code().name if e.code() is not None else "NONE"
                self.stats.record_error(method, code)
                # The server may be down: do not spin on a dead address.
                self.stop.wait(0.1)
                continue
            except Exception as e:  # a bug here must not hang the soak
                self.stats.record_error(method, "CLIENT_" + type(e).__name__)
                self.stop.wait(0.1)
                continue
            self.stats.record_ok(method, time.monotonic() - t)
        if channel is not None:
            channel.close()


# -- the end: durability and disk --------------------------------------------

def read_csv_names(path):
    """Filenames (first column) of a datapool_latest.csv, in order."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "filenames":
            raise ValueError("%s: first column is %r, not 'filenames'"
                             % (path, header[0] if header else None))
        return [row[0] for row in reader if row]


def check_durability(shared, stats):
    """Per pool: acknowledged picks, those missing from the CSV, rows,
    duplicates, rows that were never acknowledged (answers lost to a kill)."""
    out = {}
    pools = set(stats.acked) | {
        p for p in os.listdir(shared)
        if (Path(shared) / p / "datapool_latest.csv").is_file()}
    for pool in sorted(pools):
        path = Path(shared) / pool / "datapool_latest.csv"
        acked = stats.acked.get(pool, set())
        entry = {"acked": len(acked)}
        try:
            names = read_csv_names(path)
        except (OSError, ValueError) as e:
            entry.update(error=str(e), missing=len(acked))
            out[pool] = entry
            continue
        present = set(names)
        missing = acked - present
        entry.update(rows=len(names), duplicates=len(names) - len(present),
                     missing=len(missing),
                     missing_examples=sorted(missing)[:10],
                     unacknowledged_rows=len(present - acked),
                     highest_acked_version=stats.acked_version.get(pool, 0))
        out[pool] = entry
    return out


def disk_report(shared, pool_infos):
    total, alloc, files = tree_bytes(shared)
    pools = {}
    for pool in sorted(os.listdir(shared)):
        folder = Path(shared) / pool
        if not (folder / "datapool_latest.csv").is_file():
            continue
        h_bytes, _, h_files = (tree_bytes(folder / "history")
                               if (folder / "history").is_dir() else (0, 0, 0))
        h_csv = (len([n for n in os.listdir(folder / "history")
                      if n.endswith(".csv")])
                 if (folder / "history").is_dir() else 0)
        r_bytes, _, r_files = (tree_bytes(folder / "reports")
                               if (folder / "reports").is_dir() else (0, 0, 0))
        r_names = (os.listdir(folder / "reports")
                   if (folder / "reports").is_dir() else [])
        r_count = len(r_names)
        p_bytes, p_alloc, p_files = tree_bytes(folder)
        latest = (folder / "datapool_latest.csv").stat().st_size
        info = pool_infos.get(pool, {})
        versions = info.get("version") or 0
        temps = [n for n in os.listdir(folder) if ".tmp-" in n]
        # Versions without a report since the oldest one kept (retention,
        # --keep-reports, removes older ones): the report is written after
        # the commit, so a kill in between leaves a version without one.
        kept = {int(n) for n in r_names if n.isdigit()}
        no_report = sorted(set(range(min(kept, default=1), versions + 1)) -
                           kept)
        pools[pool] = {
            "versions": versions, "rows": info.get("size"),
            "bytes": p_bytes, "allocated": p_alloc, "files": p_files,
            "latest_csv_bytes": latest,
            "history_bytes": h_bytes, "history_files": h_files,
            "history_csvs": h_csv,
            "reports_bytes": r_bytes, "reports_files": r_files,
            "reports": r_count,
            "versions_without_report": no_report,
            "bytes_per_version": p_bytes / versions if versions else None,
            "history_bytes_per_kept_version": (h_bytes / h_csv
                                               if h_csv else None),
            "report_bytes_per_report": r_bytes / r_count if r_count else None,
            "temp_files_left": temps}
    return {"shared_bytes": total, "shared_allocated": alloc,
            "shared_files": files, "pools": pools}


def final_check(sup, pb2, rpc, deadline):
    """On the fresh final server: every pool loads; its size and version."""
    address, _ = sup.current()
    channel = grpc.insecure_channel(address)
    stub = rpc.DatapoolStub(channel)
    infos, problems = {}, []
    try:
        listed = stub.ListPools(pb2.ListPoolsRequest(), timeout=deadline)
        for p in listed.pools:
            info = stub.GetPool(pb2.GetPoolRequest(pool=p.name),
                                timeout=deadline)
            history = stub.ListHistory(pb2.ListHistoryRequest(pool=p.name),
                                       timeout=deadline)
            infos[p.name] = {"size": info.size, "version": info.version,
                             "dimension": info.dimension,
                             "history_entries": len(history.versions)}
    except grpc.RpcError as e:
        problems.append("final check: %s %s" % (e.code().name, e.details()))
    finally:
        channel.close()
    return infos, problems


# -- report ------------------------------------------------------------------

def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status",
                                "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "") if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def mb(b):
    return "-" if b is None else "%.2f MB" % (b / 1e6)


def kb(b):
    return "-" if b is None else "%.1f KB" % (b / 1e3)


def print_report(r):
    p = print
    p()
    p("Datapool soak: %s" % r["command"])
    m = r["machine"]
    p("Machine: %d CPUs (nproc), %s; Python %s, grpcio %s; tree %s; "
      "load average %.2f at the start"
      % (m["nproc"], m["cpu"], m["python"], m["grpc"], m["tree"],
         m["loadavg_start"]))
    p("Server: %s (--model none --log-level %s), default limits%s"
      % (r["server_bin"], r["server_log_level"],
         "; environment " + " ".join(r["server_env"])
         if r["server_env"] else ""))
    p("Run: %d clients, %.1f min planned, %.1f s ran; kill -9 every %s; "
      "%d pools; %d rows x %d-d per Select, n_samples %d-%d; %.0f%% reads; "
      "deadline %.0f s"
      % (r["clients"], r["minutes"], r["wall_s"],
         ("%g s" % r["kill_every_s"]) if r["kill_every_s"] else "never",
         r["pools"], r["rows"], r["dim"], r["min_picks"], r["max_picks"],
         100 * r["read_share"], r["deadline_s"]))
    c = r["cpu_shares"]
    p("CPU use over the run (share of all %d CPUs): servers %.0f%%, this "
      "script %.0f%%, other processes %.0f%%"
      % (m["nproc"], 100 * c["servers"], 100 * c["script"],
         100 * c["others"]))
    if r["stopped_early"]:
        p("STOPPED EARLY: " + r["stopped_early"])
    p()
    calls = r["calls"]
    p("| calls | total | ok | errors | ok/s | p50 ms | p99 ms |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for method, row in calls["by_method"].items():
        p("| %s | %d | %d | %d | %.1f | %s | %s |"
          % (method, row["total"], row["ok"], row["errors"], row["ok_per_s"],
             "-" if row["p50_ms"] is None else "%.1f" % row["p50_ms"],
             "-" if row["p99_ms"] is None else "%.1f" % row["p99_ms"]))
    p("| all | %d | %d | %d | %.1f | | |"
      % (calls["total"], calls["ok"], calls["errors"], calls["ok_per_s"]))
    p()
    p("Errors by code (during outages = from the kill to %.0f s after the "
      "new server listens):" % OUTAGE_GRACE_S)
    if not r["errors"]["by_code"]:
        p("  none")
    for code, row in r["errors"]["by_code"].items():
        p("  %-22s %6d  (during outages %d, outside %d)"
          % (code, row["total"], row["during_outage"], row["outside"]))
    for key, n in r["errors"]["by_method_code"].items():
        p("    %-34s %6d" % (key, n))
    p()
    d = r["durability"]
    p("Durability: %d Selects committed, %d acknowledged picks, %d MISSING "
      "from datapool_latest.csv (must be 0); %d rows on disk whose answer "
      "was lost (in flight at a kill); %d duplicate rows"
      % (r["commits"], d["acked"], d["missing"], d["unacknowledged_rows"],
         d["duplicates"]))
    p()
    p("Server lives (RSS MiB / open fds / threads, sampled every 1 s: "
      "start -> max -> end):")
    p("| life | role | start s | up s | RSS MiB | of which anon | fds | "
      "threads | end |")
    p("|---:|---|---:|---:|---|---|---|---|---|")
    for life in r["lives"]:
        def tri(key):
            v = life.get(key)
            if not v:
                return "-"
            fmt = "%.0f" if key.endswith("_mib") else "%d"
            return " -> ".join(fmt % v[k] for k in ("start", "max", "end"))
        p("| %d | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (life["life"], life["role"],
             "-" if life["start_s"] is None else "%.2f" % life["start_s"],
             "-" if life["up_s"] is None else "%.0f" % life["up_s"],
             tri("rss_mib"), tri("rss_anon_mib"), tri("fds"),
             tri("threads"), life["end"]))
    o = r["overall"]
    if o:
        p("Overall (soak lives): RSS %.0f -> max %.0f -> end %.0f MiB (anon "
          "%.0f -> %.0f -> %.0f); fds %d -> max %d -> end %d; threads %d -> "
          "max %d -> end %d; restarts %d, outage (kill to listening) median "
          "%.2f s, max %.2f s"
          % (o["rss_mib"]["start"], o["rss_mib"]["max"], o["rss_mib"]["end"],
             o["rss_anon_mib"]["start"], o["rss_anon_mib"]["max"],
             o["rss_anon_mib"]["end"],
             o["fds"]["start"], o["fds"]["max"], o["fds"]["end"],
             o["threads"]["start"], o["threads"]["max"],
             o["threads"]["end"], o["restarts"],
             o["outage_s_median"] or 0, o["outage_s_max"] or 0))
    p()
    disk = r["disk"]
    p("Disk: shared folder %s (%s allocated, %d files); grew %.1f MB/min"
      % (mb(disk["shared_bytes"]), mb(disk["shared_allocated"]),
         disk["shared_files"], disk["growth_mb_per_min"]))
    p("| pool | versions | rows | latest CSV | history/ (CSVs) | reports/ "
      "(reports) | pool folder | per version | per kept CSV | per report |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for pool, x in disk["pools"].items():
        p("| %s | %d | %s | %s | %s (%d) | %s (%d) | %s | %s | %s | %s |"
          % (pool, x["versions"], x["rows"], mb(x["latest_csv_bytes"]),
             mb(x["history_bytes"]), x["history_csvs"],
             mb(x["reports_bytes"]), x["reports"], mb(x["bytes"]),
             kb(x["bytes_per_version"]),
             kb(x["history_bytes_per_kept_version"]),
             kb(x["report_bytes_per_report"])))
    p()
    for note in r["notes"]:
        p("Note, " + note)
    if r["alarms"]:
        p("ALARMS:")
        for a in r["alarms"]:
            p("  - " + a)
    else:
        p("No alarms.")


def summarise(args, argv, t0, t_end, sup, sampler, stats, clients, dura,
              disk, infos, problems, machine, cpu):
    wall = t_end - t0
    by_method = {}
    for method in ("Select", "GetPool", "ListPools", "ListHistory", "Search"):
        ok = stats.ok[method]
        err = sum(n for (m_, _), n in stats.errors.items() if m_ == method)
        lat = stats.latency[method]
        by_method[method] = {
            "total": ok + err, "ok": ok, "errors": err,
            "ok_per_s": ok / wall if wall else 0.0,
            "p50_ms": (percentile(lat, 0.5) * 1e3) if lat else None,
            "p99_ms": (percentile(lat, 0.99) * 1e3) if lat else None}
    total_ok = sum(stats.ok.values())
    total_err = sum(stats.errors.values())

    def in_outage(t):
        return any(a <= t < b + OUTAGE_GRACE_S for a, b in sup.outages)
    by_code = {}
    for t, code in stats.error_times:
        row = by_code.setdefault(code, {"total": 0, "during_outage": 0,
                                        "outside": 0})
        row["total"] += 1
        row["during_outage" if in_outage(t) else "outside"] += 1
    by_code = dict(sorted(by_code.items(), key=lambda kv: -kv[1]["total"]))

    lives = [life.summary(t0) for life in sup.lives]
    soak_lives = [life for life in sup.lives if life.role == "soak"
                  and life.samples]
    overall = None
    if soak_lives:
        overall = {}
        for key, col in SAMPLE_COLUMNS:
            overall[key] = {
                "start": soak_lives[0].samples[0][col],
                "max": max(s[col] for l in soak_lives for s in l.samples),
                "end": soak_lives[-1].samples[-1][col]}
        outs = [b - a for a, b in sup.outages]
        overall["restarts"] = len(sup.outages)
        overall["outage_s_median"] = percentile(outs, 0.5)
        overall["outage_s_max"] = max(outs) if outs else None

    growth = 0.0
    if len(sampler.disk) >= 2:
        (ta, sa, _), (tb, sb, _) = sampler.disk[0], sampler.disk[-1]
        growth = (sb - sa) / 1e6 / ((tb - ta) / 60) if tb > ta else 0.0
    disk["growth_mb_per_min"] = growth
    disk["samples"] = [(round(t - t0, 1), s, a) for t, s, a in sampler.disk]

    totals = {k: sum(p.get(k, 0) for p in dura.values())
              for k in ("acked", "missing", "unacknowledged_rows",
                        "duplicates")}

    alarms = list(problems)
    if totals["missing"]:
        alarms.append("%d acknowledged picks are missing from the CSVs"
                      % totals["missing"])
    if totals["duplicates"]:
        alarms.append("%d duplicate filenames in the CSVs"
                      % totals["duplicates"])
    for pool, p in dura.items():
        if "error" in p:
            alarms.append("%s: CSV unreadable: %s" % (pool, p["error"]))
        v = infos.get(pool, {}).get("version")
        if v is not None and v < p.get("highest_acked_version", 0):
            alarms.append("%s: version %d after the restart < acknowledged "
                          "version %d" % (pool, v, p["highest_acked_version"]))
        size = infos.get(pool, {}).get("size")
        if size is not None and p.get("rows") is not None and \
                size != p["rows"]:
            alarms.append("%s: GetPool size %d != %d CSV rows"
                          % (pool, size, p["rows"]))
    for pool in dura:
        if pool not in infos:
            alarms.append("%s: not listed by the final server" % pool)
    for pool, x in disk["pools"].items():
        if x["temp_files_left"]:
            alarms.append("%s: temporary files left after the final restart:"
                          " %s" % (pool, x["temp_files_left"][:5]))
    for code, row in by_code.items():
        # Pools exist from the warm-up on, so NOT_FOUND (and any code a
        # downed server does not explain) is a finding; so is an outage
        # code while the server was up.
        if code not in OUTAGE_CODES or row["outside"]:
            alarms.append("%d %s errors (%d outside outages)"
                          % (row["total"], code, row["outside"]))
    for life in sup.lives:
        if life.end and life.end.startswith("SIGTERM failed"):
            alarms.append("life %d: %s" % (life.index, life.end))
        if life.log_lines:
            alarms.append("life %d: the server logged %d warning/error "
                          "lines, first: %s" % (life.index, life.log_lines,
                                                life.log_head[0]))
        if len(life.samples) >= 5:
            first, last = life.samples[0], life.samples[-1]
            if last[2] > first[2] + 50:
                alarms.append("life %d: open fds %d -> %d (a leak?)"
                              % (life.index, first[2], last[2]))
            peak = max(s[1] for s in life.samples)
            if peak > 2 * first[1] and peak > first[1] + 200:
                alarms.append("life %d: RSS %.0f -> max %.0f MiB"
                              % (life.index, first[1], peak))
    if sup.start_failures:
        alarms.append("%d server start failures, first: %s"
                      % (len(sup.start_failures),
                         sup.start_failures[0].splitlines()[0]))
    if stats.ok_not_committed:
        alarms.append("%d Select answers OK but committed=false"
                      % stats.ok_not_committed)
    if sampler.disk_stop:
        alarms.append("stopped early: " + sampler.disk_stop)

    # Findings that are not failures: what the disk and memory figures say.
    notes = []
    pools = disk["pools"].values()
    versions = sum(x["versions"] for x in pools)
    if versions:
        latest = sum(x["latest_csv_bytes"] for x in pools)
        history = sum(x["history_bytes"] for x in pools)
        reports = sum(x["reports_bytes"] for x in pools)
        folders = sum(x["bytes"] for x in pools)
        added = latest / versions
        notes.append(
            "disk: %.1f KB per version, while a version adds %.1f KB of CSV "
            "rows on average (%.0fx): history/ is %.0f%% of the pools' "
            "bytes (%.1f KB per kept version) and reports/ %.1f KB per "
            "version (%.0f%%); retention (--keep-versions, --keep-reports) "
            "bounds both"
            % (folders / versions / 1e3, added / 1e3,
               folders / versions / added if added else 0,
               100 * history / folders if folders else 0,
               history / max(1, sum(x["history_csvs"] for x in pools)) / 1e3,
               reports / versions / 1e3,
               100 * reports / folders if folders else 0))
    no_report = {pool: x["versions_without_report"]
                 for pool, x in disk["pools"].items()
                 if x["versions_without_report"]}
    if no_report:
        notes.append("reports: versions without a report (a kill between "
                     "the commit and its report?): %s"
                     % "; ".join("%s %s" % (pool, v[:10])
                                 for pool, v in no_report.items()))
    final = [l for l in sup.lives if l.role == "final" and l.samples]
    if soak_lives and final:
        last, idle = soak_lives[-1].samples[-1], final[-1].samples[-1]
        notes.append(
            "memory: the last soak life ended at %.0f MiB RSS (anon %.0f); a "
            "fresh server holding the same pools idles at %.0f MiB (anon %.0f)"
            % (last[1], last[4], idle[1], idle[4]))
        ends = [l.samples[-1][1] for l in soak_lives]
        notes.append("memory: RSS at the end of each soak life: %s MiB"
                     % " ".join("%.0f" % e for e in ends))

    return {
        "command": " ".join(["/usr/bin/python3", "bench/soak.py"] + argv),
        "machine": machine, "server_bin": args.server_bin,
        "cli_bin": args.cli_bin, "server_log_level": args.server_log_level,
        "server_env": args.server_env,
        "clients": args.clients, "minutes": args.minutes,
        "kill_every_s": args.kill_every, "pools": args.pools,
        "rows": args.rows, "dim": args.dim, "min_picks": args.min_picks,
        "max_picks": args.max_picks, "read_share": args.read_share,
        "deadline_s": args.deadline_s, "seed": args.seed,
        "wall_s": wall, "stopped_early": sampler.disk_stop,
        "cpu_shares": {"others": cpu[0], "script": cpu[1],
                       "servers": cpu[2]},
        "calls": {"total": total_ok + total_err, "ok": total_ok,
                  "errors": total_err,
                  "ok_per_s": total_ok / wall if wall else 0.0,
                  "calls_per_s": (total_ok + total_err) / wall if wall
                  else 0.0,
                  "by_method": by_method,
                  "per_client": [c.calls for c in clients]},
        "errors": {"by_code": by_code,
                   "by_method_code": {"%s %s" % k: n for k, n in
                                      sorted(stats.errors.items())}},
        "commits": stats.commits,
        "ok_not_committed": stats.ok_not_committed,
        "durability": dict(totals, pools=dura),
        "lives": lives, "overall": overall,
        "outages_s": [round(b - a, 3) for a, b in sup.outages],
        "final_server": infos,
        "disk": disk, "alarms": alarms, "notes": notes}


# -- main --------------------------------------------------------------------

def run_soak(args, pb2, rpc, sup, sampler, stats, stop, clients, problems):
    """The warm-up, the soak with its kills, the final restart and check.
    Returns (final server's pool infos, soak start, soak end)."""
    if not sup.start("soak"):
        sys.exit("soak: the server did not start:\n" + sup.start_failures[-1])
    sampler.start()
    # One Select per pool first, so that reads find the pools.
    channel = grpc.insecure_channel(sup.current()[0])
    stub = rpc.DatapoolStub(channel)
    rng = np.random.default_rng([args.seed, 1 << 20])
    for p in range(args.pools):
        pool = "soak-%d" % p
        rows = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
        request = pb2.SelectRequest(
            params=pb2.SelectionParams(pool=pool,
                                       n_samples_count=args.max_picks),
            candidates=pb2.EmbeddingBlock(
                dimension=args.dim,
                filenames=["w%d-%d.jpg" % (p, i) for i in range(args.rows)],
                values=rows.ravel().tolist()))
        t = time.monotonic()
        stats.record_select(pool, stub.Select(request,
                                              timeout=args.deadline_s))
        stats.record_ok("Select", time.monotonic() - t)
    channel.close()

    # Per client at most 1000 calls a second: a bound, never the limit.
    max_calls = int(args.minutes * 60 * 1000) + 1
    clients.extend(Client(i, args, pb2, rpc, sup, stats, stop, max_calls)
                   for i in range(args.clients))
    t_start = time.monotonic()
    for c in clients:
        c.start()
    t_stop = t_start + args.minutes * 60
    next_kill = t_start + args.kill_every if args.kill_every else None
    log("%d clients for %.1f min, kill -9 every %s"
        % (args.clients, args.minutes,
           "%g s" % args.kill_every if args.kill_every else "never"))
    while not stop.is_set():
        now = time.monotonic()
        if now >= t_stop:
            break
        if next_kill is not None and now >= next_kill:
            killed = sup.kill9()
            up = sup.start("soak")
            sup.outages.append((killed, time.monotonic()))
            log("kill -9 at %.0f s; restarted in %.2f s"
                % (killed - t_start, time.monotonic() - killed))
            if not up:
                problems.append("the server did not restart after a kill; "
                                "soak stopped")
                break
            next_kill = max(next_kill + args.kill_every,
                            time.monotonic() + 1.0)
        wake = t_stop if next_kill is None else min(t_stop, next_kill)
        stop.wait(max(0.0, min(0.5, wake - time.monotonic())))
    stop.set()
    t_end = time.monotonic()
    for c in clients:
        c.join(args.deadline_s + 30)
        if c.is_alive():
            problems.append("client %d did not finish" % c.index)
    log("clients done: %d calls; stopping the server (SIGTERM)"
        % sum(c.calls for c in clients))
    sup.stop()

    # Final clean restart: the pools must load and hold every acked pick.
    infos = {}
    if sup.start("final"):
        infos, more = final_check(sup, pb2, rpc, max(args.deadline_s, 30))
        problems += more
        time.sleep(1.5)  # a sample or two of the idle, reloaded server
        sup.stop()
    else:
        problems.append("the final server did not start")
    return infos, t_start, t_end


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--kill-every", type=float, default=20.0,
                    help="seconds between SIGKILLs of the server; 0: never")
    ap.add_argument("--pools", type=int, default=4)
    ap.add_argument("--rows", type=int, default=200,
                    help="candidate rows per Select")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--min-picks", type=int, default=5)
    ap.add_argument("--max-picks", type=int, default=20)
    ap.add_argument("--read-share", type=float, default=0.3,
                    help="share of calls that are reads (GetPool, ListPools, "
                    "ListHistory, Search)")
    ap.add_argument("--deadline-s", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--server-log-level", default="warning",
                    help="the server's --log-level (info logs every call)")
    ap.add_argument("--server-env", action="append", default=[],
                    metavar="NAME=VALUE",
                    help="extra environment for the server (repeatable), "
                    "e.g. MALLOC_ARENA_MAX=2 to tell heap growth from "
                    "allocator arenas")
    ap.add_argument("--max-disk-gb", type=float, default=20.0,
                    help="stop early when the shared folder passes this")
    ap.add_argument("--min-free-gb", type=float, default=5.0,
                    help="stop early when the file system has less free")
    ap.add_argument("--disk-every", type=float, default=5.0,
                    help="seconds between disk samples")
    ap.add_argument("--workdir", type=Path,
                    default=Path(tempfile.gettempdir()) / "datapool-soak")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run's shared folder")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 on missing picks or any alarm about "
                    "durability or server health")
    argv = sys.argv[1:]
    args = ap.parse_args()
    if not (args.clients >= 1 and args.minutes > 0 and args.kill_every >= 0
            and args.pools >= 1 and args.rows >= 1 and args.dim >= 1 and
            1 <= args.min_picks <= args.max_picks and
            0 <= args.read_share <= 1 and args.deadline_s > 0):
        ap.error("bad arguments")
    if 0 < args.kill_every < 2:
        ap.error("--kill-every must be 0 or at least 2 s")

    args.server_bin = binary("DATAPOOL_SERVER_BIN", "build/datapool-server")
    args.cli_bin = os.environ.get("DATAPOOL_CLI_BIN") or str(
        REPO / "build" / "datapool")
    pb2, rpc = load_stubs()

    args.workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    shared, input_dir = run_dir / "shared", run_dir / "input"
    shared.mkdir()
    input_dir.mkdir()
    machine = {"nproc": os.cpu_count(), "cpu": cpu_model(),
               "python": platform.python_version(), "grpc": grpc.__version__,
               "numpy": np.__version__, "tree": git_rev(),
               "loadavg_start": os.getloadavg()[0]}
    log("run folder %s" % run_dir)

    cpu = MachineUse()
    stats = Stats()
    stop = threading.Event()
    env = None
    if args.server_env:
        env = dict(os.environ)
        for item in args.server_env:
            name, sep, value = item.partition("=")
            if not sep or not name:
                ap.error("--server-env wants NAME=VALUE, got %r" % item)
            env[name] = value
    sup = Supervisor(args.server_bin, shared, input_dir,
                     args.server_log_level, env)
    sampler = Sampler(sup, shared, args.disk_every, args.max_disk_gb * 1e9,
                      args.min_free_gb * 1e9, stop)
    problems = []
    clients = []
    try:
        infos, t_start, t_end = run_soak(args, pb2, rpc, sup, sampler,
                                         stats, stop, clients, problems)
    finally:
        # Whatever went wrong: no client keeps calling, no server is left.
        stop.set()
        sampler.done.set()
        if sup.server is not None:
            sup.kill9()
    sampler.join(60)
    shares = cpu.shares()

    dura = check_durability(shared, stats)
    disk = disk_report(shared, infos)
    report = summarise(args, argv, t_start, t_end, sup, sampler, stats,
                       clients, dura, disk, infos, problems, machine, shares)
    report["run_dir"] = str(run_dir)
    print_report(report)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=1) + "\n")
        log("wrote %s" % args.json_out)
    if args.keep:
        log("kept %s" % run_dir)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    if args.strict and (report["durability"]["missing"] or report["alarms"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
