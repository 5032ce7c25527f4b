"""Typed results of the Datapool client (plain dataclasses, no protobuf)."""

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

__all__ = [
    "Pick", "Skipped", "Duplicate", "SelectResult", "Embeddings", "Neighbor",
    "QueryResult", "SearchResults", "PoolInfo", "Version", "MergedSource",
    "MergeResult", "Report",
]


@dataclass(frozen=True)
class Pick:
    """One selected sample, in pick order.

    distance: Euclidean distance (unit vectors, 0..2) to the nearest pool
    sample or earlier pick when it was picked; None for the first pick into
    an empty pool. label: its weak label.
    """
    filename: str
    distance: Optional[float]
    label: int = 0


@dataclass(frozen=True)
class Skipped:
    """An image that could not be used, with the server's reason (e.g.
    ``"corrupt or truncated image"``)."""
    filename: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """A candidate left out as an exact duplicate (same file bytes or same
    embedding) of the earlier candidate ``same_as``, which stays."""
    filename: str
    same_as: str


@dataclass(frozen=True)
class SelectResult:
    """What a selection picked and did.

    selected: the picks in order. skipped: images that could not be used.
    stop_reason: ``"n_samples"``, ``"min_distance"``, ``"exhausted"`` or
    ``"unspecified"``. version: the pool's version after the call
    (unchanged when nothing was committed). committed: True when a new
    version was written (False for a dry run). The counts are the
    server's: candidates received, those already in the pool (by filename),
    exact duplicates dropped, and the distance evaluations made and pruned.
    duplicates: the dropped duplicates by name, each with the candidate it
    equals. candidates_filtered: candidates a THRESHOLD objective left out
    (never picked).
    """
    selected: List[Pick]
    skipped: List[Skipped]
    stop_reason: str
    version: int
    committed: bool
    pool_size_before: int
    pool_size_after: int
    candidates_received: int
    candidates_already_in_pool: int
    duplicates_removed: int
    distance_evaluations: int = 0
    evaluations_skipped: int = 0
    report: Optional["Report"] = None
    duplicates: List[Duplicate] = field(default_factory=list)
    candidates_filtered: int = 0

    @property
    def filenames(self):
        """The selected filenames, in pick order."""
        return [p.filename for p in self.selected]


@dataclass(frozen=True, eq=False)
class Embeddings:
    """Raw (not normalised) embeddings of images, in input order.

    embeddings: ``numpy.ndarray`` of float32, shape (n, d). filenames and
    labels: one per row. skipped: images that could not be embedded (not
    in the rows). model_fingerprint: SHA-256 of the server's model.

    ``numpy.asarray(result)`` gives the array; ``len(result)`` the row
    count. An Embeddings can be passed as ``embeddings=`` to
    ``Client.select`` and ``Client.search`` (its filenames and labels come
    with it).
    """
    filenames: List[str]
    embeddings: np.ndarray
    labels: List[int]
    skipped: List[Skipped] = field(default_factory=list)
    model_fingerprint: str = ""

    def __len__(self):
        return len(self.filenames)

    def __array__(self, dtype=None, copy=None):
        return self.embeddings if dtype is None else self.embeddings.astype(dtype)


@dataclass(frozen=True)
class Neighbor:
    """A pool sample near a query: distance between unit vectors (0..2)."""
    filename: str
    distance: float
    label: int = 0


@dataclass(frozen=True)
class QueryResult:
    """The nearest pool samples of one query (named by its filename),
    nearest first; fewer than k when the pool is smaller."""
    query: str
    neighbors: List[Neighbor]


class SearchResults(list):
    """A list of QueryResult, one per query in input order, with
    ``.skipped``: query images that could not be used."""

    def __init__(self, results=(), skipped=()):
        super().__init__(results)
        self.skipped = list(skipped)


@dataclass(frozen=True)
class PoolInfo:
    """A pool as the server describes it.

    Times are RFC 3339 UTC strings (``2026-11-28T06:04:48.123Z``). folder:
    the pool's folder on the server. model_fingerprint: empty when the
    embeddings came from clients. input_size: the model's input side in
    pixels (0 without a model). problem: empty for a healthy pool; for a
    damaged one (listed by ``pools()``, other calls on it raise
    ``DatapoolError`` with DATA_LOSS) what is wrong and how to repair it.
    """
    name: str
    size: int
    dimension: int
    version: int
    created_time: str
    updated_time: str
    folder: str
    normalized: bool
    model_fingerprint: str
    input_size: int
    problem: str = ""


@dataclass(frozen=True)
class Version:
    """A kept version of a pool (``history``): its number, commit time
    (RFC 3339 UTC), size, CSV file (relative to the pool folder) and
    whether it is the current one."""
    version: int
    time: str
    size: int
    csv_file: str
    current: bool


@dataclass(frozen=True)
class MergedSource:
    """What one source pool contributed to a merge."""
    pool: str
    samples: int
    merged: int
    renamed: int
    skipped_collisions: int
    too_close: int


@dataclass(frozen=True)
class MergeResult:
    """The target after a merge (as it would be, for a dry run), what each
    source contributed, and whether a new version was written."""
    pool: PoolInfo
    sources: List[MergedSource]
    pool_size_before: int
    pool_size_after: int
    committed: bool


@dataclass(frozen=True)
class ModelChange:
    """A pool after set_pool_model: its new version and model, how many
    samples were re-embedded and which were dropped (drop_unreadable),
    with the reason."""
    pool: PoolInfo
    reembedded: int
    dropped: List[Skipped]


@dataclass(frozen=True)
class TrainResult:
    """A pool after train(): its new version and trained model, what the
    training saw (images, epochs, steps, the mean loss of the first and
    last epoch, seconds, images/s, "cpu" or "cuda"), how many samples were
    re-embedded, samples dropped (drop_unreadable) and files not trained
    on, with the reason. ``continued``: it trained the pool's model (not
    a new network); ``resumed``: also the projection head and optimiser
    state of the train that made that model; ``state_kept``: this train's
    state was kept for the next one; ``created``: train(create=True)
    made the pool (version 1, no samples yet)."""
    pool: PoolInfo
    images: int
    epochs: int
    steps: int
    first_loss: float
    last_loss: float
    train_seconds: float
    images_per_second: float
    device: str
    reembedded: int
    dropped: List[Skipped]
    skipped: List[Skipped]
    continued: bool = False
    resumed: bool = False
    state_kept: bool = False
    created: bool = False


@dataclass(frozen=True)
class Report:
    """A selection report.

    version: the pool version the selection made (would make, for a dry
    run). folder: where the server keeps it (``<pool>/reports/<version>``;
    "" for a dry run). data: report.json parsed (a dict: counts,
    stop_reason, distance_to_pool before/after with a histogram,
    projection, pairs...; None when not fetched). html: report.html, a
    self-contained page ("" when not fetched). error: why a committed
    selection's report could not be written ("" when it was). In a Jupyter
    notebook a Report with its page displays it.
    """
    version: int
    folder: str = ""
    data: Optional[dict] = None
    html: str = ""
    error: str = ""
    json: str = ""  # report.json as the server wrote it

    def save(self, folder) -> str:
        """Writes report.html and report.json (the server's bytes) into
        ``folder`` (created when missing); returns the path of report.html.
        Needs a report fetched with its page: ``Client.report(name,
        html=True)``, or a dry run's."""
        import os
        if not self.json or not self.html:
            raise ValueError("this Report lacks its page; fetch it with "
                             "Client.report(name, version, html=True)")
        os.makedirs(folder, exist_ok=True)
        html_path = os.path.join(folder, "report.html")
        with open(os.path.join(folder, "report.json"), "w",
                  encoding="utf-8") as f:
            f.write(self.json)
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(self.html)
        return html_path

    def _repr_html_(self):
        """Shows the page in a Jupyter notebook (in an iframe, so that its
        styles stay inside it); None without the page."""
        if not self.html:
            return None
        import html
        return ('<iframe title="Datapool selection report" srcdoc="%s" '
                'style="width:100%%;height:900px;border:1px solid #ddd">'
                '</iframe>' % html.escape(self.html, quote=True))
