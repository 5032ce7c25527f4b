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

or a ``pb.SelectionConfig``, sent as it is. Inputs EMBEDDINGS, RANDOM
(``random_seed``, ``random_distribution`` "uniform") and LABELS; strategies
DIVERSITY (``stopping_condition_minimum_distance``: the selection's
min_distance), TYPICALITY (``neighbors``), WEIGHTS and BALANCE (``target``
{"<label>": share, ...}, or ``distribution`` "uniform"), each with an
optional ``strength``;
type names in any case. What cannot be mapped is refused here with
INVALID_ARGUMENT naming its path ("selection_config
strategies[1].strategy.type: ..."); which input goes with which strategy
is the server's to judge.
"""

import math
import numbers
from collections.abc import Mapping, Sequence

from ._gen import datapool_pb2 as pb
from .errors import invalid_argument

STRATEGIES = ("typical", "diversity")
_INPUTS = {"EMBEDDINGS": pb.SelectionObjective.INPUT_EMBEDDINGS,
           "RANDOM": pb.SelectionObjective.INPUT_RANDOM,
           "LABELS": pb.SelectionObjective.INPUT_LABELS}
_STRATEGY_TYPES = {"DIVERSITY": pb.SelectionObjective.STRATEGY_DIVERSITY,
                   "TYPICALITY": pb.SelectionObjective.STRATEGY_TYPICALITY,
                   "WEIGHTS": pb.SelectionObjective.STRATEGY_WEIGHTS,
                   "BALANCE": pb.SelectionObjective.STRATEGY_BALANCE}
_INPUT_KEYS = ("type", "random_seed", "random_distribution")
_STRATEGY_KEYS = ("type", "strength", "neighbors",
                  "stopping_condition_minimum_distance", "target",
                  "distribution")
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


def _read_input(value, path, objective):
    value = _mapping(value, path)
    _check_keys(value, path, _INPUT_KEYS)
    name = _type_name(value, path)
    if name.upper() not in _INPUTS:
        raise _error(path + ".type", "unknown input %r (supported: %s)"
                     % (name, ", ".join(_INPUTS)))
    objective.input = _INPUTS[name.upper()]
    for key, item in value.items():
        where = "%s.%s" % (path, key)
        if key == "type":
            continue
        if objective.input != pb.SelectionObjective.INPUT_RANDOM:
            raise _error(where, "only for input RANDOM")
        if key == "random_seed":
            objective.seed = _integer(item, where, 0, _UINT64_MAX)
        elif not isinstance(item, str):  # random_distribution
            raise _error(where, "must be a str, got %s" % _kind(item))
        elif item.lower() != "uniform":
            raise _error(where, "unknown distribution %r (supported: "
                         "uniform)" % item)


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
        if key == "strength":
            objective.strength = _number(item, where)
        elif key == "neighbors":
            if objective.strategy != pb.SelectionObjective.STRATEGY_TYPICALITY:
                raise _error(where, "only for strategy TYPICALITY")
            objective.typicality_neighbors = _integer(item, where, 1,
                                                      _UINT32_MAX)
        elif key == "stopping_condition_minimum_distance":
            if objective.strategy != pb.SelectionObjective.STRATEGY_DIVERSITY:
                raise _error(where, "only for strategy DIVERSITY")
            distance = _number(item, where)
            earlier = found.get("min_distance")
            if earlier is not None and earlier[0] != distance:
                raise _error(where, "differs from %s (%r)"
                             % (earlier[1], earlier[0]))
            found["min_distance"] = (distance, where)
        elif key in ("target", "distribution"):
            if objective.strategy != pb.SelectionObjective.STRATEGY_BALANCE:
                raise _error(where, "only for strategy BALANCE")
            if key == "distribution":
                if not isinstance(item, str) or item.lower() != "uniform":
                    raise _error(where, "unknown distribution %r (supported: "
                                 "uniform, or give target)" % (item,))
                continue
            for label, share in _mapping(item, where).items():
                at = "%s[%s]" % (where, label)
                try:
                    label_id = int(label)
                except (TypeError, ValueError):
                    raise _error(at, "a label is an integer, got %r"
                                 % (label,)) from None
                objective.balance_target[label_id] = _number(share, at)


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
