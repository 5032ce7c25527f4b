#!/usr/bin/python3
"""Selection quality on real images: does a Datapool selection teach a
classifier more than random picks?

scikit-learn's bundled digits (1,797 labelled 8x8 images, 10 classes, no
download). For each budget b = floor(f x N) (f = 1, 2, 4, 20% by default)
each method picks b samples; only the picks (and the pool, if any) are
"labelled", and every other sample gets the label of its nearest labelled
sample (1-NN, Euclidean on unit rows). The number is that accuracy.

Methods, all in one run:
  typical    the server's default (SelectionParams.config unset), dry run;
  diversity  the server with one DIVERSITY objective: plain greedy k-center
             (checked pick by pick against the farthest-first rule);
  typiclust  numpy/sklearn TypiClust (Hacohen et al., ICML'22): KMeans into
             pool + b clusters, uncovered ones largest first, the most
             typical point of each (1 / mean distance to its min(20, size-1)
             nearest neighbours in the cluster); mean of a few KMeans seeds;
  random     mean and sd of --draws seeded draws.

Spaces: raw pixels (64-d) and the server's built-in model (each digit a
32x32 8-bit grayscale PNG in the server's --input-dir, embedded with the
SDK's `embed`); all rows unit length. Settings: no pool, and a random 5%
committed as a pool first (labelled; TypiClust counts its samples as
covering their clusters); the budget is then picked among the rest.

Targets, per table: typical - random >= 10 points at 1%; typical never
below random's mean; typical >= typiclust at 1% and 2%.

    /usr/bin/python3 bench/selection_bench.py [--budgets 1,2,4,20]
        [--draws 20] [--typiclust-seeds 3] [--seed 0] [--spaces raw,model]
        [--quick] [--server-bin PATH] [--json-out FILE] [--strict]

Server: --server-bin, else env DATAPOOL_SERVER_BIN, else
build/datapool-server. Needs Debian's python3-sklearn, python3-numpy,
python3-grpcio, python3-opencv; downloads nothing. A run takes about 10 s on
2 vCPUs when nothing else runs (90 s while a build ran beside it).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in tests/python or bench/
import numpy as np  # noqa: E402
import sklearn  # noqa: E402

import benchlib  # noqa: E402
from benchlib import log  # noqa: E402
import selection_data as data  # noqa: E402
from selection_methods import (one_nn_accuracy, random_picks,  # noqa: E402
                               typiclust)
import selection_server as srv  # noqa: E402
from selection_report import report_lines, write_json  # noqa: E402

POOL_FRACTION = 0.05
SETTINGS = ("none", "pool")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", default="1,2,4,20",
                    help="budgets in %% of N, comma-separated")
    ap.add_argument("--draws", type=int, default=20,
                    help="random draws per budget")
    ap.add_argument("--typiclust-seeds", type=int, default=3,
                    help="KMeans seeds averaged for typiclust")
    ap.add_argument("--seed", type=int, default=0,
                    help="seeds the pool, the draws and KMeans")
    ap.add_argument("--spaces", default="raw,model",
                    help="raw and/or model, comma-separated")
    ap.add_argument("--quick", action="store_true",
                    help="5 random draws and 1 typiclust seed")
    ap.add_argument("--server-bin", type=Path,
                    help="default: env DATAPOOL_SERVER_BIN, else "
                         "build/datapool-server")
    ap.add_argument("--json-out", type=Path,
                    help="also write every number as JSON here")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a target is missed")
    args = ap.parse_args()
    try:
        args.budgets = [float(x) / 100 for x in args.budgets.split(",")]
    except ValueError:
        ap.error("--budgets: comma-separated percentages, e.g. 1,2,4,20")
    args.spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    if not args.spaces or set(args.spaces) - {"raw", "model"}:
        ap.error("--spaces: raw and/or model")
    if not all(0 < f <= 0.9 for f in args.budgets):
        ap.error("--budgets: each in (0, 90]")
    if args.quick:
        args.draws, args.typiclust_seeds = min(args.draws, 5), 1
    if args.draws < 2 or args.typiclust_seeds < 1:
        ap.error("--draws must be >= 2 and --typiclust-seeds >= 1")
    if args.server_bin is None:
        args.server_bin = Path(benchlib.binary(
            "DATAPOOL_SERVER_BIN", "build/datapool-server",
            "selection_bench"))
    elif not os.access(args.server_bin, os.X_OK):
        ap.error("--server-bin %s is not executable" % args.server_bin)
    return args


def summary(values, y, labelled_sets):
    v = np.asarray(values)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1))
            if len(v) > 1 else 0.0, "values": [float(x) for x in v],
            "classes": float(np.mean([len(np.unique(y[s]))
                                      for s in labelled_sets]))}


def budget_row(args, sel, X, y, pool_name, pool_rows, cands, f, b, bi):
    """Every method at one budget."""
    t0 = time.perf_counter()
    row = {"f": f, "b": b}
    for method, config in (("typical", None),
                           ("diversity", srv.diversity_config(sel.pb2))):
        picks, raw, stop, dups = sel.select(pool_name, X, cands, b, config)
        labelled = np.concatenate([pool_rows, picks])
        row[method] = {
            "acc": one_nn_accuracy(X, y, labelled), "n_picks": len(picks),
            "classes": int(len(np.unique(y[labelled]))), "stop": stop,
            "duplicates_removed": int(dups), "picks": picks.tolist()}
        if method == "diversity":
            row[method]["kcenter_error"] = srv.check_kcenter(
                X, pool_rows, cands, raw, stop, b)
    row["shared_picks"] = len(set(row["typical"]["picks"])
                              & set(row["diversity"]["picks"]))
    sets = [np.concatenate([pool_rows, typiclust(X, pool_rows, b,
                                                 args.seed + s)])
            for s in range(args.typiclust_seeds)]
    row["typiclust"] = summary([one_nn_accuracy(X, y, s) for s in sets],
                               y, sets)
    sets = [np.concatenate([pool_rows, random_picks(
        cands, b, [args.seed, 1, bi, d])]) for d in range(args.draws)]
    row["random"] = summary([one_nn_accuracy(X, y, s) for s in sets], y,
                            sets)
    row["typical_minus_random"] = (row["typical"]["acc"]
                                   - row["random"]["mean"])
    log("    %s b=%d: typical %.3f diversity %.3f typiclust %.3f random "
        "%.3f (%.1f s)" % (
            "%g%%" % (100 * f), b, row["typical"]["acc"],
            row["diversity"]["acc"], row["typiclust"]["mean"],
            row["random"]["mean"], time.perf_counter() - t0))
    return row


def run_all(args, images, y, shared, inputs):
    n = len(y)
    Client, pb2, pb2_grpc = srv.sdk()
    rng = np.random.default_rng([args.seed, 0])
    pool_rows = np.sort(rng.choice(n, size=int(POOL_FRACTION * n),
                                   replace=False))
    run = {"n": n, "pool_size": len(pool_rows),
           "pool_rows": pool_rows.tolist(), "cells": [], "spaces": {}}
    if "model" in args.spaces:
        data.write_pngs(inputs, images)
    with srv.start_server(args.server_bin, shared, inputs) as server:
        client = Client(server.address, timeout=600)
        sel = srv.Selector(client, pb2, pb2_grpc, server.address)
        run["via"] = sel.via
        try:
            for space in args.spaces:
                log("space %s" % space)
                if space == "raw":
                    X, info = data.raw_space(images), {"dimension": 64}
                else:
                    X, info = data.model_space(client, n)
                run["spaces"][space] = info
                sel.commit_pool("pool-" + space, X, pool_rows)
                for setting in SETTINGS:
                    rows = pool_rows if setting == "pool" else \
                        np.zeros(0, dtype=np.int64)
                    pool_name = "pool-" + space if setting == "pool" else \
                        "empty-" + space
                    cands = np.setdiff1d(np.arange(n), rows)
                    log("  %s" % setting)
                    cell = {"space": space, "setting": setting, "rows": []}
                    for bi, f in enumerate(args.budgets):
                        cell["rows"].append(budget_row(
                            args, sel, X, y, pool_name, rows, cands, f,
                            int(np.floor(f * n + 1e-9)), bi))
                    run["cells"].append(cell)
        finally:
            sel.close()
            client.close()
    return run


def main():
    args = parse_args()
    images, y = data.digits()
    st = args.server_bin.stat()
    run_meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "server_bin": str(args.server_bin),
        "server_mtime": datetime.fromtimestamp(
            st.st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "git": benchlib.git_rev(),
        "versions": {"numpy": np.__version__,
                     "sklearn": sklearn.__version__},
        "command": " ".join([sys.executable]
                            + sys.argv),
    }
    t0 = time.perf_counter()
    shared = Path(tempfile.mkdtemp(prefix="selbench-shared-"))
    inputs = Path(tempfile.mkdtemp(prefix="selbench-input-"))
    try:
        run = run_all(args, images, y, shared, inputs)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        shutil.rmtree(inputs, ignore_errors=True)
    run.update(run_meta)
    run["wall_s"] = time.perf_counter() - t0
    lines, verdicts = report_lines(args, run)
    print("\n".join(lines))
    log("total %.1f s" % run["wall_s"])
    if args.json_out:
        write_json(args.json_out, args, run, verdicts)
    return 1 if args.strict and not all(v[2] for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
