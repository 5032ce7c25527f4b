#!/usr/bin/env python3
"""Exact sharded greedy k-center (issue 18) on loopback: 1, 2 and 3
datapool-server processes on this machine, each holding a slice of the
candidates, driven by datapool-shard-select (the coordinator). Prints, per
size and replica count, the load time (reading the slice and its nearest
pool sample) and the per-pick time split into the slowest shard's scan and
the rest (round trip: gRPC on loopback, the coordinator, waiting for the
other shards).

  build=build-fused
  /usr/bin/python3 bench/sharded_kcenter_bench.py --build $build \
      --candidates /tmp/c1m.f32 --pool /tmp/p100k.f32 --pool-rows 10000 \
      --sizes 10000,100000,1000000 --k 300

--candidates/--pool: raw float32 unit rows, d = 32 (bench/README.md,
"Greedy k-center", makes them). The pool's first --pool-rows rows are used.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import benchlib

benchlib.use_test_helpers()
from server_harness import RunningServer  # noqa: E402


def start_server(binary, shared):
    """A datapool-server without a model on a free loopback port."""
    server = RunningServer(shared, shared, ["--model", "none",
                                            "--metrics-listen", ""],
                           binary=binary, startup_timeout=60,
                           shutdown_timeout=60)
    return server.__enter__()


def run(args, servers, n, threads, prune=False):
    cmd = [os.path.join(args.build, "datapool-shard-select"),
           "--peers=" + ",".join(s.address for s in servers),
           "--candidates=cands.f32", "--n=%d" % n, "--d=%d" % args.d,
           "--k=%d" % args.k, "--threads=%d" % threads,
           "--prune=%d" % prune]
    if args.pool:
        cmd.append("--pool-path=pool.f32")
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--candidates", required=True)
    ap.add_argument("--pool", default="")
    ap.add_argument("--pool-rows", type=int, default=10000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--k", type=int, default=300)
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--engine", default="",
                    help="datapool_kcenter_bench: the in-process peer "
                    "(KCenterGreedy, exact and auto passes, 2 threads) on "
                    "the same rows, in the same run")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="datapool-sharded-bench-")
    try:
        os.symlink(os.path.abspath(args.candidates),
                   os.path.join(work, "cands.f32"))
        if args.pool:
            with open(args.pool, "rb") as f:
                data = f.read(args.pool_rows * args.d * 4)
            with open(os.path.join(work, "pool.f32"), "wb") as f:
                f.write(data)
        binary = os.path.join(args.build, "datapool-server")
        print("load before: %s" % os.getloadavg()[0], file=sys.stderr)
        rows = []
        for r in [int(x) for x in args.replicas.split(",")]:
            servers = [start_server(binary, work) for _ in range(r)]
            try:
                for n in [int(x) for x in args.sizes.split(",")]:
                    for threads in ([2, 1] if r == 1 else [1]):
                        for prune in (False, True):
                            res = run(args, servers, n, threads, prune)
                            rows.append((n, r, threads, prune, res,
                                         os.getloadavg()[0]))
            finally:
                for s in servers:
                    s.stop()
        engine = {}
        for n in [int(x) for x in args.sizes.split(",")] if args.engine else []:
            cmd = [args.engine, "kcenter", "--candidates=" + args.candidates,
                   "--n=%d" % n, "--d=%d" % args.d, "--k=%d" % args.k,
                   "--threads=2", "--modes=exact,auto", "--pool-paths=fused"]
            if args.pool:
                cmd += ["--pool=" + args.pool, "--p=%d" % args.pool_rows]
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 check=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            for run_ in res["runs"]:
                engine[(n, run_["mode"])] = (
                    1e3 * run_["kcenter_s"] / max(1, run_["passes"]))
            engine[(n, "load")] = os.getloadavg()[0]
        if engine:
            print("In-process peer (KCenterGreedy, 2 threads), ms per pick:")
            print("| N | exact passes | auto (pruned) | load avg |")
            print("|--:|--:|--:|--:|")
            for n in [int(x) for x in args.sizes.split(",")]:
                print("| %d | %.3f | %.3f | %.1f |" % (
                    n, engine[(n, "exact")], engine[(n, "auto")],
                    engine[(n, "load")]))
            print()
        print("| N | replicas × threads | passes | load (s) | picks "
              "| per pick (ms) | scan (ms) | round trip (ms) | load avg |")
        print("|--:|--|--|--:|--:|--:|--:|--:|--:|")
        base = {}
        for n, r, t, prune, res, load in rows:
            rounds = max(1, res["rounds"])
            per = 1e3 * res["round_seconds"] / rounds
            scan = 1e3 * res["scan_seconds"] / rounds
            base.setdefault(n, res["picks"])
            same = "" if res["picks"] == base[n] else " (PICKS DIFFER)"
            print("| %d | %d × %d | %s | %.2f | %d | %.3f | %.3f | %.3f "
                  "| %.1f |%s"
                  % (n, r, t, "pruned" if prune else "plain",
                     res["load_seconds"], len(res["picks"]), per, scan,
                     per - scan, load, same))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
