"""Python client of the Datapool service (``datapool.v1``).

    from datapool_client import Client, DatapoolError

    with Client("127.0.0.1:50051") as client:
        result = client.select("my_pool", embeddings=vectors,
                               filenames=names, n_samples=100)

``Client`` wraps the gRPC API with typed results (``SelectResult``,
``Embeddings``, ``PoolInfo``...); every failure raises ``DatapoolError``
with the gRPC status code. The generated protobuf and gRPC modules are in
``datapool_client.pb`` and ``datapool_client.pb_grpc`` for anything the
wrapper does not cover.
"""

from ._gen import datapool_pb2 as pb
from ._gen import datapool_pb2_grpc as pb_grpc
from .client import DEFAULT_TARGET, TLS, Client, ProgressCallback
from .errors import DatapoolError
from .types import (Duplicate, Embeddings, MergedSource, MergeResult,
                    ModelChange, Neighbor, Pick,
                    PoolInfo, QueryResult, Report, SearchResults,
                    SelectResult, Skipped, TrainResult, Version)

__version__ = "0.1.0"

__all__ = [
    "Client", "TLS", "DatapoolError", "DEFAULT_TARGET", "ProgressCallback",
    "SelectResult", "Pick", "Skipped", "Duplicate", "Embeddings", "SearchResults",
    "QueryResult", "Neighbor", "PoolInfo", "Version", "MergeResult",
    "MergedSource", "ModelChange", "TrainResult", "Report", "pb", "pb_grpc",
    "__version__",
]
