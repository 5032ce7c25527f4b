#!/usr/bin/python3
"""The built-in model's embedding quality on real labelled images (issue 15):
does it keep neighbourhoods at least as well as raw pixels, and do its
distances use the documented [0, 2] scale?

Data sets:
  digits   scikit-learn's bundled digits, all 1,797 (8x8, 10 classes), each
           written as a 32x32 8-bit grayscale PNG (INTER_NEAREST), as
           selection_bench.py does;
  fashion  the first 5,000 Fashion-MNIST training images (28x28, 10
           classes) from Debian's dataset-fashion-mnist
           (/usr/share/datasets/fashion-mnist), written as 28x28 PNGs;
           skipped with a message when that package is absent;
  shapes   2,400 generated 64x64 RGB photo-like images in six classes
           (train_data.py, as train_bench.py: random two-colour gradient
           backgrounds and shape colours, so only the geometry tells the
           class).

Spaces, all rows scaled to unit length as the server does:
  raw       the data set's own pixels (8x8 = 64-d, 28x28 = 784-d,
            64x64x3 = 12,288-d);
  pooled16  the PNG as the server sees it (bilinear to 64x64), averaged
            over 4x4 blocks: 16x16 gray levels (256-d; RGB: 768-d);
  model     the running server's built-in model (`embed` through the SDK on
            the PNGs in its --input-dir);
  --model FILE adds `file`: the same server flags with --model FILE
            --input-size 64 (e.g. an earlier built-in model's checkpoint).

Per space: leave-one-out 1-NN accuracy (Euclidean on unit rows; each image
labelled by its nearest other image), and the distance spread: the 1st,
50th and 99th percentile of all pairwise distances and the median
nearest-neighbour distance.

Target (issue 15): model >= raw and >= pooled16 on every data set.

    /usr/bin/python3 bench/embedding_quality.py
        [--datasets digits,fashion,shapes] [--fashion-n 5000] [--shapes-n 2400] [--model FILE] [--server-bin PATH]
        [--json-out FILE] [--strict]

Server: --server-bin, else env DATAPOOL_SERVER_BIN, else
build/datapool-server. Needs Debian's python3-sklearn, python3-numpy,
python3-grpcio, python3-opencv; downloads nothing. About a minute on 2
vCPUs (most of it embedding 9,200 PNGs on the server's CPU).
"""

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in tests/python or bench/
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import benchlib  # noqa: E402
from benchlib import log  # noqa: E402
import selection_data  # noqa: E402
import train_data  # noqa: E402
import selection_server as srv  # noqa: E402

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SERVER_SIDE = 64  # the built-in model's --input-size
POOL_SIDE = 16


def digits():
    """(images uint8 (n, 32, 32) as written, raw (n, 64), labels)."""
    images, y = selection_data.digits()
    side = selection_data.PNG_SIDE
    big = np.stack([cv2.resize(im, (side, side),
                               interpolation=cv2.INTER_NEAREST)
                    for im in images])
    return big, images.reshape(len(images), -1), y


def fashion(n):
    """(images uint8 (n, 28, 28), raw (n, 784), labels), or None when the
    Debian package is not installed."""
    images = FASHION_DIR / "train-images-idx3-ubyte.gz"
    labels = FASHION_DIR / "train-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        return None
    with gzip.open(images) as f:
        X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return X[:n], X[:n].reshape(n, -1), y[:n]


def unit(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-12)


def pooled16(images):
    """Each image bilinear to SERVER_SIDE (as the server resizes), then the
    mean of each (SERVER_SIDE / POOL_SIDE)^2 block: POOL_SIDE^2 values."""
    k = SERVER_SIDE // POOL_SIDE
    out = []
    for im in images:
        big = cv2.resize(im, (SERVER_SIDE, SERVER_SIDE),
                         interpolation=cv2.INTER_LINEAR).astype(np.float64)
        out.append(big.reshape(POOL_SIDE, k, POOL_SIDE, k, -1).mean((1, 3)))
    return np.stack(out).reshape(len(images), -1)


def quality(X, y):
    """LOO 1-NN accuracy and distance spread of unit rows of X."""
    X = unit(X)
    G = X @ X.T
    np.fill_diagonal(G, -np.inf)
    nearest = G.argmax(1)
    acc = float((y[nearest] == y).mean())
    D = np.sqrt(np.clip(2.0 - 2.0 * G, 0.0, None))  # diagonal: 2 + inf
    iu = np.triu_indices(len(X), 1)
    p1, p50, p99 = np.percentile(D[iu], [1, 50, 99])
    nn = np.sqrt(np.clip(2.0 - 2.0 * G[np.arange(len(X)), nearest], 0, None))
    return {"acc": acc, "dim": int(X.shape[1]), "p1": float(p1),
            "p50": float(p50), "p99": float(p99),
            "nn_median": float(np.median(nn))}


def embed(client, folder, n):
    """The server's embeddings of folder/00000.png ... in index order."""
    t0 = time.perf_counter()
    emb = client.embed(paths=[folder])
    if emb.skipped:
        raise SystemExit("embedding_quality: the server skipped %d PNGs: %s"
                         % (len(emb.skipped), emb.skipped[:3]))
    where = {name: k for k, name in enumerate(emb.filenames)}
    names = ["%s/%05d.png" % (folder, i) for i in range(n)]
    missing = [f for f in names if f not in where]
    if missing or len(emb.filenames) != n:
        raise SystemExit("embedding_quality: embed returned %d rows for %d "
                         "PNGs (%d missing)" % (len(emb.filenames), n,
                                                len(missing)))
    X = np.asarray(emb.embeddings)[[where[f] for f in names]]
    log("    %d x %d embeddings in %.1f s (%s)" % (
        n, X.shape[1], time.perf_counter() - t0, emb.model_fingerprint[:19]))
    return X, emb.model_fingerprint


def model_spaces(args, sets, inputs):
    """{space: {data set: (rows, fingerprint)}} for the built-in model and,
    with --model, the file."""
    Client = srv.sdk()[0]
    servers = [("model", [])]
    if args.model:
        servers.append(("file", ["--model", str(args.model),
                                 "--input-size", str(SERVER_SIDE)]))
    out = {}
    for space, flags in servers:
        log("server: %s" % (space if not flags else " ".join(flags)))
        shared = Path(tempfile.mkdtemp(prefix="embq-shared-"))
        try:
            benchlib.use_test_helpers()
            from server_harness import RunningServer
            with RunningServer(shared, inputs, binary=str(args.server_bin),
                               extra_args=["--device", "cpu", "--log-level",
                                           "warning"] + flags) as server:
                client = Client(server.address, timeout=1200)
                try:
                    out[space] = {name: embed(client, name, len(y))
                                  for name, (_, _, y) in sets.items()}
                finally:
                    client.close()
        finally:
            shutil.rmtree(shared, ignore_errors=True)
    return out


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="digits,fashion,shapes",
                    help="digits, fashion and/or shapes, comma-separated")
    ap.add_argument("--fashion-n", type=int, default=5000,
                    help="the first N Fashion-MNIST training images")
    ap.add_argument("--shapes-n", type=int, default=2400,
                    help="generated shapes images")
    ap.add_argument("--model", type=Path,
                    help="also a server with --model FILE (e.g. the old "
                         "built-in model's checkpoint)")
    ap.add_argument("--server-bin", type=Path,
                    help="default: env DATAPOOL_SERVER_BIN, else "
                         "build/datapool-server")
    ap.add_argument("--json-out", type=Path,
                    help="also write every number as JSON here")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when the target is missed")
    args = ap.parse_args()
    args.datasets = [s.strip() for s in args.datasets.split(",") if s.strip()]
    if not args.datasets or set(args.datasets) - {"digits", "fashion",
                                                  "shapes"}:
        ap.error("--datasets: digits, fashion and/or shapes")
    if not 12 <= args.shapes_n <= 100000:
        ap.error("--shapes-n: 12 to 100000")
    if not 2 <= args.fashion_n <= 60000:
        ap.error("--fashion-n: 2 to 60000")
    if args.model is not None and not args.model.is_file():
        ap.error("--model %s is not a file" % args.model)
    if args.server_bin is None:
        args.server_bin = Path(benchlib.binary(
            "DATAPOOL_SERVER_BIN", "build/datapool-server",
            "embedding_quality"))
    elif not os.access(args.server_bin, os.X_OK):
        ap.error("--server-bin %s is not executable" % args.server_bin)
    return args


def report(results, fingerprints):
    lines = ["| data set | space | dim | LOO 1-NN | pairwise p1 / p50 / p99 "
             "| median NN distance |",
             "|---|---|--:|--:|--:|--:|"]
    for name, spaces in results.items():
        for space, q in spaces.items():
            lines.append("| %s | %s | %d | %.4f | %.2f / %.2f / %.2f | %.3f |"
                         % (name, space, q["dim"], q["acc"], q["p1"],
                            q["p50"], q["p99"], q["nn_median"]))
    for space, fp in fingerprints.items():
        lines.append("%s: %s" % (space, fp))
    verdicts = []
    for name, spaces in results.items():
        ok = spaces["model"]["acc"] >= max(spaces["raw"]["acc"],
                                           spaces["pooled16"]["acc"])
        verdicts.append(ok)
        lines.append("target %s: model %.4f >= raw %.4f and pooled16 %.4f: "
                     "%s" % (name, spaces["model"]["acc"],
                             spaces["raw"]["acc"], spaces["pooled16"]["acc"],
                             "met" if ok else "MISSED"))
    return lines, verdicts


def main():
    args = parse_args()
    t0 = time.perf_counter()
    sets = {}
    if "digits" in args.datasets:
        sets["digits"] = digits()
    if "fashion" in args.datasets:
        f = fashion(args.fashion_n)
        if f is None:
            log("fashion: skipped: %s not found (Debian package "
                "dataset-fashion-mnist)" % FASHION_DIR)
        else:
            sets["fashion%d" % args.fashion_n] = f
    if "shapes" in args.datasets:
        sets["shapes"] = train_data.shapes(args.shapes_n)
    if not sets:
        raise SystemExit("embedding_quality: no data set to measure")
    inputs = Path(tempfile.mkdtemp(prefix="embq-input-"))
    try:
        for name, (images, _, _) in sets.items():
            train_data.write_pngs(inputs / name, images)
        embedded = model_spaces(args, sets, inputs)
    finally:
        shutil.rmtree(inputs, ignore_errors=True)
    results, fingerprints = {}, {}
    for name, (images, raw, y) in sets.items():
        log("%s: %d images" % (name, len(y)))
        results[name] = {"raw": quality(raw, y),
                         "pooled16": quality(pooled16(images), y)}
        for space, per_set in embedded.items():
            X, fingerprints[space] = per_set[name]
            results[name][space] = quality(X, y)
    lines, verdicts = report(results, fingerprints)
    print("\n".join(lines))
    wall = time.perf_counter() - t0
    log("total %.1f s" % wall)
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "git": benchlib.git_rev(), "server_bin": str(args.server_bin),
            "command": " ".join([sys.executable] + sys.argv),
            "model_file": str(args.model) if args.model else None,
            "fingerprints": fingerprints, "results": results,
            "targets_met": all(verdicts), "wall_s": wall}, indent=1) + "\n")
    return 1 if args.strict and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
