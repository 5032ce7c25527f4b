"""train_bench.py's labelled image sets, each as (uint8 images, raw pixel
rows, labels) and written as PNGs into the server's input folder:

  digits   scikit-learn's bundled digits (all 1,797, 8x8, 10 classes), each
           a 32x32 grayscale PNG (INTER_NEAREST), as selection_bench.py;
  fashion  the first N Fashion-MNIST training images (28x28, 10 classes)
           from Debian's dataset-fashion-mnist, 28x28 PNGs (None when the
           package is absent), as embedding_quality.py;
  shapes   generated photo-like 64x64 RGB PNGs in SHAPE_CLASSES classes:
           the label is the generating class (see make_shape).
"""

import math

import cv2
import numpy as np

import embedding_quality as eq

SHAPE_SIDE = 64
SHAPE_CLASSES = ("disc", "square", "triangle", "ring", "cross", "two-discs")
_SUPER = 2  # drawn at 2x, then INTER_AREA down: anti-aliased edges
BG_SPREAD = 100.0  # each gradient end: base colour +- this per channel
TEXTURE = 20.0  # largest amplitude of the background's coarse texture
R_RANGE = (0.22, 0.35)  # the shape's "radius", fraction of the side
POS = 0.12  # the shape's centre: side/2 +- this fraction of the side


def digits():
    return eq.digits()


def fashion(n):
    return eq.fashion(n)


def _gradient(rng, side):
    """A linear gradient between two random colours at a random angle,
    plus a low-frequency random texture: float32 (side, side, 3)."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side - 0.5
    angle = rng.uniform(0, 2 * math.pi)
    t = (np.cos(angle) * xx + np.sin(angle) * yy + 0.5)[..., None]
    base = rng.uniform(0, 255, 3)
    c0 = np.clip(base + rng.uniform(-BG_SPREAD, BG_SPREAD, 3), 0, 255)
    c1 = np.clip(base + rng.uniform(-BG_SPREAD, BG_SPREAD, 3), 0, 255)
    img = c0 * (1 - t) + c1 * t
    coarse = rng.normal(0, 1, (6, 6, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)
    return (img + rng.uniform(0.2, 1.0) * TEXTURE * texture).astype(
        np.float32)


def _rotated(points, angle, centre):
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return np.asarray(points) @ rot.T + centre


def make_shape(cls, rng):
    """One 64x64 RGB image (uint8) of class `cls`: a random background
    (gradient + texture) and one foreground of the class in a random colour,
    size, position and rotation, then a slight blur and pixel noise. Only
    the foreground's geometry depends on the class; colours, placement and
    background are drawn from the same distributions for every class."""
    side = SHAPE_SIDE * _SUPER
    img = _gradient(rng, side)
    colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
    # Keep the shape visible: away from the background's mean colour.
    mean = img.reshape(-1, 3).mean(0)
    if np.abs(np.asarray(colour) - mean).max() < 60:
        colour = tuple(float(v) for v in (255 - mean))
    r = rng.uniform(*R_RANGE) * side  # the shape's "radius"
    centre = rng.uniform((0.5 - POS) * side, (0.5 + POS) * side, 2)
    angle = rng.uniform(0, 2 * math.pi)
    shift = 4  # fixed-point bits for sub-pixel drawing
    scale = 1 << shift

    def poly(points):
        pts = np.round(np.asarray(points) * scale).astype(np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA, shift)

    def circle(c, radius, thickness=-1):
        cv2.circle(img, tuple(int(round(v * scale)) for v in c),
                   int(round(radius * scale)), colour,
                   thickness if thickness < 0 else int(thickness),
                   cv2.LINE_AA, shift)

    name = SHAPE_CLASSES[cls]
    if name == "disc":
        circle(centre, r)
    elif name == "square":
        a = r * 0.85
        poly(_rotated([[-a, -a], [a, -a], [a, a], [-a, a]], angle, centre))
    elif name == "triangle":
        pts = [[r * math.cos(t), r * math.sin(t)]
               for t in (0, 2 * math.pi / 3, 4 * math.pi / 3)]
        poly(_rotated(pts, angle, centre))
    elif name == "ring":
        circle(centre, r * 0.8, thickness=max(2, r * 0.3))
    elif name == "cross":
        w = r * 0.28
        poly(_rotated([[-r, -w], [r, -w], [r, w], [-r, w]], angle, centre))
        poly(_rotated([[-w, -r], [w, -r], [w, r], [-w, r]], angle, centre))
    else:  # two-discs
        d = _rotated([[r * 0.6, 0]], angle, [0, 0])[0]
        circle(centre + d, r * 0.45)
        circle(centre - d, r * 0.45)
    img = cv2.resize(np.clip(img, 0, 255), (SHAPE_SIDE, SHAPE_SIDE),
                     interpolation=cv2.INTER_AREA)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.0))
    img = img + rng.normal(0, 3.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def shapes(n, seed=0):
    """(images uint8 (n, 64, 64, 3) RGB, raw (n, 64*64*3), labels): class
    i % len(SHAPE_CLASSES) for image i, each image from its own seeded
    generator (the set does not depend on n beyond its length)."""
    k = len(SHAPE_CLASSES)
    y = np.arange(n, dtype=np.int64) % k
    images = np.stack([make_shape(int(y[i]),
                                  np.random.default_rng([seed, 15, i]))
                       for i in range(n)])
    return images, images.reshape(n, -1), y


def write_pngs(folder, images):
    """folder/00000.png ...; RGB images are written as colour PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        path = folder / ("%05d.png" % i)
        out = cv2.cvtColor(im, cv2.COLOR_RGB2BGR) if im.ndim == 3 else im
        if not cv2.imwrite(str(path), out):
            raise SystemExit("train_bench: cannot write %s" % path)


def as_server_input(images, side=64):
    """The images as the server decodes them for training: RGB uint8
    (n, side, side, 3), bilinear (INTER_LINEAR) to side x side."""
    out = []
    for im in images:
        if im.ndim == 2:
            im = cv2.cvtColor(im, cv2.COLOR_GRAY2RGB)
        if im.shape[:2] != (side, side):
            im = cv2.resize(im, (side, side), interpolation=cv2.INTER_LINEAR)
        out.append(im)
    return np.stack(out)

