"""Synthetic embeddings as the server holds them: rows normalised exactly as
its NormalizeRow does, cached as raw float32 files (csv_bench.py and
kcenter_bench.py generate theirs in csv_data.py and kcenter_data.py)."""

import os
import time

import numpy as np

from benchlib import log


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


def cached_f32(path, n, d, make):
    """path, a raw n x d float32 file: when it is missing (or of another
    size), make() gives the rows, normalize_like_server fixes them and they
    are written (through a temporary file)."""
    if path.exists() and path.stat().st_size == n * d * 4:
        return path
    t0 = time.perf_counter()
    X = make()
    unstable = normalize_like_server(X)
    tmp = path.with_suffix(".tmp")
    X.tofile(tmp)
    os.replace(tmp, path)
    log("  data %s (%.1f s%s)" % (path.name, time.perf_counter() - t0,
                                  ", %d rows not at the server's fixed point"
                                  % unstable if unstable else ""))
    return path
