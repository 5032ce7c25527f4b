#!/usr/bin/env python3
"""A Select through datapool-server, sharded over 1, 2 and 3 replica
processes on loopback (issue 18), beside the unsharded Select of one
server in the same run: the service path (the owner splits the candidates,
holds one slice in process and loads the others on the replicas over the
shard RPC), not the datapool-shard-select coordinator.

For each replica count R (R = 1: one server (1p: with --prune), no replicas, the unsharded
Select; R > 1: --replicas R with --shard-select-min-candidates 1), a fresh
shared folder gets the pool (the first --pool-rows rows of --pool,
committed by a Select), then the first --n rows of --candidates are sent
to the pool's owner as one dry-run SelectWithProgress (DIVERSITY only,
duplicates kept, --k picks). The time to its first pick's progress message
is the fixed cost (receiving the rows, each row's nearest pool sample,
loading the shards); the time from the first pick's message to the last
one's, over k - 1, is the time per pick. Every configuration must give the
same picks (checked).

  /usr/bin/python3 bench/sharded_select_service_bench.py --build build-fused \\
      --candidates /tmp/c1m.f32 --pool /tmp/p100k.f32 --pool-rows 10000 \\
      --n 1000000 --k 300

--candidates/--pool: raw float32 rows, d = 32 (bench/README.md, "Greedy
k-center", makes them).
"""

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "client", "python"))

import benchlib  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_client._gen import datapool_pb2 as pb2  # noqa: E402

benchlib.use_test_helpers()
from server_harness import RunningServer, free_ports  # noqa: E402

D = 32
UNLIMITED = [("grpc.max_send_message_length", -1),
             ("grpc.max_receive_message_length", -1)]


def start(binary, shared, replicas, extra):
    """`replicas` servers without a model sharing `shared`, on free loopback
    ports, each told the others' addresses."""
    ports = free_ports(replicas)
    peers = ",".join("127.0.0.1:%d" % p for p in ports)
    servers = []
    try:
        for i, port in enumerate(ports):
            args = ["--listen", "127.0.0.1:%d" % port, "--model", "none",
                    "--metrics-listen", "", "--max-message-mb", "2047"]
            args += extra
            if replicas > 1:
                args += ["--replicas", str(replicas), "--replica-index",
                         str(i), "--peers", peers,
                         "--shard-select-min-candidates", "1"]
            servers.append(RunningServer(
                shared, shared, args, binary=binary, startup_timeout=60,
                shutdown_timeout=60).__enter__())
    except BaseException:
        stop(servers)
        raise
    return servers


def stop(servers):
    for server in servers:
        server.stop()


def request(pool, rows, prefix, k, dry_run):
    diversity = pb2.SelectionObjective(
        input=pb2.SelectionObjective.INPUT_EMBEDDINGS,
        strategy=pb2.SelectionObjective.STRATEGY_DIVERSITY)
    block = pb2.EmbeddingBlock(dimension=D)
    block.filenames.extend("%s%07d" % (prefix, i) for i in range(len(rows)))
    block.values.extend(rows.ravel())
    return pb2.SelectRequest(
        params=pb2.SelectionParams(
            pool=pool, n_samples_count=k, dry_run=dry_run,
            remove_duplicates=False,
            config=pb2.SelectionConfig(objectives=[diversity])),
        candidates=block)


def call(address, raw):
    """SelectWithProgress: (seconds to the first pick, seconds from the
    first pick to the last, seconds in all, the response). The server
    reports the first pick and the last one at once (its progress is
    throttled in between)."""
    with grpc.insecure_channel(address, options=UNLIMITED) as channel:
        select = channel.stream_stream(
            "/datapool.v1.Datapool/SelectWithProgress",
            request_serializer=None,
            response_deserializer=pb2.SelectProgress.FromString)
        start_time = time.perf_counter()
        first = last = None
        for message in select(iter([raw]), timeout=3600):
            now = time.perf_counter()
            if message.HasField("result"):
                return (first - start_time, last - first, now - start_time,
                        message.result)
            p = message.progress
            if p.phase == "selecting":
                if p.done == 1:
                    first = now
                if p.done == p.total:
                    last = now
        raise RuntimeError("no result")


def owner(shared, pool, servers):
    with open(os.path.join(shared, pool, "datapool.lock")) as f:
        text = f.read()
    for server in servers:
        if "pid %d" % server.proc.pid in text:
            return server.address
    raise RuntimeError("no owner of " + pool)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--candidates", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--pool-rows", type=int, default=10000)
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--k", type=int, default=300)
    ap.add_argument("--replicas", default="1,1p,2,3",
                    help="replica counts; 'p': with --prune (the shards' "
                    "passes are pruned from the first pick, the in-process "
                    "default from the 33rd)")
    args = ap.parse_args()
    binary = os.path.join(args.build, "datapool-server")
    cands = np.fromfile(args.candidates, dtype=np.float32,
                        count=args.n * D).reshape(-1, D)
    pool_rows = np.fromfile(args.pool, dtype=np.float32,
                            count=args.pool_rows * D).reshape(-1, D)
    pool_raw = request("bench", pool_rows, "p", len(pool_rows),
                       False).SerializeToString()
    raw = request("bench", cands, "c", args.k, True).SerializeToString()
    print("n=%d d=%d pool=%d k=%d, load average %.2f" % (
        len(cands), D, len(pool_rows), args.k, os.getloadavg()[0]))
    print("| replicas | sharded | to the first pick (s) | per pick (ms) | "
          "Select in all (s) | load avg |")
    print("|--|--|--:|--:|--:|--:|")
    picks = None
    for config in args.replicas.split(","):
        replicas = int(config.rstrip("p"))
        extra = ["--prune"] if config.endswith("p") else []
        with tempfile.TemporaryDirectory(prefix="dp-shardsvc-") as tmp:
            shared = os.path.join(tmp, "shared")
            os.mkdir(shared)
            servers = start(binary, shared, replicas, extra)
            try:
                made = call(servers[0].address, pool_raw)[3]
                assert made.committed and made.pool_size_after == len(
                    pool_rows), made
                target = owner(shared, "bench", servers)
                to_first, picking, total, got = call(target, raw)
                logs = "".join(server.stderr_text() for server in servers)
            finally:
                stop(servers)
            names = [s.filename for s in got.selected]
            if picks is None:
                picks = names
            elif names != picks:
                raise SystemExit("%s: other picks" % config)
            sharded = logs.count("selection sharded over")
            print("| %s | %s | %.2f | %.3f | %.2f | %.2f |" % (
                config, "yes" if sharded else "no", to_first,
                picking / (args.k - 1) * 1e3, total, os.getloadavg()[0]))
            sys.stdout.flush()
    print("picks identical across configurations: %d picks" % len(picks))


if __name__ == "__main__":
    main()
