"""Personal data at rest (issue 6): national IDs and names are encrypted in the event
store, left out of the audit rows that feed registries, never logged, and a trainee is
still found by national ID."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import os
import stat
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from domain import commands as c
from domain.errors import Conflict, NotFound
from projections import tables as t
from projections.tables import READ_MODEL_TABLES
from service import bootstrap, personal_data
from service.principals import system
from service.records import NAMESPACE
from service.settings import DEFAULT_CIPHER_KEY_PATH, ConfigurationError, Settings
from tests.test_cli import dualtrack

NATIONAL_ID = "11010119990101123X"
NAME = "Ouyang Xiaoming"
REGISTRAR = system("registrar")


def enroll(services: bootstrap.Services, national_id: str = NATIONAL_ID) -> uuid.UUID:
    command = c.EnrollTrainee(
        trainee_id=uuid.uuid4(), name=NAME, national_id=national_id,
        pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
        bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
        holds_residency_certificate=False, licensed_at_enrollment=False,
        specialty="internal medicine", base_id="base-1", university="PKU",
        cohort=2024, enrolled_on=date(2024, 9, 1),
    )
    outcome = services.records.enroll(command, REGISTRAR)
    services.after_write(outcome)
    return outcome.trainee_id


def record_and_correct_an_entry(services: bootstrap.Services, trainee: uuid.UUID) -> None:
    rotation, entry = uuid.uuid4(), uuid.uuid4()
    for command in (
        c.ScheduleRotation(trainee, rotation, "cardiology", 1, date(2024, 9, 1),
                           date(2024, 12, 1), "dr-wang"),
        c.RecordRotationEntry(trainee, entry, rotation, "CASE", date(2024, 9, 3), "a case"),
        c.CorrectRotationEntry(trainee, entry, "CASE", date(2024, 9, 4), "a case", "date"),
    ):
        services.after_write(services.records.execute(command, REGISTRAR))


def in_clear(secret: str) -> list[bytes]:
    """How a secret could sit in a row without the key: as text, hex or inside base64."""
    forms = []
    for text in {secret, secret.lower()}:
        raw = text.encode()
        forms += [raw, raw.hex().encode()]
        for offset in range(3):  # base64 of the secret at each alignment in a longer text
            encoded = base64.b64encode(bytes(offset) + raw)
            forms.append(encoded[(8 * offset + 5) // 6: 8 * (offset + len(raw)) // 6])
    return forms


def stored_rows(services: bootstrap.Services) -> dict[str, list[tuple[str, bytes]]]:
    """Every row of the event store and the read models, as (column, bytes) pairs."""
    names = ["dualtrack_events", "dualtrack_snapshots", *(x.name for x in READ_MODEL_TABLES)]
    found: dict[str, list[tuple[str, bytes]]] = {}
    with services.engine.connect() as connection:
        for name in names:
            result = connection.execute(sa.text(f"SELECT * FROM {name}"))
            found[name] = [
                (column, as_bytes(value))
                for row in result for column, value in zip(result.keys(), row, strict=True)
            ]
    return found


def as_bytes(value: Any) -> bytes:
    return bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()


def test_personal_fields_are_nowhere_in_clear_and_still_read_back(
    services: bootstrap.Services,
) -> None:
    trainee = enroll(services)
    record_and_correct_an_entry(services, trainee)
    services.records.take_snapshot(trainee)
    rows = stored_rows(services)
    assert rows["dualtrack_snapshots"], "no snapshot was stored to check"

    unkeyed = hashlib.sha256(NATIONAL_ID.encode()).hexdigest()
    for table, cells in rows.items():
        for column, value in cells:
            for form in in_clear(NATIONAL_ID) + in_clear(unkeyed):
                assert form not in value, f"national ID in {table}.{column}"
            if (table, column) != ("rm_trainees", "name"):  # what `trainee { name }` reads
                for form in in_clear(NAME):
                    assert form not in value, f"name in {table}.{column}"
    claim = services.records.national_id_claim_id(NATIONAL_ID)
    assert claim != uuid.uuid5(NAMESPACE, f"national-id:{unkeyed}")  # the old, guessable id
    ids = {v for column, v in rows["dualtrack_events"] if column == "originator_id"}
    assert {str(claim).encode(), claim.bytes} & ids  # as PostgreSQL or SQLite store it

    loaded = services.records.get_trainee(trainee)
    assert loaded.version == 4
    assert services.records.personal_fields(trainee) == {"name": NAME, "national_id": NATIONAL_ID}
    with services.engine.connect() as connection:
        row = connection.execute(sa.select(t.trainees).where(t.trainees.c.id == str(trainee)))
        read_model = row.mappings().one()
        data = connection.execute(sa.select(t.audit_events.c.data)).scalars().all()
    assert (read_model["name"], read_model["base_id"], read_model["version"]) == (
        NAME, "base-1", 4)
    assert data and not any({"name", "national_id"} & set(d) for d in data)
    with pytest.raises(NotFound):
        services.records.personal_fields(uuid.uuid4())


def test_a_trainee_is_found_by_national_id_and_enrolled_only_once(
    services: bootstrap.Services,
) -> None:
    trainee = enroll(services)
    records = services.records
    for spelled in (NATIONAL_ID, f"  {NATIONAL_ID.lower()}\t", NATIONAL_ID + " "):
        assert records.find_by_national_id(spelled) == trainee
    assert records.find_by_national_id("110101199901019999") is None
    assert records.find_by_national_id(str(trainee)) is None
    with pytest.raises(Conflict, match="already enrolled"):
        enroll(services, f" {NATIONAL_ID.lower()} ")


def test_another_key_on_the_same_store_is_refused_in_one_line(
    services: bootstrap.Services, settings: Settings, tmp_path: Path
) -> None:
    enroll(services)
    other = tmp_path / "other.key"
    personal_data.write_key_file(other)
    with pytest.raises(ConfigurationError) as refused:
        bootstrap.build(dataclasses.replace(settings, cipher_key_file=str(other)))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"the events in {settings.describe_database()} were not "
                              "encrypted with the key in DUALTRACK_CIPHER_KEY_FILE")
    assert str(other) in message
    again = bootstrap.build(settings)  # the refusal changed nothing
    try:
        assert again.records.find_by_national_id(NATIONAL_ID) is not None
    finally:
        again.close()


def test_the_national_id_is_never_logged(
    services: bootstrap.Services, caplog: pytest.LogCaptureFixture
) -> None:
    # every logger, including those a library quiets by default (SQLAlchemy's statements)
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    trainee = enroll(services)
    record_and_correct_an_entry(services, trainee)
    services.records.find_by_national_id(NATIONAL_ID)
    services.records.personal_fields(trainee)
    services.projector.rebuild()
    assert caplog.records, "nothing was logged, so nothing was checked"
    forms = {NATIONAL_ID, NATIONAL_ID.lower()}
    for record in caplog.records:
        logged = record.getMessage() + repr(vars(record))
        assert not any(form in logged for form in forms), record.getMessage()


def test_a_named_key_file_must_exist_and_hold_a_key(tmp_path: Path) -> None:
    missing = Settings(database_url="sqlite://", cipher_key_file=str(tmp_path / "none.key"))
    with pytest.raises(ConfigurationError, match="DUALTRACK_CIPHER_KEY_FILE=.*does not exist; "
                       "make one with `dualtrack keygen --personal-data FILE`"):
        personal_data.cipher_key(missing)
    for content in ("not base64!", base64.b64encode(b"short").decode(), ""):
        bad = tmp_path / "bad.key"
        bad.write_text(content)
        with pytest.raises(ConfigurationError) as refused:
            personal_data.cipher_key(Settings(database_url="sqlite://", cipher_key_file=str(bad)))
        assert "DUALTRACK_CIPHER_KEY_FILE" in str(refused.value)
        assert content not in str(refused.value) or not content


def test_the_default_key_is_made_once_for_the_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_url="sqlite://")
    first = personal_data.cipher_key(settings)
    assert stat.S_IMODE(os.stat(DEFAULT_CIPHER_KEY_PATH).st_mode) == 0o600
    assert len(base64.b64decode(first)) == 32
    assert personal_data.cipher_key(settings) == first


def test_the_lookup_digest_is_keyed_and_normalised() -> None:
    key = personal_data.lookup_key(base64.b64encode(bytes(32)).decode())
    other = personal_data.lookup_key(base64.b64encode(bytes([1]) * 32).decode())
    digest = personal_data.national_id_digest(key, NATIONAL_ID)
    assert personal_data.national_id_digest(key, f" {NATIONAL_ID.lower()} ") == digest
    assert personal_data.national_id_digest(other, NATIONAL_ID) != digest
    assert digest != hashlib.sha256(NATIONAL_ID.encode()).hexdigest()


def test_keygen_makes_a_personal_data_key_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "personal-data.key"
    made = dualtrack("keygen", "--personal-data", str(path))
    assert made.returncode == 0, made.stderr
    assert "DUALTRACK_CIPHER_KEY_FILE" in made.stderr
    key = personal_data.read_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = dualtrack("keygen", "--personal-data", str(path))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert personal_data.read_key_file(path) == key
