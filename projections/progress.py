"""Tells live readers (GraphQL subscriptions) when the read models have moved on.

The projector commits each batch with its tracking record; readers only ever read up to
the tracked position, so they never see half a batch. To learn that the position moved:

- a batch projected in this process wakes them at once (the projector calls `advanced`);
- on PostgreSQL the projector announces every batch with NOTIFY inside its transaction,
  so it is heard only once committed, by every process (`dualtrack project` included);
- on SQLite, which has no notifications, a watcher polls the tracking position.

The watcher also polls on PostgreSQL, slowly, so a notification lost with a dropped
connection delays a reader by at most that long and never loses an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import threading
from collections.abc import Callable

import sqlalchemy as sa

CHANNEL = "dualtrack_projected"
SQLITE_POLL_SECONDS = 0.2
POSTGRES_POLL_SECONDS = 2.0


class ProjectionProgress:
    def __init__(self, engine: sa.Engine, read_position: Callable[[], int]):
        self.engine = engine
        self.read_position = read_position
        self.reached = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def advanced(self, reached: int) -> None:
        """Records that the read models reached `reached`, and wakes who waited for it."""
        with self._lock:
            if reached <= self.reached:
                return
            self.reached = reached
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                loop.call_soon_threadsafe(_wake, future)

    async def wait_beyond(self, position: int, timeout: float) -> int:
        """Waits (without blocking the event loop) until the read models pass `position`,
        or `timeout` seconds; returns the position reached."""
        self._start_watching()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.reached > position:
                return self.reached
            self._waiters.add((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard((loop, future))
        return self.reached

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def _start_watching(self) -> None:
        with self._lock:
            if self._watcher is not None:
                return
            self._watcher = threading.Thread(
                target=self._watch, name="dualtrack-progress", daemon=True
            )
        self._watcher.start()  # it reads the position first thing, off the event loop

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                if self.engine.dialect.name == "postgresql":
                    self._listen()
                else:
                    self.advanced(self.read_position())
                    self._stop.wait(SQLITE_POLL_SECONDS)
            except Exception:  # noqa: BLE001 - the driver's own errors too
                # The database went away for a moment: readers keep their place (and
                # re-read on their own every few seconds); the watcher tries again shortly.
                self._stop.wait(1.0)

    def _listen(self) -> None:
        connection = self.engine.raw_connection()
        try:
            connection.set_isolation_level(0)  # type: ignore[attr-defined]
            driver = connection.driver_connection
            cursor = connection.cursor()
            cursor.execute(f"LISTEN {CHANNEL}")
            cursor.close()
            self.advanced(self.read_position())
            while not self._stop.is_set():
                if select.select([driver], [], [], POSTGRES_POLL_SECONDS)[0]:
                    driver.poll()  # type: ignore[union-attr]
                    announced = [
                        int(n.payload) for n in driver.notifies  # type: ignore[union-attr]
                        if n.payload.isdigit()
                    ]
                    driver.notifies.clear()  # type: ignore[union-attr]
                    self.advanced(max(announced) if announced else self.read_position())
                else:
                    self.advanced(self.read_position())
        finally:
            connection.close()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
