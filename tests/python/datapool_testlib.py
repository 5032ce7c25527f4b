"""Shared helpers for the datapool Python tests.

* `load_stubs()`: the `datapool.v1` stubs, the ones the Python SDK commits
  (client/python/datapool_client/_gen), imported from the source tree.
* `unit_rows()`: normalises rows to unit length.
* `check_greedy_selection()`: verifies a selection against the greedy
  k-center (farthest-first) rule and the stopping conditions, tie-robust.
* `snapshot_tree()`: {relative path: bytes} of a folder, to prove that
  nothing changed on disk.
"""

import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
SDK_DIR = os.path.join(REPO_ROOT, "client", "python")


def load_stubs():
    """Returns (datapool_pb2, datapool_pb2_grpc): the generated modules
    committed in the Python SDK (client/python/datapool_client/_gen, made by
    client/python/regen.sh; test_python_sdk fails when they are stale),
    imported from the source tree."""
    if SDK_DIR not in sys.path:
        sys.path.insert(0, SDK_DIR)
    from datapool_client._gen import datapool_pb2, datapool_pb2_grpc
    return datapool_pb2, datapool_pb2_grpc


def unit_rows(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def snapshot_tree(root):
    """{relative path: file bytes} of every file under root, but the pool
    lock files (they name the server process that owns the pool and are
    rewritten by every server that takes it)."""
    snap = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name == "datapool.lock":
                continue
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                snap[os.path.relpath(p, root)] = f.read()
    return snap


STOP_N_SAMPLES = "n_samples"
STOP_MIN_DISTANCE = "min_distance"
STOP_EXHAUSTED = "exhausted"


def check_greedy_selection(pool, candidates, picks, stop_reason,
                           n_limit=None, min_distance=None, tol=1e-4):
    """Raises AssertionError unless `picks` is a valid farthest-first run.

    pool: (P, D) array-like of the pool's embeddings (P may be 0).
    candidates: {filename: vector} of the eligible candidates (those not
      already in the pool).
    picks: [(filename, distance or None)] in pick order.
    stop_reason: one of STOP_* above.
    n_limit: the count the n_samples condition stands for (None when off).
    min_distance: None when off.

    Each pick must be (within tol) the remaining candidate farthest from the
    pool and the picks so far, its reported distance must equal that
    distance, and it is None exactly for the first pick into an empty pool.
    The run must stop exactly when a condition is met, and stop_reason must
    name a condition that holds.
    """
    names = list(candidates)
    if not names:
        raise AssertionError("no eligible candidates given to the checker")
    index = {n: i for i, n in enumerate(names)}
    cand = unit_rows([candidates[n] for n in names])
    pool = np.asarray(pool, dtype=np.float64)
    mind = np.full(len(names), math.inf)
    if pool.size:
        pool = unit_rows(pool)
        # Distances via differences (not the dot-product identity) so that
        # near-duplicates get accurate small distances.
        for row in pool:
            mind = np.minimum(mind, np.linalg.norm(cand - row, axis=1))
    remaining = np.ones(len(names), dtype=bool)
    have_selected = bool(pool.size)
    seen = set()
    for k, (name, dist) in enumerate(picks):
        where = "pick %d (%r)" % (k, name)
        if name not in index:
            raise AssertionError("%s is not an eligible candidate" % where)
        if name in seen:
            raise AssertionError("%s picked twice" % where)
        seen.add(name)
        i = index[name]
        if not have_selected:
            if dist is not None:
                raise AssertionError("%s: first pick into an empty pool must "
                                     "have no distance, got %r" % (where, dist))
        else:
            best = float(np.max(np.where(remaining, mind, -1.0)))
            if dist is None:
                raise AssertionError("%s has no distance" % where)
            if abs(dist - mind[i]) > tol:
                raise AssertionError("%s: reported distance %.6f, true "
                                     "distance to the selected set %.6f"
                                     % (where, dist, mind[i]))
            if mind[i] < best - tol:
                far = names[int(np.argmax(np.where(remaining, mind, -1.0)))]
                raise AssertionError(
                    "%s is not farthest-first: its distance %.6f < %.6f of "
                    "%r" % (where, mind[i], best, far))
            if min_distance is not None and mind[i] < min_distance - tol:
                raise AssertionError("%s at distance %.6f < min_distance %.6f"
                                     % (where, mind[i], min_distance))
        if n_limit is not None and k >= n_limit:
            raise AssertionError("more than n_samples=%d picks" % n_limit)
        remaining[i] = False
        have_selected = True
        mind = np.minimum(mind, np.linalg.norm(cand - cand[i], axis=1))

    n = len(picks)
    left = int(remaining.sum())
    best_left = float(np.max(np.where(remaining, mind, -1.0))) if left else None
    holds = {
        STOP_N_SAMPLES: n_limit is not None and n == n_limit,
        STOP_EXHAUSTED: left == 0,
        STOP_MIN_DISTANCE: (min_distance is not None and left > 0 and
                            best_left < min_distance + tol),
    }
    if not any(holds.values()):
        raise AssertionError(
            "selection stopped after %d picks with %d candidates left "
            "(farthest at %.6f) though no stopping condition was met "
            "(n_samples=%r, min_distance=%r)"
            % (n, left, best_left, n_limit, min_distance))
    if not holds.get(stop_reason, False):
        raise AssertionError("stop reason %r does not hold (conditions that "
                             "hold: %s)" % (stop_reason,
                                            [r for r, h in holds.items() if h]))


def dense_and_outliers(rng, d):
    """40 unit vectors, shuffled: 30 in a dense cluster around the first
    axis ("dense/NN.jpg") and 10 outliers spread over the far side
    ("outlier/N.jpg"). Returns (names, (40, d) rows): plain k-center picks
    outliers first, the default mode the dense cluster."""
    axis = np.zeros(d)
    axis[0] = 1.0
    dense = unit_rows(axis + rng.normal(scale=0.05, size=(30, d)))
    outliers = rng.normal(size=(10, d))
    outliers[:, 0] = -np.abs(outliers[:, 0])
    names = (["dense/%02d.jpg" % i for i in range(30)]
             + ["outlier/%d.jpg" % i for i in range(10)])
    rows = np.vstack([dense, unit_rows(outliers)])
    order = rng.permutation(len(names))
    return [names[i] for i in order], rows[order]


# One DIVERSITY objective: what --strategy diversity (the SDK's
# strategy="diversity") sends.
DIVERSITY_CONFIG = {"strategies": [
    {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}]}
# The example of Lightly's layout: every input and strategy type.
LIGHTLY_CONFIG = {"strategies": [
    {"input": {"type": "EMBEDDINGS"},
     "strategy": {"type": "DIVERSITY",
                  "stopping_condition_minimum_distance": 0.2, "strength": 1}},
    {"input": {"type": "EMBEDDINGS"},
     "strategy": {"type": "TYPICALITY", "strength": 0.5, "neighbors": 30}},
    {"input": {"type": "RANDOM", "random_seed": 42},
     "strategy": {"type": "WEIGHTS", "strength": 0.2}}]}
