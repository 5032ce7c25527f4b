"""kcenter_bench.py's data: clustered and uniform unit-norm float32 rows,
fixed seed, cached as raw .f32 files under the workdir."""

from pathlib import Path

import numpy as np

from embeddings import cached_f32

# Bump when the generator changes: cached data files are then regenerated.
GENERATOR_VERSION = 1


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

    def make():
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
        return X
    return cached_f32(path, n, d, make)
