"""The gRPC channel of a Client: plaintext or TLS (``TLS``), with the
message size limits lifted."""

import os
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import grpc

from .errors import invalid_argument

__all__ = ["TLS", "PathLike", "make_channel"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class TLS:
    """TLS settings for ``Client(tls=...)``.

    Each of ca, cert and key is a PEM file path (str or os.PathLike) or the
    PEM bytes themselves. ca: the CA that signed the server's certificate
    (None: the system's CAs). cert and key: the client's certificate chain
    and private key, for a server that requires mutual TLS (both or
    neither). server_name: the name to verify the server's certificate
    against, when the target address does not carry it (e.g. connecting to
    an IP address with a certificate for ``localhost``).
    """
    ca: Optional[Union[PathLike, bytes]] = None
    cert: Optional[Union[PathLike, bytes]] = None
    key: Optional[Union[PathLike, bytes]] = None
    server_name: Optional[str] = None


def _pem(value, what):
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        with open(os.fspath(value), "rb") as f:
            return f.read()
    except OSError as e:
        raise invalid_argument("cannot read the TLS %s %s: %s"
                               % (what, value, e.strerror or e)) from None


def make_channel(target: str, tls, options: Sequence) -> grpc.Channel:
    """A channel to target. tls: None or False (plaintext), True (system
    CAs), a TLS, or grpc.ChannelCredentials; options: extra channel
    options, after the SDK's own."""
    # Responses (embeddings of many images, long pick lists) may exceed
    # gRPC's default 4 MiB receive limit.
    opts = [("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1)]
    if tls is None or tls is False:
        return grpc.insecure_channel(target, options=opts + list(options))
    if tls is True:
        tls = TLS()
    if isinstance(tls, grpc.ChannelCredentials):
        creds = tls
    elif isinstance(tls, TLS):
        if (tls.cert is None) != (tls.key is None):
            raise invalid_argument(
                "TLS: cert and key go together (mutual TLS)")
        creds = grpc.ssl_channel_credentials(
            root_certificates=_pem(tls.ca, "CA"),
            private_key=_pem(tls.key, "key"),
            certificate_chain=_pem(tls.cert, "certificate"))
        if tls.server_name:
            opts.append(("grpc.ssl_target_name_override", tls.server_name))
    else:
        raise invalid_argument(
            "tls must be None, True or a TLS(...), not %r" % (tls,))
    return grpc.secure_channel(target, creds, options=opts + list(options))
