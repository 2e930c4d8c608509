"""A TCP proxy on loopback that tests cut, to see the service lose its database and get
it back, without touching the shared PostgreSQL server.

Clients connect to the proxy's port; each connection is forwarded to the target. `cut`
closes every open connection and then either refuses new ones (they are accepted and
reset at once: the database is down) or holds them silent (`blackhole`: accepted, never
answered, as behind a dead link). `restore` forwards again.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

FORWARDING, REFUSING, BLACKHOLE = "forwarding", "refusing", "blackhole"
CHUNK = 65536


class Proxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._mode = FORWARDING
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def cut(self, blackhole: bool = False) -> None:
        with self._lock:
            self._mode = BLACKHOLE if blackhole else REFUSING
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._mode = FORWARDING
            held, self._open = self._open, set()
        for sock in held:  # the silent ones the clients have given up on
            _close(sock)

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                mode = self._mode
                if mode == BLACKHOLE:
                    self._open.add(client)
            if mode == REFUSING:
                _reset(client)
            elif mode == FORWARDING:
                self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
            server.settimeout(None)
        except OSError:
            _reset(client)
            return
        with self._lock:
            cut_meanwhile = self._mode != FORWARDING
            if not cut_meanwhile:
                self._open.update((client, server))
        if cut_meanwhile:
            _reset(client)
            _close(server)
            return
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(CHUNK):
            sink.sendall(chunk)
    except OSError:
        pass
    _close(source)
    _close(sink)


def _reset(sock: socket.socket) -> None:
    """Closes with RST, as a port nobody listens on would answer."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _close(sock)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


@contextmanager
def proxy_to(host: str, port: int) -> Iterator[Proxy]:
    proxy = Proxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
