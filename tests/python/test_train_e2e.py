"""`datapool train` end to end: the real server trains a pool's model on
its images (SimCLR, on the CPU), re-embeds every sample with it and commits
one version; restore brings the old checkpoint back; the same seed gives
the same checkpoint; a deadline or a kill -9 during training changes
nothing; unreadable samples are named."""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy", "torch", "cv2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from datapool_testlib import SDK_DIR, snapshot_tree  # noqa: E402
from server_harness import RunningServer  # noqa: E402
from test_images_e2e import (SERVER_ARGS, ImagesTestBase,  # noqa: E402
                             sha256_file, textured, unit_rows, write_image)

sys.path.insert(0, SDK_DIR)
import datapool_client as sdk  # noqa: E402

CLASSES = ("a", "b", "c")
PER_CLASS = 8
TRAIN = ("--epochs", "2", "--batch-size", "8")


class TrainTest(ImagesTestBase):
    """One server with the built-in model; each test trains its own pools
    built from 24 generated images in three tints."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("datapool-train-")
        rng = np.random.default_rng(5)
        for k, name in enumerate(CLASSES):
            for i in range(PER_CLASS):
                write_image(os.path.join(cls.input, "train", name,
                                         "%d.png" % i),
                            textured(rng, 40, 40, (80 * k, 200 - 60 * k,
                                                   30 * i)))
        cls.server = cls.start_server(cls.shared)
        cls.addClassCleanup(cls.server.stop)

    def new_pool(self, pool, server=None):
        """`pool` with all 24 images, embedded by the built-in model."""
        out = self.select(pool, "--input", "train", "--n-samples", "24",
                          server=server)
        self.assertEqual(out["pool_size_after"], 24, out)
        return self.cli_json("pools", "show", pool, server=server)

    def checkpoint(self, pool, shared=None):
        return os.path.join(self.pool_dir(pool, shared),
                            "checkpoint_latest.ckpt")

    def pool_rows(self, pool):
        from lightly_csv import check_lightly_csv
        names, rows, _ = check_lightly_csv(os.path.join(
            self.pool_dir(pool), "datapool_latest.csv"))
        return dict(zip(names, np.asarray(rows, dtype=np.float64)))

    def test_train_reembeds_every_sample_and_restore_undoes_it(self):
        before = self.new_pool("t1")
        builtin_sha = sha256_file(self.checkpoint("t1"))
        out = self.cli_json("train", "--pool", "t1", *TRAIN, "--seed", "3")
        self.assertEqual(out["images"], 24, out)
        self.assertEqual(out["epochs"], 2, out)
        self.assertEqual(out["steps"], 6, out)
        self.assertEqual(out["reembedded"], 24, out)
        self.assertEqual(out["device"], "cpu", out)
        self.assertGreater(out["images_per_second"], 0, out)
        self.assertEqual(out["dropped"], [], out)
        pool = out["pool"]
        self.assertEqual(pool["version"], before["version"] + 1, out)
        trained_sha = sha256_file(self.checkpoint("t1"))
        self.assertNotEqual(trained_sha, builtin_sha)
        self.assertEqual(pool["model_fingerprint"], "sha256:" + trained_sha)
        # Every row is a fresh embedding with the new checkpoint.
        rows = self.pool_rows("t1")
        self.assertEqual(len(rows), 24)
        vecs, _, info = self.embed("t1.csv", "--pool", "t1", "--input",
                                   "train")
        self.assertEqual(info["model_fingerprint"], pool["model_fingerprint"])
        self.assertEqual(len(next(iter(vecs.values()))), pool["dimension"])
        for name, row in rows.items():
            np.testing.assert_allclose(row, unit_rows([vecs[name]])[0],
                                       rtol=0, atol=1e-5, err_msg=name)
        # The checkpoint loads in Python and maps images to that dimension.
        model = torch.jit.load(self.checkpoint("t1"), map_location="cpu")
        x = torch.rand(2, 3, pool["input_size"], pool["input_size"])
        self.assertEqual(tuple(model(x).shape), (2, pool["dimension"]))
        # Restoring the version before brings the built-in model back.
        restored = self.cli_json("pools", "restore", "t1",
                                 str(before["version"]))
        self.assertEqual(restored["pool"]["model_fingerprint"],
                         before["model_fingerprint"], restored)
        self.assertEqual(sha256_file(self.checkpoint("t1")), builtin_sha)
        _, _, info = self.embed("t1-back.csv", "--pool", "t1", "--input",
                                "train")
        self.assertEqual(info["model_fingerprint"], before["model_fingerprint"])

    def test_the_same_seed_gives_the_same_checkpoint(self):
        shas = []
        tuned = ("--augment", "flip=0,hue=0,crop-min-scale=0.5",
                 "--learning-rate", "0.002", "--temperature", "0.2")
        for pool, seed, more in (("s1", "7", ()), ("s2", "7", ()),
                                 ("s3", "8", ()), ("s4", "7", tuned),
                                 ("s5", "7", tuned)):
            self.new_pool(pool)
            self.cli_json("train", "--pool", pool, "--epochs", "1",
                          "--batch-size", "8", "--seed", seed, *more)
            shas.append(sha256_file(self.checkpoint(pool)))
        self.assertEqual(shas[0], shas[1])
        self.assertNotEqual(shas[0], shas[2])
        # The tuning reaches the trainer, and is as reproducible.
        self.assertNotEqual(shas[0], shas[3])
        self.assertEqual(shas[3], shas[4])

    def test_bad_tuning_is_refused_before_anything_changes(self):
        self.new_pool("b1")
        before = snapshot_tree(self.pool_dir("b1"))
        # The CLI refuses what the server would, before it sends anything.
        for args, says in (
                (("--augment", "flip=0,wobble=1"), "unknown key 'wobble'"),
                (("--augment", "hue=0.7"), "hue must be in [0, 0.5]"),
                (("--augment", "flip"), "flip needs a number"),
                (("--augment", "crop-min-scale=0.9,crop-max-scale=0.5"),
                 "must not exceed"),
                (("--learning-rate", "0"), "--learning-rate must be in"),
                (("--temperature", "abc"), "--temperature must be a number")):
            for command in (("train", "--pool", "b1"),
                            ("select", "--pool", "b2", "--input", "train",
                             "--n-samples", "3", "--train")):
                proc = self.run_cli(*command, *args)
                self.assertEqual(proc.returncode, 1, self.explain(proc))
                self.assertIn(says, proc.stderr, self.explain(proc))
        self.assertFalse(os.path.exists(self.pool_dir("b2")))
        # The server checks too (the SDK leaves ranges to it).
        client = sdk.Client(self.server.address, timeout=60)
        self.addCleanup(client.close)
        for kw, says in (({"augment": {"blur_min_sigma": 0}}, "blur_min_sigma"),
                         ({"temperature": 0.001}, "temperature"),
                         ({"learning_rate": 2.0}, "learning_rate")):
            with self.assertRaises(sdk.DatapoolError) as caught:
                client.train("b1", epochs=1, **kw)
            self.assertEqual(caught.exception.code_name, "INVALID_ARGUMENT")
            self.assertIn(says, str(caught.exception))
        self.assertEqual(snapshot_tree(self.pool_dir("b1")), before)

    def test_a_deadline_changes_nothing(self):
        self.new_pool("d1")
        before = snapshot_tree(self.pool_dir("d1"))
        self.cli_error("DEADLINE_EXCEEDED", "train", "--pool", "d1",
                       "--epochs", "10000", "--batch-size", "8",
                       "--timeout", "2")
        self.assertEqual(snapshot_tree(self.pool_dir("d1")), before)
        self.assertServing()

    def test_unreadable_samples_are_named_unless_dropped(self):
        self.new_pool("u1")
        local = os.path.join(self.local, "only-here")
        write_image(os.path.join(local, "z.png"),
                    textured(np.random.default_rng(1), 40, 40, (1, 2, 3)))
        self.select("u1", "--upload", local, "--n-samples", "1")
        before = snapshot_tree(self.pool_dir("u1"))
        proc = self.cli_error("FAILED_PRECONDITION", "train", "--pool", "u1",
                              "--epochs", "1", "--batch-size", "8")
        self.assertIn("'only-here/z.png'", proc.stderr, self.explain(proc))
        self.assertEqual(snapshot_tree(self.pool_dir("u1")), before)
        out = self.cli_json("train", "--pool", "u1", "--epochs", "1",
                            "--batch-size", "8", "--drop-unreadable")
        self.assertEqual(out["reembedded"], 24, out)
        self.assertEqual([d["filename"] for d in out["dropped"]],
                         ["only-here/z.png"], out)
        self.assertIn("only-here/z.png",
                      [s["filename"] for s in out["skipped"]], out)
        # Uploads train too (they do not join the pool).
        out = self.cli_json("train", "--pool", "u1", "--epochs", "1",
                            "--batch-size", "8", "--upload", local)
        self.assertEqual(out["images"], 25, out)
        self.assertEqual(out["pool"]["size"], 24, out)
        # A missing pool, and too few images.
        self.cli_error("NOT_FOUND", "train", "--pool", "nope")
        self.assertFalse(os.path.exists(self.pool_dir("nope")))
        self.select("one", "--upload", local, "--n-samples", "1")
        proc = self.cli_error("FAILED_PRECONDITION", "train", "--pool", "one")
        self.assertIn("two images or more", proc.stderr, self.explain(proc))

    def test_device_choices(self):
        self.new_pool("g1")
        before = snapshot_tree(self.pool_dir("g1"))
        # No CUDA on this machine (the GPU build has its own checks).
        if not torch.cuda.is_available():
            proc = self.cli_error("FAILED_PRECONDITION", "train", "--pool",
                                  "g1", "--epochs", "1", "--device", "cuda")
            self.assertIn("cuda", proc.stderr.lower(), self.explain(proc))
        proc = self.run_cli("train", "--pool", "g1", "--device", "tpu")
        self.assertEqual(proc.returncode, 1, self.explain(proc))
        self.assertIn("--device must be auto, cpu or cuda", proc.stderr)
        self.assertEqual(snapshot_tree(self.pool_dir("g1")), before)
        out = self.cli_json("train", "--pool", "g1", "--epochs", "1",
                            "--batch-size", "8", "--device", "cpu")
        self.assertEqual(out["device"], "cpu", out)
        self.assertIs(out["continued"], False, out)  # the built-in: no weights
        self.assertIs(out["resumed"], False, out)
        self.assertIs(out["state_kept"], True, out)
        state = os.path.join(self.pool_dir("g1"), "train_state.bin")
        self.assertTrue(os.path.isfile(state))
        # Training again continues from the trained checkpoint, and from the
        # head and optimiser state of the train that made it.
        out = self.cli_json("train", "--pool", "g1", "--epochs", "1",
                            "--batch-size", "8")
        self.assertIs(out["continued"], True, out)
        self.assertIs(out["resumed"], True, out)
        # Back to version 2: its model is not the one the state was kept
        # for, so the next train starts a new head and optimiser.
        self.cli_json("pools", "restore", "g1", "2")
        out = self.cli_json("train", "--pool", "g1", "--epochs", "1",
                            "--batch-size", "8")
        self.assertIs(out["continued"], True, out)
        self.assertIs(out["resumed"], False, out)

    def test_select_train_is_the_workers_run_in_one_command(self):
        _, _, default = self.embed("w1-default.csv", "--input", "train")
        # A new pool: made by training the default model on the new images
        # (version 1, no samples), which then embeds them for the
        # selection (version 2).
        out = self.cli_json("select", "--pool", "w1", "--strategy",
                            "diversity", "--input", "train", "--n-samples",
                            "10", "--train", "--epochs", "1")
        train = out["train"]
        self.assertIs(train["created"], True, out)
        self.assertIs(train["continued"], False, out)
        self.assertEqual(train["images"], 24, out)
        self.assertEqual(train["reembedded"], 0, out)
        self.assertEqual((train["pool"]["version"], train["pool"]["size"]),
                         (1, 0), out)
        self.assertIs(out["select"]["committed"], True, out)
        self.assertEqual(out["select"]["version"], 2, out)
        self.assertEqual(out["select"]["pool_size_before"], 0, out)
        self.assertEqual(out["select"]["pool_size_after"], 10, out)
        shown = self.cli_json("pools", "show", "w1")
        self.assertEqual(shown["version"], 2, shown)
        trained = train["pool"]["model_fingerprint"]
        self.assertEqual(shown["model_fingerprint"], trained)
        self.assertNotEqual(trained, default["model_fingerprint"])
        self.assertEqual(trained, "sha256:" + sha256_file(self.checkpoint(
            "w1")))
        # Its rows are the trained model's embeddings, and the picks are
        # farthest-first among the candidates as that model embeds them.
        vecs, _, info = self.embed("w1-new.csv", "--pool", "w1", "--input",
                                   "train")
        self.assertEqual(info["model_fingerprint"], trained)
        rows = self.pool_rows("w1")
        self.assertEqual(len(rows), 10)
        for name, row in rows.items():
            np.testing.assert_allclose(row, unit_rows([vecs[name]])[0],
                                       rtol=0, atol=1e-5, err_msg=name)
        candidates = {name: unit_rows([v])[0] for name, v in vecs.items()}
        self.assertGreedy(out["select"], candidates,
                          np.zeros((0, shown["dimension"])), n_limit=10)
        # An existing pool: trained first (on its images and the new ones),
        # then the new images are embedded by the trained model and picked.
        out = self.cli_json("select", "--pool", "w1", "--input", "train",
                            "--n-samples", "5", "--train", "--epochs", "1")
        self.assertIs(out["train"]["continued"], True, out)
        self.assertEqual(out["train"]["images"], 10 + 24, out)
        self.assertEqual(out["select"]["pool_size_after"], 15, out)
        shown = self.cli_json("pools", "show", "w1")
        self.assertEqual(shown["model_fingerprint"],
                         out["train"]["pool"]["model_fingerprint"])
        rows = self.pool_rows("w1")
        vecs, _, _ = self.embed("w1.csv", "--pool", "w1", "--input", "train")
        for name, row in rows.items():
            np.testing.assert_allclose(row, unit_rows([vecs[name]])[0],
                                       rtol=0, atol=1e-5, err_msg=name)
        for bad in (("--dry-run",), ()):
            args = ["select", "--pool", "w1", "--n-samples", "1", "--train"]
            if bad:
                args += ["--input", "train", *bad]
            else:
                emb = os.path.join(self.out, "w1.csv")
                args += ["--embeddings", emb]
            proc = self.run_cli(*args)
            self.assertEqual(proc.returncode, 1, self.explain(proc))
            self.assertIn("--train", proc.stderr, self.explain(proc))

    def test_train_create_makes_an_empty_pool_of_the_trained_model(self):
        shared = os.path.join(self.tmp, "shared-create")
        os.mkdir(shared)
        server = RunningServer(shared, self.input,
                               extra_args=list(SERVER_ARGS))
        server.__enter__()
        try:
            # Without --create a missing pool is an error and nothing is
            # made (a mistyped name creates no pool).
            proc = self.cli_error("NOT_FOUND", "train", "--pool", "c1",
                                  "--input", "train", *TRAIN, server=server)
            self.assertIn("--create", proc.stderr, self.explain(proc))
            self.assertEqual(os.listdir(shared), [])
            out = self.cli_json("train", "--pool", "c1", "--create",
                                "--input", "train", *TRAIN, server=server)
            self.assertIs(out["created"], True, out)
            self.assertIs(out["continued"], False, out)
            # Another NOT_FOUND (a missing input path) is not taken for a
            # missing pool.
            proc = self.cli_error("NOT_FOUND", "train", "--pool", "c1",
                                  "--input", "not-there", *TRAIN,
                                  server=server)
            self.assertIn("not-there", proc.stderr, self.explain(proc))
            self.assertNotIn("--create", proc.stderr, self.explain(proc))
            self.assertIs(out["state_kept"], True, out)
            self.assertEqual((out["images"], out["reembedded"]), (24, 0), out)
            pool = out["pool"]
            self.assertEqual((pool["version"], pool["size"]), (1, 0), out)
            dim = pool["dimension"]
            self.assertGreater(dim, 0, out)
            self.assertEqual(pool["model_fingerprint"], "sha256:" +
                             sha256_file(self.checkpoint("c1", shared)))
            self.assertTrue(os.path.isfile(os.path.join(
                self.pool_dir("c1", shared), "train_state.bin")))
            # The CSV is the lightly header alone, with the model's width.
            with open(os.path.join(self.pool_dir("c1", shared),
                                   "datapool_latest.csv")) as f:
                self.assertEqual(f.read(), "filenames,%s,labels\n" % ",".join(
                    "embedding_%d" % i for i in range(dim)))
        finally:
            server.stop()
        with RunningServer(shared, self.input,
                           extra_args=list(SERVER_ARGS)) as again:
            # It loads after a restart, is listed, and takes a selection
            # embedded by its own (trained) model.
            shown = self.cli_json("pools", "show", "c1", server=again)
            self.assertEqual(shown, dict(pool, updated_time=shown[
                "updated_time"], created_time=shown["created_time"]))
            listed = self.cli_json("pools", "list", server=again)
            self.assertIn("c1", [p["name"] for p in listed["pools"]])
            sel = self.cli_json("select", "--pool", "c1", "--input", "train",
                                "--n-samples", "5", server=again)
            self.assertEqual((sel["version"], sel["pool_size_after"]), (2, 5))
            vecs, _, info = self.embed("c1.csv", "--pool", "c1", "--input",
                                       "train", server=again)
            self.assertEqual(info["model_fingerprint"],
                             pool["model_fingerprint"])
            from lightly_csv import check_lightly_csv
            names, rows, _ = check_lightly_csv(os.path.join(
                shared, "c1", "datapool_latest.csv"))
            self.assertEqual(len(names), 5)
            for name, row in zip(names, rows):
                np.testing.assert_allclose(row, unit_rows([vecs[name]])[0],
                                           rtol=0, atol=1e-5, err_msg=name)
            # --create on an existing pool trains it as usual, continuing
            # the state kept by the train that made it.
            out = self.cli_json("train", "--pool", "c1", "--create", *TRAIN,
                                server=again)
            self.assertIs(out["created"], False, out)
            self.assertIs(out["resumed"], True, out)
            self.assertEqual((out["reembedded"], out["pool"]["version"]),
                             (5, 3), out)
            # The SDK: NOT_FOUND without create, a new pool with it.
            client = sdk.Client(again.address, timeout=120,
                                options=[("grpc.enable_http_proxy", 0)])
            try:
                with self.assertRaises(sdk.DatapoolError) as refused:
                    client.train("c2", paths="train", epochs=1, batch_size=8)
                self.assertEqual(refused.exception.code_name, "NOT_FOUND")
                self.assertIn("create_pool", refused.exception.message)
                self.assertFalse(os.path.exists(os.path.join(shared, "c2")))
                got = client.train("c2", paths="train", epochs=1,
                                   batch_size=8, create=True)
                self.assertIs(got.created, True)
                self.assertEqual((got.pool.version, got.pool.size), (1, 0))
                self.assertEqual(got.pool.dimension, dim)
                self.assertEqual(client.pool("c2").model_fingerprint,
                                 got.pool.model_fingerprint)
            finally:
                client.close()

    def test_a_kill_during_training_leaves_the_pool_as_it_was(self):
        shared = os.path.join(self.tmp, "shared-kill")
        os.mkdir(shared)
        server = RunningServer(shared, self.input,
                               extra_args=list(SERVER_ARGS))
        server.__enter__()
        try:
            self.new_pool("k1", server=server)
            before = snapshot_tree(os.path.join(shared, "k1"))
            training = threading.Event()
            failed = []

            def train():
                client = sdk.Client(server.address, timeout=120,
                                    options=[("grpc.enable_http_proxy", 0)])
                try:
                    client.train("k1", epochs=10000, batch_size=8,
                                 progress=lambda phase, done, total:
                                 phase == "training" and training.set())
                except sdk.DatapoolError as e:
                    failed.append(e)
                finally:
                    client.close()

            thread = threading.Thread(target=train)
            thread.start()
            self.assertTrue(training.wait(120), "training never started")
        finally:
            server.crash()
        thread.join(60)
        self.assertFalse(thread.is_alive())
        self.assertEqual(len(failed), 1)
        with RunningServer(shared, self.input,
                           extra_args=list(SERVER_ARGS)) as again:
            shown = self.cli_json("pools", "show", "k1", server=again)
            self.assertEqual(shown["version"], 1, shown)
        self.assertEqual(snapshot_tree(os.path.join(shared, "k1")), before)


if __name__ == "__main__":
    unittest.main()
