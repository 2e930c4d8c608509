"""Whoever edits the database directly is found out: each kind of tampering, done in SQL
the way an insider with the database password would, is reported at its position."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from integrity import merkle
from integrity.hashing import leaf_data, leaf_hash
from service.bootstrap import Services
from tests.history import enroll, realistic
from tests.store_admin import bypassing_append_only


@dataclass
class Log:
    first: uuid.UUID
    second: uuid.UUID
    positions: list[int]

    def of(self, services: Services, trainee: uuid.UUID) -> list[int]:
        with services.engine.connect() as connection:
            return list(connection.execute(
                sa.text("SELECT position FROM integrity_leaves WHERE originator_id = :id "
                        "ORDER BY originator_version"), {"id": str(trainee)}).scalars())


@pytest.fixture
def log(services: Services) -> Log:
    """Two trainees' interleaved histories, sealed and under a signed checkpoint."""
    first = realistic(services).trainee_id
    second = enroll(services, national_id="110101199902021234", name="Han Meimei")
    services.evidence.checkpoint()
    with services.engine.connect() as connection:
        positions = list(connection.execute(
            sa.text("SELECT id FROM dualtrack_events ORDER BY id")).scalars())
    return Log(first, second, positions)


def tamper(services: Services, *statements: tuple[str, dict[str, object]]) -> None:
    with services.engine.begin() as connection, bypassing_append_only(connection):
        for sql, parameters in statements:
            connection.execute(sa.text(sql), parameters)


def test_an_untouched_log_verifies_with_its_checkpoint(services: Services, log: Log) -> None:
    report = services.evidence.verify()
    assert report.ok, report.problem
    assert report.checked == len(log.positions) == report.tree_size
    assert report.checkpoints_verified == 1
    for trainee in (log.first, log.second):
        assert services.evidence.verify(trainee).ok


@pytest.mark.parametrize("table", ["dualtrack_events", "integrity_leaves", "integrity_nodes",
                                   "integrity_checkpoints"])
def test_the_evidence_tables_refuse_updates_and_deletes(
    services: Services, log: Log, table: str
) -> None:
    for sql in (f"UPDATE {table} SET {_some_column(table)} = {_some_column(table)}",
                f"DELETE FROM {table}"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with services.engine.begin() as connection:
                connection.execute(sa.text(sql))
    assert services.evidence.verify().ok


def _some_column(table: str) -> str:
    return {"dualtrack_events": "topic", "integrity_leaves": "event_hash",
            "integrity_nodes": "hash", "integrity_checkpoints": "origin"}[table]


def _change_payload(services: Services, log: Log) -> int:
    """A plausible edit: a handbook entry now describes something else."""
    with services.engine.connect() as connection:
        target, state = connection.execute(sa.text(
            "SELECT id, state FROM dualtrack_events WHERE topic LIKE '%RotationEntryRecorded' "
            "ORDER BY id LIMIT 1")).one()
    # an insider holding the encryption key too: the edit is a well-formed event
    cipher = services.records.mapper.cipher
    assert cipher is not None
    edited = json.loads(cipher.decrypt(bytes(state)))
    edited["description"] = "a procedure that never happened"
    tamper(services, ("UPDATE dualtrack_events SET state = :state WHERE id = :id",
                      {"state": cipher.encrypt(json.dumps(edited).encode()), "id": target}))
    return int(target)


def _delete_row(services: Services, log: Log) -> int:
    target = log.of(services, log.first)[5]
    tamper(services, ("DELETE FROM dualtrack_events WHERE id = :id", {"id": target}))
    return target


def _swap_rows(services: Services, log: Log) -> int:
    """Two events of the same trainee trade places: every byte is genuine, only the order
    is false (e.g. a signature made to precede the entry it signs)."""
    a, b = log.of(services, log.first)[4:6]
    with services.engine.connect() as connection:
        rows = {row.id: row for row in connection.execute(
            sa.text("SELECT id, topic, state FROM dualtrack_events WHERE id IN (:a, :b)"),
            {"a": a, "b": b})}
    update = "UPDATE dualtrack_events SET topic = :topic, state = :state WHERE id = :id"
    tamper(services,
           (update, {"topic": rows[b].topic, "state": rows[b].state, "id": a}),
           (update, {"topic": rows[a].topic, "state": rows[a].state, "id": b}))
    return a


def _truncate_tail(services: Services, log: Log) -> int:
    target = log.positions[-3]
    tamper(services, ("DELETE FROM dualtrack_events WHERE id >= :id", {"id": target}))
    return target


TAMPERING: dict[str, Callable[[Services, Log], int]] = {
    "payload changed": _change_payload,
    "row deleted": _delete_row,
    "rows swapped": _swap_rows,
    "tail truncated": _truncate_tail,
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_is_reported_at_its_first_bad_position(
    services: Services, log: Log, how: str
) -> None:
    expected = TAMPERING[how](services, log)
    report = services.evidence.verify()
    assert not report.ok
    assert report.first_bad_position == expected, report.problem
    assert report.problem


@pytest.mark.parametrize("how", ["payload changed", "row deleted", "rows swapped"])
def test_the_trainee_whose_stream_was_touched_fails_alone(
    services: Services, log: Log, how: str
) -> None:
    expected = TAMPERING[how](services, log)
    touched = services.evidence.verify(log.first)
    assert not touched.ok and touched.first_bad_position == expected
    assert services.evidence.verify(log.second).ok


def test_a_ledger_rewritten_to_match_is_caught_by_the_checkpoint_an_auditor_kept(
    services: Services, log: Log
) -> None:
    """The insider changes an event and then rebuilds the ledger and its checkpoints from
    the changed store (without the signing key they cannot re-sign the old sizes). The
    store and the ledger now agree; the checkpoint the auditor kept does not."""
    kept = services.evidence.checkpoint()
    target = _change_payload(services, log)
    tamper(services, *((f"DELETE FROM {table}", {}) for table in (
        "integrity_checkpoints", "integrity_nodes", "integrity_leaves")))
    services.projector.rebuild()
    assert services.evidence.verify().ok  # nothing inside the database can tell
    report = services.evidence.verify(witnessed=[kept])
    assert not report.ok
    assert report.first_bad_position is not None and report.first_bad_position <= target
    assert "differ from the signed checkpoint" in (report.problem or "")


def test_a_forged_checkpoint_fails_its_signature(services: Services, log: Log) -> None:
    tamper(services, ("UPDATE integrity_checkpoints SET root_hash = :root",
                      {"root": "00" * 32}))
    report = services.evidence.verify()
    assert not report.ok and "checkpoint" in (report.problem or "")


def test_proofs_served_from_stored_nodes_check_against_the_signed_root(
    services: Services, log: Log
) -> None:
    old = services.evidence.checkpoint()
    enroll(services, national_id="110101199903031234", name="Wei Hua")
    new = services.evidence.checkpoint()
    assert new.tree_size > old.tree_size
    for position in log.positions:
        found = services.evidence.inclusion(position)
        assert found.leaf_hash == leaf_hash(
            leaf_data(position, bytes.fromhex(found.leaf.event_hash)))
        assert merkle.verify_inclusion(found.leaf_hash, found.leaf.leaf_index, new.tree_size,
                                       found.proof, new.root_hash)
        assert len(found.proof) <= new.tree_size.bit_length()
    consistency = services.evidence.consistency(old.tree_size)
    assert merkle.verify_consistency(old.tree_size, new.tree_size, old.root_hash,
                                     new.root_hash, consistency.proof)
    assert not merkle.verify_consistency(old.tree_size, new.tree_size, b"\x00" * 32,
                                         new.root_hash, consistency.proof)
