#!/usr/bin/env python3
"""Writes the walk-through's images: small synthetic photos in three batches.

    python3 examples/make_images.py OUT_DIR

OUT_DIR/batch1/{meadow,sea}/NN.jpg      the first delivery: two scenes
OUT_DIR/batch2/{meadow,sea,desert}/NN.jpg   more of both, and a new scene
OUT_DIR/batch3/{night}/NN.jpg           another team's images (merged later)

Each image is a tinted, textured background with a few coloured shapes, so
images of one scene look alike and the scenes differ. Deterministic (fixed
seed). Needs numpy and OpenCV (Debian: python3-numpy, python3-opencv).
"""

import os
import sys

import cv2
import numpy as np

# Scene -> background colour (B, G, R) and texture strength.
SCENES = {
    "meadow": ((40, 150, 60), 30),
    "sea": ((170, 110, 30), 20),
    "desert": ((80, 170, 210), 25),
    "night": ((60, 30, 20), 15),
}
BATCHES = {
    "batch1": {"meadow": 30, "sea": 30},
    "batch2": {"meadow": 15, "sea": 15, "desert": 30},
    "batch3": {"night": 20},
}


def scene_image(rng, scene):
    colour, texture = SCENES[scene]
    h, w = 96, 128
    img = rng.normal(0, texture, (h, w, 3)) + np.array(colour) * rng.uniform(0.6, 1.3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        shape_colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(10, w - 10)), int(rng.integers(10, h - 10)))
        if rng.random() < 0.5:
            cv2.circle(img, centre, int(rng.integers(4, 24)), shape_colour, -1)
        else:
            size = (int(rng.integers(6, 40)), int(rng.integers(6, 30)))
            cv2.rectangle(img, centre, (centre[0] + size[0], centre[1] + size[1]),
                          shape_colour, -1)
    return img


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    out = sys.argv[1]
    rng = np.random.default_rng(2026)
    written = 0
    for batch, scenes in BATCHES.items():
        for scene, count in scenes.items():
            folder = os.path.join(out, batch, scene)
            os.makedirs(folder, exist_ok=True)
            for k in range(count):
                path = os.path.join(folder, "%02d.jpg" % k)
                if not cv2.imwrite(path, scene_image(rng, scene)):
                    sys.exit("cannot write %s" % path)
                written += 1
    print("wrote %d images under %s" % (written, out))


if __name__ == "__main__":
    main()
