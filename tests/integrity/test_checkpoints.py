"""Signed checkpoints: what is signed, how it travels, and what breaks it."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from integrity.checkpoints import (
    Checkpoint,
    CheckpointSigner,
    IntegrityFailure,
    SigningKeyError,
    key_id_for,
    verify_checkpoint,
)

ROOT = hashlib.sha256(b"some tree").digest()
WHEN = datetime(2026, 11, 22, 2, 0, 0, 250000, tzinfo=UTC)
ORIGIN = "dualtrack.example/log"
# RFC 8032 section 7.1, TEST 1: a seed and the public key it must give.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner.from_seed(bytes(range(32)))


@pytest.fixture
def checkpoint(signer: CheckpointSigner) -> Checkpoint:
    return signer.sign(ORIGIN, 42, ROOT, WHEN)


def test_seed_gives_the_rfc8032_public_key() -> None:
    signer = CheckpointSigner.from_seed(RFC8032_SEED)
    assert signer.public_key == RFC8032_PUBLIC
    assert signer.key_id == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]
    assert key_id_for(RFC8032_PUBLIC) == signer.key_id


def test_note_is_the_readable_signed_text(checkpoint: Checkpoint) -> None:
    root_line = base64.b64encode(ROOT).decode()
    expected = f"{ORIGIN}\n42\n{root_line}\n2026-11-22T02:00:00.250000Z\n"
    assert checkpoint.note() == expected.encode()


def test_sign_and_verify_round_trip(checkpoint: Checkpoint, signer: CheckpointSigner) -> None:
    verify_checkpoint(checkpoint)
    verify_checkpoint(checkpoint, trusted_public_key=signer.public_key)
    assert checkpoint.key_id == signer.key_id
    assert checkpoint.public_key == signer.public_key


def test_timestamps_in_other_zones_are_held_in_utc(signer: CheckpointSigner) -> None:
    shanghai = timezone(timedelta(hours=8))
    checkpoint = signer.sign(ORIGIN, 1, ROOT, WHEN.astimezone(shanghai))
    assert checkpoint.timestamp == WHEN
    assert checkpoint.timestamp.tzinfo is UTC
    verify_checkpoint(checkpoint)
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.sign(ORIGIN, 1, ROOT, datetime(2026, 1, 1))


def test_json_round_trip(checkpoint: Checkpoint) -> None:
    document = checkpoint.to_json()
    assert set(document) == {
        "origin",
        "tree_size",
        "root_hash",
        "timestamp",
        "key_id",
        "public_key",
        "signature",
    }
    assert document["root_hash"] == ROOT.hex()
    assert document["timestamp"] == "2026-11-22T02:00:00.250000Z"
    parsed = Checkpoint.from_json(document)
    assert parsed == checkpoint
    verify_checkpoint(parsed)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 43},
        {"root_hash": hashlib.sha256(b"another tree").digest()},
        {"timestamp": WHEN + timedelta(seconds=1)},
        {"origin": "somewhere.else/log"},
    ],
    ids=["size", "root", "timestamp", "origin"],
)
def test_tampered_fields_fail(checkpoint: Checkpoint, change: dict) -> None:
    with pytest.raises(IntegrityFailure, match="signature does not verify"):
        verify_checkpoint(dataclasses.replace(checkpoint, **change))


def test_tampered_signature_fails(checkpoint: Checkpoint) -> None:
    signature = bytearray(checkpoint.signature)
    signature[10] ^= 0x40
    with pytest.raises(IntegrityFailure, match="signature does not verify"):
        verify_checkpoint(dataclasses.replace(checkpoint, signature=bytes(signature)))


def test_tampered_json_fails(checkpoint: Checkpoint) -> None:
    document = checkpoint.to_json()
    document["tree_size"] = 41
    with pytest.raises(IntegrityFailure):
        verify_checkpoint(Checkpoint.from_json(document))


def test_key_swapped_for_another_fails(checkpoint: Checkpoint) -> None:
    forger = CheckpointSigner.generate()
    # A forger's own key with the genuine key id: the id no longer matches the key.
    relabelled = dataclasses.replace(checkpoint, public_key=forger.public_key)
    with pytest.raises(IntegrityFailure, match="key id"):
        verify_checkpoint(relabelled)
    # A forger's consistent checkpoint verifies on its own, but not against the trusted key.
    forged = forger.sign(ORIGIN, 42, ROOT, WHEN)
    verify_checkpoint(forged)
    with pytest.raises(IntegrityFailure, match="not by the trusted key"):
        verify_checkpoint(forged, trusted_public_key=checkpoint.public_key)


def test_wrong_trusted_key_fails(checkpoint: Checkpoint) -> None:
    other = CheckpointSigner.generate().public_key
    with pytest.raises(IntegrityFailure, match="not by the trusted key"):
        verify_checkpoint(checkpoint, trusted_public_key=other)
    with pytest.raises(IntegrityFailure, match="not a raw 32-byte Ed25519 key"):
        verify_checkpoint(checkpoint, trusted_public_key=b"short")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("origin", None),
        ("origin", "two\nlines"),
        ("tree_size", "42"),
        ("tree_size", -1),
        ("tree_size", True),
        ("root_hash", "zz"),
        ("root_hash", "00" * 31),
        ("timestamp", "yesterday"),
        ("timestamp", "2026-11-22T02:00:00"),
        ("key_id", 7),
        ("public_key", "00" * 33),
        ("signature", None),
    ],
)
def test_malformed_json_names_the_field(checkpoint: Checkpoint, field: str, value: object) -> None:
    document = checkpoint.to_json()
    document[field] = value
    with pytest.raises(IntegrityFailure, match=f"'{field}'"):
        Checkpoint.from_json(document)


def test_missing_fields_and_non_objects_are_rejected(checkpoint: Checkpoint) -> None:
    document = checkpoint.to_json()
    del document["signature"]
    with pytest.raises(IntegrityFailure, match="'signature'"):
        Checkpoint.from_json(document)
    with pytest.raises(IntegrityFailure, match="not a JSON object"):
        Checkpoint.from_json(["a", "list"])


def test_key_file_round_trip(tmp_path: Path, signer: CheckpointSigner) -> None:
    path = tmp_path / "checkpoint.key"
    signer.to_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == bytes(range(32)).hex() + "\n"
    loaded = CheckpointSigner.from_file(path)
    assert loaded.public_key == signer.public_key
    verify_checkpoint(loaded.sign(ORIGIN, 1, ROOT, WHEN), trusted_public_key=signer.public_key)


def test_key_file_is_never_overwritten(tmp_path: Path, signer: CheckpointSigner) -> None:
    path = tmp_path / "checkpoint.key"
    signer.to_file(path)
    with pytest.raises(SigningKeyError, match="already exists"):
        CheckpointSigner.generate().to_file(path)
    assert CheckpointSigner.from_file(path).public_key == signer.public_key


def test_generated_keys_differ() -> None:
    assert CheckpointSigner.generate().public_key != CheckpointSigner.generate().public_key


def test_missing_key_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(SigningKeyError, match="absent.key.*does not exist"):
        CheckpointSigner.from_file(path)


@pytest.mark.parametrize(
    "content",
    ["", "not hex at all\n", "00" * 31 + "\n", "00" * 32 + "\n" + "00" * 32 + "\n", "\xe9"],
    ids=["empty", "garbage", "short", "two lines", "not ascii"],
)
def test_malformed_key_file_names_the_path(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content, encoding="latin-1")
    with pytest.raises(SigningKeyError, match=re.escape(str(path))):
        CheckpointSigner.from_file(path)


def test_bad_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CheckpointSigner.from_seed(b"short")
