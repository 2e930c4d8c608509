"""Where an import's trainees are decided: in this process, or in worker processes.

Deciding and encoding a trainee is pure computation on its own lines (about nine
tenths of an import's work), so with `jobs` > 1 trainees are decided in that many
worker processes while this one reads the file and stores what comes back. Trainees
travel in tasks of a few thousand lines; results are taken in the order the tasks were
sent, so everything after (the national IDs the file already holds, the batches, the
report) sees the file's order whatever the number of workers. At most two tasks per
worker are sent; when the workers have that much to do, or are still starting (a second
or two: each imports the application), this process decides the next task itself rather
than wait, so no CPU it could have is left idle; memory stays bounded however fast the
file is read. The pool is started only when a first task is full: a small file is
decided here, with no start-up at all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

from service.clock import Clock
from service.forms import load_forms
from service.import_trainee import Decided, TraineeDecider, TraineeLines
from service.records import TraineeRecords
from service.regulations import load_regulations
from service.settings import Settings

LINES_PER_TASK = 4000
TASKS_PER_WORKER = 2

Now = Callable[[], datetime]


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class InlineDecisions:
    """Decides each trainee as it is handed over, in this process."""

    def __init__(self, decider: TraineeDecider, now: Now):
        self.decider, self.now = decider, now

    def submit(self, group: TraineeLines) -> list[Decided]:
        return [self.decider.decide(group, self.now())]

    def drain(self) -> list[Decided]:
        return []

    def close(self) -> None:
        pass


class ParallelDecisions:
    def __init__(self, decider: TraineeDecider, now: Now, jobs: int,
                 lines_per_task: int = LINES_PER_TASK):
        self.decider, self.now = decider, now
        self.jobs = jobs
        self.lines_per_task = lines_per_task
        self._pool: ProcessPoolExecutor | None = None
        self._started: list[Future[bool]] = []
        self._in_flight: deque[Future[list[Decided]] | _Done] = deque()
        self._task: list[TraineeLines] = []
        self._task_lines = 0
        self.tasks_sent = 0  # to the workers

    @property
    def workers_ready(self) -> bool:
        """Whether a worker has started (the pool is started by the first full task)."""
        return any(started.done() for started in self._started)

    def submit(self, group: TraineeLines) -> list[Decided]:
        self._task.append(group)
        self._task_lines += len(group.lines)
        if self._task_lines < self.lines_per_task:
            return []
        self._send()
        done: list[Decided] = []
        while len(self._in_flight) > 2 * TASKS_PER_WORKER * self.jobs or (
            self._in_flight and self._in_flight[0].done()
        ):
            done += self._in_flight.popleft().result()
        return done

    def drain(self) -> list[Decided]:
        if self._pool is None:  # everything fitted in one task: no pool worth starting
            task, self._task, self._task_lines = self._task, [], 0
            now = self.now()
            return [self.decider.decide(group, now) for group in task]
        if self._task:
            self._send()
        done: list[Decided] = []
        while self._in_flight:
            done += self._in_flight.popleft().result()
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _send(self) -> None:
        task, now = self._task, self.now()
        self._task, self._task_lines = [], 0
        if self._pool is None:
            records = self.decider.records
            # Spawned, not forked: this process already holds threads and connections. A
            # worker that dies fails every task in flight (BrokenProcessPool), never hangs.
            self._pool = ProcessPoolExecutor(
                self.jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(records.settings, records.env.get("CIPHER_KEY", ""),
                          self.decider.actor),
            )
            self._started = [self._pool.submit(_started) for _ in range(self.jobs)]
        waiting = sum(1 for task in self._in_flight if not task.done())
        if self.workers_ready and waiting < TASKS_PER_WORKER * self.jobs:
            self._in_flight.append(self._pool.submit(_decide_task, task, now))
            self.tasks_sent += 1
        else:  # the workers are starting, or have enough to do: this process helps
            self._in_flight.append(_Done([self.decider.decide(group, now) for group in task]))


class _Done:
    """A task decided in this process, queued among those sent to the workers."""

    def __init__(self, decided: list[Decided]):
        self.decided = decided

    def done(self) -> bool:
        return True

    def result(self) -> list[Decided]:
        return self.decided


_worker: dict[str, Any] = {}


def _start_worker(settings: Settings, cipher_key: str, actor: str) -> None:
    """Each worker decides with an application of its own on an in-memory store: the
    same regulations, forms and mapper (cipher key included), and no database. A worker
    that cannot start raises why from its first task, rather than break the pool with a
    less telling error."""
    try:
        records = TraineeRecords(
            settings, forms=load_forms(),
            regulations=load_regulations(settings.regulations_dir),
            clock=Clock(),  # unused: every task brings its own moment
            env={"PERSISTENCE_MODULE": "eventsourcing.popo", "CIPHER_KEY": cipher_key},
        )
        _worker["decider"] = TraineeDecider(records, actor)
    except Exception as error:
        _worker["error"] = error


def _started() -> bool:
    return "decider" in _worker or "error" in _worker


def _decide_task(groups: list[TraineeLines], now: datetime) -> list[Decided]:
    if "error" in _worker:
        raise _worker["error"]
    decider: TraineeDecider = _worker["decider"]
    return [decider.decide(group, now) for group in groups]
