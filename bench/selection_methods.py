"""selection_bench.py's judge and its local peers: the 1-NN accuracy a
labelled set gives, a numpy/sklearn TypiClust, and random draws."""

import numpy as np
from sklearn.cluster import KMeans

TYPICLUST_KNN = 20  # TypiClust's K for typicality (Hacohen et al., 2022)


def one_nn_accuracy(X, y, labelled):
    """Accuracy of labelling every sample outside `labelled` (indices) with
    the label of its nearest labelled sample (Euclidean on unit rows, i.e.
    largest dot product)."""
    labelled = np.asarray(labelled, dtype=np.int64)
    if len(np.unique(labelled)) != len(labelled):
        raise AssertionError("a sample is labelled twice")
    rest = np.ones(len(X), dtype=bool)
    rest[labelled] = False
    sims = X[rest].astype(np.float64) @ X[labelled].astype(np.float64).T
    pred = y[labelled][np.argmax(sims, axis=1)]
    return float(np.mean(pred == y[rest]))


def random_picks(candidates, b, seed):
    """b of the candidate indices, uniformly without replacement."""
    rng = np.random.default_rng(seed)
    return rng.choice(candidates, size=b, replace=False)


def typicality(Z):
    """1 / mean distance of each row of Z to its min(K, len(Z) - 1) nearest
    other rows (a single row: 1)."""
    n = len(Z)
    k = min(TYPICLUST_KNN, n - 1)
    if k <= 0:
        return np.ones(n)
    sq = np.einsum("ij,ij->i", Z, Z)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (Z @ Z.T)
    d = np.sqrt(np.maximum(d2, 0.0))
    np.fill_diagonal(d, np.inf)
    near = np.partition(d, k - 1, axis=1)[:, :k]
    return 1.0 / np.maximum(near.mean(axis=1), 1e-12)


def typiclust(X, pool, b, seed):
    """TypiClust (Hacohen, Dekel, Weinshall, ICML 2022), numpy/sklearn:
    KMeans (n_init=1, random_state=seed) of every sample into len(pool) + b
    clusters; the clusters holding no pool sample ("uncovered"), largest
    first; from each of the first b, its most typical sample. Returns the
    picks (indices into X)."""
    X64 = X.astype(np.float64)
    k = min(len(pool) + b, len(X))
    labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(
        X64).labels_
    sizes = np.bincount(labels, minlength=k)
    covered = np.zeros(k, dtype=bool)
    covered[labels[np.asarray(pool, dtype=np.int64)]] = True
    order = [c for c in np.argsort(-sizes, kind="stable")
             if not covered[c] and sizes[c] > 0]
    picks = []
    for c in order[:b]:
        members = np.flatnonzero(labels == c)
        picks.append(int(members[np.argmax(typicality(X64[members]))]))
    if len(picks) < b:
        # Fewer uncovered clusters than b (KMeans left some empty): the
        # rest are the most typical remaining samples of the largest
        # clusters, round robin, as the authors' code goes on.
        taken = set(picks) | set(int(i) for i in pool)
        by_size = list(np.argsort(-sizes, kind="stable"))
        while len(picks) < b:
            for c in by_size:
                members = [i for i in np.flatnonzero(labels == c)
                           if i not in taken]
                if not members or len(picks) == b:
                    continue
                members = np.asarray(members)
                i = int(members[np.argmax(typicality(X64[members]))])
                picks.append(i)
                taken.add(i)
    return np.asarray(picks, dtype=np.int64)
