#!/usr/bin/env python3
"""Greedy k-center in numpy, written the way users write it: the numpy peer
of datapool's engine in bench/kcenter_bench.py.

    X: n x d float32 unit rows; optional pool P: p x d.
    min_d = squared distance of each row to its nearest pool row, computed
            in blocks with @ (||x||^2 + ||y||^2 - 2 x.y), or +inf without pool
    first pick: with a pool, argmax(min_d); without, the row farthest from
            the mean (np.argmax: ties to the lowest index, as the engine)
    per pick s: dist = ((X - X[s])**2).sum(1)        (--form sub, default)
                or     xx - 2 * (X @ X[s]) + xx[s]    (--form matmul)
                np.minimum(min_d, dist, out=min_d); s = argmax(min_d)

Picks are compared with the engine's by the driver; the squared distances
are computed in float32 as users do, so near-ties may resolve differently.

Run as a script it reads raw float32 files and prints one JSON object:
    kcenter_numpy.py --candidates X.f32 --n N --d D --k K
                     [--pool P.f32 --p P] [--form sub|matmul]
                     [--picks-out FILE]
"""

import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np


def pool_min_distances(X, pool, block=None):
    """Squared distance of each row of X to its nearest pool row, in blocks
    (block x p distance matrices of ~256 MB)."""
    if block is None:
        block = max(64, min(4096, (1 << 26) // max(1, len(pool))))
    xx = (X * X).sum(1)
    pp = (pool * pool).sum(1)
    min_d = np.empty(len(X), dtype=np.float32)
    for i in range(0, len(X), block):
        D = xx[i:i + block, None] + pp[None, :] - 2 * (X[i:i + block] @ pool.T)
        min_d[i:i + block] = D.min(1)
    np.maximum(min_d, 0, out=min_d)
    return min_d


def kcenter(X, k, pool=None, form="sub", min_d=None, timings=None):
    """Greedy k-center; returns the picks (a list of row indices)."""
    n = len(X)
    t0 = time.perf_counter()
    if pool is not None and len(pool):
        if min_d is None:
            min_d = pool_min_distances(X, pool)
        first = int(np.argmax(min_d))
    else:
        min_d = np.full(n, np.inf, dtype=np.float32)
        mean = X.mean(0, dtype=np.float64).astype(np.float32)
        first = int(np.argmax(((X - mean) ** 2).sum(1)))
    t1 = time.perf_counter()
    xx = (X * X).sum(1) if form == "matmul" else None
    picks = []
    s = first
    for _ in range(min(k, n)):
        picks.append(s)
        if len(picks) == k:
            break
        if form == "matmul":
            dist = xx - 2 * (X @ X[s]) + xx[s]
        else:
            dist = ((X - X[s]) ** 2).sum(1)
        np.minimum(min_d, dist, out=min_d)
        min_d[s] = -1  # picked
        s = int(np.argmax(min_d))
    t2 = time.perf_counter()
    if timings is not None:
        timings["start_s"] = t1 - t0
        timings["picks_s"] = t2 - t1
    return picks


def blas_info():
    """Which BLAS numpy runs and its kernel (threadpoolctl when present)."""
    info = {"numpy": np.__version__}
    try:
        import threadpoolctl  # noqa: F401
        info["threadpoolctl"] = threadpoolctl.threadpool_info()
        return info
    except ImportError:
        pass
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "blas" in path and path.startswith("/"):
                libs.add(path)
    info["blas_libs"] = sorted(libs)
    for path in sorted(libs):
        if "openblas" not in path:
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["openblas_core"] = lib.openblas_get_corename().decode()
            info["openblas_config"] = lib.openblas_get_config().decode()
            info["openblas_threads"] = lib.openblas_get_num_threads()
            break
        except (OSError, AttributeError):
            continue
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--d", type=int, required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--pool")
    ap.add_argument("--p", type=int, default=0)
    ap.add_argument("--form", choices=("sub", "matmul"), default="sub")
    ap.add_argument("--picks-out")
    args = ap.parse_args(argv)

    X = np.fromfile(args.candidates, dtype=np.float32,
                    count=args.n * args.d).reshape(args.n, args.d)
    pool = None
    pool_s = 0.0
    min_d = None
    if args.pool:
        pool = np.fromfile(args.pool, dtype=np.float32,
                           count=args.p * args.d).reshape(args.p, args.d)
        t0 = time.perf_counter()
        min_d = pool_min_distances(X, pool)
        pool_s = time.perf_counter() - t0
    timings = {}
    picks = kcenter(X, args.k, pool=pool, form=args.form, min_d=min_d,
                    timings=timings)
    if args.picks_out:
        with open(args.picks_out, "w") as f:
            f.write("".join("%d\n" % i for i in picks))
    out = {"n": args.n, "d": args.d, "p": args.p, "k": args.k,
           "form": args.form, "pool_s": pool_s,
           "start_s": timings["start_s"], "picks_s": timings["picks_s"],
           "kcenter_s": timings["start_s"] + timings["picks_s"],
           "picks": len(picks), "blas": blas_info()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
