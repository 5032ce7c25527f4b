"""The one exception type of the Datapool client."""

import grpc

__all__ = ["DatapoolError"]


class DatapoolError(Exception):
    """A failed Datapool call, or arguments the client refused before calling.

    Attributes:
        code: the ``grpc.StatusCode`` (e.g. ``grpc.StatusCode.NOT_FOUND``).
            Arguments the client rejects locally (embeddings that are not
            2-D, a filename count that does not match, two kinds of
            candidates at once...) raise ``INVALID_ARGUMENT`` before any
            request is sent; a local file or folder that does not exist
            raises ``NOT_FOUND``.
        message: the server's (or the client's) explanation.
        code_name: the code's name, e.g. ``"NOT_FOUND"``.

    ``str(error)`` is ``"CODE: message"``.
    """

    def __init__(self, code, message):
        if not isinstance(code, grpc.StatusCode):
            raise TypeError("code must be a grpc.StatusCode, not %r" % (code,))
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def code_name(self):
        """The status code's name, e.g. ``"FAILED_PRECONDITION"``."""
        return self.code.name

    def __str__(self):
        return "%s: %s" % (self.code.name, self.message)

    def __repr__(self):
        return "DatapoolError(%s, %r)" % (self.code, self.message)

    @classmethod
    def from_rpc_error(cls, error):
        """Wraps a ``grpc.RpcError`` raised by a call."""
        code = error.code() if hasattr(error, "code") else None
        details = error.details() if hasattr(error, "details") else None
        if not isinstance(code, grpc.StatusCode):
            code = grpc.StatusCode.UNKNOWN
        return cls(code, details or str(error))


def invalid_argument(message):
    """A DatapoolError with INVALID_ARGUMENT (arguments refused locally)."""
    return DatapoolError(grpc.StatusCode.INVALID_ARGUMENT, message)
