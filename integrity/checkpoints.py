"""Signed checkpoints: a tree size and root hash, signed with Ed25519.

A checkpoint pins the whole log at a moment: anyone holding it and the public key can
check an inclusion proof against its root, and a later checkpoint can be proved to extend
it. What is signed is a short text note in the manner of transparency-log checkpoints, so a
person can read exactly what the key vouched for:

    <origin>
    <tree size, decimal>
    <root hash, standard base64>
    <timestamp, ISO-8601 UTC ending in Z>

each line ending in a newline. The JSON form carries the note's fields (hashes and keys in
hex) plus the key and signature; the note is always rebuilt from the fields, never trusted
from the document, so a checkpoint cannot say one thing and have signed another.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from integrity.errors import IntegrityFailure
from integrity.hashing import HASH_SIZE

__all__ = [
    "Checkpoint",
    "CheckpointSigner",
    "IntegrityFailure",
    "SigningKeyError",
    "checkpoint_note",
    "format_timestamp",
    "key_id_for",
    "verify_checkpoint",
]

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_LENGTH = 16  # hex characters of sha256(public key): short enough to read aloud


class SigningKeyError(Exception):
    """The signing key file is missing, malformed or cannot be written."""


def key_id_for(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:KEY_ID_LENGTH]


def format_timestamp(moment: datetime) -> str:
    # Always microseconds, so the text is a function of the instant alone.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def checkpoint_note(origin: str, tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    lines = (
        origin,
        str(tree_size),
        base64.b64encode(root_hash).decode("ascii"),
        format_timestamp(timestamp),
    )
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    public_key: bytes
    signature: bytes

    def __post_init__(self) -> None:
        problem = _field_problem(self)
        if problem:
            raise ValueError(problem)
        # One instant, one representation: store it in UTC so equality and the note agree.
        object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))

    def note(self) -> bytes:
        return checkpoint_note(self.origin, self.tree_size, self.root_hash, self.timestamp)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": format_timestamp(self.timestamp),
            "key_id": self.key_id,
            "public_key": self.public_key.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, document: object) -> Checkpoint:
        """Parse the JSON form; IntegrityFailure names the first malformed field.

        Parsing checks shape only; call verify_checkpoint to check the signature.
        """
        if not isinstance(document, dict):
            raise IntegrityFailure("checkpoint is not a JSON object")
        origin = _text_field(document, "origin")
        tree_size = document.get("tree_size")
        if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
            raise IntegrityFailure("checkpoint field 'tree_size' must be a non-negative integer")
        timestamp_text = _text_field(document, "timestamp")
        try:
            timestamp = datetime.fromisoformat(timestamp_text)
        except ValueError:
            timestamp = None
        if timestamp is None or timestamp.tzinfo is None:
            raise IntegrityFailure(
                "checkpoint field 'timestamp' must be an ISO-8601 time with a UTC offset"
            )
        try:
            return cls(
                origin=origin,
                tree_size=tree_size,
                root_hash=_hex_field(document, "root_hash", HASH_SIZE),
                timestamp=timestamp,
                key_id=_text_field(document, "key_id"),
                public_key=_hex_field(document, "public_key", PUBLIC_KEY_SIZE),
                signature=_hex_field(document, "signature", SIGNATURE_SIZE),
            )
        except ValueError as error:
            raise IntegrityFailure(str(error)) from None


def _field_problem(checkpoint: Checkpoint) -> str | None:
    origin = checkpoint.origin
    if not isinstance(origin, str) or not origin or "\n" in origin:
        # a newline would let one note be read as another
        return "checkpoint field 'origin' must be a non-empty single line"
    size = checkpoint.tree_size
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return "checkpoint field 'tree_size' must be a non-negative integer"
    if not isinstance(checkpoint.root_hash, bytes) or len(checkpoint.root_hash) != HASH_SIZE:
        return f"checkpoint field 'root_hash' must be {HASH_SIZE} bytes"
    moment = checkpoint.timestamp
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        return "checkpoint field 'timestamp' must be a timezone-aware datetime"
    if not isinstance(checkpoint.key_id, str) or not checkpoint.key_id:
        return "checkpoint field 'key_id' must be a non-empty string"
    public_key = checkpoint.public_key
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
        return f"checkpoint field 'public_key' must be {PUBLIC_KEY_SIZE} bytes"
    signature = checkpoint.signature
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        return f"checkpoint field 'signature' must be {SIGNATURE_SIZE} bytes"
    return None


def _text_field(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise IntegrityFailure(f"checkpoint field '{name}' must be a string")
    return value


def _hex_field(document: dict[str, Any], name: str, size: int) -> bytes:
    text = _text_field(document, name)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = None
    if value is None or len(value) != size:
        raise IntegrityFailure(f"checkpoint field '{name}' must be {size * 2} hex characters")
    return value


class CheckpointSigner:
    """An Ed25519 private key that signs checkpoints."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id: str = key_id_for(self.public_key)

    @classmethod
    def generate(cls) -> CheckpointSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> CheckpointSigner:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise ValueError(f"an Ed25519 seed must be {SEED_SIZE} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> CheckpointSigner:
        """Load a key written by to_file: the 32-byte seed as hex on one line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise SigningKeyError(f"signing key file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not ASCII text"
            raise SigningKeyError(f"cannot read signing key file {path}: {reason}") from None
        lines = text.splitlines()
        try:
            seed = bytes.fromhex(lines[0]) if len(lines) == 1 else b""
        except ValueError:
            seed = b""
        if len(seed) != SEED_SIZE:
            # never echo the content: it is, or is close to, a secret
            raise SigningKeyError(
                f"signing key file {path} is malformed: expected one line of "
                f"{SEED_SIZE * 2} hex characters (an Ed25519 seed)"
            )
        return cls.from_seed(seed)

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the seed, readable by the owner only; never replace an existing key, since
        losing it would orphan every checkpoint it signed."""
        path = Path(path)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise SigningKeyError(
                f"signing key file {path} already exists; refusing to overwrite it"
            ) from None
        except OSError as error:
            raise SigningKeyError(
                f"cannot create signing key file {path}: {error.strerror}"
            ) from None
        seed = self._private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)  # exactly 0600, whatever the umask
            handle.write(seed.hex() + "\n")

    def sign(
        self, origin: str, tree_size: int, root_hash: bytes, timestamp: datetime
    ) -> Checkpoint:
        if not isinstance(timestamp, datetime) or timestamp.utcoffset() is None:
            raise ValueError("a checkpoint timestamp must be a timezone-aware datetime")
        note = checkpoint_note(origin, tree_size, root_hash, timestamp)
        return Checkpoint(
            origin=origin,
            tree_size=tree_size,
            root_hash=root_hash,
            timestamp=timestamp,
            key_id=self.key_id,
            public_key=self.public_key,
            signature=self._private_key.sign(note),
        )


def verify_checkpoint(checkpoint: Checkpoint, trusted_public_key: bytes | None = None) -> None:
    """Raise IntegrityFailure with a one-line reason unless the checkpoint is genuine.

    Without a trusted key this only shows the checkpoint is self-consistent: whoever holds
    the key it names signed it. Pinning the key is what ties it to this deployment.
    """
    if not isinstance(checkpoint, Checkpoint):
        raise IntegrityFailure("not a checkpoint")
    if trusted_public_key is not None:
        if not isinstance(trusted_public_key, bytes) or len(trusted_public_key) != PUBLIC_KEY_SIZE:
            raise IntegrityFailure("the trusted public key is not a raw 32-byte Ed25519 key")
        if trusted_public_key != checkpoint.public_key:
            raise IntegrityFailure(
                f"checkpoint is signed by key {key_id_for(checkpoint.public_key)}, "
                f"not by the trusted key {key_id_for(trusted_public_key)}"
            )
    if checkpoint.key_id != key_id_for(checkpoint.public_key):
        raise IntegrityFailure(
            f"checkpoint key id {checkpoint.key_id} does not match its public key "
            f"({key_id_for(checkpoint.public_key)})"
        )
    try:
        Ed25519PublicKey.from_public_bytes(checkpoint.public_key).verify(
            checkpoint.signature, checkpoint.note()
        )
    except (InvalidSignature, ValueError):
        raise IntegrityFailure(
            f"checkpoint signature does not verify for tree size {checkpoint.tree_size} "
            f"under key {checkpoint.key_id}"
        ) from None
