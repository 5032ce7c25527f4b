#!/usr/bin/python3
"""The lightly embeddings CSV written and read by Datapool and by pandas, and
a server start with such a pool, in one run on the same data.

    /usr/bin/python3 bench/csv_bench.py [--quick] [--reps 3] [--workdir DIR]
        [--json-out FILE] [--update-readme] [--strict]

Cases: 1M rows x 32 dims and 100k rows x 512 dims (--quick: 20k x 32 and
2k x 512, for development; nothing is judged on it). For each case, in order:

  data     unit-norm float32 rows, fixed seed: a mixture of 64 Gaussians,
           each spread along its own 16-d subspace around a random unit
           centre, plus a little isotropic noise, projected to unit norm and
           then normalised exactly as the server does (so an adopted pool is
           unchanged by the server's normalisation). Written once as a raw
           .f32 file under --workdir and reused.
  Datapool write   bench/datapool_csv_bench write: AppendCsv into a fresh
           string + WriteFileAtomically (temp file, fsync, rename, fsync of
           the folder), what PoolStore::Commit does with the CSV. Best of R.
  Datapool read    datapool_csv_bench read: ReadCsvFile of that file. Best of
           R. Checks: the values' bits equal the source exactly, filenames
           and labels as written.
  pandas write     DataFrame.to_csv(path, index=False) of a frame with the
           same columns (filenames, embedding_0..D-1 as float32, labels as
           int64), pandas' default float formatting (for float32 that is
           numpy's shortest repr of the float32, like Datapool's). The frame
           is built before the clock starts; no fsync (pandas does none).
           Best of --pandas-write-reps (default 1: it is the slow side).
  pandas read      pd.read_csv(Datapool's file), engine 'c', default
           float_precision (float64 columns). Best of R. Check: the floats
           cast to float32 equal the source bits (mismatches are counted).
           Also float_precision='round_trip' (info row, --pandas-rt-reps,
           default 1).
  interop  (check) Datapool reads pandas' file: same bits as the source.
  server   the pool committed through PoolStore::Commit (datapool_csv_bench
           commit: whatever a Datapool server leaves for the pools it owns,
           the CSV, datapool_meta.json and, where the store has one, its
           binary cache) in a fresh shared folder; then datapool-server
           --shared-dir S --listen 127.0.0.1:0 --model none, timed from
           exec to the pool being listed by ListPools (generated stubs) with
           its size; best of R restarts, the first start shown apart. Also
           (info): the same with the built-in model (no --model flag);
           without datapool_cache.bin, where the commit wrote one; an
           adopted pool (only datapool_latest.csv, as the lightly worker
           writes it; first start and restarts); a server with no pool (the
           fixed cost); and the in-process load (datapool_csv_bench load:
           PoolStore::Load, PoolManager::Create). The files in the pool
           folder are listed after the commit and after the first starts.

Targets (from the issue): Datapool >= 5x faster than pandas, writing and
reading; a server start with such a pool <= 1.2 x Datapool's CSV read.

All files are read right after they were written, so reads come from the
page cache, for Datapool, pandas and the server alike.

Binaries: env DATAPOOL_CSV_BENCH_BIN (else build-bench/bench/
datapool_csv_bench, else build/bench/...), DATAPOOL_SERVER_BIN (else
build/datapool-server); the generated stubs are the Python SDK's
(client/python/datapool_client/_gen). Needs Debian's python3-numpy,
python3-pandas, python3-grpcio and python3-protobuf only.

--update-readme replaces the block between the csv-bench markers in
bench/README.md with this run's header and table (full-size runs only).
"""

import argparse
import json
import os
import platform
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from kcenter_bench import normalize_like_server  # noqa: E402
from machine_use import MachineUse  # noqa: E402

# Bump when the generator changes: cached data files are then regenerated.
GENERATOR_VERSION = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1e6
README = REPO / "bench" / "README.md"
BEGIN_MARK = ("<!-- csv-bench results: begin "
              "(bench/csv_bench.py --update-readme) -->")
END_MARK = "<!-- csv-bench results: end -->"

FULL_CASES = [(1_000_000, 32), (100_000, 512)]
QUICK_CASES = [(20_000, 32), (2_000, 512)]
TARGET_SPEEDUP = 5.0
TARGET_START = 1.2
POOL = "bench"
CACHE_FILE = "datapool_cache.bin"  # PoolStore's binary cache, where it has one
STARTUP_TIMEOUT_S = 600
LISTENING_RE = re.compile(
    r"datapool-server: listening on (127\.0\.0\.1:[0-9]{1,5})\s*$", re.M)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def case_name(n, d):
    def short(v):
        if v % 1_000_000 == 0:
            return "%dM" % (v // 1_000_000)
        if v % 1000 == 0:
            return "%dk" % (v // 1000)
        return str(v)
    return "%sx%d" % (short(n), d)


# ------------------------------------------------------------------ data

def gen_embeddings(n, d, seed, clusters=64, latent=16, spread=0.15,
                   noise=0.01):
    """Clustered, unit norm, float32 (like real embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    lat = min(latent, d)
    weights = rng.dirichlet(np.full(clusters, 2.0))
    scale = spread * rng.uniform(0.5, 1.5, size=clusters)
    label = rng.choice(clusters, size=n, p=weights)
    X = np.empty((n, d), dtype=np.float32)
    for c in range(clusters):
        rows = np.flatnonzero(label == c)
        basis = np.linalg.qr(rng.standard_normal((d, lat)))[0]  # d x lat
        for i in range(0, len(rows), 65536):
            r = rows[i:i + 65536]
            z = rng.standard_normal((len(r), lat)) * scale[c]
            x = centres[c] + z @ basis.T
            x += noise * rng.standard_normal(x.shape)
            X[r] = x
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def data_file(workdir, n, d, seed):
    path = Path(workdir) / ("emb-v%d-n%d-d%d-s%d.f32"
                            % (GENERATOR_VERSION, n, d, seed))
    if path.exists() and path.stat().st_size == n * d * 4:
        return path
    t0 = time.perf_counter()
    X = gen_embeddings(n, d, seed)
    unstable = normalize_like_server(X)
    tmp = path.with_suffix(".tmp")
    X.tofile(tmp)
    os.replace(tmp, path)
    log("  data %s (%.1f s%s)" % (path.name, time.perf_counter() - t0,
                                  ", %d rows not at the server's fixed point"
                                  % unstable if unstable else ""))
    return path


def values_checksum(X):
    """Same as ValuesChecksum in csv_bench.cc: sum of bits * (i+1) mod 2^64."""
    bits = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32).ravel()
    total = np.uint64(0)
    for i in range(0, len(bits), 1 << 22):  # blocks keep the temporaries small
        b = bits[i:i + (1 << 22)].astype(np.uint64)
        w = np.arange(i + 1, i + 1 + len(b), dtype=np.uint64)
        with np.errstate(over="ignore"):
            total = total + (b * w).sum(dtype=np.uint64)
    return "%016x" % int(total)


def file_names(n):
    return ["images/class_%d/img_%d.jpg" % (i % 10, i) for i in range(n)]


# ------------------------------------------------------------------ runners

def run_json(cmd, what=""):
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d): %s\n%s" % (
            " ".join(map(str, cmd)), proc.returncode, proc.stderr[-4000:],
            proc.stdout[-2000:]))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    log("  %-46s %7.2f s" % (what, time.perf_counter() - t0))
    return out


def best_of(fn, reps):
    """(best wall s, all wall s, CPU s of the best run, last result)."""
    times, cpus = [], []
    result = None
    for _ in range(reps):
        result = None  # the previous result is freed outside the clock
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    best = min(range(reps), key=lambda i: times[i])
    return times[best], times, cpus[best], result


def same_files(a, b, block=1 << 24):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(block), fb.read(block)
            if x != y:
                return False
            if not x:
                return True


def pool_files(shared):
    """The pool folder's entries (what a commit or a start left there)."""
    return sorted(os.listdir(Path(shared) / POOL))


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def cpu_seconds(pid):
    """utime + stime of a running process, from /proc/PID/stat."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
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


# ------------------------------------------------------------------ server

class ServerTimer:
    def __init__(self, args):
        import grpc  # noqa: F401  (loaded before any clock starts)
        del grpc
        sys.path.insert(0, str(REPO / "tests" / "python"))
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
        import grpc
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


# ------------------------------------------------------------------ one case

def run_case(args, n, d, timer):
    name = case_name(n, d)
    log("case %s" % name)
    work = Path(args.workdir) / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    raw = data_file(args.workdir, n, d, args.seed + d)
    X = np.fromfile(raw, dtype=np.float32).reshape(n, d)
    src_sum = values_checksum(X)
    out = dict(rows=n, dim=d, source_values_checksum=src_sum, checks={})
    checks = out["checks"]
    threads = ["--threads=%d" % args.threads] if args.threads else []

    # Datapool write / read.
    dp_csv = work / "datapool.csv"
    out["dp_write"] = run_json(
        [args.bench_bin, "write", raw, n, d, dp_csv, "--reps=%d" % args.reps]
        + threads, what="Datapool write x%d" % args.reps)
    out["dp_read"] = run_json(
        [args.bench_bin, "read", dp_csv, "--reps=%d" % args.reps] + threads,
        what="Datapool read x%d" % args.reps)
    checks["datapool reads its own file: same bits"] = (
        out["dp_read"]["values_checksum"] == src_sum
        and out["dp_read"]["rows"] == n and out["dp_read"]["dim"] == d)
    checks["datapool reads its own file: filenames, labels"] = bool(
        out["dp_read"]["names_labels_ok"])

    if "pandas" not in args.skip:
        run_pandas(args, X, n, d, work, dp_csv, out, threads)

    del X
    if "server" not in args.skip:
        run_server(args, n, d, work, dp_csv, out, timer)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return out


def run_pandas(args, X, n, d, work, dp_csv, out, threads):
    import pandas as pd
    checks = out["checks"]
    cols = ["embedding_%d" % j for j in range(d)]
    names = file_names(n)
    labels = np.arange(n, dtype=np.int64) % 10
    frame = {"filenames": names}
    frame.update({c: X[:, j] for j, c in enumerate(cols)})
    frame["labels"] = labels
    df = pd.DataFrame(frame, copy=True)
    del frame
    assert all(df[c].dtype == np.float32 for c in cols)

    pd_csv = work / "pandas.csv"
    def write():
        df.to_csv(pd_csv, index=False)
    best, times, cpu, _ = best_of(write, args.pandas_write_reps)
    out["pd_write"] = dict(seconds=best, all_s=times, cpu_s=cpu,
                           bytes=os.path.getsize(pd_csv))
    log("  %-46s %7.2f s" % ("pandas to_csv x%d" % args.pandas_write_reps,
                             sum(times)))
    out["pd_write"]["same_bytes_as_datapool"] = same_files(pd_csv, dp_csv)
    df = None  # frees the frame before the reads

    def check_frame(df, what):
        Y = df[cols].to_numpy(dtype=np.float64).astype(np.float32)
        bad = int(np.count_nonzero(Y.view(np.uint32) != X.view(np.uint32)))
        ok_names = (list(df.columns) == ["filenames"] + cols + ["labels"]
                    and df["filenames"].tolist() == names
                    and np.array_equal(df["labels"].to_numpy(), labels))
        checks["pandas %s reads Datapool's file: float32 bits" % what] = (
            bad == 0)
        checks["pandas %s reads Datapool's file: filenames, labels" % what] = (
            ok_names)
        return bad

    for key, kw, what in (("pd_read", {}, "default"),
                          ("pd_read_rt", {"float_precision": "round_trip"},
                           "round_trip")):
        if key == "pd_read_rt" and "roundtrip" in args.skip:
            continue
        reps = (args.pandas_read_reps if key == "pd_read"
                else args.pandas_rt_reps)
        best, times, cpu, read = best_of(lambda: pd.read_csv(dp_csv, **kw),
                                         reps)
        log("  %-46s %7.2f s" % ("pandas read_csv %s x%d" % (what, reps),
                                 sum(times)))
        bad = check_frame(read, what)
        read = None
        out[key] = dict(seconds=best, all_s=times, cpu_s=cpu,
                        float32_mismatches=bad, kwargs=kw)

    # Interop: Datapool reads what pandas wrote.
    r = run_json([args.bench_bin, "read", pd_csv] + threads,
                 what="Datapool reads pandas' file")
    out["dp_read_pandas_file"] = r
    checks["datapool reads pandas' file: same bits"] = (
        r["values_checksum"] == out["source_values_checksum"])
    checks["datapool reads pandas' file: filenames, labels"] = bool(
        r["names_labels_ok"])
    os.remove(pd_csv)


def run_server(args, n, d, work, dp_csv, out, timer):
    checks = out["checks"]
    # Owned pool: CSV + metadata from PoolStore::Commit.
    owned = work / "shared-owned"
    raw = data_file(args.workdir, n, d, args.seed + d)
    out["dp_commit"] = run_json(
        [args.bench_bin, "commit", raw, n, d, owned, POOL],
        what="Datapool commit (PoolStore::Commit)")
    checks["PoolStore::Commit writes the same CSV"] = same_files(
        owned / POOL / "datapool_latest.csv", dp_csv)
    expect = (POOL, n)
    srv = out["server"] = {}
    files = srv["files"] = {}
    files["owned after the commit"] = pool_files(owned)
    srv["owned_first"] = timer.series(owned, 1, True, expect,
                                      "server first start, owned, no model")
    files["owned after the first start"] = pool_files(owned)
    srv["owned"] = timer.series(owned, args.server_reps, True, expect,
                                "server restart, owned, no model")
    if "model" not in args.skip:
        srv["owned_model"] = timer.series(
            owned, args.server_reps, False, expect,
            "server restart, owned, built-in model")
    out["dp_load"] = run_json([args.bench_bin, "load", owned,
                               "--reps=%d" % args.reps],
                              what="in-process load, owned x%d" % args.reps)
    cache = owned / POOL / CACHE_FILE
    if cache.exists():
        # The same pool without its derived binary cache: the CSV is parsed
        # (a pool from an older server, or a cache that went stale).
        os.remove(cache)
        srv["owned_nocache"] = timer.series(
            owned, args.server_reps, True, expect,
            "server restart, owned, no cache, no model")
        files["owned after restarts without the cache"] = pool_files(owned)

    if "adopted" not in args.skip:
        adopted = work / "shared-adopted"
        (adopted / POOL).mkdir(parents=True)
        link_or_copy(dp_csv, adopted / POOL / "datapool_latest.csv")
        files["adopted before the first start"] = pool_files(adopted)
        srv["adopted_first"] = timer.series(
            adopted, 1, True, expect, "server first start, adopted, no model")
        files["adopted after the first start"] = pool_files(adopted)
        srv["adopted"] = timer.series(adopted, args.server_reps, True,
                                      expect,
                                      "server restart, adopted, no model")
        out["dp_load_adopted"] = run_json(
            [args.bench_bin, "load", adopted, "--reps=%d" % args.reps],
            what="in-process load, adopted x%d" % args.reps)

    empty = work / "shared-empty"
    empty.mkdir()
    srv["empty"] = timer.series(empty, args.server_reps, True, None,
                                "server start, no pool, no model")
    if "model" not in args.skip:
        srv["empty_model"] = timer.series(
            empty, args.server_reps, False, None,
            "server start, no pool, built-in model")


# ------------------------------------------------------------------ report

def verdict(ok):
    return "PASS" if ok else "MISS"


def rows_for(args, c):
    """Table rows: (case, Datapool, reference, ratio, target, verdict)."""
    name = case_name(c["rows"], c["dim"])
    judged = not args.quick
    rows = []
    dw, dr = c["dp_write"], c["dp_read"]
    if "pd_write" in c:
        pw = c["pd_write"]
        ratio = pw["seconds"] / dw["seconds"]
        rows.append((
            "%s write" % name, "%.3f s" % dw["seconds"],
            "pandas to_csv %.2f s" % pw["seconds"],
            "%.1fx faster" % ratio, ">= %gx" % TARGET_SPEEDUP,
            verdict(ratio >= TARGET_SPEEDUP) if judged else ""))
        pr = c["pd_read"]
        ratio = pr["seconds"] / dr["seconds"]
        rows.append((
            "%s read" % name, "%.3f s" % dr["seconds"],
            "pandas read_csv %.2f s" % pr["seconds"],
            "%.1fx faster" % ratio, ">= %gx" % TARGET_SPEEDUP,
            verdict(ratio >= TARGET_SPEEDUP) if judged else ""))
        if "pd_read_rt" in c:
            rt = c["pd_read_rt"]
            rows.append((
                "  read vs read_csv float_precision='round_trip'",
                "%.3f s" % dr["seconds"],
                "pandas read_csv %.2f s" % rt["seconds"],
                "%.1fx faster" % (rt["seconds"] / dr["seconds"]), "(info)",
                ""))
    srv = c.get("server")
    if srv:
        def start_row(label, key, target=False):
            s = srv[key]["best"]["listed_s"]
            ratio = s / dr["seconds"]
            return (label, "%.3f s" % s,
                    "Datapool CSV read %.3f s" % dr["seconds"],
                    "%.2fx" % ratio,
                    "<= %gx" % TARGET_START if target else "(info)",
                    verdict(ratio <= TARGET_START) if target and judged
                    else "")
        rows.append(start_row("%s server restart, pool ready (--model none)"
                              % name, "owned", True))
        rows.append(start_row("  first start after the commit", "owned_first"))
        if "owned_model" in srv:
            rows.append(start_row("  restart with the built-in model",
                                  "owned_model"))
        if "owned_nocache" in srv:
            rows.append(start_row("  restart without %s" % CACHE_FILE,
                                  "owned_nocache"))
        if "adopted" in srv:
            rows.append(start_row("  adopted pool (CSV only), restart",
                                  "adopted"))
            rows.append(start_row("  adopted pool, first start",
                                  "adopted_first"))
    return rows


def markdown_table(rows):
    head = ("case", "Datapool", "reference", "ratio", "target", "")
    allrows = [head] + rows
    w = [max(len(r[i]) for r in allrows) for i in range(len(head))]

    def line(r):
        cells = (r[i].ljust(w[i]) for i in range(len(r)))
        return "| " + " | ".join(cells) + " |"
    sep = "|" + "|".join("-" * (x + 2) for x in w) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def details(c):
    """Diagnostics under the table, one case."""
    name = case_name(c["rows"], c["dim"])
    dw, dr = c["dp_write"], c["dp_read"]
    L = []
    L.append("%s: %.0f MB CSV (%.1f B/value)" % (
        name, dw["bytes"] / MB, dw["bytes"] / (c["rows"] * c["dim"])))
    L.append("  Datapool write %.3f s = AppendCsv %.3f + WriteFileAtomically "
             "%.3f (fsyncs included); runs %s; peak RSS %.0f MB" % (
                 dw["seconds"], dw["format_s"], dw["write_file_s"],
                 " ".join("%.3f" % t for t in dw["all_s"]),
                 dw["peak_rss_kib"] / 1024))
    L.append("  Datapool read  %.3f s (ReadCsvFile; runs %s); parts: ReadFile "
             "%.3f, ParseCsv %.3f; Checksum() of the text %.3f; "
             "peak RSS %.0f MB (%.0f MB with the text kept)" % (
                 dr["seconds"], " ".join("%.3f" % t for t in dr["all_s"]),
                 dr["read_file_s"], dr["parse_s"], dr["checksum_s"],
                 dr["peak_rss_kib"] / 1024,
                 dr["peak_rss_with_text_kib"] / 1024))
    if dr.get("threads_arg"):
        L.append("  codec thread argument: %d (0 = its default)"
                 % dr["threads"])
    if "pd_write" in c:
        pw, pr = c["pd_write"], c["pd_read"]
        L.append("  pandas to_csv runs %s (%.0f MB, %s Datapool's bytes); "
                 "read_csv runs %s%s" % (
                     " ".join("%.2f" % t for t in pw["all_s"]),
                     pw["bytes"] / MB,
                     "identical to" if pw["same_bytes_as_datapool"]
                     else "differs from",
                     " ".join("%.2f" % t for t in pr["all_s"]),
                     "; round_trip runs %s" % " ".join(
                         "%.2f" % t for t in c["pd_read_rt"]["all_s"])
                     if "pd_read_rt" in c else ""))
        L.append("  pandas read_csv -> float32 mismatches: default %d%s" % (
            pr["float32_mismatches"],
            ", round_trip %d" % c["pd_read_rt"]["float32_mismatches"]
            if "pd_read_rt" in c else ""))
    srv = c.get("server")
    if srv:
        def s(key):
            b = srv[key]["best"]
            return "%.3f s (listening %.3f; server peak RSS %.0f MB)" % (
                b["listed_s"], b["listen_s"], b["peak_rss_kib"] / 1024)
        L.append("  server start to ListPools: restart %s" % s("owned"))
        L.append("    first start %s" % s("owned_first"))
        if "owned_model" in srv:
            L.append("    built-in model %s" % s("owned_model"))
        if "owned_nocache" in srv:
            L.append("    without %s %s" % (CACHE_FILE, s("owned_nocache")))
        if "adopted" in srv:
            L.append("    adopted %s; first %s" % (s("adopted"),
                                                   s("adopted_first")))
        L.append("    no pool %s%s" % (
            s("empty"), "; no pool, built-in model %s" % s("empty_model")
            if "empty_model" in srv else ""))
        ld = c["dp_load"]
        L.append("  in-process: PoolStore::Load %.3f s, PoolManager::Create "
                 "%.3f s (Load + snapshot: filename set, FAISS add)%s" % (
                     ld["store_load_s"], ld["manager_create_s"],
                     "; adopted: Load %.3f, Create %.3f" % (
                         c["dp_load_adopted"]["store_load_s"],
                         c["dp_load_adopted"]["manager_create_s"])
                     if "dp_load_adopted" in c else ""))
        L.append("  PoolStore::Commit (CSV + checksum + metadata, fsyncs) "
                 "%.3f s" % c["dp_commit"]["seconds"])
        L.append("  pool folder: " + "; ".join(
            "%s: %s" % (k, " ".join(v)) for k, v in srv["files"].items()))
    # CPU seconds of the same best runs: other load on the machine inflates
    # wall times far more than these (multi-threaded code has CPU > wall).
    cpu = ["Datapool write %.2f" % dw["cpu_s"]]
    if "pd_write" in c:
        cpu.append("pandas to_csv %.2f (%.1fx)" % (
            c["pd_write"]["cpu_s"], c["pd_write"]["cpu_s"] / dw["cpu_s"]))
    cpu.append("Datapool read %.2f" % dr["cpu_s"])
    if "pd_read" in c:
        cpu.append("pandas read_csv %.2f (%.1fx)" % (
            c["pd_read"]["cpu_s"], c["pd_read"]["cpu_s"] / dr["cpu_s"]))
    if srv:
        cpu.append("server restart %.2f (%.2fx the read)" % (
            srv["owned"]["best"]["cpu_s"],
            srv["owned"]["best"]["cpu_s"] / dr["cpu_s"]))
        cpu.append("server with no pool %.2f" % srv["empty"]["best"]["cpu_s"])
    L.append("  CPU seconds: " + "; ".join(cpu))
    bad = [k for k, v in c["checks"].items() if not v]
    L.append("  checks: %s" % ("all %d passed" % len(c["checks"]) if not bad
                               else "FAILED: " + "; ".join(bad)))
    return L


def machine_line(args):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import pandas as pd

    def build_type(binary):
        cache = Path(binary).resolve().parent
        for p in (cache, cache.parent):
            f = p / "CMakeCache.txt"
            if f.exists():
                m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$",
                              f.read_text(), re.M)
                return m.group(1) if m else "?"
        return "?"
    return ("Machine: %d CPUs (nproc), %s, %.1f GiB; Python %s, numpy %s, "
            "pandas %s; datapool_csv_bench %s build, datapool-server %s "
            "build" % (
                os.cpu_count(), cpu,
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                / 2**30, platform.python_version(), np.__version__,
                pd.__version__, build_type(args.bench_bin),
                build_type(args.server_bin)))


def update_readme(block):
    text = README.read_text()
    if BEGIN_MARK not in text or END_MARK not in text:
        raise SystemExit("bench/README.md has no csv-bench markers")
    head, rest = text.split(BEGIN_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    README.write_text(head + BEGIN_MARK + "\n" + block + "\n" + END_MARK
                      + tail)
    log("bench/README.md updated")


# ------------------------------------------------------------------ main

ENV_VARS = ("DATAPOOL_CSV_BENCH_BIN", "DATAPOOL_SERVER_BIN")


def find_bench_bin():
    env = os.environ.get("DATAPOOL_CSV_BENCH_BIN")
    if env:
        return env
    for b in ("build-bench", "build"):
        p = REPO / b / "bench" / "datapool_csv_bench"
        if p.exists():
            return str(p)
    raise SystemExit("datapool_csv_bench not found: build it with "
                     "-DDATAPOOL_BENCH=ON or set DATAPOOL_CSV_BENCH_BIN")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for development; nothing judged")
    ap.add_argument("--reps", type=int, default=3,
                    help="Datapool write/read and in-process load runs "
                         "(best shown)")
    ap.add_argument("--pandas-write-reps", type=int, default=1)
    ap.add_argument("--pandas-read-reps", type=int, default=3)
    ap.add_argument("--pandas-rt-reps", type=int, default=1,
                    help="read_csv float_precision='round_trip' runs (info)")
    ap.add_argument("--server-reps", type=int, default=3,
                    help="server restarts per configuration (best shown)")
    ap.add_argument("--threads", type=int, default=0,
                    help="passed to the codec when it takes a thread count "
                         "(0: its default)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip", default="",
                    help="comma list of pandas,roundtrip,server,model,adopted")
    ap.add_argument("--workdir", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "datapool-csv-bench"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the CSV files and shared folders")
    ap.add_argument("--label", default="",
                    help="a line for the header, e.g. which codec was built")
    ap.add_argument("--json-out")
    ap.add_argument("--update-readme", action="store_true",
                    help="write the header and table into bench/README.md")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a target is missed")
    args = ap.parse_args()
    args.skip = set(s for s in args.skip.split(",") if s)
    args.bench_bin = find_bench_bin()
    args.server_bin = os.environ.get("DATAPOOL_SERVER_BIN",
                                     str(REPO / "build" / "datapool-server"))
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    if args.update_readme and args.quick:
        raise SystemExit("--update-readme takes full-size runs only")

    timer = ServerTimer(args) if "server" not in args.skip else None
    noise = MachineUse()
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    cases = []
    for n, d in (QUICK_CASES if args.quick else FULL_CASES):
        cases.append(run_case(args, n, d, timer))
    wall = time.perf_counter() - t0
    others = noise.shares().others

    rows = []
    for c in cases:
        rows += rows_for(args, c)
    header = [machine_line(args),
              "Command: %s/usr/bin/python3 bench/csv_bench.py%s; %.0f s; "
              "load average %.2f at the start; other processes used %.0f%% "
              "of the CPU during the run%s" % (
                  "".join("%s=%s " % (k, os.environ[k]) for k in ENV_VARS
                          if os.environ.get(k)),
                  " --quick" if args.quick else "", wall, load0,
                  100 * others, " (NOISY)" if others > 0.05 else ""),
              "Best of %d for Datapool and pandas read_csv, best of %d for "
              "pandas to_csv and %d for read_csv round_trip, best of %d "
              "server restarts; all files read from the page cache" % (
                  args.reps, args.pandas_write_reps, args.pandas_rt_reps,
                  args.server_reps)]
    if args.label:
        header.append(args.label)
    table = markdown_table(rows)
    diag = []
    for c in cases:
        diag += details(c)
    block = "```\n%s\n```\n\n%s\n\n```\n%s\n```" % (
        "\n".join(header), table, "\n".join(diag))
    print(block)

    failed_checks = [k for c in cases for k, v in c["checks"].items()
                     if not v]
    missed = [r[0] for r in rows if r[5] == "MISS"]
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(dict(header=header, cases=cases, rows=rows,
                           wall_s=wall, others_cpu_share=others,
                           failed_checks=failed_checks, missed=missed),
                      f, indent=1)
    if args.update_readme:
        update_readme(block)
    if failed_checks:
        log("CHECKS FAILED: %s" % "; ".join(failed_checks))
        sys.exit(1)
    if args.strict and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
