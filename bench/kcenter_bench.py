#!/usr/bin/python3
"""Greedy k-center speed of Datapool against this machine's limits and a
numpy peer, in one run on the same data.

    /usr/bin/python3 bench/kcenter_bench.py [--quick] [--threads 2]
        [--workdir DIR] [--json-out FILE] [--strict]

What it does, in order:
  data    unit-norm float32 embeddings, fixed seed, written once as raw .f32
          files under --workdir (both the engine and numpy read them):
          "clustered" = a mixture of 64 Gaussians, each spread along its own
          16-dimensional subspace around a random unit centre, plus a little
          isotropic noise, projected to unit norm (like real embeddings);
          "uniform" = a normalised isotropic Gaussian (the hard case: no
          structure to prune). Rows are normalised exactly as the server does
          (double sum, float scale), to a fixed point, so that the gRPC case
          sends the very same vectors.
  probes  streaming read bandwidth (sum of a 1 GiB array, T threads, best of
          3) and the sgemm rate (the BLAS FAISS links, FAISS's block shapes),
          from bench/datapool_kcenter_bench.
  engine  KCenterGreedy in process (datapool_kcenter_bench kcenter), pruned
          and exact, T threads; with a pool, first the pool phase as
          PoolManager runs it (FAISS IndexFlatL2 add + batched k=1 search).
  numpy   bench/peers/kcenter_numpy.py on the same files (OPENBLAS_CORETYPE
          and OPENBLAS_L2_SIZE unset for it). On N=1M, d=32, k=10k it runs
          k=200 only and its time is extrapolated per pick (said in the table).
  grpc    the real server (DATAPOOL_SERVER_BIN, default build/datapool-server)
          and SelectStream with the 100k x 128 clustered embeddings in ~1 MiB
          messages, dry_run, through the generated stubs (the Python SDK's,
          client/python/datapool_client/_gen); compared with the in-process
          engine on the same data (pool phase + k-center; no pool here, so
          k-center).

Targets (from the issue), on 2 cores:
  N=100k d=128 k=1000 no pool   >= 8x faster than numpy; <= 2x k*N*d*4 B / bandwidth
  same with a pool of 100k       pool phase <= 2x 2*N*P*d flop / sgemm rate
  N=1M d=32 k=10k                <= 2x the bandwidth bound; peak RSS <=
                                 1.5 x candidate bytes + 300 MB
  pruning on clustered data      >= 3x fewer distance evaluations, same picks
  Select over gRPC, 100k x 128   <= 1.5x the in-process engine time

--quick runs the same cases at small sizes (for development; no targets are
judged on it). The engine binary: env DATAPOOL_KCENTER_BENCH_BIN, else
build-bench/bench/datapool_kcenter_bench, else build/bench/... .
Needs Debian's python3-numpy, python3-grpcio and python3-protobuf only.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PEER = REPO / "bench" / "peers" / "kcenter_numpy.py"
# Bump when the generator changes: cached data files are then regenerated.
GENERATOR_VERSION = 1
MB = 1e6


# ------------------------------------------------------------------ sizes

FULL = dict(n=100_000, d=128, k=1000, p=100_000,
            big_n=1_000_000, big_d=32, big_k=10_000, big_numpy_k=200,
            grpc_n=100_000)
QUICK = dict(n=20_000, d=128, k=200, p=20_000,
             big_n=100_000, big_d=32, big_k=1000, big_numpy_k=50,
             grpc_n=20_000)


# ------------------------------------------------------------------ data

def normalize_like_server(X, block=65536):
    """In place: rows scaled as the server's NormalizeRow (double sum of
    squares, float scale), repeated until the server would change nothing.
    Returns the number of rows that did not reach a fixed point."""
    unstable = 0
    for i in range(0, len(X), block):
        Y = X[i:i + block]
        for _ in range(6):
            Y64 = Y.astype(np.float64)
            inv = (1.0 / np.sqrt(np.einsum("ij,ij->i", Y64, Y64))
                   ).astype(np.float32)
            Z = Y * inv[:, None]
            same = np.all(Z == Y, axis=1)
            Y[...] = Z
            if same.all():
                break
        else:
            unstable += int((~same).sum())
    return unstable


def gen_clustered(n, d, seed, clusters=64, latent=16, spread=0.15,
                  noise=0.01):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    lat = min(latent, d)
    bases = np.stack([np.linalg.qr(rng.standard_normal((d, lat)))[0]
                      for _ in range(clusters)])  # clusters x d x lat
    weights = rng.dirichlet(np.full(clusters, 2.0))
    scale = spread * rng.uniform(0.5, 1.5, size=clusters)
    label = rng.choice(clusters, size=n, p=weights)
    X = np.empty((n, d), dtype=np.float32)
    for i in range(0, n, 65536):
        lab = label[i:i + 65536]
        z = rng.standard_normal((len(lab), lat)) * scale[lab, None]
        x = centres[lab] + np.einsum("ndl,nl->nd", bases[lab], z)
        x += noise * rng.standard_normal(x.shape)
        X[i:i + len(lab)] = x
    return X


def gen_uniform(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d), dtype=np.float32)


def data_file(workdir, kind, n, d, seed, part):
    """Raw float32 rows; generated (and normalised) on first use."""
    path = Path(workdir) / ("%s-v%d-n%d-d%d-s%d-%s.f32"
                            % (kind, GENERATOR_VERSION, n, d, seed, part))
    if path.exists() and path.stat().st_size == n * d * 4:
        return path
    t0 = time.perf_counter()
    # Candidates and pool come from the same mixture: one draw, split.
    total = 2 * n if kind == "clustered" else n
    part_seed = seed if part == "cand" or kind == "clustered" else seed + 1
    if kind == "clustered":
        X = gen_clustered(total, d, part_seed)
        X = X[:n] if part == "cand" else X[n:]
    else:
        X = gen_uniform(n, d, part_seed)
    X = np.ascontiguousarray(X)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    unstable = normalize_like_server(X)
    tmp = path.with_suffix(".tmp")
    X.tofile(tmp)
    os.replace(tmp, path)
    log("  data %s (%.1f s%s)" % (path.name, time.perf_counter() - t0,
                                  ", %d rows not at the server's fixed point"
                                  % unstable if unstable else ""))
    return path


# ------------------------------------------------------------------ runners

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, env=None, what=""):
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, text=True)
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d): %s\n%s" % (
            " ".join(map(str, cmd)), proc.returncode, proc.stderr[-4000:],
            proc.stdout[-2000:]))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    log("  %-44s %6.1f s" % (what, time.perf_counter() - t0))
    return out


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


def engine(args, cand, n, d, k, pool=None, p=0, modes="pruned,exact",
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


def grpc_select(args, cand, n, d, k, engine_picks):
    """SelectStream of n x d rows in ~1 MiB messages; best of 2 calls."""
    import grpc
    sys.path.insert(0, str(REPO / "tests" / "python"))
    from datapool_testlib import load_stubs
    from server_harness import RunningServer
    datapool_pb2, datapool_pb2_grpc = load_stubs()

    X = np.fromfile(cand, dtype=np.float32, count=n * d).reshape(n, d)
    t0 = time.perf_counter()
    rows = max(1, (1 << 20) // (d * 4 + 12))
    messages = []
    for i in range(0, n, rows):
        block = datapool_pb2.EmbeddingBlock(
            dimension=d,
            filenames=["%d.jpg" % j for j in range(i, min(n, i + rows))],
            values=X[i:i + rows].ravel())
        messages.append(datapool_pb2.SelectRequest(candidates=block))
    build_s = time.perf_counter() - t0
    wire = sum(m.ByteSize() for m in messages)

    def requests(pool_name):
        first = datapool_pb2.SelectRequest(params=datapool_pb2.SelectionParams(
            pool=pool_name, n_samples_count=k, dry_run=True))
        yield first
        yield from messages

    shared = tempfile.mkdtemp(prefix="kcbench-shared-")
    inputs = tempfile.mkdtemp(prefix="kcbench-input-")
    result = {"build_s": build_s, "messages": len(messages),
              "wire_bytes": wire, "calls_s": []}
    with RunningServer(shared, inputs, binary=str(args.server_bin),
                       extra_args=["--device", "cpu"]) as server:
        channel = grpc.insecure_channel(server.address, options=[
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.max_receive_message_length", 64 << 20)])
        stub = datapool_pb2_grpc.DatapoolStub(channel)
        # Connect first (not timed): a one-row dry run.
        warm = datapool_pb2.SelectRequest(
            params=datapool_pb2.SelectionParams(
                pool="warmup", n_samples_count=1, dry_run=True),
            candidates=datapool_pb2.EmbeddingBlock(
                dimension=d, filenames=["w"], values=X[0].tolist()))
        stub.Select(warm, timeout=60)
        for call in range(2):
            t0 = time.perf_counter()
            resp = stub.SelectStream(requests("kcbench-%d" % call),
                                     timeout=600)
            result["calls_s"].append(time.perf_counter() - t0)
        channel.close()
    picks = [int(s.filename.split(".")[0]) for s in resp.selected]
    result["rpc_s"] = min(result["calls_s"])
    result["picks"] = compare_picks(picks, engine_picks)
    result["distance_evaluations"] = resp.distance_evaluations
    result["candidates_received"] = resp.candidates_received
    log("  grpc: %d messages, %.1f MB on the wire, build %.1f s, calls %s"
        % (len(messages), wire / MB, build_s,
           ", ".join("%.2f s" % s for s in result["calls_s"])))
    return result


# ------------------------------------------------------------------ machine

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    fl = line.split()
                    flags = ",".join(x for x in ("avx2", "fma", "avx512f")
                                     if x in fl)
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": model, "simd": flags,
            "mem_gib": round(mem, 1), "kernel": platform.release(),
            "loadavg": os.getloadavg(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


# ------------------------------------------------------------------ table

class Table:
    def __init__(self):
        self.rows = []
        self.misses = 0

    def add(self, case, measured, reference, ratio, goal, verdict=None):
        if verdict is None:
            verdict = ""
        elif verdict is True:
            verdict = "PASS"
        elif verdict is False:
            verdict = "MISS"
            self.misses += 1
        self.rows.append((case, measured, reference, ratio, goal, verdict))

    def render(self):
        head = ("case", "measured", "reference", "ratio", "goal", "")
        widths = [max(len(str(r[i])) for r in self.rows + [head])
                  for i in range(6)]
        line = lambda r: "| " + " | ".join(  # noqa: E731
            str(c).ljust(w) for c, w in zip(r, widths)) + " |"
        out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in self.rows]
        return "\n".join(out)


def fmt_s(s):
    return "%.2f s" % s if s >= 1 else "%.0f ms" % (s * 1e3)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for development (no targets judged)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--reps", type=int, default=3,
                    help="engine runs per mode on the 100k cases (best is "
                    "shown; the 1M case and numpy run once)")
    ap.add_argument("--workdir", default=os.path.join(
        tempfile.gettempdir(), "datapool-kcenter-bench"))
    ap.add_argument("--numpy-form", choices=("sub", "matmul"), default="sub",
                    help="per-pick distance in the numpy peer: "
                    "((X - X[s])**2).sum(1) (default) or the @ form")
    ap.add_argument("--skip", default="",
                    help="comma list of parts to skip: numpy,pool,big,grpc")
    ap.add_argument("--json-out")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a target is missed")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    S = QUICK if args.quick else FULL
    judge = not args.quick

    def default_bin():
        env = os.environ.get("DATAPOOL_KCENTER_BENCH_BIN")
        if env:
            return Path(env)
        for b in ("build-bench", "build"):
            path = REPO / b / "bench" / "datapool_kcenter_bench"
            if path.exists():
                return path
        raise SystemExit("datapool_kcenter_bench not found: build it "
                         "(see bench/KCENTER.md) or set "
                         "DATAPOOL_KCENTER_BENCH_BIN")
    args.bench_bin = default_bin()
    args.server_bin = Path(os.environ.get(
        "DATAPOOL_SERVER_BIN", REPO / "build" / "datapool-server"))
    os.makedirs(args.workdir, exist_ok=True)

    started = time.perf_counter()
    mach = machine()
    log("machine: %(nproc)d x %(cpu)s (%(simd)s), %(mem_gib)s GiB, "
        "load %(loadavg)s" % mach)
    res = {"machine": mach, "sizes": S, "threads": args.threads,
           "numpy_form": args.numpy_form}

    n, d, k, p = S["n"], S["d"], S["k"], S["p"]
    bn, bd, bk = S["big_n"], S["big_d"], S["big_k"]
    log("data (workdir %s):" % args.workdir)
    clus = data_file(args.workdir, "clustered", n, d, args.seed, "cand")
    unif = data_file(args.workdir, "uniform", n, d, args.seed, "cand")
    if "pool" not in skip:
        clus_pool = data_file(args.workdir, "clustered", n, d, args.seed,
                              "pool")
    if "big" not in skip:
        big = data_file(args.workdir, "clustered", bn, bd, args.seed, "cand")

    def probes():
        bw = run_json([args.bench_bin, "bandwidth", "--gib=1",
                       "--threads=%d" % args.threads, "--reps=3"],
                      what="read bandwidth")
        sg = run_json([args.bench_bin, "sgemm",
                       "--threads=%d" % args.threads, "--reps=3"],
                      what="sgemm")
        return bw, sg

    log("probes:")
    res["probes_start"] = probes()

    log("engine:")
    e_clus = engine(args, clus, n, d, k, tag="clustered", reps=args.reps)
    e_unif = engine(args, unif, n, d, k, tag="uniform", reps=args.reps)
    res["engine"] = {"clustered": e_clus, "uniform": e_unif}
    if "pool" not in skip:
        e_pool = engine(args, clus, n, d, k, pool=clus_pool, p=p,
                        tag="pool", reps=args.reps)
        res["engine"]["pool"] = e_pool
        # What-if: the same pool phase with BLAS on T threads (the factory
        # sets 1, and FAISS 1.7.3 calls sgemm outside its OpenMP loops).
        e_pool_bt = engine(args, clus, n, d, 1, pool=clus_pool, p=p,
                           modes="exact", tag="pool-blas%d" % args.threads,
                           extra=["--blas-threads=%d" % args.threads])
        res["engine"]["pool_blas_threads"] = e_pool_bt
    if "big" not in skip:
        # One mode per process: each peak RSS is its own.
        e_big = {}
        for mode in ("pruned", "exact"):
            e_big[mode] = engine(args, big, bn, bd, bk, modes=mode,
                                 tag="big")
        res["engine"]["big"] = e_big

    np_res = {}
    if "numpy" not in skip:
        log("numpy peer (form %s):" % args.numpy_form)
        np_res["clustered"] = numpy_peer(args, clus, n, d, k,
                                         tag="clustered")
        np_res["uniform"] = numpy_peer(args, unif, n, d, k, tag="uniform")
        # The other form, briefly (per pick, extrapolated): xx - 2 X@X[s]
        # + xx[s] is a BLAS sgemv, itself close to the bandwidth limit.
        other = "matmul" if args.numpy_form == "sub" else "sub"
        np_res["clustered_other"] = numpy_peer(
            args, clus, n, d, min(k, 200), tag="clustered-%s" % other,
            form=other)
        if "pool" not in skip:
            np_res["pool"] = numpy_peer(args, clus, n, d, k, pool=clus_pool,
                                        p=p, tag="pool")
        if "big" not in skip:
            np_res["big"] = numpy_peer(args, big, bn, bd, S["big_numpy_k"],
                                       tag="big")
        res["numpy"] = np_res

    g = None
    if "grpc" not in skip:
        log("grpc:")
        gn = S["grpc_n"]
        e_g = e_clus if gn == n else engine(args, clus, gn, d, k,
                                            modes="pruned", tag="grpc")
        g = grpc_select(args, clus, gn, d, k,
                        e_g["by_mode"]["pruned"]["picks_list"])
        g["engine_s"] = e_g["pool_add_s"] + e_g["pool_search_s"] + \
            e_g["by_mode"]["pruned"]["kcenter_s"]
        res["grpc"] = g

    # The machine's limits: the best of the probes before and after (a
    # shared machine only ever makes them look lower).
    log("probes again:")
    res["probes_end"] = probes()
    (bw0, sg0), (bw1, sg1) = res["probes_start"], res["probes_end"]
    bw = bw0 if bw0["read_gbps"] >= bw1["read_gbps"] else bw1
    sg = sg0 if sg0["gflops"] >= sg1["gflops"] else sg1
    res["bandwidth"], res["sgemm"] = bw, sg
    gbps = bw["read_gbps"]
    gflops = sg["gflops"]

    # ---------------------------------------------------------- the table
    t = Table()
    J = (lambda ok: ok) if judge else (lambda ok: None)

    def bw_bound(nn, dd, kk):
        return kk * nn * dd * 4 / (gbps * 1e9)

    for kind, e in (("clustered", e_clus), ("uniform", e_unif)):
        size = "N=%d d=%d k=%d %s" % (n, d, k, kind)
        npr = np_res.get(kind)
        for mode in ("exact", "pruned"):
            r = e["by_mode"][mode]
            if npr:
                sp = npr["kcenter_s"] / r["kcenter_s"]
                t.add("%s, %s vs numpy" % (size, mode), fmt_s(r["kcenter_s"]),
                      "numpy %s (%s)" % (fmt_s(npr["kcenter_s"]),
                                         compare_picks(r["picks_list"],
                                                       npr["picks_list"])),
                      "%.1fx faster" % sp, ">= 8x", J(sp >= 8))
            npo = np_res.get("clustered_other")
            if kind == "clustered" and npo:
                kk = npo["k"]
                per_pick = npo["picks_s"] / max(1, kk - 1)
                est = npo["start_s"] + per_pick * (k - 1)
                t.add("  %s vs numpy, %s form (extrapolated)"
                      % (mode, npo["form"]), fmt_s(r["kcenter_s"]),
                      "numpy ~%s (k=%d run, %.2f ms/pick; %s)"
                      % (fmt_s(est), kk, per_pick * 1e3,
                         compare_picks(r["picks_list"][:kk],
                                       npo["picks_list"])),
                      "~%.1fx faster" % (est / r["kcenter_s"]), "(info)")
            b = bw_bound(n, d, k)
            t.add("%s, %s vs bandwidth" % (size, mode), fmt_s(r["kcenter_s"]),
                  "bound %s" % fmt_s(b), "%.2fx bound" % (r["kcenter_s"] / b),
                  "<= 2x", J(r["kcenter_s"] <= 2 * b))

    if "pool" not in skip:
        e = e_pool
        pool_s = e["pool_add_s"] + e["pool_search_s"]
        b = 2.0 * n * p * d / (gflops * 1e9)
        flop = 2.0 * n * p * d
        t.add("pool phase N=%d P=%d d=%d (add+search)" % (n, p, d),
              "%s (add %s; %.0f GFLOP/s)" % (fmt_s(pool_s),
                                             fmt_s(e["pool_add_s"]),
                                             flop / pool_s / 1e9),
              "sgemm bound %s" % fmt_s(b), "%.2fx bound" % (pool_s / b),
              "<= 2x", J(pool_s <= 2 * b))
        bt = e_pool_bt["pool_add_s"] + e_pool_bt["pool_search_s"]
        t.add("  what-if: same with BLAS on %d threads" % args.threads,
              "%s (%.0f GFLOP/s)" % (fmt_s(bt), flop / bt / 1e9),
              "sgemm bound %s" % fmt_s(b), "%.2fx bound" % (bt / b),
              "(info)")
        npr = np_res.get("pool")
        if npr:
            t.add("  pool phase, numpy @ in blocks", fmt_s(npr["pool_s"]),
                  "engine %s" % fmt_s(pool_s),
                  "%.1fx faster" % (npr["pool_s"] / pool_s), "(info)")
        for mode in ("exact", "pruned"):
            r = e["by_mode"][mode]
            ref = ("numpy %s (%s)" % (fmt_s(npr["kcenter_s"]), compare_picks(
                r["picks_list"], npr["picks_list"])) if npr else "")
            t.add("  k-center after the pool, %s" % mode,
                  fmt_s(r["kcenter_s"]), ref,
                  "%.1fx faster" % (npr["kcenter_s"] / r["kcenter_s"])
                  if npr else "", "(info)")

    if "big" not in skip:
        size = "N=%d d=%d k=%d clustered" % (bn, bd, bk)
        b = bw_bound(bn, bd, bk)
        cand_bytes = bn * bd * 4
        rss_goal = 1.5 * cand_bytes + 300 * MB
        npr = np_res.get("big")
        for mode in ("exact", "pruned"):
            r = e_big[mode]["by_mode"][mode]
            t.add("%s, %s vs bandwidth" % (size, mode), fmt_s(r["kcenter_s"]),
                  "bound %s" % fmt_s(b), "%.2fx bound" % (r["kcenter_s"] / b),
                  "<= 2x", J(r["kcenter_s"] <= 2 * b))
            rss = e_big[mode]["peak_rss_kib"] * 1024
            t.add("%s, %s peak RSS" % (size, mode), "%.0f MB" % (rss / MB),
                  "limit %.0f MB (cand %.0f MB)" % (rss_goal / MB,
                                                   cand_bytes / MB),
                  "%.2fx limit" % (rss / rss_goal),
                  "<= 1.5x cand + 300 MB", J(rss <= rss_goal))
            if npr:
                kk = npr["k"]
                per_pick = npr["picks_s"] / max(1, kk - 1)
                est = npr["start_s"] + per_pick * (bk - 1)
                t.add("  %s vs numpy (extrapolated)" % mode,
                      fmt_s(r["kcenter_s"]),
                      "numpy ~%s (k=%d run, %.1f ms/pick x %d; %s)"
                      % (fmt_s(est), kk, per_pick * 1e3, bk - 1,
                         compare_picks(r["picks_list"][:kk],
                                       npr["picks_list"])),
                      "~%.1fx faster" % (est / r["kcenter_s"]), "(info)")

    def prune_row(label, ex, pr):
        ev_x, ev_p = ex["distance_evaluations"], pr["distance_evaluations"]
        same = ex["picks_list"] == pr["picks_list"]
        red = ev_x / max(1, ev_p)
        t.add("pruning, %s" % label,
              "%.3g evals (%.2fx faster)" % (ev_p, ex["kcenter_s"] /
                                             pr["kcenter_s"]),
              "exact %.3g evals" % ev_x,
              "%.2fx fewer, picks %s" % (red, "identical" if same
                                         else "DIFFER"),
              ">= 3x, identical" if label.endswith("clustered")
              or "clustered" in label else "(info)",
              J(red >= 3 and same) if "clustered" in label else None)

    prune_row("N=%d d=%d clustered" % (n, d), e_clus["by_mode"]["exact"],
              e_clus["by_mode"]["pruned"])
    prune_row("N=%d d=%d uniform" % (n, d), e_unif["by_mode"]["exact"],
              e_unif["by_mode"]["pruned"])
    if "pool" not in skip:
        prune_row("N=%d d=%d + pool, clustered" % (n, d),
                  e_pool["by_mode"]["exact"], e_pool["by_mode"]["pruned"])
    if "big" not in skip:
        prune_row("N=%d d=%d clustered" % (bn, bd),
                  e_big["exact"]["by_mode"]["exact"],
                  e_big["pruned"]["by_mode"]["pruned"])

    if g is not None:
        ratio = g["rpc_s"] / g["engine_s"]
        t.add("SelectStream N=%d d=%d k=%d clustered, dry run"
              % (S["grpc_n"], d, k), fmt_s(g["rpc_s"]),
              "in-process %s (picks %s)" % (fmt_s(g["engine_s"]), g["picks"]),
              "%.2fx" % ratio, "<= 1.5x", J(ratio <= 1.5))

    total = time.perf_counter() - started
    res["total_s"] = total
    res["machine"]["loadavg_end"] = os.getloadavg()
    blas_np = np_res.get("clustered", {}).get("blas", {})
    print()
    print("Greedy k-center benchmark%s, %d threads"
          % (" (--quick: sizes too small to judge)" if args.quick else "",
             args.threads))
    print("machine: %d x %s (%s), %s GiB; load average %.2f at start, "
          "%.2f at end" % (mach["nproc"], mach["cpu"], mach["simd"],
                           mach["mem_gib"], mach["loadavg"][0],
                           res["machine"]["loadavg_end"][0]))
    print("probes (best of start/end): read %.1f GB/s (%d threads; %.1f on 1), "
          "sgemm %.1f GFLOP/s (%d threads; %.1f on 1) [%s]"
          % (gbps, args.threads, bw["read_gbps_1thread"], gflops,
             args.threads, sg["gflops_1thread"], sg["blas"]))
    print("  start: read %.1f GB/s, sgemm %.1f GFLOP/s; end: read %.1f GB/s, "
          "sgemm %.1f GFLOP/s" % (bw0["read_gbps"], sg0["gflops"],
                                  bw1["read_gbps"], sg1["gflops"]))
    if blas_np:
        print("numpy %s: %s, core %s, %s threads (OPENBLAS_CORETYPE unset)"
              % (blas_np.get("numpy"), ", ".join(blas_np.get("blas_libs", [])),
                 blas_np.get("openblas_core"),
                 blas_np.get("openblas_threads")))
    print("numpy per-pick form: %s" % (
        "((X - X[s])**2).sum(1)" if args.numpy_form == "sub"
        else "xx - 2 X@X[s] + xx[s]"))
    print()
    print(t.render())
    print()
    print("total %.0f s%s" % (total, "" if judge else
                              "; --quick: no PASS/MISS"))
    if args.json_out:
        def strip(o):
            if isinstance(o, dict):
                return {k: strip(v) for k, v in o.items()
                        if k != "picks_list"}
            if isinstance(o, list):
                return [strip(v) for v in o]
            return o
        with open(args.json_out, "w") as f:
            json.dump(strip(res), f, indent=1, default=str)
    return 1 if (args.strict and t.misses) else 0


if __name__ == "__main__":
    sys.exit(main())
