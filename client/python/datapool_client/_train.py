"""The first message of a Train stream from ``Client.train``'s arguments.

As in ``_requests``, only what cannot go into a request is refused here (a
value of the wrong type, an augmentation key the API does not have); the
ranges are the server's, which answers INVALID_ARGUMENT.
"""

import numbers

from . import _requests as req
from ._gen import datapool_pb2 as pb
from .errors import invalid_argument

DEVICES = ("auto", "cpu", "cuda")
# TrainAugmentation's fields, which are also the keys ``augment`` takes.
AUGMENT_KEYS = tuple(f.name for f in pb.TrainAugmentation.DESCRIPTOR.fields)


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_argument("%s must be a number, got %r" % (what, value))
    return float(value)


def train_request(pool, *, epochs, batch_size, seed, device, learning_rate,
                  temperature, augment, drop_unreadable, keep_history,
                  create=False):
    """A TrainRequest with the parameters (no images)."""
    if device not in DEVICES:
        raise invalid_argument("device must be auto, cpu or cuda, got %r"
                               % (device,))
    first = pb.TrainRequest(pool=pool, seed=req.to_int(seed, "seed"),
                            device=device,
                            drop_unreadable=bool(drop_unreadable),
                            keep_history=bool(keep_history),
                            create_pool=bool(create))
    for name, value, low in (("epochs", epochs, 1),
                             ("batch_size", batch_size, 2)):
        if value is None:
            continue
        value = req.to_int(value, name)
        if value < low:
            raise invalid_argument("%s must be >= %d, got %d"
                                   % (name, low, value))
        setattr(first, name, value)
    if learning_rate is not None:
        first.learning_rate = _number(learning_rate, "learning_rate")
    if temperature is not None:
        first.temperature = _number(temperature, "temperature")
    if augment is not None:
        if not hasattr(augment, "items"):
            raise invalid_argument(
                "augment must be a mapping such as {'flip_probability': 0}, "
                "got %r" % (augment,))
        for key, value in augment.items():
            if key not in AUGMENT_KEYS:
                raise invalid_argument(
                    "augment: unknown key %r; keys: %s"
                    % (key, ", ".join(AUGMENT_KEYS)))
            setattr(first.augmentation, key,
                    _number(value, "augment[%r]" % (key,)))
    return first
