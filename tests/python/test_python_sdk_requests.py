"""The Python SDK's requests, without the Datapool server: Client.select's
``columns`` and ``selection_config``, and Client.embed's ``pool``, as the
messages a stand-in gRPC service (in this process, on loopback) receives,
and its SelectResponse back as a SelectResult. The package is imported from the source tree
(client/python); test_python_sdk.py runs it installed, against the real
server.

Run: /usr/bin/python3 -m unittest tests/python/test_python_sdk_requests.py
"""

import concurrent.futures
import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import SDK_DIR  # noqa: E402

sys.path.insert(0, SDK_DIR)

import datapool_client as sdk  # noqa: E402
from datapool_client import pb, pb_grpc  # noqa: E402

NO_PROXY = [("grpc.enable_http_proxy", 0)]
O = pb.SelectionObjective
INVALID = grpc.StatusCode.INVALID_ARGUMENT


class Recorder(pb_grpc.DatapoolServicer):
    """Keeps each SelectStream and Embed call's messages; answers
    `response` / `embed_response`."""

    def __init__(self):
        self.calls = []
        self.response = pb.SelectResponse()
        self.embed_response = pb.EmbedResponse()
        self.set_model_response = pb.SetPoolModelResponse()

    def SelectStream(self, request_iterator, context):
        self.calls.append(list(request_iterator))
        return self.response

    def Embed(self, request_iterator, context):
        self.calls.append(list(request_iterator))
        return self.embed_response

    def SetPoolModel(self, request_iterator, context):
        self.calls.append(list(request_iterator))
        return self.set_model_response

    def Train(self, request_iterator, context):
        messages = list(request_iterator)
        self.calls.append(messages)
        yield pb.TrainProgress(result=pb.TrainResponse(
            pool=pb.PoolInfo(name="p", version=2), epochs=1,
            created=messages[0].create_pool))


def setUpModule():
    global service, server
    service = Recorder()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
    pb_grpc.add_DatapoolServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    unittest.addModuleCleanup(server.stop, None)
    service.address = "127.0.0.1:%d" % port


def rows_and_names(n, d=8, prefix="r"):
    rng = np.random.default_rng(n)
    return (rng.normal(size=(n, d)).astype(np.float32),
            ["%s/%04d.jpg" % (prefix, i) for i in range(n)])


def column_rows(messages):
    """{column: {filename: value}} of every message's columns, checking
    that no (column, filename) comes twice."""
    out = {}
    for m in messages:
        names = list(m.columns.filenames)
        for column in m.columns.columns:
            values = list(column.values)
            if len(values) != len(names):
                raise AssertionError("column %r: %d values for %d filenames"
                                     % (column.name, len(values), len(names)))
            got = out.setdefault(column.name, {})
            for name, value in zip(names, values):
                if name in got:
                    raise AssertionError("%r sent twice for %r"
                                         % (name, column.name))
                got[name] = value
    return out


class RequestTestBase(unittest.TestCase):

    def setUp(self):
        service.calls.clear()
        service.response = pb.SelectResponse()
        service.embed_response = pb.EmbedResponse()

    def client(self, **kw):
        c = sdk.Client(service.address, timeout=30, options=NO_PROXY, **kw)
        self.addCleanup(c.close)
        return c

    def sent(self):
        """The messages of the one call made since setUp."""
        self.assertEqual(len(service.calls), 1, "calls made")
        return service.calls[0]

    def assertRefused(self, call, needle, what=""):
        with self.assertRaises(sdk.DatapoolError, msg=what) as cm:
            call()
        self.assertEqual(cm.exception.code, INVALID, "%s: %s"
                         % (what, cm.exception))
        self.assertIn(needle, cm.exception.message, what)
        self.assertEqual(service.calls, [], "%s: nothing is sent" % what)


class ColumnsTest(RequestTestBase):
    """select(columns=...): the values travel beside the rows they belong
    to, checked before anything is sent."""

    def test_columns_travel_with_their_rows_in_each_message(self):
        rows, names = rows_and_names(300, d=16)
        sharpness = np.linspace(0, 1, 300)
        # A dict in another order, with entries for other files (not sent).
        pred = {name: float(i % 7) for i, name in enumerate(names)}
        pred = dict(reversed(list(pred.items())))
        pred["other/unused.jpg"] = 1.0
        self.client(chunk_bytes=4096).select(
            "p", embeddings=rows, filenames=names, n_samples=3,
            columns={"sharpness": sharpness, "pred_0": pred})
        messages = self.sent()
        self.assertGreater(len(messages), 5)
        self.assertTrue(messages[0].HasField("params"))
        for m in messages:
            # Each message carries the columns of its own rows, in order.
            self.assertEqual(list(m.columns.filenames),
                             list(m.candidates.filenames))
            self.assertEqual([c.name for c in m.columns.columns],
                             ["sharpness", "pred_0"])
            self.assertLess(m.ByteSize(), 4096 + 2048)
        got = column_rows(messages)
        self.assertEqual(got["sharpness"], dict(zip(names, sharpness)))
        self.assertEqual(got["pred_0"], {n: float(i % 7)
                                         for i, n in enumerate(names)})
        sent_rows = [n for m in messages for n in m.candidates.filenames]
        self.assertEqual(sent_rows, names)

    def test_embeddings_object_and_numbers_of_any_kind(self):
        rows, names = rows_and_names(4)
        emb = sdk.Embeddings(filenames=names, embeddings=rows,
                             labels=[0, 1, 0, 1])
        self.client().select("p", embeddings=emb, n_samples=1, columns={
            "ints": [1, 2, 3, 4], "f32": np.arange(4, dtype=np.float32) / 4,
            "u8": np.array([9, 8, 7, 250], dtype=np.uint8),
            "mixed": [1, 2.5, np.float64(3), np.int64(-4)]})
        got = column_rows(self.sent())
        self.assertEqual(got["ints"], dict(zip(names, [1.0, 2.0, 3.0, 4.0])))
        self.assertEqual(got["f32"], dict(zip(names, [0, 0.25, 0.5, 0.75])))
        self.assertEqual(got["u8"], dict(zip(names, [9, 8, 7, 250])))
        self.assertEqual(got["mixed"], dict(zip(names, [1, 2.5, 3, -4])))

    def test_no_columns_sends_none(self):
        rows, names = rows_and_names(5)
        for columns in (None, {}):
            service.calls.clear()
            self.client().select("p", embeddings=rows, filenames=names,
                                 n_samples=1, columns=columns)
            for m in self.sent():
                self.assertFalse(m.HasField("columns"), m.columns)
        service.calls.clear()
        self.client().select("p", paths=["photos"], n_samples=1)
        for m in self.sent():
            self.assertFalse(m.HasField("columns"))

    def test_image_columns_are_sent_by_filename(self):
        # Server-side paths: the client cannot know the candidates' names,
        # so every entry goes, in messages of about chunk_bytes.
        names = ["photos/%04d.png" % i for i in range(400)]
        a = {n: i / 10 for i, n in enumerate(names)}
        b = {n: -i for i, n in enumerate(reversed(names))}  # same files
        c = {"photos/0001.png": 5.0, "photos/extra.png": 6.0}
        self.client(chunk_bytes=2048).select(
            "p", paths=["photos"], n_samples=2,
            columns={"a": a, "b": b, "c": c})
        messages = self.sent()
        self.assertEqual(list(messages[0].input_paths), ["photos"])
        self.assertTrue(messages[0].HasField("params"))
        self.assertTrue(all(not m.HasField("params") and not m.input_paths
                            for m in messages[1:]))
        self.assertGreater(len(messages), 3)
        got = column_rows(messages)
        self.assertEqual(got, {"a": a, "b": b, "c": c})
        # Columns naming the same files travel together.
        for m in messages:
            self.assertIn(sorted(x.name for x in m.columns.columns),
                          (["a", "b"], ["c"]))
            self.assertLess(m.ByteSize(), 2048 + 512)

    def test_image_columns_with_uploads(self):
        tmp = tempfile.TemporaryDirectory(prefix="datapool-sdk-requests-")
        self.addCleanup(tmp.cleanup)
        folder = tmp.name
        os.mkdir(os.path.join(folder, "up"))
        for i in range(3):
            with open(os.path.join(folder, "up", "%d.png" % i), "wb") as f:
                f.write(b"\x89PNG" + bytes(3000))  # not decoded client-side
        values = {"up/%d.png" % i: float(i) for i in range(3)}
        values.update({"up/x%03d.png" % i: 0.5 for i in range(200)})
        self.client(chunk_bytes=1024).select(
            "p", images=[os.path.join(folder, "up")], n_samples=1,
            columns={"score": values})
        messages = self.sent()
        self.assertEqual(column_rows(messages), {"score": values})
        uploaded = {}
        for m in messages:
            for chunk in m.images:
                if chunk.filename:
                    name = chunk.filename
                uploaded[name] = uploaded.get(name, 0) + len(chunk.data)
        self.assertEqual(uploaded, {"up/%d.png" % i: 3004 for i in range(3)})
        self.assertTrue(messages[0].HasField("params"))
        self.assertEqual(sum(m.HasField("params") for m in messages), 1)

    def test_bad_columns_are_refused_before_calling(self):
        rows, names = rows_and_names(3)
        c = self.client()

        def select(columns, **kw):
            if "paths" not in kw:
                kw.update(embeddings=rows, filenames=names)
            return lambda: c.select("p", n_samples=1, columns=columns, **kw)

        nan, inf = float("nan"), float("inf")
        for columns, kw, needle in [
                ([("s", [1, 2, 3])], {}, "columns must be a dict"),
                ({"": [1, 2, 3]}, {}, "column name must be a non-empty str"),
                ({3: [1, 2, 3]}, {}, "got 3"),
                ({"s": [1, 2]}, {},
                 "columns['s']: 2 values for 3 rows of embeddings"),
                ({"s": [1, 2, 3, 4]}, {}, "4 values for 3 rows"),
                ({"s": [1, nan, 3]}, {},
                 "columns['s'][1]: must be finite, got nan"),
                ({"s": np.array([1, 2, -inf])}, {},
                 "columns['s'][2]: must be finite, got -inf"),
                ({"s": [1, "2", 3]}, {},
                 "columns['s'][1]: must be a number, got a str '2'"),
                ({"s": ["1", "2", "3"]}, {}, "must be a number, got a str"),
                ({"s": [True, False, True]}, {},
                 "columns['s'][0]: must be a number, got a bool"),
                ({"s": [1, None, 3]}, {},
                 "columns['s'][1]: must be a number, got None"),
                ({"s": [1j, 2, 3]}, {}, "columns['s'][0]: must be a number"),
                ({"s": "123"}, {}, "got a str"),
                ({"s": [[1], [2], [3]]}, {},
                 "must be a 1-D sequence of numbers"),
                ({"s": 5}, {}, "got shape ()"),
                ({"s": {names[0]: 1, names[1]: 2}}, {},
                 "columns['s']: no value for 1 of the 3 candidates "
                 "('r/0002.jpg'); give one for each row of embeddings"),
                ({"s": {names[0]: 1, names[1]: inf, names[2]: 3}}, {},
                 "columns['s']['r/0001.jpg']: must be finite, got inf"),
                ({"s": {n: "1" for n in names}}, {},
                 "columns['s']['r/0000.jpg']: must be a number, got a str '1'"),
                ({"s": {1: 1.0}}, {},
                 "columns['s']: keys are filenames (non-empty str), got 1"),
                ({"s": {"": 1.0}}, {"paths": ["x"]},
                 "keys are filenames (non-empty str), got ''"),
                ({"s": [1, 2, 3]}, {"paths": ["x"]},
                 "columns['s']: a sequence of values goes with embeddings"),
                ({"s": {"x/a.png": nan}}, {"paths": ["x"]},
                 "columns['s']['x/a.png']: must be finite")]:
            self.assertRefused(select(columns, **kw), needle, repr(columns))

    def test_candidates_filtered_comes_back(self):
        rows, names = rows_and_names(3)
        service.response = pb.SelectResponse(
            candidates_received=3, candidates_filtered=2,
            selected=[pb.SelectedSample(filename=names[0])])
        r = self.client().select("p", embeddings=rows, filenames=names,
                                 n_samples=1)
        self.assertEqual(r.candidates_filtered, 2)
        self.assertEqual(r.candidates_received, 3)
        self.assertEqual(r.filenames, [names[0]])
        service.response = pb.SelectResponse()
        r = self.client().select("p", embeddings=rows, filenames=names,
                                 n_samples=1)
        self.assertEqual(r.candidates_filtered, 0)


class SelectionConfigTest(RequestTestBase):
    """Lightly's METADATA and SCORES inputs and THRESHOLD and SIMILARITY
    strategies into the SelectionConfig of the request."""

    def config(self, strategies, **kw):
        rows, names = rows_and_names(3)
        self.client().select("p", embeddings=rows, filenames=names,
                             n_samples=1, columns={"m": [1, 2, 3]},
                             selection_config={"strategies": strategies},
                             **kw)
        return self.sent()[0].params.config

    def test_metadata_and_scores_inputs(self):
        config = self.config([
            {"input": {"type": "METADATA", "key": "lightly.sharpness"},
             "strategy": {"type": "WEIGHTS", "strength": 0.5}},
            {"input": {"type": "scores", "task": "pred",
                       "score": "uncertainty_entropy"},
             "strategy": {"type": "WEIGHTS"}},
            {"input": {"type": "SCORES", "task": "t2",
                       "score": "Uncertainty_Margin"},
             "strategy": {"type": "WEIGHTS"}},
            {"input": {"type": "SCORES", "task": "t3",
                       "score": "uncertainty_least_confidence"},
             "strategy": {"type": "WEIGHTS", "strength": -1}}])
        self.assertEqual(
            [(o.input, o.column, o.score, o.strategy, o.strength)
             for o in config.objectives],
            [(O.INPUT_COLUMN, "lightly.sharpness", O.SCORE_UNSPECIFIED,
              O.STRATEGY_WEIGHTS, 0.5),
             (O.INPUT_SCORES, "pred", O.SCORE_ENTROPY, O.STRATEGY_WEIGHTS, 0),
             (O.INPUT_SCORES, "t2", O.SCORE_MARGIN, O.STRATEGY_WEIGHTS, 0),
             (O.INPUT_SCORES, "t3", O.SCORE_LEAST_CONFIDENCE,
              O.STRATEGY_WEIGHTS, -1)])

    def test_threshold(self):
        ops = [("SMALLER", O.OPERATION_SMALLER),
               ("smaller_equal", O.OPERATION_SMALLER_EQUAL),
               ("Bigger", O.OPERATION_BIGGER),
               ("BIGGER_EQUAL", O.OPERATION_BIGGER_EQUAL)]
        for threshold, (name, op) in zip((0.5, -2, 0, 1e9), ops):
            service.calls.clear()
            config = self.config([
                {"input": {"type": "METADATA", "key": "m"},
                 "strategy": {"type": "THRESHOLD", "threshold": threshold,
                              "operation": name}},
                {"input": {"type": "EMBEDDINGS"},
                 "strategy": {"type": "DIVERSITY"}}])
            o = config.objectives[0]
            self.assertEqual((o.input, o.column, o.strategy, o.threshold,
                              o.operation),
                             (O.INPUT_COLUMN, "m", O.STRATEGY_THRESHOLD,
                              threshold, op), name)

    def test_min_typicality(self):
        config = self.config([
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "TYPICALITY", "neighbors": 20,
                          "min_typicality": 2.5}}])
        o = config.objectives[0]
        self.assertEqual((o.strategy, o.typicality_neighbors,
                          o.min_typicality),
                         (O.STRATEGY_TYPICALITY, 20, 2.5))
        with self.assertRaisesRegex(
                sdk.DatapoolError,
                r"strategies\[0\]\.strategy\.min_typicality: "
                "only for strategy TYPICALITY"):
            self.config([{"input": {"type": "EMBEDDINGS"},
                          "strategy": {"type": "DIVERSITY",
                                       "min_typicality": 1}}])

    def test_similarity(self):
        query = np.array([[3, 4, 0], [0, 0, 2]], dtype=np.float64)
        config = self.config([
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "SIMILARITY", "query_tag_name": "seen"}},
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "SIMILARITY", "query_embeddings": query,
                          "strength": -0.5}},
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "SIMILARITY",
                          "query_embeddings": query.tolist(),
                          "query_filenames": ["q/a.jpg", "q/b.jpg"]}},
            {"input": {"type": "EMBEDDINGS"},
             "strategy": {"type": "SIMILARITY",
                          "query_embeddings": sdk.Embeddings(
                              filenames=["e/1.jpg"],
                              embeddings=np.ones((1, 3), np.float32),
                              labels=[0])}}])
        by_pool, raw, named, embeddings = config.objectives
        self.assertEqual((by_pool.strategy, by_pool.query_pool),
                         (O.STRATEGY_SIMILARITY, "seen"))
        self.assertFalse(by_pool.HasField("query"))
        self.assertEqual(raw.query_pool, "")
        self.assertEqual(raw.strength, -0.5)
        # Sent as given (the server normalises), named query_<i> by default.
        self.assertEqual(raw.query.dimension, 3)
        self.assertEqual(list(raw.query.values), [3, 4, 0, 0, 0, 2])
        self.assertEqual(list(raw.query.filenames), ["query_0", "query_1"])
        self.assertEqual(list(named.query.filenames), ["q/a.jpg", "q/b.jpg"])
        self.assertEqual(list(named.query.values), [3, 4, 0, 0, 0, 2])
        self.assertEqual(list(embeddings.query.filenames), ["e/1.jpg"])
        self.assertEqual(list(embeddings.query.values), [1, 1, 1])

    def test_what_cannot_be_mapped_is_refused_before_calling(self):
        rows, names = rows_and_names(3)
        c = self.client()
        E = {"type": "EMBEDDINGS"}
        M = {"type": "METADATA", "key": "m"}
        W = {"type": "WEIGHTS"}
        for entry, needle in [
                ({"input": {"type": "METADATA"}, "strategy": W},
                 "strategies[0].input.key: missing"),
                ({"input": {"type": "METADATA", "key": ""}, "strategy": W},
                 "strategies[0].input.key: must not be empty"),
                ({"input": {"type": "METADATA", "key": 3}, "strategy": W},
                 "strategies[0].input.key: must be a str, got a number"),
                ({"input": {"type": "SCORES", "task": "p"}, "strategy": W},
                 "strategies[0].input.score: missing"),
                ({"input": {"type": "SCORES", "score": "uncertainty_margin"},
                  "strategy": W}, "strategies[0].input.task: missing"),
                ({"input": {"type": "SCORES", "task": "p",
                            "score": "object_frequency"}, "strategy": W},
                 "strategies[0].input.score: unknown score "
                 "'object_frequency' (supported: uncertainty_entropy, "
                 "uncertainty_margin, uncertainty_least_confidence)"),
                ({"input": {"type": "EMBEDDINGS", "key": "m"}, "strategy": W},
                 "strategies[0].input.key: only for input METADATA"),
                ({"input": {"type": "METADATA", "key": "m", "task": "p"},
                  "strategy": W},
                 "strategies[0].input.task: only for input SCORES"),
                ({"input": {"type": "METADATA", "key": "m",
                            "random_seed": 1}, "strategy": W},
                 "strategies[0].input.random_seed: only for input RANDOM"),
                ({"input": {"type": "PREDICTIONS"}, "strategy": W},
                 "strategies[0].input.type: unknown input 'PREDICTIONS' "
                 "(supported: EMBEDDINGS, "
                 "RANDOM, LABELS, METADATA, SCORES)"),
                ({"input": M, "strategy": {"type": "THRESHOLD",
                                           "operation": "BIGGER"}},
                 "strategies[0].strategy.threshold: missing"),
                ({"input": M, "strategy": {"type": "THRESHOLD",
                                           "threshold": 1}},
                 "strategies[0].strategy.operation: missing"),
                ({"input": M, "strategy": {"type": "THRESHOLD",
                                           "threshold": "1",
                                           "operation": "BIGGER"}},
                 "strategies[0].strategy.threshold: must be a number"),
                ({"input": M, "strategy": {"type": "THRESHOLD",
                                           "threshold": math.inf,
                                           "operation": "BIGGER"}},
                 "strategies[0].strategy.threshold: must be finite"),
                ({"input": M, "strategy": {"type": "THRESHOLD",
                                           "threshold": 1,
                                           "operation": "EQUAL"}},
                 "strategies[0].strategy.operation: unknown operation "
                 "'EQUAL' (supported: SMALLER, SMALLER_EQUAL, BIGGER, "
                 "BIGGER_EQUAL)"),
                ({"input": M, "strategy": {"type": "WEIGHTS",
                                           "operation": "BIGGER"}},
                 "strategies[0].strategy.operation: only for strategy "
                 "THRESHOLD"),
                ({"input": E, "strategy": {"type": "DIVERSITY",
                                           "query_tag_name": "x"}},
                 "strategies[0].strategy.query_tag_name: only for strategy "
                 "SIMILARITY"),
                ({"input": E, "strategy": {"type": "SIMILARITY"}},
                 "strategies[0].strategy: SIMILARITY needs query_tag_name "
                 "(a pool) or query_embeddings"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_tag_name": "x",
                                           "query_embeddings": [[1.0]]}},
                 "strategies[0].strategy: give one of query_tag_name and "
                 "query_embeddings, not both"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_tag_name": ""}},
                 "strategies[0].strategy.query_tag_name: must not be empty"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_tag_name": "x",
                                           "query_filenames": ["a"]}},
                 "strategies[0].strategy.query_filenames: only with "
                 "query_embeddings"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_embeddings": [1.0, 2.0]}},
                 "strategies[0].strategy.query_embeddings: must be a 2-D "
                 "array"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_embeddings": np.zeros(
                                               (0, 4))}},
                 "strategies[0].strategy.query_embeddings: must be a 2-D "
                 "array (n >= 1 rows of d >= 1 floats), got shape (0, 4)"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_embeddings": [[1.0, "x"]]}},
                 "strategies[0].strategy.query_embeddings: not an array of "
                 "numbers"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_embeddings": [[1.0,
                                                                 math.nan]]}},
                 "strategies[0].strategy.query_embeddings: must be finite"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_embeddings": [[1.0]],
                                           "query_filenames": ["a", "b"]}},
                 "strategies[0].strategy.query_filenames: 2 filenames for 1 "
                 "rows"),
                ({"input": E, "strategy": {"type": "SIMILARITY",
                                           "query_embeddings": [[1.0]],
                                           "query_filenames": "a"}},
                 "strategies[0].strategy.query_filenames: must be a list of "
                 "str"),
                ({"input": E, "strategy": {"type": "CLOSEST"}},
                 "strategies[0].strategy.type: unknown strategy 'CLOSEST' "
                 "(supported: DIVERSITY, "
                 "TYPICALITY, WEIGHTS, BALANCE, THRESHOLD, SIMILARITY)")]:
            config = {"strategies": [entry]}
            self.assertRefused(lambda: c.select(
                "p", embeddings=rows, filenames=names, n_samples=1,
                selection_config=config), "selection_config " + needle,
                repr(entry))


class EmbedPoolTest(RequestTestBase):
    """embed(pool=...): the pool whose model embeds the images travels in
    the first message; without it, the field is empty (the server's
    default model)."""

    def answer(self):
        service.embed_response = pb.EmbedResponse(
            embeddings=pb.EmbeddingBlock(dimension=2, filenames=["a.png"],
                                         values=[0.5, -1.0], labels=[3]),
            model_fingerprint="sha256:" + "ab" * 32)

    def test_pool_is_sent_in_the_first_message(self):
        self.answer()
        got = self.client(chunk_bytes=4096).embed(
            paths=["train", "val/x.png"], pool="builtin-pool",
            weak_labels=False)
        messages = self.sent()
        self.assertEqual(messages[0].pool, "builtin-pool")
        self.assertEqual(list(messages[0].input_paths), ["train", "val/x.png"])
        self.assertFalse(messages[0].append_weak_labels)
        for m in messages[1:]:
            self.assertEqual(m.pool, "", "only the first message names it")
        self.assertEqual(got.filenames, ["a.png"])
        np.testing.assert_array_equal(got.embeddings, [[0.5, -1.0]])
        self.assertEqual(got.labels, [3])
        self.assertEqual(got.model_fingerprint, "sha256:" + "ab" * 32)

    def test_pool_with_uploads_is_in_the_first_message_only(self):
        self.answer()
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(3):
                with open(os.path.join(tmp, "%d.png" % i), "wb") as f:
                    f.write(bytes(range(256)) * 40)
            self.client(chunk_bytes=4096).embed(images=tmp, pool="p")
        messages = self.sent()
        self.assertGreater(len(messages), 1)
        self.assertEqual([m.pool for m in messages],
                         ["p"] + [""] * (len(messages) - 1))
        self.assertTrue(messages[0].append_weak_labels)

    def test_without_pool_the_field_is_empty(self):
        self.answer()
        for kw in ({}, {"pool": None}, {"pool": ""}):
            with self.subTest(**kw):
                service.calls.clear()
                self.client().embed(paths="train", **kw)
                (first,) = self.sent()
                self.assertEqual(first.pool, "")
                self.assertEqual(list(first.input_paths), ["train"])


class SetPoolModelTest(RequestTestBase):
    """set_pool_model: the parameters in the first message, the model file
    in chunk_bytes pieces, in order; the answer as a ModelChange."""

    def test_the_file_travels_in_pieces_after_the_parameters(self):
        service.set_model_response = pb.SetPoolModelResponse(
            pool=pb.PoolInfo(name="p", size=2, version=7,
                             model_fingerprint="sha256:" + "cd" * 32),
            reembedded=2,
            dropped=[pb.SkippedFile(filename="up/z.png", reason="not found")])
        data = bytes(range(256)) * 20  # 5,120 bytes: two 4 KiB pieces
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.pt")
            with open(path, "wb") as f:
                f.write(data)
            got = self.client(chunk_bytes=4096).set_pool_model(
                "p", path, input_size=96, drop_unreadable=True,
                keep_history=False)
        messages = self.sent()
        self.assertEqual(len(messages), 2)
        first = messages[0]
        self.assertEqual((first.pool, first.input_size, first.drop_unreadable,
                          first.HasField("keep_history"), first.keep_history),
                         ("p", 96, True, True, False))
        self.assertEqual(messages[1].pool, "")
        self.assertFalse(messages[1].HasField("keep_history"))
        self.assertEqual(b"".join(m.model_chunk for m in messages), data)
        self.assertEqual(got.reembedded, 2)
        self.assertEqual(got.pool.version, 7)
        self.assertEqual([(d.filename, d.reason) for d in got.dropped],
                         [("up/z.png", "not found")])

    def test_bad_arguments_are_refused_before_calling(self):
        self.assertRefused(lambda: self.client().set_pool_model(
            "p", "/nonexistent/model.pt"), "cannot read /nonexistent/model.pt")
        self.assertRefused(lambda: self.client().set_pool_model(
            "p", __file__, input_size=4), "input_size must be in [8, 4096]")
        self.assertEqual(service.calls, [])


class TrainTest(RequestTestBase):
    """train(...): the tuning in the first message, only what is set;
    what cannot be put in a request is refused before calling."""

    def test_tuning_travels_in_the_first_message(self):
        got = self.client().train(
            "p", epochs=3, batch_size=16, seed=9, device="cpu",
            learning_rate=0.002, temperature=0.2,
            augment={"flip_probability": 0, "hue": 0.0,
                     "crop_min_scale": 0.5})
        (first,) = self.sent()
        self.assertEqual((first.pool, first.epochs, first.batch_size,
                          first.seed, first.device),
                         ("p", 3, 16, 9, "cpu"))
        self.assertAlmostEqual(first.learning_rate, 0.002)
        self.assertAlmostEqual(first.temperature, 0.2)
        a = first.augmentation
        self.assertTrue(a.HasField("flip_probability"))
        self.assertEqual(a.flip_probability, 0)
        self.assertTrue(a.HasField("hue"))
        self.assertAlmostEqual(a.crop_min_scale, 0.5)
        for unset in ("brightness", "blur_probability", "crop_max_scale"):
            self.assertFalse(a.HasField(unset), unset)
        self.assertEqual(got.pool.version, 2)

    def test_defaults_send_nothing(self):
        self.client().train("p")
        (first,) = self.sent()
        self.assertFalse(first.HasField("learning_rate"))
        self.assertFalse(first.HasField("temperature"))
        self.assertFalse(first.HasField("augmentation"))
        self.assertFalse(first.create_pool)

    def test_create_asks_for_a_new_pool(self):
        got = self.client().train("new", paths="batch1", create=True)
        (first,) = self.sent()
        self.assertEqual((first.pool, first.create_pool), ("new", True))
        self.assertEqual(list(first.input_paths), ["batch1"])
        self.assertIs(got.created, True)  # the fake server's answer

    def test_what_cannot_be_sent_is_refused(self):
        train = self.client().train
        self.assertRefused(lambda: train("p", augment={"wobble": 1}),
                           "unknown key 'wobble'")
        self.assertRefused(lambda: train("p", augment={"hue": "lots"}),
                           "augment['hue'] must be a number")
        self.assertRefused(lambda: train("p", augment=[("hue", 0)]),
                           "augment must be a mapping")
        self.assertRefused(lambda: train("p", learning_rate=True),
                           "learning_rate must be a number")
        self.assertRefused(lambda: train("p", device="tpu"),
                           "device must be auto, cpu or cuda")


if __name__ == "__main__":
    unittest.main()
