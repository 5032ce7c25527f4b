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
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in tests/python or bench/
import benchlib  # noqa: E402

benchlib.use_test_helpers()
import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs  # noqa: E402

from machine_use import MachineUse  # noqa: E402
from soak_checks import check_durability, disk_report, final_check  # noqa: E402
from soak_clients import Client, Stats  # noqa: E402
from soak_report import print_report  # noqa: E402
from soak_server import Sampler, Supervisor, log  # noqa: E402
from soak_summary import summarise  # noqa: E402

REPO = benchlib.REPO


# -- the run -----------------------------------------------------------------

def warm_up(args, pb2, rpc, sup, stats):
    """One Select per pool first, so that reads find the pools."""
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


def kill_loop(args, sup, stop, t_start, problems):
    """Until the soak's end (or stop): SIGKILL and restart every
    --kill-every seconds."""
    t_stop = t_start + args.minutes * 60
    next_kill = t_start + args.kill_every if args.kill_every else None
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


def final_restart(args, pb2, rpc, sup, problems):
    """A clean restart: the pools must load and hold every acked pick.
    Returns the final server's pool infos."""
    infos = {}
    if sup.start("final"):
        infos, more = final_check(sup, pb2, rpc, max(args.deadline_s, 30))
        problems += more
        time.sleep(1.5)  # a sample or two of the idle, reloaded server
        sup.stop()
    else:
        problems.append("the final server did not start")
    return infos


def run_soak(args, pb2, rpc, sup, sampler, stats, stop, clients, problems):
    """The warm-up, the soak with its kills, the final restart and check.
    Returns (final server's pool infos, soak start, soak end)."""
    if not sup.start("soak"):
        sys.exit("soak: the server did not start:\n" + sup.start_failures[-1])
    sampler.start()
    warm_up(args, pb2, rpc, sup, stats)

    # Per client at most 1000 calls a second: a bound, never the limit.
    max_calls = int(args.minutes * 60 * 1000) + 1
    clients.extend(Client(i, args, pb2, rpc, sup, stats, stop, max_calls)
                   for i in range(args.clients))
    t_start = time.monotonic()
    for c in clients:
        c.start()
    log("%d clients for %.1f min, kill -9 every %s"
        % (args.clients, args.minutes,
           "%g s" % args.kill_every if args.kill_every else "never"))
    kill_loop(args, sup, stop, t_start, problems)
    stop.set()
    t_end = time.monotonic()
    for c in clients:
        c.join(args.deadline_s + 30)
        if c.is_alive():
            problems.append("client %d did not finish" % c.index)
    log("clients done: %d calls; stopping the server (SIGTERM)"
        % sum(c.calls for c in clients))
    sup.stop()
    return final_restart(args, pb2, rpc, sup, problems), t_start, t_end


# -- main --------------------------------------------------------------------

def arg_parser():
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
    return ap


def parse_args(ap):
    args = ap.parse_args()
    if not (args.clients >= 1 and args.minutes > 0 and args.kill_every >= 0
            and args.pools >= 1 and args.rows >= 1 and args.dim >= 1 and
            1 <= args.min_picks <= args.max_picks and
            0 <= args.read_share <= 1 and args.deadline_s > 0):
        ap.error("bad arguments")
    if 0 < args.kill_every < 2:
        ap.error("--kill-every must be 0 or at least 2 s")
    return args


def server_env(ap, args):
    """The server's environment: ours plus --server-env; None without."""
    env = None
    if args.server_env:
        env = dict(os.environ)
        for item in args.server_env:
            name, sep, value = item.partition("=")
            if not sep or not name:
                ap.error("--server-env wants NAME=VALUE, got %r" % item)
            env[name] = value
    return env


def soak_and_check(args, ap, stubs, shared, input_dir, argv, machine):
    """The soak, its durability and disk checks; returns the report."""
    cpu = MachineUse()
    stats = Stats()
    stop = threading.Event()
    env = server_env(ap, args)
    sup = Supervisor(args.server_bin, shared, input_dir,
                     args.server_log_level, env)
    sampler = Sampler(sup, shared, args.disk_every, args.max_disk_gb * 1e9,
                      args.min_free_gb * 1e9, stop)
    problems = []
    clients = []
    pb2, rpc = stubs
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
    return summarise(args, argv, t_start, t_end, sup, sampler, stats,
                     clients, dura, disk, infos, problems, machine, shares)


def main():
    ap = arg_parser()
    argv = sys.argv[1:]
    args = parse_args(ap)
    args.server_bin = benchlib.binary("DATAPOOL_SERVER_BIN",
                                      "build/datapool-server", "soak")
    args.cli_bin = os.environ.get("DATAPOOL_CLI_BIN") or str(
        REPO / "build" / "datapool")
    stubs = load_stubs()

    args.workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    shared, input_dir = run_dir / "shared", run_dir / "input"
    shared.mkdir()
    input_dir.mkdir()
    machine = {"nproc": os.cpu_count(), "cpu": benchlib.cpu_model(),
               "python": platform.python_version(), "grpc": grpc.__version__,
               "numpy": np.__version__, "tree": benchlib.git_rev(),
               "loadavg_start": os.getloadavg()[0]}
    log("run folder %s" % run_dir)

    report = soak_and_check(args, ap, stubs, shared, input_dir, argv,
                            machine)
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
