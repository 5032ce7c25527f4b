"""images_bench.py's Python side: (1) the model's ceiling on in-memory
tensors, (3) the peer a user writes (cv2 + torch.jit), the server's decode
cost measured in Python, and how closely the server's embeddings agree with
Python's."""

import csv
import math
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def ceiling(model, n, batch, size, warmup_batches=5, cpu_ms=None):
    """images/s of model(batch) on random tensors already in memory; with
    `cpu_ms` (a list) also appends this process's CPU ms per image (all its
    threads: the core-ms the forward pass costs, whatever else runs)."""
    gen = torch.Generator().manual_seed(0)
    batches = [torch.rand(batch, 3, size, size, generator=gen)
               for _ in range(8)]
    n_batches = max(1, math.ceil(n / batch))
    with torch.inference_mode():
        for i in range(warmup_batches):
            model(batches[i % len(batches)])
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n_batches):
            model(batches[i % len(batches)])
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    if cpu_ms is not None:
        cpu_ms.append(1000 * cpu / (n_batches * batch))
    return n_batches * batch / wall


def preprocess(path, size, imread_flags=cv2.IMREAD_COLOR):
    """What a user writes: decode, RGB, resize, scale, normalise, CHW."""
    img = cv2.imread(str(path), imread_flags)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    x = img.astype(np.float32) / 255.0
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1)


def decode_cost_ms(files, size):
    """ms per image to decode (libjpeg 1/4 DCT scaling, as the server does
    for 640x480 -> 64 px) and resize, on one thread."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        data = [Path(f).read_bytes() for f in files]
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for b in data:
                img = cv2.imdecode(np.frombuffer(b, np.uint8),
                                   cv2.IMREAD_REDUCED_COLOR_4)
                cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
            best = min(best, (time.perf_counter() - t0) / len(data))
    finally:
        cv2.setNumThreads(threads)
    return 1000 * best


def list_images(folder):
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        out.extend(os.path.join(root, f) for f in sorted(names)
                   if f.lower().endswith((".jpg", ".jpeg")))
    return out


def python_peer(model, folder, batch, size):
    """images/s of the whole Python loop: list, decode ... forward."""
    t0 = time.perf_counter()
    outputs = []
    pending = []
    with torch.no_grad():
        for path in list_images(folder):
            pending.append(preprocess(path, size))
            if len(pending) == batch:
                outputs.append(model(torch.from_numpy(np.stack(pending))))
                pending = []
        if pending:
            outputs.append(model(torch.from_numpy(np.stack(pending))))
    emb = torch.cat(outputs)
    wall = time.perf_counter() - t0
    return emb.shape[0] / wall, emb.shape[0]


def server_embeddings(cli, files, workdir):
    """{file name: embedding} from `datapool embed --upload`."""
    out_csv = workdir / "agreement.csv"
    cli.run("embed", "--upload", *files, "--out", out_csv)
    server = {}
    with open(out_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        dim = sum(1 for h in header if h.startswith("embedding_"))
        for row in reader:
            server[row[0]] = np.array(row[1:1 + dim], np.float64)
    out_csv.unlink()
    return server


def embedding_agreement(cli, model, files, size, workdir):
    """Max |a - b| of unit-normalised embeddings, server vs Python, for files.

    Two Python decodes: full-size (the peer) and libjpeg's 1/4 DCT scaling
    (IMREAD_REDUCED_COLOR_4, what the server uses for 640x480 -> 64 px).
    """
    server = server_embeddings(cli, files, workdir)

    def unit(v):
        v = np.asarray(v, np.float64)
        return v / np.linalg.norm(v)

    result = {}
    for label, flags in (("full decode (the peer)", cv2.IMREAD_COLOR),
                         ("1/4 DCT-scaled decode", cv2.IMREAD_REDUCED_COLOR_4)):
        x = torch.from_numpy(np.stack([preprocess(p, size, flags)
                                       for p in files]))
        with torch.no_grad():
            emb = model(x).numpy()
        diffs = [np.abs(unit(e) - unit(server[Path(p).name])).max()
                 for p, e in zip(files, emb)]
        cos = [float(unit(e) @ unit(server[Path(p).name]))
               for p, e in zip(files, emb)]
        result[label] = (max(diffs), min(cos))
    return result
