#!/usr/bin/env python3
"""Embedding of uploaded images spread over replicas (issue 18): 1, 2 and 3
datapool-server processes on loopback sharing one folder, the built-in
model. N clients upload their share of the images at once, each to a
different replica (client i to replica i), all into pools that replica 0
owns: replicas 1 and 2 decode and embed what they receive and forward only
embeddings. Beside it, in the same run, the single-server peer: one server
(no replicas) taking the same N concurrent clients. Prints images/s, the
ratios to one replica, where the images were embedded (each replica's
datapool_images_embedded_total) and the load average.

  /usr/bin/python3 bench/replica_embedding_bench.py --build build-start \
      [--model builtin|resnet18] [--server-args '--threads 1']

Images: scikit-learn's digits (python3-sklearn; 1,797, 8 x 8), upscaled to
the model's input (64 x 64, nearest) as grayscale PNG; past 1,797 the
digits again, mirrored. Needs python3-grpcio, python3-opencv,
python3-numpy, python3-sklearn.
"""

import argparse
import os
import pathlib
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
sys.path.insert(0, HERE)

import cv2  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from datapool_testlib import load_stubs  # noqa: E402
from server_harness import RunningServer, free_ports  # noqa: E402

METRICS = re.compile(r"metrics on (http://\S+/metrics)")
SIDE = 64
CHUNK = 64 << 10


def images(n):
    """n (filename, PNG bytes) of the digits, upscaled."""
    digits = load_digits().images
    pixels = np.rint(digits * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    out = []
    for i in range(n):
        img = pixels[i % len(pixels)]
        if (i // len(pixels)) % 2:
            img = img[:, ::-1]
        big = cv2.resize(np.ascontiguousarray(img), (SIDE, SIDE),
                         interpolation=cv2.INTER_NEAREST)
        ok, data = cv2.imencode(".png", big)
        assert ok
        out.append(("d/%05d.png" % i, data.tobytes()))
    return out


def start_server(binary, shared, extra):
    """datapool-server on the CPU over `shared` (metrics on a free port)."""
    server = RunningServer(shared, shared, ["--device", "cpu"] + extra,
                           binary=binary, startup_timeout=120,
                           shutdown_timeout=60)
    return server.__enter__()


def embedded(server):
    """The server's datapool_images_embedded_total."""
    url = METRICS.search(server.stderr_text()).group(1)
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^datapool_images_embedded_total (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else 0


def requests(pb2, pool, share, n_samples, per_message):
    """Params, then the images, `per_message` whole images a message (the
    digits' PNGs are far smaller than CHUNK)."""
    yield pb2.SelectRequest(params=pb2.SelectionParams(
        pool=pool, n_samples_count=n_samples))
    for at in range(0, len(share), per_message):
        chunks = []
        for name, data in share[at:at + per_message]:
            assert len(data) <= CHUNK
            chunks.append(pb2.ImageChunk(filename=name, data=data, last=True))
        yield pb2.SelectRequest(images=chunks)


def owned_by_zero(pb2, stub, shared, servers, count, prefix):
    """`count` new pool names that replica 0 owns (each made once with one
    embedding, its owner found from its lock file, then deleted)."""
    names = []
    for i in range(200):
        pool = "%s-%d" % (prefix, i)
        stub.Select(pb2.SelectRequest(
            params=pb2.SelectionParams(pool=pool, n_samples_count=1),
            candidates=pb2.EmbeddingBlock(dimension=2, filenames=["probe"],
                                          values=[1.0, 0.0])), timeout=60)
        with open(os.path.join(shared, pool, "datapool.lock")) as f:
            mine = "pid %d" % servers[0].proc.pid in f.read()
        stub.DeletePool(pb2.DeletePoolRequest(pool=pool), timeout=60)
        if mine:
            names.append(pool)
            if len(names) == count:
                return names
    raise RuntimeError("no pools owned by replica 0")


def run_case(args, pb2, rpc, data, replicas, clients, work):
    """Wall seconds for `clients` concurrent uploads of data's shares to
    `replicas` replicas (0: the single-server peer), and each server's
    embedded images."""
    shared = tempfile.mkdtemp(prefix="shared-", dir=work)
    binary = os.path.join(args.build, "datapool-server")
    extra = list(args.model_args) + (
        list(args.server_args.split()) if args.server_args else [])
    servers = []
    try:
        if replicas == 0:
            servers.append(start_server(binary, shared, extra))
        else:
            ports = free_ports(replicas)
            peers = ",".join("127.0.0.1:%d" % p for p in ports)
            for i in range(replicas):
                servers.append(start_server(
                    binary, shared,
                    ["--listen", "127.0.0.1:%d" % ports[i], "--replicas",
                     str(replicas), "--replica-index", str(i), "--peers",
                     peers] + extra))
        channels = [grpc.insecure_channel(
            s.address, options=[("grpc.max_receive_message_length", -1)])
            for s in servers]
        stubs = [rpc.DatapoolStub(c) for c in channels]
        pools = owned_by_zero(pb2, stubs[0], shared, servers, clients,
                              "bench") if replicas > 1 else [
            "bench-%d" % c for c in range(clients)]
        shares = [data[c::clients] for c in range(clients)]
        # Warm-up: each server loads its model before the clock starts.
        for i, stub in enumerate(stubs):
            stub.Embed(iter([pb2.EmbedRequest(images=[pb2.ImageChunk(
                filename="w.png", data=data[0][1], last=True)])]),
                timeout=120)
        before = [embedded(s) for s in servers]
        errors = []

        def client(c):
            try:
                stub = stubs[c % len(stubs)]
                stub.SelectStream(requests(pb2, pools[c], shares[c],
                                           args.n_samples,
                                           args.per_message), timeout=600)
            except grpc.RpcError as e:
                errors.append(e)

        threads = [threading.Thread(target=client, args=(c,))
                   for c in range(clients)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - start
        if errors:
            raise RuntimeError("a client failed: %s" % errors[0])
        load = os.getloadavg()[0]
        done = [embedded(s) - b for s, b in zip(servers, before)]
        for c in channels:
            c.close()
        return seconds, done, load
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(shared, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--n-samples", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--server-args", default="",
                    help="extra datapool-server flags, e.g. '--threads 1'")
    ap.add_argument("--per-message", type=int, default=25,
                    help="images per request message")
    ap.add_argument("--model", choices=("builtin", "resnet18"),
                    default="builtin",
                    help="the built-in model, or an untrained ResNet-18 "
                    "(bench/images_model.py) at 64 x 64: embedding-bound")
    args = ap.parse_args()
    pb2, rpc = load_stubs()
    data = images(args.images)
    counts = [int(r) for r in args.replicas.split(",")]
    work = tempfile.mkdtemp(prefix="replica-embedding-bench-")
    args.model_args = ()
    if args.model == "resnet18":
        from images_model import resnet18_file
        args.model_args = ("--model", str(resnet18_file(pathlib.Path(work))),
                           "--input-size", str(SIDE))
    print("model %s, %d images, %d a message, server flags %s; load "
          "average before: %s" % (
              args.model, args.images, args.per_message,
              " ".join(args.model_args[:1] + args.model_args[2:]) + " " +
              args.server_args, " ".join("%.2f" % x
                                         for x in os.getloadavg())),
          flush=True)
    results = {}
    try:
        for rep in range(args.repeat):
            for n in counts:
                for kind in ("replicas", "single"):
                    if kind == "single" and n == 1:
                        continue  # the same case as one replica
                    seconds, embedded, load = run_case(
                        args, pb2, rpc, data, n if kind == "replicas" else 0,
                        n, work)
                    rate = args.images / seconds
                    results.setdefault((kind, n), []).append(rate)
                    print("rep %d %-8s N=%d: %.2f s, %.1f images/s, embedded "
                          "per server %s, load1 %.2f" % (
                              rep, kind, n, seconds, rate, embedded, load),
                          flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = max(results[("replicas", 1)])
    print("\n| case | clients | images/s (best of %d) | vs 1 replica |"
          % args.repeat)
    print("|---|---|---|---|")
    for (kind, n), rates in sorted(results.items(),
                                   key=lambda kv: (kv[0][1], kv[0][0])):
        label = ("%d replica%s" % (n, "s" if n > 1 else "")
                 if kind == "replicas" else "1 server (peer)")
        print("| %s | %d | %.1f | %.2f |" % (label, n, max(rates),
                                             max(rates) / base))
    print("\nload average now: %s; cores: %d" % (
        " ".join("%.2f" % x for x in os.getloadavg()), os.cpu_count()))


if __name__ == "__main__":
    main()
