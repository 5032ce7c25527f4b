"""csv_bench.py's measurements of one case (N rows x D dims): Datapool's
write and read, pandas' to_csv and read_csv, and server starts with the pool
committed, adopted, or absent."""

import os
import shutil
import time
from pathlib import Path

import numpy as np

import benchlib
from benchlib import log
from csv_data import case_name, data_file, file_names, values_checksum

POOL = "bench"
CACHE_FILE = "datapool_cache.bin"  # PoolStore's binary cache, where it has one


def run_json(cmd, what=""):
    return benchlib.run_json(cmd, what, "  %-46s %7.2f s")


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


# ------------------------------------------------------------------ pandas

def run_pandas(args, X, n, d, work, dp_csv, out, threads):
    import pandas as pd
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

    pandas_reads(args, X, dp_csv, out, cols, names, labels)
    pandas_interop(args, pd_csv, out, threads)


def pandas_reads(args, X, dp_csv, out, cols, names, labels):
    """read_csv of Datapool's file, default and round_trip; checked."""
    import pandas as pd
    checks = out["checks"]

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


def pandas_interop(args, pd_csv, out, threads):
    """Interop: Datapool reads what pandas wrote."""
    checks = out["checks"]
    r = run_json([args.bench_bin, "read", pd_csv] + threads,
                 what="Datapool reads pandas' file")
    out["dp_read_pandas_file"] = r
    checks["datapool reads pandas' file: same bits"] = (
        r["values_checksum"] == out["source_values_checksum"])
    checks["datapool reads pandas' file: filenames, labels"] = bool(
        r["names_labels_ok"])
    os.remove(pd_csv)


# ------------------------------------------------------------------ server

def run_server(args, n, d, work, dp_csv, out, timer):
    # Owned pool: CSV + metadata from PoolStore::Commit.
    owned = work / "shared-owned"
    raw = data_file(args.workdir, n, d, args.seed + d)
    out["dp_commit"] = run_json(
        [args.bench_bin, "commit", raw, n, d, owned, POOL],
        what="Datapool commit (PoolStore::Commit)")
    out["checks"]["PoolStore::Commit writes the same CSV"] = same_files(
        owned / POOL / "datapool_latest.csv", dp_csv)
    srv = out["server"] = {}
    srv["files"] = {}
    server_owned(args, n, owned, out, timer)
    if "adopted" not in args.skip:
        server_adopted(args, n, work, dp_csv, out, timer)
    empty = work / "shared-empty"
    empty.mkdir()
    srv["empty"] = timer.series(empty, args.server_reps, True, None,
                                "server start, no pool, no model")
    if "model" not in args.skip:
        srv["empty_model"] = timer.series(
            empty, args.server_reps, False, None,
            "server start, no pool, built-in model")


def server_owned(args, n, owned, out, timer):
    """Starts with the committed pool; without its cache, where it has one."""
    srv = out["server"]
    files = srv["files"]
    expect = (POOL, n)
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


def server_adopted(args, n, work, dp_csv, out, timer):
    """Adopted pool: only datapool_latest.csv, as the lightly worker
    writes it."""
    srv = out["server"]
    files = srv["files"]
    expect = (POOL, n)
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
