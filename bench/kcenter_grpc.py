"""kcenter_bench.py's gRPC case: SelectStream of the candidates, dry run,
against the real server (tests/python/server_harness.py starts it)."""

import tempfile
import time

import numpy as np

import benchlib
from benchlib import log
from kcenter_runs import compare_picks

MB = 1e6


def select_messages(pb2, X, n, d):
    """The candidates as SelectRequests of ~1 MiB each."""
    rows = max(1, (1 << 20) // (d * 4 + 12))
    messages = []
    for i in range(0, n, rows):
        block = pb2.EmbeddingBlock(
            dimension=d,
            filenames=["%d.jpg" % j for j in range(i, min(n, i + rows))],
            values=X[i:i + rows].ravel())
        messages.append(pb2.SelectRequest(candidates=block))
    return messages


def timed_calls(args, pb2, pb2_grpc, X, d, k, messages, result):
    """Two timed SelectStream calls (after an untimed one-row Select that
    connects) into result["calls_s"]; returns the last answer."""
    import grpc
    from server_harness import RunningServer

    def requests(pool_name):
        first = pb2.SelectRequest(params=pb2.SelectionParams(
            pool=pool_name, n_samples_count=k, dry_run=True))
        yield first
        yield from messages

    shared = tempfile.mkdtemp(prefix="kcbench-shared-")
    inputs = tempfile.mkdtemp(prefix="kcbench-input-")
    with RunningServer(shared, inputs, binary=str(args.server_bin),
                       extra_args=["--device", "cpu"]) as server:
        channel = grpc.insecure_channel(server.address, options=[
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.max_receive_message_length", 64 << 20)])
        stub = pb2_grpc.DatapoolStub(channel)
        # Connect first (not timed): a one-row dry run.
        warm = pb2.SelectRequest(
            params=pb2.SelectionParams(
                pool="warmup", n_samples_count=1, dry_run=True),
            candidates=pb2.EmbeddingBlock(
                dimension=d, filenames=["w"], values=X[0].tolist()))
        stub.Select(warm, timeout=60)
        for call in range(2):
            t0 = time.perf_counter()
            resp = stub.SelectStream(requests("kcbench-%d" % call),
                                     timeout=600)
            result["calls_s"].append(time.perf_counter() - t0)
        channel.close()
    return resp


def grpc_select(args, cand, n, d, k, engine_picks):
    """SelectStream of n x d rows in ~1 MiB messages; best of 2 calls."""
    benchlib.use_test_helpers()
    from datapool_testlib import load_stubs
    datapool_pb2, datapool_pb2_grpc = load_stubs()

    X = np.fromfile(cand, dtype=np.float32, count=n * d).reshape(n, d)
    t0 = time.perf_counter()
    messages = select_messages(datapool_pb2, X, n, d)
    build_s = time.perf_counter() - t0
    wire = sum(m.ByteSize() for m in messages)
    result = {"build_s": build_s, "messages": len(messages),
              "wire_bytes": wire, "calls_s": []}
    resp = timed_calls(args, datapool_pb2, datapool_pb2_grpc, X, d, k,
                       messages, result)
    picks = [int(s.filename.split(".")[0]) for s in resp.selected]
    result["rpc_s"] = min(result["calls_s"])
    result["picks"] = compare_picks(picks, engine_picks)
    result["distance_evaluations"] = resp.distance_evaluations
    result["candidates_received"] = resp.candidates_received
    log("  grpc: %d messages, %.1f MB on the wire, build %.1f s, calls %s"
        % (len(messages), wire / MB, build_s,
           ", ".join("%.2f s" % s for s in result["calls_s"])))
    return result
