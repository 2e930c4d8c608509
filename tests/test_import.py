"""Bulk import (service.importer), in process, on each backend: what loads, what is
refused and how it is told, and that a trainee is stored whole or not at all."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from bench.province import write_cohort, write_cohort_file
from domain import events as e
from projections import tables as t
from service.bootstrap import Services
from service.bulk_encoding import EventEncoder
from service.import_format import line_key, parse
from service.import_trainee import TraineeDecider, TraineeLines
from service.import_workers import ParallelDecisions
from service.importer import ImportSummary, import_file, trainee_id
from tests.history import enroll
from tests.import_files import certified_trainee, enrollment, short_trainee, write


def load(services: Services, path: Path, **options: Any) -> tuple[ImportSummary, list[str]]:
    said: list[str] = []
    summary = import_file(services.records, str(path), say=said.append, **options)
    return summary, said


def stored_versions(services: Services) -> dict[UUID, int]:
    table = services.records.events_table
    with services.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.originator_id, sa.func.count()).group_by(table.c.originator_id)
        ).all()
    return {UUID(str(stream)): count for stream, count in rows}


def test_a_valid_file_loads_and_the_read_models_show_its_trainees(
    services: Services, tmp_path: Path
) -> None:
    certified, short = certified_trainee("c-1"), short_trainee("s-1")
    path = write(tmp_path / "cohort.jsonl", "# an export of two trainees", *certified, "",
                 *short)
    summary, said = load(services, path)
    assert said == []
    assert (summary.loaded, summary.rejected, summary.events, summary.ok) == (
        2, 0, len(certified) + len(short), True)
    records = services.records
    trainee = records.get_trainee(trainee_id("c-1"))
    assert trainee.version == len(certified)
    assert records.snapshots is not None
    assert [s.originator_version for s in records.snapshots.get(trainee.id)] == [len(certified)]
    assert records.find_by_national_id("ID-c-1") == trainee.id

    services.projector.catch_up()
    with services.engine.connect() as connection:
        names = connection.execute(sa.select(t.trainees.c.name, t.trainees.c.handbook_complete)
                                   .order_by(t.trainees.c.name)).all()
        certificates = dict(connection.execute(
            sa.select(t.certificates.c.kind, t.certificates.c.state)
            .where(t.certificates.c.trainee_id == str(trainee.id))).all())
        entries = connection.execute(
            sa.select(t.rotation_entries.c.kind, t.rotation_entries.c.signed_by)
            .where(t.rotation_entries.c.trainee_id == str(trainee_id("s-1")))
            .order_by(t.rotation_entries.c.occurred_on)).all()
    assert names == [("Trainee c-1", True), ("Trainee s-1", False)]
    assert certificates["RESIDENCY_CERTIFICATE"] == "GRANTED"
    assert certificates["LICENCE"] == "GRANTED"
    assert entries == [("CASE", "dr-ward"), ("LECTURE", None)]
    assert services.evidence.verify().ok  # sealed as projected, like any other event


def test_each_line_records_its_own_actor_or_the_imports(services: Services,
                                                        tmp_path: Path) -> None:
    load(services, write(tmp_path / "one.jsonl", *short_trainee("s-1")), actor="registry-2019")
    actors = [event.actor for event in services.records.events.get(trainee_id("s-1"))]
    assert actors == ["registry-2019", "registry-2019", "resident-s-1", "dr-ward",
                      "registry-2019"]


# (what is wrong, the trainee's lines with it, the line that is reported, what it says)
BAD_TRAINEES: list[tuple[str, list[Any], int, str]] = [
    ("unparsable JSON", [*short_trainee("b")[:2], '{"type": "RecordRotationEntry", "trainee"'],
     3, "not valid JSON"),
    ("unknown type", [*short_trainee("b")[:2], {"type": "RecordSurgery", "trainee": "b"}],
     3, 'unknown type "RecordSurgery"'),
    ("missing field", [enrollment("b"), {"type": "ScheduleRotation", "trainee": "b",
                                         "department": "ward", "stage": 1,
                                         "startOn": "2023-09-01"}],
     2, "ScheduleRotation: missing field endOn"),
    ("extra field", [enrollment("b", colour="blue")], 1, "unknown field colour"),
    ("mistyped field", [enrollment("b"), {**short_trainee("b")[1], "stage": "one"}],
     2, 'stage must be an integer, got "one"'),
    ("bad date", [enrollment("b", enrolledOn="2023-02-30")], 1,
     'enrolledOn must be a date as YYYY-MM-DD, got "2023-02-30"'),
    ("bad enum", [enrollment("b", pathway="PHD")], 1,
     "EnrollTrainee refused (BAD_USER_INPUT): pathway must be one of"),
    ("bad key", [*short_trainee("b")[:1], {**short_trainee("b")[2], "rotationId": "r9"}], 2,
     "rotationId 'r9' names no rotation of trainee 'b' created on an earlier line"),
    ("key used twice", [*short_trainee("b")[:3], {**short_trainee("b")[2], "occurredOn":
                                                   "2023-09-06"}],
     4, "entryId 'e1' is already used by line 8"),
    ("no enrollment first", short_trainee("b")[1:], 1,
     "trainee 'b' has no EnrollTrainee line before this one"),
    ("a rule (R8)", [*short_trainee("b")[:3], {**short_trainee("b")[3], "tutorId": "dr-x"}],
     4, "SignRotationEntry refused (BAD_USER_INPUT): R8: dr-x is not the tutor"),
    ("a rule (R9)", [*short_trainee("b"), {"type": "IssueResidencyCertificate", "trainee": "b",
                                           "number": "R-1", "issuedOn": "2025-01-01"}],
     6, "IssueResidencyCertificate refused (RULES_NOT_MET): cannot record the "
        "RESIDENCY_CERTIFICATE: R4: "),
    ("a conflict shown by keys", [*short_trainee("b")[:2], {
        "type": "ScheduleRotation", "trainee": "b", "rotationId": "r2", "department": "clinic",
        "stage": 1, "startOn": "2024-01-01", "endOn": "2024-06-01"}],
     3, "refused (CONFLICT): rotation 2024-01-01..2024-06-01 overlaps rotation 'r1' in ward"),
]


@pytest.mark.parametrize(("wrong", "lines", "reported", "says"), BAD_TRAINEES,
                         ids=[case[0] for case in BAD_TRAINEES])
def test_a_bad_line_is_told_by_file_and_line_and_rejects_its_trainee_alone(
    services: Services, tmp_path: Path, wrong: str, lines: list[Any], reported: int, says: str
) -> None:
    before, after = short_trainee("a"), short_trainee("c")
    # A line after the bad one is read, but not decided: it adds no problem of its own.
    lines = [*lines, {"type": "CompleteRotation", "trainee": "b", "rotationId": "r1",
                      "completedOn": "2025-03-01"}]
    path = write(tmp_path / "bad.jsonl", *before, *lines, *after)
    summary, said = load(services, path)
    line = len(before) + reported
    problem = [s for s in said if s.startswith(f"{path}:{line}: ") and "rejected:" not in s]
    assert len(problem) == 1 and says in problem[0], said
    assert (f"{path}:{len(before) + 1}: trainee 'b' (lines {len(before) + 1}-"
            f"{len(before) + len(lines)}) rejected: 1 problem; none of its {len(lines)} lines "
            "stored") in said
    assert (summary.loaded, summary.rejected, summary.ok) == (2, 1, False)
    stored = stored_versions(services)
    assert trainee_id("b") not in stored
    assert services.records.find_by_national_id("ID-b") is None
    assert stored[trainee_id("a")] == stored[trainee_id("c")] == 5


def test_a_line_without_a_readable_trainee_rejects_the_trainee_it_follows(
    services: Services, tmp_path: Path
) -> None:
    path = write(tmp_path / "bad.jsonl", "not json", *short_trainee("a"), "[1, 2]",
                 *short_trainee("b"))
    summary, said = load(services, path)
    assert said[0].startswith(f"{path}:1: not valid JSON")
    assert said[1] == f"{path}:7: a line must be a JSON object, got [1, 2]"
    assert said[2] == (f"{path}:1: trainee 'a' (lines 1-7) rejected: 2 problems; none of its 7 "
                       "lines stored")
    assert (summary.loaded, summary.rejected) == (1, 1)
    assert trainee_id("a") not in stored_versions(services)
    assert trainee_id("b") in stored_versions(services)


def test_only_the_first_problems_of_a_trainee_are_shown(services: Services,
                                                        tmp_path: Path) -> None:
    lines = [enrollment("a"), *[{"type": "GrantLicence", "trainee": "a"}] * 12]
    summary, said = load(services, write(tmp_path / "bad.jsonl", *lines))
    assert len(said) == 11
    assert said[-1].endswith("rejected: 12 problems (2 not shown); none of its 13 lines stored")
    assert summary.problems == 12


def test_a_second_import_of_the_same_file_stores_nothing_twice(services: Services,
                                                               tmp_path: Path) -> None:
    path = write(tmp_path / "cohort.jsonl", *short_trainee("a"), *short_trainee("b"))
    first, _ = load(services, path)
    stored = stored_versions(services)
    again, said = load(services, path)
    assert (first.loaded, first.events, again.loaded, again.rejected, again.events) == (
        2, 10, 0, 2, 0)
    assert said == [
        f"{path}:1: trainee 'a' (lines 1-5) rejected: the trainee is already enrolled "
        "(imported before); none of its 5 lines stored",
        f"{path}:6: trainee 'b' (lines 6-10) rejected: the trainee is already enrolled "
        "(imported before); none of its 5 lines stored",
    ]
    assert stored_versions(services) == stored


def test_a_national_id_is_enrolled_once_within_the_file_and_beside_the_store(
    services: Services, tmp_path: Path
) -> None:
    enroll(services, national_id="110101199901011234")
    path = write(tmp_path / "twins.jsonl", *short_trainee("a", "ID-shared"),
                 *short_trainee("b", "ID-shared"), *short_trainee("c", "110101199901011234"))
    summary, said = load(services, path)
    assert said == [
        f"{path}:6: nationalId is already enrolled for trainee 'a' (line 1)",
        f"{path}:6: trainee 'b' (lines 6-10) rejected: 1 problem; none of its 5 lines stored",
        f"{path}:11: trainee 'c' (lines 11-15) rejected: its national ID is already enrolled; "
        "none of its 5 lines stored",
    ]
    assert (summary.loaded, summary.rejected) == (1, 2)
    stored = stored_versions(services)
    assert trainee_id("a") in stored
    assert trainee_id("b") not in stored and trainee_id("c") not in stored


def test_a_trainee_whose_lines_reappear_is_told_with_both_lines(services: Services,
                                                                tmp_path: Path) -> None:
    a = short_trainee("a")
    path = write(tmp_path / "split.jsonl", *a[:3], *short_trainee("b"), *a[3:])
    summary, said = load(services, path)
    assert said[0] == (f"{path}:9: trainee 'a' reappears after other trainees' lines; its "
                       f"lines began at {path}:1 and must be contiguous")
    assert said[1].startswith(f"{path}:9: trainee 'a' (lines 9-10) rejected")
    assert (summary.loaded, summary.rejected) == (2, 1)
    assert stored_versions(services)[trainee_id("a")] == 3


def test_a_dry_run_reports_the_same_and_stores_nothing(services: Services,
                                                       tmp_path: Path) -> None:
    load(services, write(tmp_path / "first.jsonl", *short_trainee("a")))
    stored = stored_versions(services)
    path = write(tmp_path / "cohort.jsonl", *short_trainee("a"), *short_trainee("b"),
                 enrollment("c", cohort="2023"))
    summary, said = load(services, path, dry_run=True)
    assert (summary.loaded, summary.rejected, summary.events) == (1, 2, 5)
    assert said[0].endswith("rejected: the trainee is already enrolled (imported before); "
                            "none of its 5 lines would be stored")
    assert said[1] == f"{path}:11: EnrollTrainee: cohort must be an integer, got \"2023\""
    assert stored_versions(services) == stored


def test_trainees_decided_in_worker_processes_are_stored_and_told_in_file_order(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "cohort.jsonl"
    with path.open("w") as out:
        write_cohort(out, 8, 300, prefix="w")
        out.write(json.dumps(enrollment("bad", cohort="x")) + "\n")
        write_cohort(out, 8, 300, first=9, prefix="w")
    summary, said = load(services, path, jobs=2)
    assert said == [f"{path}:2401: EnrollTrainee: cohort must be an integer, got \"x\"",
                    f"{path}:2401: trainee 'bad' (line 2401) rejected: 1 problem; none of "
                    "its 1 line stored"]
    assert (summary.loaded, summary.rejected, summary.events) == (16, 1, 16 * 300)
    assert set(stored_versions(services).values()) == {300, 1}  # trainees, and their claims


def test_worker_processes_decide_as_this_process_does(services: Services) -> None:
    records = services.records
    groups = [TraineeLines(key, [(n, json.dumps(line).encode())
                                 for n, line in enumerate(lines, 1)])
              for key, lines in (("a", short_trainee("a")), ("b", [enrollment("b", cohort=1)]))]
    decider = TraineeDecider(records, "import")
    here = [decider.decide(group, records.clock.now()) for group in groups]
    workers = ParallelDecisions(decider, records.clock.now, jobs=2, lines_per_task=1)
    try:
        there = workers.submit(groups[0])  # starts the pool, and is decided here meanwhile
        deadline = time.monotonic() + 60
        while not workers.workers_ready:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        there += workers.submit(groups[0]) + workers.submit(groups[1]) + workers.drain()
    finally:
        workers.close()
    assert workers.tasks_sent == 2
    assert [d.key for d in there] == ["a", "a", "b"]
    cipher = records.mapper.cipher
    assert cipher is not None
    for ours, theirs in zip(here, there[1:], strict=True):
        assert (ours.problems, ours.trainee_id, ours.claim_id) == (
            theirs.problems, theirs.trainee_id, theirs.claim_id)
        assert [(v, topic, cipher.decrypt(state)) for v, topic, state in ours.rows] == [
            (v, topic, cipher.decrypt(state)) for v, topic, state in theirs.rows]
    assert there[2].problems == [(1, "EnrollTrainee refused (BAD_USER_INPUT): cohort must be "
                                     "a year, got 1")]


@pytest.mark.parametrize("events_each", [1, 2, 7, 60, 1500])
def test_the_synthetic_cohort_is_valid_against_the_shipped_standards(
    services: Services, tmp_path: Path, events_each: int
) -> None:
    path = tmp_path / "province.jsonl"
    assert write_cohort_file(path, 2, events_each) == 2 * events_each
    summary, said = load(services, path)
    assert said == []
    assert (summary.loaded, summary.events) == (2, 2 * events_each)
    if events_each == 1500:
        services.projector.catch_up()
        with services.engine.connect() as connection:
            states = connection.execute(sa.select(t.certificates.c.state).where(
                t.certificates.c.kind == "RESIDENCY_CERTIFICATE")).scalars().all()
        assert states == ["GRANTED", "GRANTED"]


def test_the_encoder_writes_what_the_library_writes(services: Services) -> None:
    records = services.records
    lines = [(n, json.dumps(line).encode()) for n, line in
             enumerate(certified_trainee("c") + [
                 {"type": "RecordEthicsViolation", "trainee": "c", "occurredOn": "2026-09-01",
                  "description": "falsified 記録", "confirmed": True},
                 {"type": "RecordThesisDefense", "trainee": "c", "defendedOn": "2026-09-02",
                  "passed": True, "committee": ["prof-a", "prof-b"]}], 1)]
    decider = TraineeDecider(records, "import")
    decided = decider.decide(TraineeLines("c", lines), records.clock.now())
    assert not decided.rejected, decided.problems
    cipher = records.mapper.cipher
    assert cipher is not None
    replayed = [records.mapper.to_domain_event(_stored(trainee_id("c"), row))
                for row in decided.rows]
    assert {type(event) for event in replayed} >= {e.TraineeEnrolled, e.AssessmentRecorded,
                                                   e.EthicsViolationRecorded}
    encode = EventEncoder(records.mapper)
    for event in replayed:
        ours = cipher.decrypt(encode(event)[2])
        theirs = cipher.decrypt(records.mapper.to_stored_event(event).state)
        assert ours == theirs


def _stored(stream: UUID, row: tuple[int, str, bytes]) -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=row[0], topic=row[1],
                       state=row[2])


@pytest.mark.parametrize("line", [
    {"trainee": "t-1", "type": "GrantLicence", "number": "x", "grantedOn": "2025-01-01"},
    {"type": "GrantLicence", "trainee": 42, "number": "x", "grantedOn": "2025-01-01"},
    {"type": "GrantLicence", "trainee": "quote\"d", "number": "x", "grantedOn": "2025-01-01"},
    {"type": "GrantLicence", "number": "trainee", "trainee": "  padded ",
     "grantedOn": "2025-01-01"},
    {"type": "RecordAssessment", "trainee": "t", "kind": "MINI_CEX", "occurredOn": "2025-01-01",
     "ratings": {"trainee": 3}},
])
def test_a_line_is_grouped_by_the_trainee_its_json_names(line: dict[str, Any]) -> None:
    raw = json.dumps(line).encode()
    assert line_key(raw) == parse(raw, 1).trainee


def test_the_file_can_come_from_standard_input(services: Services, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    data = "\n".join(json.dumps(line) for line in short_trainee("a")).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbf" + data)))
    summary, said = load(services, Path("-"))
    assert (said, summary.source, summary.loaded) == ([], "<stdin>", 1)
