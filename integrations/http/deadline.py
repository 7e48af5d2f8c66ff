"""A deadline for a whole HTTP request, however slowly the server sends.

requests' ``timeout`` bounds each wait for the socket, not the request: a
server that sends one byte a second keeps every wait short and the request
alive for as long as it likes (a 3 s timeout was seen taking 30 s). Here a
timer shuts down every socket the request opened once its time is up; the
blocked read then ends at once (end of stream) and the caller reports a
timeout. The sockets are seen as urllib3 opens them (`_new_conn`, before any
TLS handshake or proxy tunnel), so redirects to other hosts are covered too.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Deadline:
    """Shuts down every socket registered with it when `seconds` have passed.

    Args:
        seconds: the time the whole request may take, from now.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline (at once if it has passed)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        """The request is over: stop the timer and forget the sockets."""
        self._timer.cancel()
        with self._lock:
            self._sockets = []


def _shut(sock: socket.socket) -> None:
    # shutdown, not close: the reading thread still owns the descriptor; it sees end of stream.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_CURRENT: ContextVar[Deadline | None] = ContextVar("flowkit_http_deadline", default=None)


class _Watched:
    """Registers each socket urllib3 opens with the deadline of the request in progress."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        current = _CURRENT.get()
        if current is not None:
            current.watch(sock)
        return sock


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS: dict[str, Any] = {"http": _WatchedPool, "https": _WatchedTLSPool}


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections (direct or through an HTTP proxy) register their sockets with the deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Within this block, every socket a `WatchedAdapter` opens in this context is shut down after `seconds`."""
    current = Deadline(seconds)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)
        current.cancel()
