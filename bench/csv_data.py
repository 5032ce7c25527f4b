"""csv_bench.py's data: clustered unit-norm float32 rows (fixed seed,
cached as raw .f32 files), the filenames a pool of them holds, the values'
checksum, and a case's name."""

from pathlib import Path

import numpy as np

from embeddings import cached_f32

# Bump when the generator changes: cached data files are then regenerated.
GENERATOR_VERSION = 1


def case_name(n, d):
    def short(v):
        if v % 1_000_000 == 0:
            return "%dM" % (v // 1_000_000)
        if v % 1000 == 0:
            return "%dk" % (v // 1000)
        return str(v)
    return "%sx%d" % (short(n), d)


def gen_embeddings(n, d, seed, clusters=64, latent=16, spread=0.15,
                   noise=0.01):
    """Clustered, unit norm, float32 (like real embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    lat = min(latent, d)
    weights = rng.dirichlet(np.full(clusters, 2.0))
    scale = spread * rng.uniform(0.5, 1.5, size=clusters)
    label = rng.choice(clusters, size=n, p=weights)
    X = np.empty((n, d), dtype=np.float32)
    for c in range(clusters):
        rows = np.flatnonzero(label == c)
        basis = np.linalg.qr(rng.standard_normal((d, lat)))[0]  # d x lat
        for i in range(0, len(rows), 65536):
            r = rows[i:i + 65536]
            z = rng.standard_normal((len(r), lat)) * scale[c]
            x = centres[c] + z @ basis.T
            x += noise * rng.standard_normal(x.shape)
            X[r] = x
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def data_file(workdir, n, d, seed):
    path = Path(workdir) / ("emb-v%d-n%d-d%d-s%d.f32"
                            % (GENERATOR_VERSION, n, d, seed))
    return cached_f32(path, n, d, lambda: gen_embeddings(n, d, seed))


def values_checksum(X):
    """Same as ValuesChecksum in csv_bench.cc: sum of bits * (i+1) mod 2^64."""
    bits = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32).ravel()
    total = np.uint64(0)
    for i in range(0, len(bits), 1 << 22):  # blocks keep the temporaries small
        b = bits[i:i + (1 << 22)].astype(np.uint64)
        w = np.arange(i + 1, i + 1 + len(b), dtype=np.uint64)
        with np.errstate(over="ignore"):
            total = total + (b * w).sum(dtype=np.uint64)
    return "%016x" % int(total)


def file_names(n):
    return ["images/class_%d/img_%d.jpg" % (i % 10, i) for i in range(n)]
