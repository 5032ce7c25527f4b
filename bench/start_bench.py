"""datapool-server's start-up cost: exec to the `listening on` line, side by
side in one run, for --model none (no libtorch: the model library is loaded
only with a model) and the built-in model, and optionally the same two
starts of another build (--before BIN, e.g. one that links libtorch).

    /usr/bin/python3 bench/start_bench.py [--reps 5] [--before BIN]
        [--shared-dir DIR]

Each start: wall seconds to the listening line, the server's CPU seconds
then (utime + stime), the shared objects it has mapped and whether
libtorch_cpu is among them; then SIGTERM. The starts of the cases are
interleaved (case A, case B, ..., again), so machine load hits each alike;
the table shows the best wall time of R and the median CPU. The shared
folder is empty by default (the fixed cost; a pool adds its load time,
which no case changes: bench/csv_bench.py times restarts with a pool).
Binary: DATAPOOL_SERVER_BIN, default build/datapool-server.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import log

TIMEOUT_S = 120


def start(binary, shared, extra):
    """One start: (wall s to listening, CPU s, mapped .so count, libtorch)."""
    cmd = [binary, "--shared-dir", shared, "--listen", "127.0.0.1:0",
           "--metrics-listen", ""] + extra
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = t0 + TIMEOUT_S
        for line in proc.stdout:
            if "listening on" in line:
                wall = time.perf_counter() - t0
                cpu = benchlib.proc_cpu_s(proc.pid)
                with open("/proc/%d/maps" % proc.pid) as f:
                    maps = f.read()
                libs = {l.split()[-1] for l in maps.splitlines()
                        if ".so" in l.split()[-1]}
                return wall, cpu, len(libs), "libtorch_cpu" in maps
            if time.perf_counter() > deadline:
                break
        raise SystemExit("%s did not start (exit %s)" % (" ".join(cmd),
                                                          proc.poll()))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT_S)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--before", help="another datapool-server to time too")
    ap.add_argument("--shared-dir", help="default: an empty temporary one")
    args = ap.parse_args()
    server = benchlib.binary("DATAPOOL_SERVER_BIN", "build/datapool-server",
                             "start_bench")
    cases = [("--model none", server, ["--model", "none"]),
             ("built-in model", server, [])]
    if args.before:
        cases += [("before: --model none", args.before, ["--model", "none"]),
                  ("before: built-in model", args.before, [])]
    with tempfile.TemporaryDirectory(prefix="datapool-start-") as tmp:
        shared = args.shared_dir or tmp
        input_dir = os.path.join(tmp, "input")
        os.makedirs(input_dir, exist_ok=True)
        runs = {name: [] for name, _, _ in cases}
        for _ in range(args.reps):
            for name, binary, extra in cases:
                runs[name].append(start(binary, shared, extra +
                                        ["--input-dir", input_dir]))
    load = os.getloadavg()
    print("datapool-server start (exec to listening), best of %d, "
          "interleaved; %d cores, load average %.2f at the end; %s"
          % (args.reps, os.cpu_count(), load[0], benchlib.git_rev()))
    print("binary: %s%s" % (server, "; before: %s" % args.before
                            if args.before else ""))
    base = min(r[0] for r in runs[cases[0][0]])
    print("| case | wall (best) | CPU s (median) | shared objects | "
          "libtorch | wall vs --model none |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, _, _ in cases:
        r = runs[name]
        wall = min(x[0] for x in r)
        print("| %s | %.3f s | %.2f | %d | %s | %.2fx |" % (
            name, wall, statistics.median(x[1] for x in r), r[0][2],
            "yes" if r[0][3] else "no", wall / base))
    log("walls: " + "; ".join("%s: %s" % (n, " ".join(
        "%.3f" % x[0] for x in runs[n])) for n, _, _ in cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
