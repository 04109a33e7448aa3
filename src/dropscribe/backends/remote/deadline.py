"""A total deadline on every answer, headers included.

httpx's timeouts are per read: a server that sends a byte every few seconds,
in its headers or its body, never trips them. Every read on a connection goes
through :class:`DeadlineStream`, which shortens the read's timeout to what is
left of the answer's deadline: ``timeout_seconds`` from the moment the request
was sent whole (an upload's own time never counts). The deadline is the
calling thread's (httpx's client is synchronous: one request is one thread).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpcore
import httpx


class _Deadline(threading.local):
    at: float | None = None


_DEADLINE = _Deadline()


def start(seconds: float) -> None:
    """From now on, this thread's reads must finish within ``seconds``."""
    _DEADLINE.at = time.monotonic() + seconds


def clear() -> None:
    _DEADLINE.at = None


def passed() -> bool:
    return _DEADLINE.at is not None and time.monotonic() >= _DEADLINE.at


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads end at the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        at = _DEADLINE.at
        if at is not None:
            left = at - time.monotonic()
            if left <= 0:
                raise httpcore.ReadTimeout("the answer's deadline has passed")
            timeout = left if timeout is None else min(timeout, left)
        return self.stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, timeout)

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """The connections of a pool, each a :class:`DeadlineStream`."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self.backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self.backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return DeadlineStream(self.backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


def transport(verify: bool) -> httpx.HTTPTransport:
    """An httpx transport whose every read keeps to the thread's deadline.

    httpx takes no network backend of its own: it goes into the transport's pool
    (``_pool._network_backend``, httpcore 1.x). Should a later httpcore lack it, the
    transport works as before and the deadline is kept between reads of the body only
    (http.py checks it there too).
    """
    made = httpx.HTTPTransport(verify=verify)
    pool = getattr(made, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return made
