"""kcenter_bench.py's runs: the in-process engine (datapool_kcenter_bench)
and the numpy peer (bench/peers/kcenter_numpy.py), each a subprocess that
prints one JSON object and writes its picks; and how two pick lists
compare."""

import os
import sys
from pathlib import Path

import benchlib

PEER = benchlib.REPO / "bench" / "peers" / "kcenter_numpy.py"


def run_json(cmd, env=None, what=""):
    return benchlib.run_json(cmd, what, "  %-44s %6.1f s", env=env)


def numpy_env():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def read_picks(path):
    with open(path) as f:
        return [int(line) for line in f if line.strip()]


def compare_picks(a, b):
    """'identical', or where they first differ and how much they share."""
    m = min(len(a), len(b))
    if a[:m] == b[:m]:
        return "identical" if len(a) == len(b) else "identical (first %d)" % m
    first = next(i for i in range(m) if a[i] != b[i])
    overlap = len(set(a[:m]) & set(b[:m])) / m
    return "differ from #%d, %.0f%% shared" % (first, 100 * overlap)


def engine(args, cand, n, d, k, pool=None, p=0, modes="pruned,exact,auto",
           tag="", extra=(), reps=1):
    prefix = Path(args.workdir) / ("picks-engine-%s" % tag)
    cmd = [args.bench_bin, "kcenter", "--candidates=%s" % cand,
           "--n=%d" % n, "--d=%d" % d, "--k=%d" % k,
           "--threads=%d" % args.threads, "--modes=%s" % modes,
           "--picks-out=%s" % prefix, "--reps=%d" % reps]
    if pool is not None:
        cmd += ["--pool=%s" % pool, "--p=%d" % p]
    cmd += list(extra)
    out = run_json(cmd, what="engine %s [%s] x%d" % (tag, modes, reps))
    out["by_mode"] = {}
    for r in out["runs"]:
        r["picks_list"] = read_picks("%s.%s.txt" % (prefix, r["mode"]))
        out["by_mode"][r["mode"]] = r
    return out


def numpy_peer(args, cand, n, d, k, pool=None, p=0, tag="", form=None):
    picks = Path(args.workdir) / ("picks-numpy-%s.txt" % tag)
    cmd = [sys.executable, PEER, "--candidates", cand, "--n", n, "--d", d,
           "--k", k, "--form", form or args.numpy_form, "--picks-out", picks]
    if pool is not None:
        cmd += ["--pool", pool, "--p", p]
    out = run_json(cmd, env=numpy_env(), what="numpy %s (k=%d)" % (tag, k))
    out["picks_list"] = read_picks(picks)
    return out


def probes(args):
    """(read bandwidth, sgemm rate, FMA peak) from the engine binary."""
    bw = run_json([args.bench_bin, "bandwidth", "--gib=1",
                   "--threads=%d" % args.threads, "--reps=3"],
                  what="read bandwidth")
    sg = run_json([args.bench_bin, "sgemm",
                   "--threads=%d" % args.threads, "--reps=3"],
                  what="sgemm")
    fma = run_json([args.bench_bin, "fma",
                    "--threads=%d" % args.threads, "--reps=3"],
                   what="FMA peak")
    return bw, sg, fma
