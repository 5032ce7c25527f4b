"""Making the gRPC calls: unary, client-streaming, and client-streaming with
progress messages back. Every failure comes out as a DatapoolError; a
request that fails to be produced on our side (a local file that cannot
be read) cancels the call, so the server commits nothing."""

import threading

import grpc

from .errors import DatapoolError


class RequestStream:
    """The request iterator handed to gRPC. It runs on gRPC's thread; when
    producing a message fails here (a local file cannot be read), it cancels
    the call, so the server never sees a complete request and commits
    nothing, and keeps the error for the caller."""

    def __init__(self, messages):
        self._messages = iter(messages)
        self._call = None
        self._attached = threading.Event()
        self.error = None

    def attach(self, call):
        self._call = call
        self._attached.set()

    def __iter__(self):
        return self

    def __next__(self):
        if self.error is not None:
            raise StopIteration
        try:
            return next(self._messages)
        except StopIteration:
            raise
        except DatapoolError as e:
            self.error = e
        except Exception as e:  # noqa: BLE001 - reported to the caller
            self.error = DatapoolError(
                grpc.StatusCode.INTERNAL,
                "preparing the request failed: %s: %s"
                % (type(e).__name__, e))
        # Cancel before ending the stream: ending it would half-close, and
        # the server would act on a partial request.
        self._attached.wait()
        self._call.cancel()
        raise StopIteration


def unary(method, request, timeout, metadata):
    """The response of a unary call."""
    try:
        return method(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as e:
        raise DatapoolError.from_rpc_error(e) from None


def stream_unary(method, messages, timeout, metadata):
    """Streams the request messages; returns the one response."""
    requests = RequestStream(messages)
    future = None
    try:
        future = method.future(requests, timeout=timeout, metadata=metadata)
        requests.attach(future)
        response = future.result()
    except grpc.FutureCancelledError:
        if requests.error is not None:
            raise requests.error from None
        raise DatapoolError(grpc.StatusCode.CANCELLED,
                            "the call was cancelled") from None
    except grpc.RpcError as e:
        if requests.error is not None:
            raise requests.error from None
        raise DatapoolError.from_rpc_error(e) from None
    except BaseException:
        if future is not None:
            requests.attach(future)
            future.cancel()
        raise
    if requests.error is not None:
        raise requests.error
    return response


def stream_progress(method, messages, progress, timeout, metadata):
    """Streams the request messages; calls progress(phase, done, total) for
    each Progress message and returns the final result message."""
    requests = RequestStream(messages)
    call = None
    result = None
    try:
        call = method(requests, timeout=timeout, metadata=metadata)
        requests.attach(call)
        for message in call:
            if message.HasField("result"):
                result = message.result
            elif message.HasField("progress"):
                p = message.progress
                progress(p.phase, p.done, p.total)
    except grpc.RpcError as e:
        if requests.error is not None:
            raise requests.error from None
        raise DatapoolError.from_rpc_error(e) from None
    except BaseException:
        # The callback raised, or KeyboardInterrupt: stop the work; a
        # cancelled selection commits nothing.
        if call is not None:
            requests.attach(call)
            call.cancel()
        raise
    if requests.error is not None:
        raise requests.error
    if result is None:
        raise DatapoolError(grpc.StatusCode.INTERNAL,
                            "the server ended the call without a result")
    return result
