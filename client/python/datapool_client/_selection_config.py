"""How Client.select ranks the candidates: its ``strategy`` and
``selection_config`` arguments into the request's ``SelectionConfig``.

``selection_config`` is Lightly's selection-config layout as a dict (what
``json.load`` gives for the CLI's ``--selection-config`` file)::

    {"strategies": [
        {"input": {"type": "EMBEDDINGS"},
         "strategy": {"type": "DIVERSITY", "strength": 1,
                      "stopping_condition_minimum_distance": 0.2}},
        {"input": {"type": "EMBEDDINGS"},
         "strategy": {"type": "TYPICALITY", "strength": 0.5, "neighbors": 30}},
        {"input": {"type": "RANDOM", "random_seed": 42},
         "strategy": {"type": "WEIGHTS", "strength": 0.2}}]}

or a ``pb.SelectionConfig``, sent as it is.

Inputs: EMBEDDINGS; RANDOM (``random_seed``, ``random_distribution``
"uniform"); LABELS; METADATA (``key``: a column of select's ``columns``,
INPUT_COLUMN); SCORES (``task``: the prefix of the class-probability
columns "<task>_0" ... "<task>_{C-1}" of select's ``columns``, and
``score``: "uncertainty_entropy", "uncertainty_margin" or
"uncertainty_least_confidence"; INPUT_SCORES).

Strategies: DIVERSITY (``stopping_condition_minimum_distance``: the
selection's min_distance), TYPICALITY (``neighbors``; ``min_typicality``
filters out the less typical), WEIGHTS, BALANCE (``target``
{"<label>": share, ...}, or ``distribution`` "uniform"), THRESHOLD
(``threshold``, a number, and ``operation``: SMALLER, SMALLER_EQUAL,
BIGGER or BIGGER_EQUAL; a filter applied first) and
SIMILARITY (to ``query_tag_name``, a pool, or to ``query_embeddings``, an
array-like (n, d) or an ``Embeddings``, optionally named by
``query_filenames``), each with an optional ``strength``.

Type, operation and score names are read in any case. What cannot be
mapped is refused here with INVALID_ARGUMENT naming its path
("selection_config strategies[1].strategy.type: ..."); which input goes
with which strategy is the server's to judge.
"""

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from ._blocks import embedding_block
from ._gen import datapool_pb2 as pb
from .errors import invalid_argument
from .types import Embeddings

STRATEGIES = ("typical", "diversity")
_O = pb.SelectionObjective
_INPUTS = {"EMBEDDINGS": _O.INPUT_EMBEDDINGS,
           "RANDOM": _O.INPUT_RANDOM,
           "LABELS": _O.INPUT_LABELS,
           "METADATA": _O.INPUT_COLUMN,
           "SCORES": _O.INPUT_SCORES}
_STRATEGY_TYPES = {"DIVERSITY": _O.STRATEGY_DIVERSITY,
                   "TYPICALITY": _O.STRATEGY_TYPICALITY,
                   "WEIGHTS": _O.STRATEGY_WEIGHTS,
                   "BALANCE": _O.STRATEGY_BALANCE,
                   "THRESHOLD": _O.STRATEGY_THRESHOLD,
                   "SIMILARITY": _O.STRATEGY_SIMILARITY}
_SCORES = {"uncertainty_entropy": _O.SCORE_ENTROPY,
           "uncertainty_margin": _O.SCORE_MARGIN,
           "uncertainty_least_confidence": _O.SCORE_LEAST_CONFIDENCE}
_OPERATIONS = {"SMALLER": _O.OPERATION_SMALLER,
               "SMALLER_EQUAL": _O.OPERATION_SMALLER_EQUAL,
               "BIGGER": _O.OPERATION_BIGGER,
               "BIGGER_EQUAL": _O.OPERATION_BIGGER_EQUAL}
_INPUT_KEYS = ("type", "random_seed", "random_distribution", "key", "task",
               "score")
# The keys each input type takes beside "type"; all of them are required
# but RANDOM's.
_INPUT_TYPE_KEYS = {
    _O.INPUT_RANDOM: ("RANDOM", ("random_seed", "random_distribution")),
    _O.INPUT_COLUMN: ("METADATA", ("key",)),
    _O.INPUT_SCORES: ("SCORES", ("task", "score")),
}
_STRATEGY_KEYS = ("type", "strength", "neighbors", "min_typicality",
                  "stopping_condition_minimum_distance", "target",
                  "distribution", "threshold", "operation", "query_tag_name",
                  "query_embeddings", "query_filenames")
_UINT32_MAX = (1 << 32) - 1
_UINT64_MAX = (1 << 64) - 1


def _error(path, message):
    return invalid_argument("selection_config %s: %s" % (path, message))


def _kind(value):
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, numbers.Real):
        return "a number"
    if isinstance(value, str):
        return "a str"
    if isinstance(value, Mapping):
        return "a dict"
    if isinstance(value, Sequence):
        return "a list"
    return "a %s" % type(value).__name__


def _mapping(value, path):
    if not isinstance(value, Mapping):
        raise _error(path, "must be a dict, got %s" % _kind(value))
    return value


def _check_keys(value, path, known):
    for key in value:
        where = "%s.%s" % (path, key) if path else str(key)
        if key not in known:
            raise _error(where, "unknown key (known: %s)" % ", ".join(known))


def _number(value, path):
    """A finite number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _error(path, "must be a number, got %s" % _kind(value))
    number = float(value)
    if not math.isfinite(number):
        raise _error(path, "must be finite")
    return number


def _integer(value, path, low, high):
    """An integer in [low, high] (an int, or a float without a fraction)."""
    _number(value, path)
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif float(value).is_integer():
        number = int(float(value))
    else:
        number = None
    if number is None or not low <= number <= high:
        raise _error(path, "must be an integer in %d..%d, got %r"
                     % (low, high, value))
    return number


def _type_name(value, path):
    where = path + ".type"
    if "type" not in value:
        raise _error(where, "missing")
    name = value["type"]
    if not isinstance(name, str):
        raise _error(where, "must be a str, got %s" % _kind(name))
    return name


def _name(value, path):
    """A non-empty str."""
    if not isinstance(value, str):
        raise _error(path, "must be a str, got %s" % _kind(value))
    if not value:
        raise _error(path, "must not be empty")
    return value


def _choice(value, path, what, choices, fold):
    """choices[fold(value)] for a str value, else an error listing them."""
    if not isinstance(value, str):
        raise _error(path, "must be a str, got %s" % _kind(value))
    if fold(value) not in choices:
        raise _error(path, "unknown %s %r (supported: %s)"
                     % (what, value, ", ".join(choices)))
    return choices[fold(value)]


def _read_input(value, path, objective):
    value = _mapping(value, path)
    _check_keys(value, path, _INPUT_KEYS)
    name = _type_name(value, path)
    if name.upper() not in _INPUTS:
        raise _error(path + ".type", "unknown input %r (supported: %s)"
                     % (name, ", ".join(_INPUTS)))
    objective.input = _INPUTS[name.upper()]
    takes = _INPUT_TYPE_KEYS.get(objective.input, (None, ()))[1]
    for key, item in value.items():
        where = "%s.%s" % (path, key)
        if key == "type":
            continue
        if key not in takes:
            owner = next(n for n, keys in _INPUT_TYPE_KEYS.values()
                         if key in keys)
            raise _error(where, "only for input %s" % owner)
        if key == "random_seed":
            objective.seed = _integer(item, where, 0, _UINT64_MAX)
        elif key == "random_distribution":
            if not isinstance(item, str):
                raise _error(where, "must be a str, got %s" % _kind(item))
            if item.lower() != "uniform":
                raise _error(where, "unknown distribution %r (supported: "
                             "uniform)" % item)
        elif key in ("key", "task"):
            objective.column = _name(item, where)
        else:  # score
            objective.score = _choice(item, where, "score", _SCORES,
                                      str.lower)
    if objective.input != _O.INPUT_RANDOM:
        for key in takes:
            if key not in value:
                raise _error("%s.%s" % (path, key), "missing")


def _query_block(value, names, path):
    """SIMILARITY's query_embeddings (and query_filenames) as an
    EmbeddingBlock."""
    where = path + ".query_embeddings"
    if isinstance(value, Embeddings):
        if names is None:
            names = value.filenames
        value = value.embeddings
    try:
        rows = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise _error(where, "not an array of numbers: %s" % e) from None
    if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] < 1:
        raise _error(where, "must be a 2-D array (n >= 1 rows of d >= 1 "
                     "floats), got shape %s" % (rows.shape,))
    if not np.isfinite(rows).all():
        raise _error(where, "must be finite")
    n = rows.shape[0]
    if names is None:
        names = ["query_%d" % i for i in range(n)]
    else:
        at = path + ".query_filenames"
        if isinstance(names, (str, bytes)) or not isinstance(
                names, Sequence):
            raise _error(at, "must be a list of str, got %s" % _kind(names))
        names = list(names)
        if len(names) != n:
            raise _error(at, "%d filenames for %d rows of query_embeddings: "
                         "need one per row" % (len(names), n))
        for name in names:
            if not isinstance(name, str):
                raise _error(at, "must be str, got %r" % (name,))
    return embedding_block(names, np.ascontiguousarray(rows), None)


def _read_threshold(value, path, objective):
    for key in ("threshold", "operation"):
        if key not in value:
            raise _error("%s.%s" % (path, key), "missing")
    objective.threshold = _number(value["threshold"], path + ".threshold")
    objective.operation = _choice(value["operation"], path + ".operation",
                                  "operation", _OPERATIONS, str.upper)


def _read_similarity(value, path, objective):
    tag = "query_tag_name" in value
    embeddings = "query_embeddings" in value
    if tag == embeddings:
        raise _error(path, "give one of query_tag_name and query_embeddings, "
                     "not both" if tag else "SIMILARITY needs query_tag_name "
                     "(a pool) or query_embeddings (an array (n, d))")
    if tag:
        if "query_filenames" in value:
            raise _error(path + ".query_filenames",
                         "only with query_embeddings")
        objective.query_pool = _name(value["query_tag_name"],
                                     path + ".query_tag_name")
    else:
        objective.query.CopyFrom(_query_block(
            value["query_embeddings"], value.get("query_filenames"), path))


# The strategy keys that belong to one strategy type.
_OWN_KEYS = {
    "neighbors": _O.STRATEGY_TYPICALITY,
    "min_typicality": _O.STRATEGY_TYPICALITY,
    "stopping_condition_minimum_distance": _O.STRATEGY_DIVERSITY,
    "target": _O.STRATEGY_BALANCE,
    "distribution": _O.STRATEGY_BALANCE,
    "threshold": _O.STRATEGY_THRESHOLD,
    "operation": _O.STRATEGY_THRESHOLD,
    "query_tag_name": _O.STRATEGY_SIMILARITY,
    "query_embeddings": _O.STRATEGY_SIMILARITY,
    "query_filenames": _O.STRATEGY_SIMILARITY,
}


def _read_strategy(value, path, objective, found):
    """The strategy into `objective`; its minimum distance into `found`
    ({"min_distance": (value, path)})."""
    value = _mapping(value, path)
    _check_keys(value, path, _STRATEGY_KEYS)
    name = _type_name(value, path)
    if name.upper() not in _STRATEGY_TYPES:
        raise _error(path + ".type", "unknown strategy %r (supported: %s)"
                     % (name, ", ".join(_STRATEGY_TYPES)))
    objective.strategy = _STRATEGY_TYPES[name.upper()]
    for key, item in value.items():
        where = "%s.%s" % (path, key)
        owner = _OWN_KEYS.get(key)
        if owner is not None and objective.strategy != owner:
            raise _error(where, "only for strategy %s"
                         % _O.Strategy.Name(owner)[len("STRATEGY_"):])
        if key == "strength":
            objective.strength = _number(item, where)
        elif key == "neighbors":
            objective.typicality_neighbors = _integer(item, where, 1,
                                                      _UINT32_MAX)
        elif key == "min_typicality":
            objective.min_typicality = _number(item, where)
        elif key == "stopping_condition_minimum_distance":
            distance = _number(item, where)
            earlier = found.get("min_distance")
            if earlier is not None and earlier[0] != distance:
                raise _error(where, "differs from %s (%r)"
                             % (earlier[1], earlier[0]))
            found["min_distance"] = (distance, where)
        elif key == "distribution":
            if not isinstance(item, str) or item.lower() != "uniform":
                raise _error(where, "unknown distribution %r (supported: "
                             "uniform, or give target)" % (item,))
        elif key == "target":
            for label, share in _mapping(item, where).items():
                at = "%s[%s]" % (where, label)
                try:
                    label_id = int(label)
                except (TypeError, ValueError):
                    raise _error(at, "a label is an integer, got %r"
                                 % (label,)) from None
                objective.balance_target[label_id] = _number(share, at)
    if objective.strategy == _O.STRATEGY_THRESHOLD:
        _read_threshold(value, path, objective)
    elif objective.strategy == _O.STRATEGY_SIMILARITY:
        _read_similarity(value, path, objective)


def from_dict(config):
    """A Lightly selection-config dict as (pb.SelectionConfig, its minimum
    distance and where it was given, or None)."""
    for stop in ("n_samples", "proportion_samples"):
        if stop in config:
            raise _error(stop, "not read from selection_config; use "
                         "select's n_samples")
    _check_keys(config, "", ("strategies",))
    if "strategies" not in config:
        raise _error("strategies", "missing")
    strategies = config["strategies"]
    if isinstance(strategies, (str, bytes, Mapping)) or not isinstance(
            strategies, Sequence):
        raise _error("strategies", "must be a list, got %s"
                     % _kind(strategies))
    if not strategies:
        raise _error("strategies", "empty; give at least one strategy")
    message = pb.SelectionConfig()
    found = {}
    for i, entry in enumerate(strategies):
        path = "strategies[%d]" % i
        entry = _mapping(entry, path)
        _check_keys(entry, path, ("input", "strategy"))
        for part in ("input", "strategy"):
            if part not in entry:
                raise _error("%s.%s" % (path, part), "missing")
        objective = message.objectives.add()
        _read_input(entry["input"], path + ".input", objective)
        _read_strategy(entry["strategy"], path + ".strategy", objective,
                       found)
    return message, found.get("min_distance")


def apply(params, strategy, selection_config, min_distance):
    """Sets params.config (and min_distance from a DIVERSITY strategy's
    stopping_condition_minimum_distance) from Client.select's ``strategy``
    and ``selection_config``; ``min_distance`` is select's own argument."""
    if strategy is not None and selection_config is not None:
        raise invalid_argument("give strategy or selection_config, not both")
    if strategy is not None:
        if not isinstance(strategy, str) or strategy not in STRATEGIES:
            raise invalid_argument(
                "strategy must be 'typical' or 'diversity' (or None: the "
                "server's default, typical), got %r" % (strategy,))
        if strategy == "diversity":
            params.config.objectives.add(
                input=pb.SelectionObjective.INPUT_EMBEDDINGS,
                strategy=pb.SelectionObjective.STRATEGY_DIVERSITY)
        return
    if selection_config is None:
        return
    if isinstance(selection_config, pb.SelectionConfig):
        params.config.CopyFrom(selection_config)
        return
    if not isinstance(selection_config, Mapping):
        raise invalid_argument(
            "selection_config must be a dict (Lightly's layout) or a "
            "pb.SelectionConfig, got %s" % type(selection_config).__name__)
    config, found = from_dict(selection_config)
    params.config.CopyFrom(config)
    if found is None:
        return
    distance, where = found
    if min_distance is not None and float(min_distance) != distance:
        raise invalid_argument(
            "min_distance=%r differs from selection_config %s (%r); give one "
            "of them" % (min_distance, where, distance))
    params.min_distance = distance
