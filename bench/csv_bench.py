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
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.dont_write_bytecode = True  # no __pycache__ for the modules below
from benchlib import log  # noqa: E402
from csv_cases import run_case  # noqa: E402
from csv_report import (details, machine_line, markdown_table,  # noqa: E402
                        rows_for, update_readme)
from csv_server_timer import ServerTimer  # noqa: E402
from machine_use import MachineUse  # noqa: E402

FULL_CASES = [(1_000_000, 32), (100_000, 512)]
QUICK_CASES = [(20_000, 32), (2_000, 512)]
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


def parse_args():
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
    return ap.parse_args()


def header_lines(args, wall, load0, others):
    """The lines above the table: machine, command, repetitions."""
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
    return header


def main():
    args = parse_args()
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
    header = header_lines(args, wall, load0, others)
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
