"""Responses (protobuf messages) to the typed results of ``types``."""

import json

import grpc
import numpy as np

from ._gen import datapool_pb2 as pb
from .errors import DatapoolError
from .types import (Duplicate, Embeddings, MergedSource, MergeResult,
                    Neighbor, Pick, PoolInfo, QueryResult, Report,
                    SearchResults, SelectResult, Skipped, Version)

# The SDK's one mapping of the API's StopReason to SelectResult.stop_reason.
STOP_REASONS = {
    pb.STOP_REASON_N_SAMPLES: "n_samples",
    pb.STOP_REASON_MIN_DISTANCE: "min_distance",
    pb.STOP_REASON_EXHAUSTED: "exhausted",
}
# grpc.health.v1.HealthCheckResponse.ServingStatus.
_HEALTH_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING",
                 3: "SERVICE_UNKNOWN"}


def skipped(items):
    return [Skipped(s.filename, s.reason) for s in items]


def pool_info(p):
    return PoolInfo(name=p.name, size=p.size, dimension=p.dimension,
                    version=p.version, created_time=p.created_time,
                    updated_time=p.updated_time, folder=p.folder,
                    normalized=p.normalized,
                    model_fingerprint=p.model_fingerprint,
                    input_size=p.input_size, problem=p.problem)


def report(r):
    return Report(version=r.version, folder=r.folder,
                  data=json.loads(r.json) if r.json else None,
                  html=r.html, error=r.error, json=r.json)


def select_result(r):
    return SelectResult(
        selected=[Pick(s.filename,
                       s.distance if s.HasField("distance") else None,
                       s.label) for s in r.selected],
        skipped=skipped(r.skipped),
        stop_reason=STOP_REASONS.get(r.stop_reason, "unspecified"),
        version=r.version, committed=r.committed,
        pool_size_before=r.pool_size_before,
        pool_size_after=r.pool_size_after,
        candidates_received=r.candidates_received,
        candidates_already_in_pool=r.candidates_already_in_pool,
        duplicates_removed=r.duplicates_removed,
        distance_evaluations=r.distance_evaluations,
        evaluations_skipped=r.evaluations_skipped,
        report=report(r.report) if r.HasField("report") else None,
        duplicates=[Duplicate(d.filename, d.same_as) for d in r.duplicates],
        candidates_filtered=r.candidates_filtered)


def embeddings(response):
    """Embeddings of an EmbedResponse; INTERNAL when its block is not
    n rows of the dimension."""
    block = response.embeddings
    n = len(block.filenames)
    d = block.dimension
    values = np.array(block.values, dtype=np.float32)
    if values.size != n * d:
        raise DatapoolError(
            grpc.StatusCode.INTERNAL,
            "the server sent %d values for %d rows of dimension %d"
            % (values.size, n, d))
    labels = list(block.labels) if len(block.labels) == n else [0] * n
    return Embeddings(filenames=list(block.filenames),
                      embeddings=values.reshape(n, d), labels=labels,
                      skipped=skipped(response.skipped),
                      model_fingerprint=response.model_fingerprint)


def search_results(response):
    return SearchResults(
        [QueryResult(r.query, [Neighbor(n.filename, n.distance, n.label)
                               for n in r.neighbors])
         for r in response.results],
        skipped(response.skipped))


def versions(response):
    return [Version(v.version, v.time, v.size, v.csv_file, v.current)
            for v in response.versions]


def merge_result(r):
    return MergeResult(
        pool=pool_info(r.pool),
        sources=[MergedSource(s.pool, s.samples, s.merged, s.renamed,
                              s.skipped_collisions, s.too_close)
                 for s in r.sources],
        pool_size_before=r.pool_size_before,
        pool_size_after=r.pool_size_after, committed=r.committed)


def health_status(response):
    """A HealthCheckResponse's status by name (``"SERVING"``, ...)."""
    return _HEALTH_NAMES.get(response.status, str(response.status))
