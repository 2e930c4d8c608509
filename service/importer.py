"""Bulk import of historical records from a JSON Lines file (`dualtrack import FILE`).

The format
----------
UTF-8 text, one command per line, each a JSON object:

    {"type": "EnrollTrainee", "trainee": "t1", "name": "Li Lei", ...}
    {"type": "ScheduleRotation", "trainee": "t1", "rotationId": "r1", ...}
    {"type": "RecordRotationEntry", "trainee": "t1", "entryId": "e1", "rotationId": "r1", ...}
    {"type": "SignRotationEntry", "trainee": "t1", "entryId": "e1", "tutorId": "dr-wang"}

- `type` is a command: EnrollTrainee or any command `records.execute` decides (AssignTutor,
  ScheduleRotation, CompleteRotation, RecordRotationEntry, SignRotationEntry,
  RetractRotationEntry, CorrectRotationEntry, RecordAssessment, RecordEthicsViolation,
  GrantLicence, RecordLicensingExam, IssueResidencyCertificate, RecordPublication,
  RecordCoursework, RecordThesisDefense, IssueDiploma, AwardDegree, RecordNationalExam,
  RevokeCertificate).
- `trainee` is the file's own key for the trainee (a string or an integer). The trainee's
  id is derived from it (`trainee_id(key)`), so importing the same file again finds every
  trainee already enrolled and stores nothing twice.
- `actor` (optional) is who did it, recorded on the event; default: the import's
  `--actor` (default "import").
- Every other member is a field of the command, named in camelCase as the GraphQL API
  names it (`enrolledOn`, `tutorId`, `residentDuty`, ...); dates are "YYYY-MM-DD", enums
  their names ("INTEGRATED_MASTER", "CASE"). Fields the API makes optional may be left out.
- Ids of things a line creates (`rotationId` of ScheduleRotation, `entryId` of
  RecordRotationEntry, `assessmentId`, `violationId`, `publicationId`) are keys of the
  file's own, unique within the trainee; they may be left out when no later line refers
  to them. Lines referring to a rotation or entry name the key it was created with.
- A trainee's lines are contiguous, in the order they happened, and begin with its
  EnrollTrainee line (an export per trainee, one after another), so the file is read as
  a stream in bounded memory. Blank lines and lines starting with `#` are ignored.

Each line is decided by the domain against the trainee as built by the lines before it,
exactly as the API would decide the same command. Business dates come from the lines;
the recorded time is the import's (the events are truthfully recorded now).

Guarantees
----------
- Every problem is reported as `FILE:LINE: what is wrong`: unreadable JSON, an unknown
  type, a missing, unknown or mistyped field (named), a bad date or key, a key used twice
  or naming nothing, and every refusal of the domain with its code and rule id (R1-R14).
- A trainee is stored whole or not at all: a bad line rejects its trainee (none of its
  lines is stored) and the import goes on with the next trainee. A line that cannot be
  read far enough to name its trainee rejects the trainee whose lines it follows (or, at
  the start of the file, the first one).
- A trainee's events and its national-ID claim are written in one transaction, with
  whole other trainees (service.bulk_append). A trainee whose stream or national ID is
  already stored (an earlier import, or enrollment through the API), or whose national
  ID an earlier trainee of the file holds, is rejected alone. A crash leaves whole
  trainees only; running the same file again loads the rest and reports the others as
  already enrolled.
- A trainee whose lines reappear after another trainee's is an error naming both lines:
  the reappearing lines are rejected (the earlier ones were already decided as a whole).
- Trainees with long histories are stored with a snapshot, as the service would.

How
---
This process reads the file and groups its lines by trainee (service.import_format finds
a line's trainee without parsing all of it); each trainee is decided and encoded whole
(service.import_trainee), here or in `jobs` worker processes (service.import_workers);
decided trainees are batched, in file order, until a batch holds `batch_events` events;
a writer thread appends each batch in one transaction (service.bulk_append: COPY on
PostgreSQL) while the next is decided, and what is told about each trainee is told in
file order once its batch is stored.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO
from uuid import UUID

from service.appender import unwritable
from service.bulk_append import BulkAppended, BulkAppender, BulkWrite
from service.import_format import line_key
from service.import_trainee import Decided, TraineeDecider, TraineeLines
from service.import_trainee import trainee_id as trainee_id
from service.import_workers import InlineDecisions, ParallelDecisions
from service.records import TraineeRecords

DEFAULT_ACTOR = "import"
# Events per transaction: large enough to amortise a commit, small enough that the table
# lock other writers wait on is held for a fraction of a second.
DEFAULT_BATCH_EVENTS = 10_000
PROGRESS_EVERY_SECONDS = 0.25
_BOM = b"\xef\xbb\xbf"


@dataclass
class ImportSummary:
    source: str
    dry_run: bool
    lines: int = 0  # read so far, blank and comment lines included
    loaded: int = 0  # trainees stored (dry run: that would be)
    rejected: int = 0
    events: int = 0  # events stored (dry run: that would be)
    problems: int = 0  # problems reported, a trainee found already stored included
    stored_bytes: int = 0  # of the events' stored (encrypted) state
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.problems == 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def import_file(
    records: TraineeRecords,
    path: str,
    *,
    actor: str = DEFAULT_ACTOR,
    dry_run: bool = False,
    jobs: int = 1,
    batch_events: int = DEFAULT_BATCH_EVENTS,
    say: Callable[[str], None] = print,
    progress: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Imports the file at `path` ("-": standard input) into the records' store, deciding
    trainees in `jobs` processes. Raises OSError if the file cannot be opened."""
    opened = contextlib.nullcontext(sys.stdin.buffer) if path == "-" else open(path, "rb")
    with opened as source:
        appender = BulkAppender.of(records, records.settings)
        try:
            importer = Importer(records, appender, actor=actor, dry_run=dry_run, jobs=jobs,
                                batch_events=batch_events, say=say, progress=progress)
            return importer.run(source, "<stdin>" if path == "-" else path)
        finally:
            appender.close()


class Importer:
    """Reads, decides and stores one file (see the module's doc). `say` is handed each
    problem and verdict as a line of text; `progress`, the summary so far, now and then."""

    def __init__(
        self,
        records: TraineeRecords,
        appender: BulkAppender,
        *,
        actor: str = DEFAULT_ACTOR,
        dry_run: bool = False,
        jobs: int = 1,
        batch_events: int = DEFAULT_BATCH_EVENTS,
        say: Callable[[str], None] = print,
        progress: Callable[[ImportSummary], None] | None = None,
    ):
        self.records = records
        self.appender = appender
        self.actor = actor
        self.dry_run = dry_run
        self.jobs = max(1, jobs)
        self.batch_events = max(1, batch_events)
        self.say = say
        self.progress = progress

    def run(self, source: BinaryIO, name: str) -> ImportSummary:
        decider = TraineeDecider(self.records, self.actor)
        clock = self.records.clock
        decisions = (InlineDecisions(decider, clock.now) if self.jobs == 1
                     else ParallelDecisions(decider, clock.now, self.jobs))
        run = _Run(self, name, decisions)
        try:
            with _Writer(self.appender, self.dry_run) as writer:
                run.writer = writer
                run.read(source)
            run.settle(writer.done())
        finally:
            decisions.close()
        run.summary.seconds = time.monotonic() - run.started
        return run.summary


class _Run:
    """One import: lines grouped by trainee, trainees decided, batches stored."""

    writer: _Writer

    def __init__(self, importer: Importer, name: str,
                 decisions: InlineDecisions | ParallelDecisions):
        self.importer = importer
        self.name = name
        self.decisions = decisions
        self.summary = ImportSummary(name, importer.dry_run)
        self.started = time.monotonic()
        self.next_progress = self.started + PROGRESS_EVERY_SECONDS
        self.group: TraineeLines | None = None
        # Where each trainee's lines began, and which trainee holds each national ID.
        self.first_lines: dict[str, int] = {}
        self.claims: dict[UUID, tuple[str, int]] = {}
        # Unreadable lines before the first trainee's: they reject it.
        self.before_first: list[tuple[int, bytes]] = []
        self.batch: list[Decided] = []
        self.batch_weight = 0  # events to store, and lines of the rejected

    def read(self, source: BinaryIO) -> None:
        number = 0
        for number, raw in enumerate(source, 1):  # noqa: B007 - the last one is the count
            text = raw.strip()
            if number == 1 and text.startswith(_BOM):
                text = text[len(_BOM):].strip()
            if text and not text.startswith(b"#"):
                self.add(number, text)
            if number % 512 == 0:
                self.summary.lines = number
                self.tick()
        self.summary.lines = number
        self.hand_over()
        self.accept(self.decisions.drain())
        for number, raw in self.before_first:  # a file with no trainee at all
            self.summary.problems += 1
            self.importer.say(f"{self.name}:{number}: the line names no trainee that could be "
                              f"read ({raw[:60]!r})")
        self.flush()

    def add(self, number: int, text: bytes) -> None:
        """Puts a line with its trainee's; a line whose trainee cannot be read goes with the
        trainee before it (the decider then says what is wrong with it)."""
        key = line_key(text)
        group = self.group
        if key is None:
            if group is None:
                self.before_first.append((number, text))
            else:
                group.lines.append((number, text))
            return
        if group is not None and group.key == key:
            group.lines.append((number, text))
            return
        self.hand_over()
        group = self.group = TraineeLines(key)
        group.lines += self.before_first
        self.before_first = []
        earlier = self.first_lines.get(key)
        if earlier is None:
            self.first_lines[key] = number
        else:
            group.problems.append((number, (
                f"trainee {key!r} reappears after other trainees' lines; its lines began at "
                f"{self.name}:{earlier} and must be contiguous")))
        group.lines.append((number, text))

    def hand_over(self) -> None:
        group, self.group = self.group, None
        if group is not None:
            self.accept(self.decisions.submit(group))

    def accept(self, decided: Iterable[Decided]) -> None:
        """Batches decided trainees in file order, the rejected too, so that what is told
        about each is told in file order once its batch is stored."""
        for trainee in decided:
            if not trainee.rejected and trainee.claim_id is not None:
                holder = self.claims.get(trainee.claim_id)
                if holder is None:
                    self.claims[trainee.claim_id] = (trainee.key, trainee.enrolled_line)
                else:
                    trainee.problems.append((trainee.enrolled_line, (
                        f"nationalId is already enrolled for trainee {holder[0]!r} "
                        f"(line {holder[1]})")))
                    trainee.problem_count += 1
            self.batch.append(trainee)
            self.batch_weight += trainee.lines if trainee.rejected else len(trainee.rows)
            if self.batch_weight >= self.importer.batch_events:
                self.flush()

    def flush(self) -> None:
        if self.batch:
            self.writer.put(self.batch)
            self.batch, self.batch_weight = [], 0
        self.settle(self.writer.done())

    def settle(self, stored: Iterable[tuple[list[Decided], BulkAppended]]) -> None:
        say = self.importer.say
        for batch, appended in stored:
            for trainee in batch:
                for number, message in trainee.problems:
                    say(f"{self.name}:{number}: {message}")
                self.summary.problems += trainee.problem_count
                if trainee.rejected:
                    hidden = trainee.problem_count - len(trainee.problems)
                    self.reject(trainee, f"{trainee.problem_count} problem"
                                f"{'s' if trainee.problem_count > 1 else ''}"
                                + (f" ({hidden} not shown)" if hidden > 0 else ""))
                elif trainee.trainee_id in appended.skipped:
                    self.summary.problems += 1
                    self.reject(trainee, "the trainee is already enrolled (imported before)"
                                if trainee.trainee_id in appended.stale
                                else "its national ID is already enrolled")
                else:
                    self.summary.loaded += 1
                    self.summary.events += len(trainee.rows)
                    self.summary.stored_bytes += sum(len(row[2]) for row in trainee.rows)
        self.tick()

    def reject(self, trainee: Decided, why: str) -> None:
        self.summary.rejected += 1
        first, last, lines = trainee.first_line, trainee.last_line, trainee.lines
        lines_said = f"line {first}" if first == last else f"lines {first}-{last}"
        self.importer.say(
            f"{self.name}:{first}: trainee {trainee.key!r} ({lines_said}) rejected: {why}; "
            f"none of its {lines} line{'s' if lines != 1 else ''} "
            + ("would be " if self.importer.dry_run else "") + "stored")

    def tick(self) -> None:
        progress = self.importer.progress
        now = time.monotonic()
        if progress is not None and now >= self.next_progress:
            self.next_progress = now + PROGRESS_EVERY_SECONDS
            self.summary.seconds = now - self.started
            progress(self.summary)


class _Writer:
    """Stores batches on a thread of its own while the next ones are decided (the driver
    lets go of the interpreter while the database works). A dry run only looks up which
    streams are already stored."""

    _DONE = object()

    def __init__(self, appender: BulkAppender, dry_run: bool):
        self.appender, self.dry_run = appender, dry_run
        self._todo: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stored: queue.Queue[tuple[list[Decided], BulkAppended]] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="import-writer", daemon=True)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._todo.put(self._DONE)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    def put(self, batch: list[Decided]) -> None:
        self._check()
        self._todo.put(batch)

    def done(self) -> list[tuple[list[Decided], BulkAppended]]:
        """The batches stored since last asked."""
        self._check()
        finished = []
        while True:
            try:
                finished.append(self._stored.get_nowait())
            except queue.Empty:
                return finished

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            batch = self._todo.get()
            if batch is self._DONE:
                return
            if self._error is not None:
                continue  # drain; the reader raises the error
            try:
                self._stored.put((batch, self._store(batch)))
            except BaseException as error:
                self._error = error

    def _store(self, batch: list[Decided]) -> BulkAppended:
        writes: list[BulkWrite] = []
        together = []
        for trainee in batch:
            if trainee.rejected or trainee.claim_id is None:
                continue
            writes.append(BulkWrite(trainee.trainee_id, trainee.rows, trainee.snapshot))
            writes.append(BulkWrite(trainee.claim_id, trainee.claim_rows))
            together.append((trainee.trainee_id, trainee.claim_id))
        if not writes:
            return BulkAppended()
        if not self.dry_run:
            return self.appender.append(writes, together)
        stale = frozenset(self.appender.stored_versions([write.stream for write in writes]))
        return BulkAppended(0, stale, unwritable(stale, together))
