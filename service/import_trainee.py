"""Decides one trainee's lines of an import file, from its enrollment to its last line.

Each line is read (service.import_format), its keys are turned into ids, and its command
is decided by the domain against the trainee as the lines before it built it, exactly
as `records.execute` decides it. The first problem rejects the trainee: its later lines
are still read, so every unreadable one is reported at once, but no longer decided (they
would be decided on a record that lacks the rejected line). A trainee that passes is
returned encoded, ready to store. Nothing here touches the database, so trainees can be
decided in other processes (service.import_workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from hashlib import sha1
from uuid import UUID, uuid5

from domain import commands as c
from domain.errors import DomainError
from domain.trainee import NationalIdClaim, Trainee
from service.bulk_encoding import EventEncoder, Row
from service.import_format import LINE_TYPES, Field, Line, LineError, parse
from service.records import DECISIONS, NAMESPACE, TraineeRecords

# Problems reported per trainee; the rest are counted.
PROBLEMS_SHOWN = 10
KEYED = {line_type.command: line_type.keyed for line_type in LINE_TYPES.values()}


def trainee_id(key: str) -> UUID:
    """The id an imported trainee gets from its key in the file."""
    return uuid5(NAMESPACE, f"import:trainee:{key}")


@dataclass
class TraineeLines:
    """One trainee's lines, as the file groups them, and any problem found in grouping
    them (a line without a readable trainee, lines that reappear)."""

    key: str
    lines: list[tuple[int, bytes]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Decided:
    """A trainee decided: its verdict, and when it passed, its encoded events."""

    key: str
    first_line: int
    last_line: int
    lines: int
    problems: list[tuple[int, str]]  # the first PROBLEMS_SHOWN
    problem_count: int
    trainee_id: UUID
    claim_id: UUID | None = None
    enrolled_line: int = 0
    rows: list[Row] = field(default_factory=list)
    claim_rows: list[Row] = field(default_factory=list)
    snapshot: Row | None = None

    @property
    def rejected(self) -> bool:
        return self.problem_count > 0


class _KeyedId(UUID):
    """An id made from a file's key that keeps its text: the domain turns the ids a
    command carries into text several times per decision."""

    __slots__ = ("text",)

    def __str__(self) -> str:
        return self.text  # type: ignore[no-any-return]


def _keyed_id(namespace: bytes, name: str) -> UUID:
    made = _KeyedId(bytes=sha1(namespace + name.encode("utf-8")).digest()[:16], version=5)
    object.__setattr__(made, "text", UUID.__str__(made))
    return made


class TraineeDecider:
    def __init__(self, records: TraineeRecords, actor: str):
        self.records = records
        self.actor = actor
        self.encode = EventEncoder(records.mapper)
        self.zone = records.settings.zone
        self.snapshot_interval = (
            records.settings.snapshot_interval if records.snapshots is not None else 0
        )

    def decide(self, group: TraineeLines, now: datetime) -> Decided:
        draft = _Draft(group.key, trainee_id(group.key), now, now.astimezone(self.zone).date())
        for number, message in group.problems:
            draft.problem(number, message)
        for number, raw in group.lines:
            try:
                line = parse(raw, number)
                if line.trainee != group.key:
                    raise LineError(
                        f"its trainee {line.trainee!r} could only be read by parsing the whole "
                        f"line (a nested or repeated \"trainee\" member), so it was grouped "
                        f"with trainee {group.key!r}")
                if not draft.rejected:
                    self._decide(draft, line)
            except LineError as error:
                draft.problem(number, str(error))
            except DomainError as error:
                draft.problem(number, f"{line.type.name} refused ({error.code}): "
                                      f"{draft.readable(str(error))}")
        return self._verdict(group, draft)

    def _verdict(self, group: TraineeLines, draft: _Draft) -> Decided:
        numbers = [n for n, _ in group.lines] + [n for n, _ in group.problems]
        decided = Decided(group.key, min(numbers), max(numbers), len(group.lines),
                          draft.problems, draft.problem_count, draft.id)
        trainee, claim = draft.trainee, draft.claim
        if decided.rejected:
            return decided
        if trainee is None or claim is None:  # no line at all: nothing to store
            decided.problem_count = 1
            decided.problems = [(decided.first_line, f"trainee {group.key!r} has no lines")]
            return decided
        encode = self.encode
        decided.rows = [encode(event) for event in trainee.collect_events()]
        decided.claim_rows = [encode(event) for event in claim.collect_events()]
        decided.claim_id, decided.enrolled_line = claim.id, draft.enrolled_line
        interval = self.snapshot_interval
        if interval > 0 and trainee.version >= interval:
            stored = self.records._snapshot(trainee)
            decided.snapshot = (stored.originator_version, stored.topic, stored.state)
        return decided

    def _decide(self, draft: _Draft, line: Line) -> None:
        prov = draft.provenance(line.actor or self.actor)
        command_type = line.type.command
        if command_type is c.EnrollTrainee:
            self._enroll(draft, line, c.EnrollTrainee(trainee_id=draft.id, **line.values), prov)
            return
        trainee = draft.trainee
        if trainee is None:
            raise LineError(f"trainee {draft.key!r} has no EnrollTrainee line before this "
                            "one: a trainee's lines begin with its enrollment")
        values = line.values
        for spec in KEYED[command_type]:
            values[spec.attribute] = draft.thing(line, spec, values.get(spec.attribute))
        command = command_type(trainee_id=draft.id, **values)
        DECISIONS[command_type](
            trainee, command, *self.records._decision_inputs(command, trainee), prov
        )

    def _enroll(self, draft: _Draft, line: Line, command: c.EnrollTrainee,
                prov: c.Provenance) -> None:
        if draft.trainee is not None:
            raise LineError(f"trainee {draft.key!r} is already enrolled by line "
                            f"{draft.enrolled_line}")
        records = self.records
        regime = records.regulations.at_enrollment(
            command.specialty, command.jurisdiction or records.settings.jurisdiction,
            command.enrolled_on,
        )
        trainee = Trainee.enroll(command, regime, prov)
        claim_id = records.national_id_claim_id(command.national_id)
        draft.trainee, draft.claim = trainee, NationalIdClaim.claim(claim_id, draft.id, prov)
        draft.enrolled_line = line.number


@dataclass
class _Draft:
    key: str
    id: UUID
    recorded_at: datetime
    today: date
    trainee: Trainee | None = None
    claim: NationalIdClaim | None = None
    enrolled_line: int = 0
    # (kind, key) -> (id, the line that created it)
    things: dict[tuple[str, str], tuple[UUID, int]] = field(default_factory=dict)
    provenances: dict[str, c.Provenance] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)
    problem_count: int = 0
    _namespace: bytes = b""

    @property
    def rejected(self) -> bool:
        return self.problem_count > 0

    def problem(self, number: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_SHOWN:
            self.problems.append((number, message))
        self.trainee = self.claim = None  # nothing of it will be stored

    def provenance(self, actor: str) -> c.Provenance:
        prov = self.provenances.get(actor)
        if prov is None:
            prov = self.provenances[actor] = c.Provenance(actor, self.recorded_at, self.today)
        return prov

    def thing(self, line: Line, spec: Field, key: str | None) -> UUID | None:
        """The id of the rotation, entry, ... a line creates or refers to, by its key."""
        kind = spec.kind
        if not self._namespace:
            self._namespace = self.id.bytes
        if spec.creates:
            if key is None:
                # Nothing refers to it: an id of its own, from where it stands in the file.
                return _keyed_id(self._namespace, f"{kind}@{line.number}")
            made = self.things.get((kind, key))  # type: ignore[arg-type]
            if made is not None:
                raise LineError(f"{spec.name} {key!r} is already used by line {made[1]}")
            thing_id = _keyed_id(self._namespace, f"{kind}:{key}")
            self.things[(kind, key)] = (thing_id, line.number)  # type: ignore[index]
            return thing_id
        if key is None:
            return None
        made = self.things.get((kind, key))  # type: ignore[arg-type]
        if made is None:
            raise LineError(f"{spec.name} {key!r} names no {kind} of trainee {self.key!r} "
                            "created on an earlier line")
        return made[0]

    def readable(self, message: str) -> str:
        """A domain message with the ids this import made up shown as the file's keys."""
        message = message.replace(str(self.id), repr(self.key))
        for (_, key), (made, _) in self.things.items():
            message = message.replace(str(made), repr(key))
        return message
