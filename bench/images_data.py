"""images_bench.py's test images: deterministic photo-like 640x480 JPEGs,
generated once into the workdir and reused."""

import json
import math
import shutil

import cv2
import numpy as np

from benchlib import log

# Bump when the generator changes: cached image sets are then regenerated.
GENERATOR_VERSION = 1
N_CLASSES = 4
WIDTH, HEIGHT, JPEG_QUALITY = 640, 480, 90


def _draw_shapes(img, rng, w, h):
    """A few anti-aliased circles, rectangles, ellipses and lines."""
    for _ in range(rng.randint(6, 16)):
        col = tuple(int(v) for v in rng.randint(0, 256, 3))
        kind = rng.randint(4)
        p = [int(v) for v in rng.randint(0, [w, h, w, h])]
        if kind == 0:
            cv2.circle(img, (p[0], p[1]), int(rng.randint(10, 150)), col, -1,
                       cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(img, (p[0], p[1]), (p[2], p[3]), col, -1)
        elif kind == 2:
            cv2.ellipse(img, (p[0], p[1]),
                        (int(rng.randint(10, 200)), int(rng.randint(10, 120))),
                        float(rng.uniform(0, 180)), 0, 360, col, -1,
                        cv2.LINE_AA)
        else:
            cv2.line(img, (p[0], p[1]), (p[2], p[3]), col,
                     int(rng.randint(1, 12)), cv2.LINE_AA)


def make_jpeg(i):
    """Deterministic 640x480 photo-like JPEG bytes for image number i.

    Smooth colour gradients and waves, a few anti-aliased shapes, a slight
    blur, low-frequency texture and mild pixel noise: 40-120 KB at quality
    90, like camera photos, not like pure noise.
    """
    rng = np.random.RandomState(1000003 + i)
    h, w = HEIGHT, WIDTH
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        a, b = rng.uniform(-0.4, 0.4, 2)
        fx, fy = rng.uniform(0.002, 0.02, 2)
        phase = rng.uniform(0, 2 * math.pi)
        img[..., c] = (128 + a * (xx - w / 2) + b * (yy - h / 2)
                       + 60 * np.sin(fx * xx + fy * yy + phase))
    img = np.clip(img, 0, 255).astype(np.uint8)
    _draw_shapes(img, rng, w, h)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.6))
    texture = cv2.resize(rng.normal(0, 1, (h // 2, w // 2, 3)).astype(np.float32),
                         (w, h), interpolation=cv2.INTER_LINEAR)
    img = img.astype(np.float32) + rng.uniform(3, 16) * texture
    img += rng.normal(0, 2.0, (h, w, 3)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return buf.tobytes()


def image_set(workdir, n):
    """workdir/images-<n>/class_<k>/img_<i>.jpg, generated once and cached."""
    folder = workdir / ("images-%d" % n)
    marker = folder / ".complete"
    stamp = {"images": n, "generator": GENERATOR_VERSION,
             "size": [WIDTH, HEIGHT], "quality": JPEG_QUALITY,
             "opencv": cv2.__version__}
    files = [folder / ("class_%d" % (i % N_CLASSES)) / ("img_%05d.jpg" % i)
             for i in range(n)]
    try:
        if json.loads(marker.read_text()) == stamp and all(
                f.is_file() for f in files):
            log("reusing %d cached images in %s" % (n, folder))
            return folder, files
    except (OSError, ValueError):
        pass
    log("generating %d %dx%d JPEGs in %s ..." % (n, WIDTH, HEIGHT, folder))
    if folder.exists():
        shutil.rmtree(folder)
    for k in range(N_CLASSES):
        (folder / ("class_%d" % k)).mkdir(parents=True)
    for i, f in enumerate(files):
        f.write_bytes(make_jpeg(i))
    marker.write_text(json.dumps(stamp))
    return folder, files
