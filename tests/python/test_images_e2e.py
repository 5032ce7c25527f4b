"""End-to-end tests of images in: the real server binary (env
DATAPOOL_SERVER_BIN) with its model, driven by the `datapool` CLI (env
DATAPOOL_CLI_BIN) with `--input` (paths on the server's input folder) and
`--upload` (local files sent to the server), and `embed`.

Every image is generated here with OpenCV (python3-opencv); the custom models
are written here with python3-torch. Nothing is shipped or downloaded.

Run: /usr/bin/python3 -m unittest -v test_images_e2e   (cwd tests/python)
"""

import csv
import hashlib
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "cv2", "numpy", "torch")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from datapool_testlib import (  # noqa: E402
    STOP_EXHAUSTED, STOP_MIN_DISTANCE, STOP_N_SAMPLES, check_greedy_selection,
    snapshot_tree, unit_rows)
from cli_testlib import ERROR_LINE_RE, CliAssertions  # noqa: E402,F401
from lightly_csv import check_lightly_csv  # noqa: E402
from server_harness import (  # noqa: E402
    RunningServer, cli_binary, server_binary)

CLI_TIMEOUT_S = 90
# The CPU, one torch thread and one decode thread: the images are tiny, the
# tests run beside others on small machines, and the numbers compared with
# Python's CPU torch must not depend on a GPU being present (TF32, cuDNN).
SERVER_ARGS = ("--device", "cpu", "--threads", "1", "--decode-threads", "1",
               "--batch-size", "8")
BUILTIN_DIM = 768
BUILTIN_SIZE = 64
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASSES = ("birds", "cats", "dogs")      # sorted: labels 0, 1, 2
UPLOAD_CLASSES = ("x", "y")              # labels 0, 1
BAD_FILES = ("trunc.jpg", "random.jpg", "empty.png", "text.png")
SHA256_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
_STOP_NAMES = {"n_samples": STOP_N_SAMPLES, "min_distance": STOP_MIN_DISTANCE,
               "exhausted": STOP_EXHAUSTED}


# -- models written with torch.jit.script (they need this file's source) ----

class ChannelMeans(torch.nn.Module):
    """N×3×S×S -> N×3: the mean of each input channel, i.e. exactly the
    normalised colour of a solid image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=[2, 3])


class ChannelMaxima(torch.nn.Module):
    """Another model with the same output dimension (3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=[2, 3])


def save_script(module, path):
    torch.jit.script(module.eval()).save(path)
    return path


# -- helpers ------------------------------------------------------------------

def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expected_normalised(rgb):
    """What the model sees for a solid colour (R, G, B) in 0..255."""
    return [(v / 255.0 - m) / s
            for v, m, s in zip(rgb, IMAGENET_MEAN, IMAGENET_STD)]


def write_image(path, img, params=()):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img, list(params)):
        raise AssertionError("cv2.imwrite failed for %s" % path)
    return path


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def textured(rng, h, w, tint):
    """A smooth random BGR uint8 image around colour `tint` (B, G, R)."""
    noise = rng.normal(scale=60.0, size=(h, w, 3))
    noise = cv2.GaussianBlur(noise, (5, 5), 0)
    img = np.asarray(tint, dtype=np.float64)[None, None, :] + noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def read_embeddings(path):
    """{filename: raw vector}, {filename: label} of a CSV `embed` wrote."""
    names, rows, labels = check_lightly_csv(path)
    if len(set(names)) != len(names):
        raise AssertionError("%s: duplicate filenames %r" % (path, names))
    return (dict(zip(names, np.asarray(rows, dtype=np.float64))),
            dict(zip(names, labels)))


def base_env():
    env = dict(os.environ)
    for k in ("DATAPOOL_SERVER", "http_proxy", "https_proxy", "grpc_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    return env


class ImagesTestBase(CliAssertions, unittest.TestCase):
    """CLI helpers; `cls.server` is the server the CLI talks to unless a
    call names another RunningServer."""

    server = None

    @classmethod
    def make_tmp(cls, prefix):
        server_binary()
        cls.cli_bin = cli_binary()
        tmp = tempfile.TemporaryDirectory(prefix=prefix)
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.shared = os.path.join(cls.tmp, "shared")
        cls.input = os.path.join(cls.tmp, "input")
        cls.local = os.path.join(cls.tmp, "local")   # the client's files
        cls.out = os.path.join(cls.tmp, "out")       # CSVs the CLI writes
        for d in (cls.shared, cls.input, cls.local, cls.out):
            os.mkdir(d)

    @classmethod
    def start_server(cls, shared, extra_args=()):
        server = RunningServer(shared, cls.input,
                               extra_args=list(SERVER_ARGS) + list(extra_args))
        server.__enter__()
        return server

    def run_cli(self, *args, server=None):
        server = server or self.server
        argv = [self.cli_bin, "--server", server.address]
        argv += [str(a) for a in args]
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True,
                                  env=base_env(), timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            self.fail("CLI hung for %d s: %s\nstdout: %s\nstderr: %s\n%s"
                      % (CLI_TIMEOUT_S, argv, e.stdout, e.stderr,
                         server.describe()))
        proc.server = server
        return proc

    def explain(self, proc):
        return ("command: %s\nexit status: %d\nstdout:\n%s\nstderr:\n%s\n%s"
                % (" ".join(proc.args), proc.returncode, proc.stdout,
                   proc.stderr, proc.server.describe()))

    def cli_json(self, *args, **kw):
        return super().cli_json(*(list(args) + ["--json"]), **kw)

    def assertServing(self, server=None):
        proc = self.cli_ok("health", server=server)
        self.assertEqual(proc.stdout.strip(), "SERVING", self.explain(proc))

    def embed(self, out_name, *args, server=None):
        """`embed ARGS --out OUT --json`; returns (vectors, labels, json)."""
        out = os.path.join(self.out, out_name)
        info = self.cli_json("embed", *args, "--out", out, server=server)
        vectors, labels = read_embeddings(out)
        self.assertEqual(info.get("rows"), len(vectors), info)
        return vectors, labels, info

    def select(self, pool, *args, server=None):
        # Plain k-center (the seed's farthest-first), which assertGreedy
        # checks; the default mode has its own tests.
        out = self.cli_json("select", "--pool", pool, "--strategy",
                            "diversity", *args, server=server)
        for key in ("selected", "skipped", "stop_reason", "version",
                    "committed", "pool_size_before", "pool_size_after",
                    "candidates_received"):
            self.assertIn(key, out, out)
        self.assertIsInstance(out["selected"], list, out)
        self.assertIsInstance(out["skipped"], list, out)
        for s in out["selected"]:
            self.assertEqual(set(s), {"filename", "distance", "label"}, s)
        for s in out["skipped"]:
            self.assertEqual(set(s), {"filename", "reason"}, s)
        return out

    def assertSkipped(self, out, expected):
        """`skipped` names exactly `expected`, each with a reason."""
        got = {s["filename"]: s["reason"] for s in out["skipped"]}
        self.assertEqual(sorted(got), sorted(expected), out)
        for name, reason in got.items():
            self.assertIsInstance(reason, str)
            self.assertTrue(reason.strip(), "no reason for %r: %r"
                            % (name, out))

    def assertGreedy(self, out, candidates, pool_rows, n_limit=None,
                     min_distance=None):
        picks = [(s["filename"], s["distance"]) for s in out["selected"]]
        check_greedy_selection(pool_rows, candidates, picks,
                               _STOP_NAMES[out["stop_reason"]],
                               n_limit=n_limit, min_distance=min_distance)
        return [p[0] for p in picks]

    def pool_dir(self, pool, shared=None):
        return os.path.join(shared or self.shared, pool)


# ---------------------------------------------------------------------------
# The built-in model
# ---------------------------------------------------------------------------

class BuiltinModelImagesTest(ImagesTestBase):
    """One server with the built-in model; each test uses its own pools."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("datapool-images-")
        rng = np.random.default_rng(20261128)
        inp, local = cls.input, cls.local

        # input/train/{birds,cats,dogs}/00k.{jpg,png} + a loose file.
        cls.train_labels = {}
        tints = {"birds": (40, 160, 60), "cats": (60, 90, 200),
                 "dogs": (200, 120, 40)}
        for label, cls_name in enumerate(CLASSES):
            for k in range(5):
                ext = "jpg" if k % 2 == 0 else "png"
                rel = "train/%s/%03d.%s" % (cls_name, k, ext)
                write_image(os.path.join(inp, rel),
                            textured(rng, 48, 64, tints[cls_name]))
                cls.train_labels[rel] = label
        write_image(os.path.join(inp, "train", "loose.jpg"),
                    textured(rng, 48, 64, (128, 128, 128)))
        cls.train_labels["train/loose.jpg"] = 0
        # Not images by extension: ignored, neither candidates nor skipped.
        write_bytes(os.path.join(inp, "train", "notes.txt"), b"not an image")
        write_bytes(os.path.join(inp, "train", "cats", "README"), b"x")
        # The client's copy of the same folder.
        shutil.copytree(os.path.join(inp, "train"),
                        os.path.join(local, "train"))

        # local/other/{x,y}/00k.png: only on the client.
        cls.other_labels = {}
        for label, sub in enumerate(UPLOAD_CLASSES):
            for k in range(3):
                rel = "other/%s/%03d.png" % (sub, k)
                write_image(os.path.join(local, rel),
                            textured(rng, 40, 56, (100 + 60 * label, 30,
                                                   220 - 60 * k)))
                cls.other_labels[rel] = label

        # Every format, from one picture.
        base = textured(rng, 48, 64, (90, 140, 190))
        square = textured(rng, BUILTIN_SIZE, BUILTIN_SIZE, (160, 70, 110))
        gray = cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)
        alpha = rng.integers(0, 256, size=base.shape[:2], dtype=np.uint8)
        fmt = os.path.join(inp, "fmt")
        write_image(os.path.join(fmt, "photo.jpg"), base,
                    (cv2.IMWRITE_JPEG_QUALITY, 90))
        write_image(os.path.join(fmt, "photo.jpeg"), base)
        write_image(os.path.join(fmt, "photo.png"), base)
        write_image(os.path.join(fmt, "photo.bmp"), base)
        write_image(os.path.join(fmt, "photo.webp"), base,
                    (cv2.IMWRITE_WEBP_QUALITY, 101))          # lossless
        write_image(os.path.join(fmt, "photo.tif"), base)
        write_image(os.path.join(fmt, "photo.tiff"), base)
        write_image(os.path.join(fmt, "photo_rgba.png"),
                    np.dstack([base, alpha]))
        write_image(os.path.join(fmt, "gray.png"), gray)
        write_image(os.path.join(fmt, "gray_as_rgb.png"),
                    cv2.merge([gray, gray, gray]))
        # 16-bit: at the model's input size, so no resize happens at 16 bit.
        write_image(os.path.join(fmt, "square_8bit.png"), square)
        write_image(os.path.join(fmt, "square_16bit.png"),
                    square.astype(np.uint16) * 257)
        cls.fmt_names = sorted("fmt/" + f for f in os.listdir(fmt))
        shutil.copytree(fmt, os.path.join(local, "fmt"))

        # Corrupt files beside good ones.
        good_jpg = cv2.imencode(
            ".jpg", textured(rng, 48, 64, (10, 200, 90)))[1].tobytes()
        for folder in ("bad", "allbad"):
            d = os.path.join(inp, folder)
            write_bytes(os.path.join(d, "trunc.jpg"),
                        good_jpg[:len(good_jpg) // 2])
            write_bytes(os.path.join(d, "random.jpg"),
                        rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
            write_bytes(os.path.join(d, "empty.png"), b"")
            write_bytes(os.path.join(d, "text.png"),
                        b"This is a text file, renamed .png\n" * 20)
        write_bytes(os.path.join(inp, "bad", "good1.jpg"), good_jpg)
        write_image(os.path.join(inp, "bad", "good2.png"),
                    textured(rng, 32, 32, (200, 20, 200)))
        write_bytes(os.path.join(inp, "bad", "notes.txt"), b"ignored")
        shutil.copytree(os.path.join(inp, "bad"), os.path.join(local, "bad"))
        shutil.copytree(os.path.join(inp, "allbad"),
                        os.path.join(local, "allbad"))

        # Outside the input folder, and symlinks leading there.
        cls.outside = os.path.join(cls.tmp, "outside")
        write_image(os.path.join(cls.outside, "secret.jpg"),
                    textured(rng, 48, 64, (0, 0, 255)))
        os.symlink(cls.outside, os.path.join(inp, "escape"))
        mixed = os.path.join(inp, "mixed")
        write_image(os.path.join(mixed, "ok1.jpg"),
                    textured(rng, 48, 64, (255, 0, 0)))
        write_image(os.path.join(mixed, "ok2.png"),
                    textured(rng, 48, 64, (0, 255, 0)))
        os.symlink(cls.outside, os.path.join(mixed, "link"))
        os.symlink(os.path.join(cls.outside, "secret.jpg"),
                   os.path.join(mixed, "flink.jpg"))

        # Solid colours for the checkpoint check.
        cls.solid_rgb = {"solid/red.png": (255, 0, 128),
                         "solid/teal.png": (20, 180, 170)}
        for rel, (r, g, b) in cls.solid_rgb.items():
            write_image(os.path.join(inp, rel),
                        np.full((48, 64, 3), (b, g, r), dtype=np.uint8))

        cls.server = cls.start_server(cls.shared)
        cls.addClassCleanup(cls.server.stop)

    # -- requirement 1 --------------------------------------------------------

    def test_select_images_end_to_end(self):
        pool = "img-pool"
        folder = self.pool_dir(pool)
        latest = os.path.join(folder, "datapool_latest.csv")
        ckpt = os.path.join(folder, "checkpoint_latest.ckpt")
        history = os.path.join(folder, "history")

        train_vecs, train_lab, info = self.embed("train.csv", "--input",
                                                 "train")
        self.assertEqual(sorted(train_vecs), sorted(self.train_labels))
        self.assertEqual(train_lab, self.train_labels)
        self.assertEqual(info["dimension"], BUILTIN_DIM, info)
        candidates = {n: v for n, v in zip(train_vecs,
                                           unit_rows(list(
                                               train_vecs.values())))}

        # --- v1: 6 of 16 from the server's input folder ---
        out1 = self.select(pool, "--input", "train", "--n-samples", "6")
        self.assertEqual(out1["skipped"], [], out1)
        self.assertEqual(len(out1["selected"]), 6, out1)
        self.assertEqual(out1["stop_reason"], "n_samples")
        self.assertEqual(out1["version"], 1)
        self.assertIs(out1["committed"], True)
        self.assertEqual(out1["candidates_received"], 16)
        self.assertEqual(out1["pool_size_before"], 0)
        self.assertEqual(out1["pool_size_after"], 6)
        for s in out1["selected"]:
            self.assertRegex(s["filename"],
                             r"^train/((birds|cats|dogs)/[0-9]{3}\.(jpg|png)"
                             r"|loose\.jpg)$", out1)
            self.assertEqual(s["label"], self.train_labels[s["filename"]], s)
        v1 = self.assertGreedy(out1, candidates, [], n_limit=6)
        self.assertIsNone(out1["selected"][0]["distance"])
        names, rows, labels = check_lightly_csv(latest)
        self.assertEqual(names, v1, "pool CSV rows not in pick order")
        self.assertEqual(labels, [self.train_labels[n] for n in names])
        np.testing.assert_allclose(rows, [candidates[n] for n in names],
                                   atol=1e-5)
        self.assertGreater(len(set(labels)), 1,
                           "weak labels do not vary: %r" % labels)

        # The pool's checkpoint is the model, loadable in Python.
        shown = self.cli_json("pools", "show", pool)
        self.assertEqual(shown["size"], 6)
        self.assertEqual(shown["version"], 1)
        self.assertEqual(shown["dimension"], BUILTIN_DIM)
        self.assertEqual(shown["input_size"], BUILTIN_SIZE)
        m = SHA256_RE.match(shown["model_fingerprint"])
        self.assertTrue(m, shown)
        self.assertEqual(info["model_fingerprint"], shown["model_fingerprint"])
        self.assertTrue(os.path.isfile(ckpt), os.listdir(folder))
        self.assertEqual(sha256_file(ckpt), m.group(1))
        with open(ckpt, "rb") as f:
            ckpt_bytes = f.read()
        model = torch.jit.load(ckpt, map_location="cpu").eval()
        with torch.no_grad():
            y = model(torch.rand(2, 3, BUILTIN_SIZE, BUILTIN_SIZE))
        self.assertEqual(tuple(y.shape), (2, BUILTIN_DIM))
        # ... and the very model the server ran: solid colours need no
        # resampling, so the input tensor is known exactly.
        solid_vecs, _, _ = self.embed("solid.csv", "--input", "solid")
        x = torch.tensor([[[[c]] for c in expected_normalised(rgb)]
                          for rgb in self.solid_rgb.values()],
                         dtype=torch.float32)
        x = x.expand(-1, 3, BUILTIN_SIZE, BUILTIN_SIZE).contiguous()
        with torch.no_grad():
            y = model(x).numpy()
        for i, rel in enumerate(self.solid_rgb):
            np.testing.assert_allclose(solid_vecs[rel], y[i], rtol=1e-4,
                                       atol=1e-4, err_msg=rel)

        # --- v2: 3 uploaded from the client's folder with subfolders ---
        other_vecs, other_lab, _ = self.embed(
            "other.csv", "--upload", os.path.join(self.local, "other"))
        self.assertEqual(other_lab, self.other_labels)
        other_cands = dict(zip(other_vecs,
                               unit_rows(list(other_vecs.values()))))
        out2 = self.select(pool, "--upload", os.path.join(self.local, "other"),
                           "--n-samples", "3")
        self.assertEqual(out2["skipped"], [], out2)
        self.assertEqual(out2["version"], 2)
        self.assertIs(out2["committed"], True)
        self.assertEqual(out2["candidates_received"], 6)
        self.assertEqual(out2["pool_size_before"], 6)
        self.assertEqual(out2["pool_size_after"], 9)
        for s in out2["selected"]:
            self.assertRegex(s["filename"], r"^other/[xy]/[0-9]{3}\.png$")
            self.assertEqual(s["label"], self.other_labels[s["filename"]], s)
            self.assertIsNotNone(s["distance"], s)
        v2 = self.assertGreedy(out2, other_cands,
                               [candidates[n] for n in v1], n_limit=3)
        names, rows, labels = check_lightly_csv(latest)
        self.assertEqual(sorted(names), sorted(v1 + v2))
        everything = dict(candidates, **other_cands)
        all_labels = dict(self.train_labels, **self.other_labels)
        for n, row, label in zip(names, rows, labels):
            np.testing.assert_allclose(row, everything[n], atol=1e-5,
                                       err_msg=n)
            self.assertEqual(label, all_labels[n], n)
        with open(ckpt, "rb") as f:
            self.assertEqual(f.read(), ckpt_bytes, "checkpoint rewritten")

        # history/ holds version 1: its CSV and its metadata.
        hist = sorted(os.listdir(history))
        self.assertEqual(len(hist), 2, hist)
        self.assertTrue(hist[0].endswith("_v000001_datapool_latest.csv"), hist)
        self.assertTrue(hist[1].endswith("_v000001_datapool_meta.json"), hist)
        h_names, _, h_labels = check_lightly_csv(os.path.join(history,
                                                              hist[0]))
        self.assertEqual(sorted(h_names), sorted(v1))
        with open(os.path.join(history, hist[1])) as f:
            h_meta = json.load(f)
        self.assertEqual(h_meta.get("version"), 1, h_meta)
        shown = self.cli_json("pools", "show", pool)
        self.assertEqual((shown["size"], shown["version"]), (9, 2))

    def test_no_weak_labels_writes_zero(self):
        pool = "img-nolabels"
        out = self.select(pool, "--input", "train", "--n-samples", "0.5",
                          "--no-weak-labels")
        picked = [s["filename"] for s in out["selected"]]
        self.assertEqual(len(picked), 8, out)
        self.assertTrue(any(self.train_labels[n] != 0 for n in picked),
                        "every pick has label 0 anyway; the test proves "
                        "nothing: %r" % picked)
        self.assertEqual([s["label"] for s in out["selected"]], [0] * 8, out)
        names, _, labels = check_lightly_csv(
            os.path.join(self.pool_dir(pool), "datapool_latest.csv"))
        self.assertEqual(sorted(names), sorted(picked))
        self.assertEqual(labels, [0] * 8)
        _, labels, _ = self.embed("nolabels.csv", "--input", "train",
                                  "--no-weak-labels")
        self.assertEqual(set(labels.values()), {0})

    # -- requirement 2 --------------------------------------------------------

    def test_path_and_upload_give_the_same_embeddings(self):
        for folder in ("train", "fmt"):
            by_path, lab_path, _ = self.embed(folder + "-path.csv", "--input",
                                              folder)
            by_upload, lab_upload, _ = self.embed(
                folder + "-upload.csv", "--upload",
                os.path.join(self.local, folder))
            # Uploaded folders are named from the folder itself, as paths are.
            self.assertEqual(sorted(by_path), sorted(by_upload))
            self.assertEqual(lab_path, lab_upload)
            for name, vec in by_path.items():
                np.testing.assert_allclose(by_upload[name], vec, rtol=0,
                                           atol=1e-6, err_msg=name)

    def test_every_format_is_embedded(self):
        vecs, _, info = self.embed("fmt.csv", "--input", "fmt")
        self.assertEqual(info["skipped"], [], info)
        self.assertEqual(sorted(vecs), self.fmt_names)
        for name, v in vecs.items():
            self.assertEqual(v.shape, (BUILTIN_DIM,), name)
            self.assertTrue(np.all(np.isfinite(v)), name)
            self.assertGreater(np.linalg.norm(v), 0, name)

        def same(a, b, tol=1e-4):
            np.testing.assert_allclose(vecs["fmt/" + a], vecs["fmt/" + b],
                                       rtol=0, atol=tol,
                                       err_msg="%s vs %s" % (a, b))

        # Lossless formats decode to the same pixels as the PNG.
        for ext in ("bmp", "webp", "tif", "tiff"):
            same("photo." + ext, "photo.png")
        same("photo_rgba.png", "photo.png")              # alpha dropped
        same("gray.png", "gray_as_rgb.png")              # grey -> RGB
        same("square_16bit.png", "square_8bit.png")      # v*257 -> v
        # ... and these comparisons can fail: different pictures differ.
        self.assertGreater(np.abs(vecs["fmt/gray.png"]
                                  - vecs["fmt/photo.png"]).max(), 1e-3)
        self.assertGreater(np.abs(vecs["fmt/square_8bit.png"]
                                  - vecs["fmt/photo.png"]).max(), 1e-3)

    # -- requirement 4 --------------------------------------------------------

    def test_paths_outside_the_input_folder_are_refused(self):
        before = snapshot_tree(self.shared)
        absolute = os.path.join(self.input, "train")
        cases = [("INVALID_ARGUMENT", "../outside"),
                 ("INVALID_ARGUMENT", "train/../../outside"),
                 ("INVALID_ARGUMENT", absolute),
                 ("INVALID_ARGUMENT", self.outside),
                 ("PERMISSION_DENIED", "escape"),
                 ("PERMISSION_DENIED", "escape/secret.jpg"),
                 ("PERMISSION_DENIED", "mixed/link"),
                 ("PERMISSION_DENIED", "mixed/flink.jpg")]
        for code, path in cases:
            with self.subTest(path=path):
                proc = self.cli_error(code, "select", "--pool", "esc",
                                      "--input", path, "--n-samples", "5")
                self.assertNotIn("secret", proc.stdout)
                self.cli_error(code, "embed", "--input", path, "--out",
                               os.path.join(self.out, "esc.csv"))
                self.assertServing()
        self.assertFalse(os.path.exists(os.path.join(self.out, "esc.csv")))
        self.assertEqual(snapshot_tree(self.shared), before)
        self.cli_error("NOT_FOUND", "pools", "show", "esc")

        # Walking a folder that holds links out: only what is inside is used.
        out = self.select("mixed-pool", "--input", "mixed", "--n-samples",
                          "10")
        self.assertEqual(sorted(s["filename"] for s in out["selected"]),
                         ["mixed/ok1.jpg", "mixed/ok2.png"], out)
        self.assertEqual(out["candidates_received"], 2, out)
        self.assertNotIn("secret", json.dumps(out["selected"]))
        for s in out["skipped"]:
            self.assertIn(s["filename"], ("mixed/flink.jpg", "mixed/link"),
                          out)
        names, _, _ = check_lightly_csv(
            os.path.join(self.pool_dir("mixed-pool"), "datapool_latest.csv"))
        self.assertEqual(sorted(names), ["mixed/ok1.jpg", "mixed/ok2.png"])
        vecs, _, _ = self.embed("mixed.csv", "--input", "mixed")
        self.assertEqual(sorted(vecs), ["mixed/ok1.jpg", "mixed/ok2.png"])
        self.assertServing()

    def test_corrupt_files_are_skipped(self):
        want_skipped = ["bad/" + f for f in BAD_FILES]
        good = ["bad/good1.jpg", "bad/good2.png"]
        for how, arg in (("--input", "bad"),
                         ("--upload", os.path.join(self.local, "bad"))):
            with self.subTest(how=how):
                pool = "corrupt-" + how.lstrip("-")
                out = self.select(pool, how, arg, "--n-samples", "100")
                self.assertSkipped(out, want_skipped)
                self.assertEqual(sorted(s["filename"]
                                        for s in out["selected"]), good, out)
                self.assertEqual(out["candidates_received"], 2, out)
                self.assertEqual(out["stop_reason"], "exhausted", out)
                self.assertIs(out["committed"], True)
                names, _, _ = check_lightly_csv(os.path.join(
                    self.pool_dir(pool), "datapool_latest.csv"))
                self.assertEqual(sorted(names), good)
                self.assertServing()
        vecs, _, info = self.embed("bad.csv", "--input", "bad")
        self.assertEqual(sorted(vecs), good)
        self.assertSkipped(info, want_skipped)

    def test_all_bad_commits_nothing(self):
        before = snapshot_tree(self.shared)
        out_csv = os.path.join(self.out, "allbad.csv")
        for how, arg in (("--input", "allbad"),
                         ("--upload", os.path.join(self.local, "allbad"))):
            with self.subTest(how=how):
                proc = self.cli_error("INVALID_ARGUMENT", "select", "--pool",
                                      "allbad", how, arg, "--n-samples", "5")
                self.assertEqual(proc.stdout.strip(), "", self.explain(proc))
                self.cli_error("INVALID_ARGUMENT", "embed", how, arg,
                               "--out", out_csv)
                self.assertFalse(os.path.exists(out_csv))
                self.assertServing()
        self.assertFalse(os.path.exists(self.pool_dir("allbad")))
        self.assertEqual(snapshot_tree(self.shared), before)
        self.cli_error("NOT_FOUND", "pools", "show", "allbad")

    def test_images_into_an_embeddings_pool_are_refused(self):
        pool = "from-csv"
        # The same dimension as the model's: only the origin differs.
        rng = np.random.default_rng(7)
        path = os.path.join(self.out, "emb.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filenames"] + ["embedding_%d" % j
                                        for j in range(BUILTIN_DIM)]
                       + ["labels"])
            for i in range(6):
                w.writerow(["e/%d.png" % i]
                           + [repr(float(v))
                              for v in rng.normal(size=BUILTIN_DIM)] + [0])
        self.select(pool, "--embeddings", path, "--n-samples", "4")
        shown = self.cli_json("pools", "show", pool)
        self.assertEqual(shown["model_fingerprint"], "")
        self.assertEqual(shown["dimension"], BUILTIN_DIM)
        folder = self.pool_dir(pool)
        before = snapshot_tree(folder)
        for how, arg in (("--input", "train"),
                         ("--upload", os.path.join(self.local, "other"))):
            with self.subTest(how=how):
                self.cli_error("FAILED_PRECONDITION", "select", "--pool", pool,
                               how, arg, "--n-samples", "2")
                self.assertEqual(snapshot_tree(folder), before)
                self.assertServing()
        self.assertFalse(os.path.exists(os.path.join(
            folder, "checkpoint_latest.ckpt")))
        self.assertEqual(self.cli_json("pools", "show", pool), shown)

    # -- requirement 5 --------------------------------------------------------

    def test_upload_single_file(self):
        one = os.path.join(self.local, "other", "y", "001.png")
        out = self.select("single", "--upload", one, "--n-samples", "1")
        self.assertEqual(len(out["selected"]), 1, out)
        self.assertEqual(out["candidates_received"], 1, out)
        self.assertEqual(out["selected"][0]["filename"], "001.png", out)
        self.assertEqual(out["selected"][0]["label"], 0, out)
        self.assertEqual(out["version"], 1)
        names, _, _ = check_lightly_csv(os.path.join(
            self.pool_dir("single"), "datapool_latest.csv"))
        self.assertEqual(names, ["001.png"])
        vecs, _, _ = self.embed("single.csv", "--upload", one)
        whole, _, _ = self.embed("single-folder.csv", "--upload",
                                 os.path.join(self.local, "other"))
        self.assertEqual(list(vecs), ["001.png"])
        np.testing.assert_allclose(vecs["001.png"], whole["other/y/001.png"],
                                   rtol=0, atol=1e-6)

    def test_identical_files_are_dropped_before_embedding(self):
        rng = np.random.default_rng(17)
        folder = os.path.join(self.local, "dups")
        for name, tint in (("a", (200, 30, 30)), ("b", (30, 200, 30)),
                           ("c", (30, 30, 200))):
            write_image(os.path.join(folder, name + ".png"),
                        textured(rng, 40, 48, tint))
        for original, copy in (("a", "x-copy"), ("c", "z-copy")):
            with open(os.path.join(folder, original + ".png"), "rb") as f:
                write_bytes(os.path.join(folder, copy + ".png"), f.read())
        out = self.select("dups", "--upload", folder, "--n-samples", "1.0",
                          "--dry-run")
        self.assertEqual(out["candidates_received"], 5, out)
        self.assertEqual(out["duplicates_removed"], 2, out)
        # Named, each with the file it equals (which stays).
        self.assertEqual(out["duplicates"],
                         [{"filename": "dups/x-copy.png",
                           "same_as": "dups/a.png"},
                          {"filename": "dups/z-copy.png",
                           "same_as": "dups/c.png"}])
        picked = sorted(s["filename"] for s in out["selected"])
        self.assertEqual(picked, ["dups/a.png", "dups/b.png", "dups/c.png"])
        kept = self.select("dups", "--upload", folder, "--n-samples", "1.0",
                           "--dry-run", "--keep-duplicates")
        self.assertEqual(kept["duplicates_removed"], 0, kept)
        self.assertEqual(kept["duplicates"], [], kept)
        self.assertEqual(len(kept["selected"]), 5, kept)

    def test_upload_of_a_missing_path(self):
        before = snapshot_tree(self.shared)
        missing = os.path.join(self.local, "no-such-folder", "photo.jpg")
        out_csv = os.path.join(self.out, "missing.csv")
        for args in (("select", "--pool", "missing", "--upload", missing,
                      "--n-samples", "1"),
                     ("select", "--pool", "missing", "--upload",
                      os.path.join(self.local, "other"), missing,
                      "--n-samples", "1"),
                     ("embed", "--upload", missing, "--out", out_csv)):
            with self.subTest(args=args):
                self.cli_local_error(missing, *args)
        self.assertFalse(os.path.exists(out_csv))
        self.assertEqual(snapshot_tree(self.shared), before)
        self.assertServing()


    def run_on_pty(self, *args):
        """Runs the CLI with stderr on a pseudo-terminal (stdout to a file);
        returns (exit status, what the terminal showed, stdout)."""
        master, slave = pty.openpty()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(
                [self.cli_bin, "--server", self.server.address]
                + [str(a) for a in args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=slave,
                env=base_env())
            os.close(slave)
            try:
                shown = self.read_terminal(master, proc, timeout=CLI_TIMEOUT_S)
            finally:
                os.close(master)
            proc.wait(timeout=CLI_TIMEOUT_S)
            out.seek(0)
            return proc.returncode, shown, out.read().decode()

    def test_embed_progress_on_a_terminal_only(self):
        out_csv = os.path.join(self.out, "progress.csv")
        n = len(self.train_labels)
        status, shown, stdout = self.run_on_pty("embed", "--input", "train",
                                                "--out", out_csv)
        self.assertEqual(status, 0, shown)
        self.assertIn("embedding", shown)
        self.assertIn("%d/%d [" % (n, n), shown)
        self.assertIn("\r", shown)
        self.assertIn("Wrote %d embeddings" % n, stdout)
        self.assertNotIn("embedding ", stdout)
        # Piped, or with --json: no progress line at all.
        piped = self.cli_ok("embed", "--input", "train", "--out", out_csv)
        self.assertNotIn("embedding ", piped.stderr)
        status, shown, stdout = self.run_on_pty(
            "embed", "--input", "train", "--out", out_csv, "--json")
        self.assertEqual(status, 0, shown)
        self.assertNotIn("embedding", shown)
        self.assertEqual(json.loads(stdout)["rows"], n)

    def test_an_out_file_that_cannot_be_written(self):
        # A folder where the CSV should go: the embedding is done, the
        # write fails, and that is a local error (3), not the server's.
        folder = os.path.join(self.out, "a-folder.csv")
        os.makedirs(os.path.join(folder, "inside"))
        self.cli_local_error("a-folder.csv", "embed", "--input", "train",
                             "--out", folder)
        self.assertEqual(os.listdir(folder), ["inside"])
        self.assertServing()


# ---------------------------------------------------------------------------
# Custom TorchScript models
# ---------------------------------------------------------------------------

class CustomModelTest(ImagesTestBase):
    """A pool is built with the built-in model; then the server restarts on
    the same shared folder with a per-channel-means model at 8 px."""

    MEANS_SIZE = 8
    BUILTIN_POOL = "builtin-pool"

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("datapool-models-")
        cls.models = os.path.join(cls.tmp, "models")
        os.mkdir(cls.models)
        cls.means_pt = save_script(ChannelMeans(),
                                   os.path.join(cls.models, "means.pt"))
        cls.maxima_pt = save_script(ChannelMaxima(),
                                    os.path.join(cls.models, "maxima.pt"))
        rng = np.random.default_rng(99)
        inp = cls.input
        # Solid colours (R, G, B); odd sizes, so a resize happens.
        cls.solid = {"solid/rgb.png": (255, 0, 128),
                     "solid/dark.png": (3, 70, 250)}
        for rel, (r, g, b) in cls.solid.items():
            write_image(os.path.join(inp, rel),
                        np.full((13, 21, 3), (b, g, r), dtype=np.uint8))
        write_image(os.path.join(inp, "solid", "gray100.png"),
                    np.full((10, 10), 100, dtype=np.uint8))
        cls.solid["solid/gray100.png"] = (100, 100, 100)
        write_image(os.path.join(inp, "solid", "deep.png"),
                    np.full((9, 12, 3), (128 * 257, 0, 255 * 257),
                            dtype=np.uint16))
        cls.solid["solid/deep.png"] = (255, 0, 128)
        shutil.copytree(os.path.join(inp, "solid"),
                        os.path.join(cls.local, "solid"))
        for label, sub in enumerate(CLASSES):
            for k in range(3):
                write_image(os.path.join(inp, "train", sub, "%d.png" % k),
                            textured(rng, 24, 32, (40 * k, 80 * label, 90)))
        for k in range(3):
            write_image(os.path.join(inp, "more", "%d.png" % k),
                        textured(rng, 24, 32, (200, 40 * k, 10)))
        shutil.copytree(os.path.join(inp, "more"),
                        os.path.join(cls.local, "more"))

        with RunningServer(cls.shared, cls.input,
                           extra_args=SERVER_ARGS) as builtin:
            proc = subprocess.run(
                [cls.cli_bin, "--server", builtin.address, "select", "--pool",
                 cls.BUILTIN_POOL, "--input", "train", "--n-samples", "4"],
                capture_output=True, text=True, env=base_env(),
                timeout=CLI_TIMEOUT_S)
            if proc.returncode != 0:
                raise AssertionError("building %s failed: %s\n%s\n%s"
                                     % (cls.BUILTIN_POOL, proc.stderr,
                                        proc.stdout, builtin.describe()))
        cls.server = cls.start_server(
            cls.shared, ("--model", cls.means_pt,
                         "--input-size", cls.MEANS_SIZE))
        cls.addClassCleanup(cls.server.stop)

    # -- requirement 3 --------------------------------------------------------

    def test_preprocessing_is_imagenet_normalised_rgb(self):
        for how, arg in (("--input", "solid"),
                         ("--upload", os.path.join(self.local, "solid"))):
            with self.subTest(how=how):
                vecs, _, info = self.embed("solid%s.csv" % how, how, arg)
                self.assertEqual(info["dimension"], 3, info)
                self.assertEqual(info["model_fingerprint"],
                                 "sha256:" + sha256_file(self.means_pt))
                self.assertEqual(sorted(vecs), sorted(self.solid))
                for rel, rgb in self.solid.items():
                    np.testing.assert_allclose(
                        vecs[rel], expected_normalised(rgb), rtol=0,
                        atol=1e-4, err_msg="%s %r" % (rel, rgb))

    # -- requirement 4: each pool's images are embedded by its own model -----

    def pool_rows(self, pool, shared=None):
        """{filename: unit row} of the pool's latest CSV."""
        names, rows, _ = check_lightly_csv(os.path.join(
            self.pool_dir(pool, shared), "datapool_latest.csv"))
        return dict(zip(names, np.asarray(rows, dtype=np.float64)))

    def assertRowsAre(self, rows, vecs, names):
        """The pool rows of `names` are the unit rows of the raw `vecs`."""
        for name in names:
            np.testing.assert_allclose(
                rows[name], unit_rows([vecs[name]])[0], rtol=0, atol=1e-5,
                err_msg=name)

    def test_images_into_a_pool_of_another_model_use_its_model(self):
        pool = self.BUILTIN_POOL
        folder = self.pool_dir(pool)
        ckpt = os.path.join(folder, "checkpoint_latest.ckpt")
        ckpt_sha = sha256_file(ckpt)
        shown = self.cli_json("pools", "show", pool)
        self.assertEqual(shown["model_fingerprint"], "sha256:" + ckpt_sha)
        self.assertNotEqual(shown["model_fingerprint"],
                            "sha256:" + sha256_file(self.means_pt))
        self.assertEqual(shown["input_size"], BUILTIN_SIZE)

        # The pool's model, from its checkpoint, and the server's default.
        own, _, info = self.embed("more-own.csv", "--input", "more",
                                  "--pool", pool)
        self.assertEqual(info["model_fingerprint"], shown["model_fingerprint"])
        self.assertEqual(info["dimension"], shown["dimension"])
        own_up, _, info_up = self.embed(
            "more-own-up.csv", "--upload", os.path.join(self.local, "more"),
            "--pool", pool)
        self.assertEqual(info_up["model_fingerprint"],
                         shown["model_fingerprint"])
        self.assertEqual(sorted(own_up), sorted(own))
        for name in own:
            np.testing.assert_allclose(own_up[name], own[name], rtol=0,
                                       atol=1e-6, err_msg=name)
        default, _, dinfo = self.embed("more-default.csv", "--input", "more")
        self.assertEqual(dinfo["dimension"], 3, dinfo)
        self.assertEqual(dinfo["model_fingerprint"],
                         "sha256:" + sha256_file(self.means_pt))
        self.assertNotEqual(shown["dimension"], 3)
        self.assertEqual(sorted(default), sorted(own))

        # v+1: 2 of the 3 from the input folder, greedy over the pool's
        # own embeddings of them.
        before = self.pool_rows(pool)
        self.assertEqual(len(before), shown["size"])
        candidates = dict(zip(own, unit_rows(list(own.values()))))
        out = self.select(pool, "--input", "more", "--n-samples", "2")
        self.assertIs(out["committed"], True, out)
        self.assertEqual(out["skipped"], [], out)
        self.assertEqual(out["version"], shown["version"] + 1, out)
        self.assertEqual(out["pool_size_before"], shown["size"], out)
        self.assertEqual(out["pool_size_after"], shown["size"] + 2, out)
        picked = self.assertGreedy(out, candidates, list(before.values()),
                                   n_limit=2)
        rows = self.pool_rows(pool)
        self.assertEqual(sorted(rows), sorted(list(before) + picked))
        self.assertRowsAre(rows, own, picked)
        for name in before:
            np.testing.assert_array_equal(rows[name], before[name])

        # v+2: uploaded; the two already in the pool are left out.
        out = self.select(pool, "--upload", os.path.join(self.local, "more"),
                          "--n-samples", "2")
        self.assertIs(out["committed"], True, out)
        self.assertEqual(out["candidates_already_in_pool"], 2, out)
        (last,) = [s["filename"] for s in out["selected"]]
        self.assertEqual(sorted(picked + [last]), sorted(own))
        rows = self.pool_rows(pool)
        self.assertEqual(len(rows), shown["size"] + 3)
        self.assertRowsAre(rows, own, [last])

        # The pool keeps its model: same file, fingerprint and input size.
        self.assertEqual(sha256_file(ckpt), ckpt_sha)
        after = self.cli_json("pools", "show", pool)
        for key in ("model_fingerprint", "input_size", "dimension"):
            self.assertEqual(after[key], shown[key], key)
        self.assertEqual((after["size"], after["version"]),
                         (shown["size"] + 3, shown["version"] + 2))
        self.assertServing()

    def test_a_custom_model_pool_records_its_model(self):
        pool = "means-pool"
        out = self.select(pool, "--input", "more", "--n-samples", "2")
        self.assertIs(out["committed"], True)
        shown = self.cli_json("pools", "show", pool)
        self.assertEqual(shown["model_fingerprint"],
                         "sha256:" + sha256_file(self.means_pt))
        self.assertEqual(shown["input_size"], self.MEANS_SIZE)
        self.assertEqual(shown["dimension"], 3)
        ckpt = os.path.join(self.pool_dir(pool), "checkpoint_latest.ckpt")
        self.assertEqual(sha256_file(ckpt), sha256_file(self.means_pt))
        model = torch.jit.load(ckpt, map_location="cpu")
        x = torch.rand(2, 3, self.MEANS_SIZE, self.MEANS_SIZE)
        torch.testing.assert_close(model(x), x.mean(dim=[2, 3]))

    def _pool_of_means_model(self, shared, pool="p"):
        """Builds `pool` with the means model in `shared`; its snapshot."""
        with RunningServer(shared, self.input, extra_args=list(SERVER_ARGS) + [
                "--model", self.means_pt, "--input-size",
                str(self.MEANS_SIZE)]) as server:
            self.select(pool, "--input", "train", "--n-samples", "3",
                        server=server)
        return snapshot_tree(os.path.join(shared, pool))

    def test_two_pools_of_other_models_embed_an_image_differently(self):
        shared = os.path.join(self.tmp, "shared-maxima")
        os.mkdir(shared)
        self._pool_of_means_model(shared)
        image = "more/0.png"
        # References: the class's server runs the means model at this size.
        means, _, _ = self.embed("means-ref.csv", "--input", image)
        means_fp = "sha256:" + sha256_file(self.means_pt)
        maxima_fp = "sha256:" + sha256_file(self.maxima_pt)
        with RunningServer(shared, self.input, extra_args=list(SERVER_ARGS) + [
                "--model", self.maxima_pt, "--input-size",
                str(self.MEANS_SIZE)]) as server:
            maxima, _, info = self.embed("maxima-ref.csv", "--input", image,
                                         server=server)
            self.assertEqual(info["model_fingerprint"], maxima_fp)
            self.assertFalse(np.allclose(unit_rows([means[image]]),
                                         unit_rows([maxima[image]]),
                                         atol=1e-3),
                             "the models agree on %s: %r %r"
                             % (image, means[image], maxima[image]))
            # embed --pool p: p's model (its checkpoint), not the default.
            by_p, _, info = self.embed("by-p.csv", "--input", image,
                                       "--pool", "p", server=server)
            self.assertEqual(info["model_fingerprint"], means_fp)
            np.testing.assert_allclose(by_p[image], means[image], rtol=0,
                                       atol=1e-6)

            p_before = self.pool_rows("p", shared)
            self.assertNotIn(image, p_before)
            out_p = self.select("p", "--input", image, "--n-samples", "1",
                                server=server)
            out_q = self.select("q", "--input", image, "--n-samples", "1",
                                server=server)
            for out in (out_p, out_q):
                self.assertIs(out["committed"], True, out)
                self.assertEqual([s["filename"] for s in out["selected"]],
                                 [image], out)
            p_rows = self.pool_rows("p", shared)
            self.assertEqual(sorted(p_rows), sorted(list(p_before) + [image]))
            self.assertRowsAre(p_rows, means, [image])
            for name in p_before:
                np.testing.assert_array_equal(p_rows[name], p_before[name])
            self.assertRowsAre(self.pool_rows("q", shared), maxima, [image])
            for pool, fp in (("p", means_fp), ("q", maxima_fp)):
                shown = self.cli_json("pools", "show", pool, server=server)
                self.assertEqual(shown["model_fingerprint"], fp, pool)
                self.assertEqual(shown["input_size"], self.MEANS_SIZE, pool)
                self.assertEqual(shown["dimension"], 3, pool)
                self.assertEqual(
                    "sha256:" + sha256_file(os.path.join(
                        shared, pool, "checkpoint_latest.ckpt")), fp, pool)
            self.assertServing(server)

    def test_same_model_other_input_size_uses_the_pools(self):
        shared = os.path.join(self.tmp, "shared-size")
        os.mkdir(shared)
        before = self._pool_of_means_model(shared)
        # The reference at the pool's size: the class's server.
        at_pool_size, _, _ = self.embed("size-ref.csv", "--input", "more")
        with RunningServer(shared, self.input, extra_args=list(SERVER_ARGS) + [
                "--model", self.means_pt, "--input-size",
                str(2 * self.MEANS_SIZE)]) as server:
            at_double, _, _ = self.embed("size-double.csv", "--input", "more",
                                         server=server)
            self.assertFalse(
                np.allclose(unit_rows(list(at_double.values())),
                            unit_rows([at_pool_size[n] for n in at_double]),
                            atol=1e-4),
                "the input size changes nothing for these images")
            by_p, _, info = self.embed("size-by-p.csv", "--input", "more",
                                       "--pool", "p", server=server)
            self.assertEqual(sorted(by_p), sorted(at_pool_size))
            for name in by_p:
                np.testing.assert_allclose(by_p[name], at_pool_size[name],
                                           rtol=0, atol=1e-6, err_msg=name)
            out = self.select("p", "--input", "more", "--n-samples", "2",
                              server=server)
            self.assertIs(out["committed"], True, out)
            picked = [s["filename"] for s in out["selected"]]
            self.assertEqual(len(picked), 2, out)
            rows = self.pool_rows("p", shared)
            self.assertEqual(len(rows), 5)
            self.assertRowsAre(rows, at_pool_size, picked)
            shown = self.cli_json("pools", "show", "p", server=server)
            self.assertEqual(shown["input_size"], self.MEANS_SIZE)
            self.assertEqual(shown["model_fingerprint"],
                             "sha256:" + sha256_file(self.means_pt))
        self.assertEqual(
            snapshot_tree(os.path.join(shared, "p"))["checkpoint_latest.ckpt"],
            before["checkpoint_latest.ckpt"])

    def test_a_pool_without_its_checkpoint_is_refused(self):
        shared = os.path.join(self.tmp, "shared-broken")
        os.mkdir(shared)
        self._pool_of_means_model(shared)
        folder = os.path.join(shared, "p")
        ckpt = os.path.join(folder, "checkpoint_latest.ckpt")
        with open(ckpt, "rb") as f:
            ckpt_bytes = f.read()
        os.remove(ckpt)
        with RunningServer(shared, self.input, extra_args=list(SERVER_ARGS) + [
                "--model", self.maxima_pt, "--input-size",
                str(self.MEANS_SIZE)]) as server:
            def refused(what, needle):
                before = snapshot_tree(folder)
                for args in (("select", "--pool", "p", "--input", "more",
                              "--n-samples", "2"),
                             ("select", "--pool", "p", "--upload",
                              os.path.join(self.local, "more"),
                              "--n-samples", "2"),
                             ("embed", "--pool", "p", "--input", "more",
                              "--out", os.path.join(self.out, "no.csv"))):
                    with self.subTest(what=what, args=args):
                        proc = self.cli_error("FAILED_PRECONDITION", *args,
                                              server=server)
                        self.assertIn(ckpt, proc.stderr, self.explain(proc))
                        self.assertIn(needle, proc.stderr, self.explain(proc))
                        self.assertEqual(snapshot_tree(folder), before)
                        self.assertServing(server)
                self.assertFalse(os.path.exists(os.path.join(self.out,
                                                             "no.csv")))

            refused("missing", "No such file")
            # Another model's file in its place.
            shutil.copyfile(self.maxima_pt, ckpt)
            refused("another model", "the file is model sha256:"
                    + sha256_file(self.maxima_pt))
            # The server keeps serving other pools meanwhile.
            out = self.select("q", "--input", "more", "--n-samples", "1",
                              server=server)
            self.assertIs(out["committed"], True, out)
            # Its own file back: the pool takes images again.
            with open(ckpt, "wb") as f:
                f.write(ckpt_bytes)
            out = self.select("p", "--input", "more", "--n-samples", "1",
                              server=server)
            self.assertIs(out["committed"], True, out)
            self.assertEqual(out["pool_size_after"], 4, out)

    # -- changing a pool's model ----------------------------------------------

    def test_set_model_reembeds_every_row_in_one_version(self):
        pool = "to-maxima"
        folder = self.pool_dir(pool)
        self.select(pool, "--input", "train", "--n-samples", "3")
        # An upload the input folder does not have: it cannot be read again.
        local = os.path.join(self.local, "only-here")
        write_image(os.path.join(local, "z.png"),
                    textured(np.random.default_rng(7), 24, 32, (9, 99, 199)))
        self.select(pool, "--upload", local, "--n-samples", "1")
        shown = self.cli_json("pools", "show", pool)
        self.assertEqual(shown["size"], 4, shown)
        before = snapshot_tree(folder)
        set_model = ("pools", "set-model", pool, "--model", self.maxima_pt,
                     "--input-size", str(self.MEANS_SIZE))
        proc = self.cli_error("FAILED_PRECONDITION", *set_model)
        self.assertIn("'only-here/z.png'", proc.stderr, self.explain(proc))
        self.assertEqual(snapshot_tree(folder), before)

        out = self.cli_json(*set_model, "--drop-unreadable")
        self.assertEqual(out["reembedded"], 3, out)
        self.assertEqual([d["filename"] for d in out["dropped"]],
                         ["only-here/z.png"], out)
        maxima = "sha256:" + sha256_file(self.maxima_pt)
        self.assertEqual(out["pool"]["model_fingerprint"], maxima, out)
        self.assertEqual(out["pool"]["version"], shown["version"] + 1, out)
        self.assertEqual(out["pool"]["size"], 3, out)
        ckpt = os.path.join(folder, "checkpoint_latest.ckpt")
        self.assertEqual(sha256_file(ckpt), sha256_file(self.maxima_pt))
        # The old checkpoint stays in history/ beside the old rows.
        history = os.path.join(folder, "history")
        self.assertIn(sha256_file(self.means_pt),
                      [sha256_file(os.path.join(history, f))
                       for f in os.listdir(history) if "ckpt" in f])
        # Every row is now the pool's new model's embedding of its image.
        rows = self.pool_rows(pool)
        self.assertEqual(len(rows), 3)
        vecs, _, info = self.embed("to-maxima.csv", "--pool", pool,
                                   "--input", "train")
        self.assertEqual(info["model_fingerprint"], maxima, info)
        self.assertRowsAre(rows, vecs, rows)
        means, _, _ = self.embed("to-means.csv", "--input", "train")
        name = sorted(rows)[0]
        self.assertFalse(np.allclose(unit_rows([means[name]])[0], rows[name],
                                     atol=1e-3), name)
        # Images into it are embedded by its new model.
        out = self.select(pool, "--input", "more", "--n-samples", "1")
        self.assertIs(out["committed"], True, out)
        self.assertServing()

    def test_set_model_gives_an_adopted_pool_a_model(self):
        emb = os.path.join(self.out, "adopted.csv")
        names = ["train/%s/0.png" % c for c in CLASSES]
        with open(emb, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filenames", "embedding_0", "embedding_1",
                        "embedding_2", "labels"])
            for i, name in enumerate(names):
                w.writerow([name, 1.0 + i, -1.0, 0.5 * i, i])
        self.select("adopted", "--embeddings", emb, "--n-samples", "3")
        self.cli_error("FAILED_PRECONDITION", "select", "--pool", "adopted",
                       "--input", "more", "--n-samples", "1")
        out = self.cli_json("pools", "set-model", "adopted", "--model",
                            self.means_pt, "--input-size",
                            str(self.MEANS_SIZE))
        self.assertEqual(out["reembedded"], 3, out)
        self.assertEqual(out["pool"]["model_fingerprint"],
                         "sha256:" + sha256_file(self.means_pt), out)
        self.assertEqual(out["pool"]["dimension"], 3, out)
        out = self.select("adopted", "--input", "more", "--n-samples", "1")
        self.assertIs(out["committed"], True, out)
        # What is not a model, and a pool that is not there.
        bad = os.path.join(self.out, "bad.pt")
        with open(bad, "wb") as f:
            f.write(b"not a model")
        before = snapshot_tree(self.pool_dir("adopted"))
        self.cli_error("INVALID_ARGUMENT", "pools", "set-model", "adopted",
                       "--model", bad)
        self.assertEqual(snapshot_tree(self.pool_dir("adopted")), before)
        self.cli_error("NOT_FOUND", "pools", "set-model", "nope", "--model",
                       self.means_pt)
        self.assertFalse(os.path.exists(self.pool_dir("nope")))

    def test_embed_with_a_missing_or_modelless_pool(self):
        out_csv = os.path.join(self.out, "never.csv")
        proc = self.cli_error("NOT_FOUND", "embed", "--pool", "missing",
                              "--input", "more", "--out", out_csv)
        self.assertIn("'missing'", proc.stderr, self.explain(proc))
        self.assertFalse(os.path.exists(out_csv))
        self.assertFalse(os.path.exists(self.pool_dir("missing")))
        # A pool of client embeddings has no model to embed with.
        emb = os.path.join(self.out, "three.csv")
        with open(emb, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filenames", "embedding_0", "embedding_1",
                        "embedding_2", "labels"])
            for i in range(3):
                w.writerow(["e/%d.png" % i, 1.0 + i, -1.0, 0.5 * i, 0])
        self.select("csv-pool", "--embeddings", emb, "--n-samples", "2")
        before = snapshot_tree(self.pool_dir("csv-pool"))
        self.cli_error("FAILED_PRECONDITION", "embed", "--pool", "csv-pool",
                       "--input", "more", "--out", out_csv)
        self.assertFalse(os.path.exists(out_csv))
        self.assertEqual(snapshot_tree(self.pool_dir("csv-pool")), before)
        self.assertServing()

if __name__ == "__main__":
    unittest.main()
