"""selection_bench.py's data: scikit-learn's bundled digits (1,797 labelled
8x8 images, 10 classes, no download) as unit rows in two spaces: raw pixels,
and the server's built-in model (the digits written as PNGs into the
server's input folder and embedded with the SDK's `embed`)."""

import time

import cv2
import numpy as np
from sklearn.datasets import load_digits

from benchlib import log
from embeddings import normalize_like_server

PNG_SIDE = 32  # each 8x8 digit upscaled (INTER_NEAREST) to this side
FOLDER = "digits"  # under the server's --input-dir


def digits():
    """(images uint8 (n, 8, 8) in 0..255, labels int (n,))."""
    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images, d.target.astype(np.int64)


def unit(X):
    """float32 rows at unit length, as the server normalises them."""
    X = np.ascontiguousarray(X, dtype=np.float32).copy()
    normalize_like_server(X)
    return X


def raw_space(images):
    """The pixels (64-d), unit rows."""
    return unit(images.reshape(len(images), -1))


def png_name(i):
    return "%s/%04d.png" % (FOLDER, i)


def write_pngs(input_dir, images):
    """Each digit as an 8-bit grayscale PNG, PNG_SIDE x PNG_SIDE
    (INTER_NEAREST), named png_name(i) under input_dir."""
    (input_dir / FOLDER).mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        big = cv2.resize(im, (PNG_SIDE, PNG_SIDE),
                         interpolation=cv2.INTER_NEAREST)
        if not cv2.imwrite(str(input_dir / png_name(i)), big):
            raise SystemExit("selection_bench: cannot write %s"
                             % (input_dir / png_name(i)))


def model_space(client, n):
    """The server's built-in model's embeddings of the n PNGs (written by
    write_pngs), rows in index order, unit length; and what came back."""
    t0 = time.perf_counter()
    emb = client.embed(paths=[FOLDER])
    if emb.skipped:
        raise SystemExit("selection_bench: the server skipped %d PNGs: %s"
                         % (len(emb.skipped), emb.skipped[:3]))
    where = {name: k for k, name in enumerate(emb.filenames)}
    missing = [i for i in range(n) if png_name(i) not in where]
    if missing or len(emb.filenames) != n:
        raise SystemExit("selection_bench: embed returned %d rows for %d "
                         "PNGs (%d missing)" % (len(emb.filenames), n,
                                                len(missing)))
    X = np.asarray(emb.embeddings)[[where[png_name(i)] for i in range(n)]]
    info = {"dimension": int(X.shape[1]),
            "model_fingerprint": emb.model_fingerprint,
            "embed_s": time.perf_counter() - t0}
    log("  model space: %d x %d embeddings in %.1f s"
        % (n, X.shape[1], info["embed_s"]))
    return unit(X), info
