#!/usr/bin/python3
"""Writes the request_fuzzer seed corpus (fuzz/corpus/request/).

Each seed is one byte selecting the RPC (the index into kRpcs in
request_fuzzer.cc; +0x80 lets a Select or MergePools commit) followed by the serialized
request. The fuzzer's fresh state holds pools "alpha" (versions 1 and 2, 3-d)
and "beta" (version 1, 3-d). Uses the generated Python stubs that the
Python SDK commits (client/python/datapool_client/_gen; importing the
package needs Debian's python3-protobuf, python3-grpcio and python3-numpy):

  /usr/bin/python3 fuzz/make_request_corpus.py [--out DIR]
"""

import argparse
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Must match kRpcs in request_fuzzer.cc.
RPCS = ["Select", "GetPool", "ListPools", "ListHistory", "RestoreVersion",
        "DeletePool", "MergePools", "GetReport"]
COMMIT = 0x80


def block(pb, dimension, rows, labels=None, selected=None, masked=None,
          extra_values=()):
    b = pb.EmbeddingBlock(dimension=dimension)
    for i, row in enumerate(rows):
        b.filenames.append("seed/%04d.jpg" % i)
        b.values.extend(row)
    b.values.extend(extra_values)
    b.labels.extend(labels or [])
    b.selected.extend(selected or [])
    b.masked.extend(masked or [])
    return b


def seeds(pb):
    rows3 = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0]]

    def select(commit, candidates=None, paths=(), params=None):
        request = pb.SelectRequest(input_paths=list(paths))
        if params is not None:
            request.params.CopyFrom(pb.SelectionParams(**params))
        if candidates is not None:
            request.candidates.CopyFrom(candidates)
        return ("Select", commit, request)

    yield "select_commit_new_pool", select(
        True, block(pb, 3, rows3, labels=[1, 2, 3, 4]),
        params=dict(pool="gamma", n_samples_count=2))
    yield "select_commit_existing_pool", select(
        True, block(pb, 3, rows3),
        params=dict(pool="alpha", n_samples_fraction=0.5, keep_history=False,
                    remove_duplicates=False))
    yield "select_dry_run_flags", select(
        False, block(pb, 3, rows3, selected=[True, False, False, False],
                     masked=[False, False, True, False]),
        params=dict(pool="alpha", min_distance=0.1, dry_run=True))
    yield "select_wrong_dimension", select(
        False, block(pb, 2, [[1, 0], [0, 1]]),
        params=dict(pool="alpha", n_samples_count=1))
    yield "select_values_mismatch", select(
        False, block(pb, 3, rows3, extra_values=[1.0]),
        params=dict(pool="beta", n_samples_count=1))
    yield "select_nan_and_zero", select(
        False, block(pb, 3, [[math.nan, 0, 0], [0, 0, 0], [1, 1, 1]]),
        params=dict(pool="beta", n_samples_count=3))
    # Found by the fuzzer: subnormal-only rows normalised to inf and NaN.
    yield "select_subnormal_row", select(
        False, block(pb, 2, [[1.401298464324817e-45, 0], [0, 1]]),
        params=dict(pool="alpha2", n_samples_count=1))
    yield "select_no_params", select(False, block(pb, 3, rows3))
    yield "select_bad_pool_name", select(
        False, block(pb, 3, rows3),
        params=dict(pool="../outside", n_samples_count=1))
    yield "select_images_without_model", select(
        False, paths=["cats"], params=dict(pool="alpha", n_samples_count=1))
    yield "select_no_stopping_condition", select(
        False, block(pb, 3, rows3), params=dict(pool="alpha"))
    yield "get_pool", ("GetPool", False, pb.GetPoolRequest(pool="alpha"))
    yield "get_pool_missing", ("GetPool", False,
                               pb.GetPoolRequest(pool="missing"))
    yield "list_pools", ("ListPools", False, pb.ListPoolsRequest())
    yield "list_history", ("ListHistory", False,
                           pb.ListHistoryRequest(pool="alpha"))
    yield "restore_version", ("RestoreVersion", False,
                              pb.RestoreVersionRequest(pool="alpha",
                                                       version=1))
    yield "restore_current_version", ("RestoreVersion", False,
                                      pb.RestoreVersionRequest(pool="alpha",
                                                               version=2))
    yield "delete_pool", ("DeletePool", False,
                          pb.DeletePoolRequest(pool="beta"))
    yield "merge_into_existing", ("MergePools", True, pb.MergePoolsRequest(
        target="beta", sources=["alpha"], min_distance=0.01,
        on_collision=pb.ON_COLLISION_PREFIX))
    yield "merge_create_dry_run", ("MergePools", False, pb.MergePoolsRequest(
        target="delta", sources=["alpha", "beta"], create=True,
        keep_history=False, on_collision=pb.ON_COLLISION_SKIP))
    yield "merge_source_is_target", ("MergePools", False,
                                     pb.MergePoolsRequest(target="alpha",
                                                          sources=["alpha"]))
    yield "merge_missing_source", ("MergePools", False, pb.MergePoolsRequest(
        target="alpha", sources=["missing"],
        on_collision=pb.ON_COLLISION_FAIL))
    yield "delete_pool_bad_name", ("DeletePool", False,
                                   pb.DeletePoolRequest(pool=".hidden"))
    yield "select_dry_run_report", select(
        False, block(pb, 3, rows3 + [[0.2, 0.1, 0.9]]),
        params=dict(pool="alpha", n_samples_count=2, dry_run=True,
                    dry_run_report=True))
    yield "get_report_newest", ("GetReport", False,
                                pb.GetReportRequest(pool="alpha"))
    yield "get_report_version_html", ("GetReport", False, pb.GetReportRequest(
        pool="alpha", version=1, include_html=True))
    yield "get_report_missing_version", ("GetReport", False,
                                         pb.GetReportRequest(pool="beta",
                                                             version=9))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out",
                        default=os.path.join(ROOT, "fuzz", "corpus", "request"),
                        help="output folder (default: %(default)s)")
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "client", "python"))
    # pylint: disable-next=import-outside-toplevel
    from datapool_client._gen import datapool_pb2 as pb

    os.makedirs(args.out, exist_ok=True)
    for name, (rpc, commit, request) in seeds(pb):
        selector = RPCS.index(rpc) | (COMMIT if commit else 0)
        with open(os.path.join(args.out, name + ".bin"), "wb") as f:
            f.write(bytes([selector]) + request.SerializeToString())
        print(name)


if __name__ == "__main__":
    main()
