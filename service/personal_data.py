"""Personal data at rest: the key that encrypts every stored event, and the keyed digest
by which a trainee is found from a national ID that is never stored in clear."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eventsourcing.cryptography import AESCipher

from service.settings import DEFAULT_CIPHER_KEY_PATH, ConfigurationError, Settings

KEY_VARIABLE = "DUALTRACK_CIPHER_KEY_FILE"
KEY_BYTES = 32
# A key of its own for lookups, so a digest never exposes the encryption key and the two
# uses cannot be confused; derived, so there is still only one secret to keep.
LOOKUP_INFO = b"dualtrack national-id lookup"


def cipher_key(settings: Settings) -> str:
    """The AES key (base64), as the library's AESCipher takes it.

    A newcomer's first start makes one at the default path; a key named by
    DUALTRACK_CIPHER_KEY_FILE must already exist, since a fresh one there would silently
    make an existing store unreadable.
    """
    path = Path(settings.cipher_key_file)
    if not path.exists() and path == DEFAULT_CIPHER_KEY_PATH:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_key_file(path)
    elif not path.exists():
        raise ConfigurationError(
            f"{KEY_VARIABLE}={str(path)!r} does not exist; "
            "make one with `dualtrack keygen --personal-data FILE`"
        )
    return read_key_file(path)


def read_key_file(path: Path) -> str:
    try:
        text = path.read_text("ascii").strip()
        size = len(base64.b64decode(text, validate=True))
    except OSError as error:
        raise ConfigurationError(f"{KEY_VARIABLE}: cannot read {path}: {error.strerror}") from None
    except (UnicodeDecodeError, binascii.Error):
        size = -1
    if size not in AESCipher.KEY_SIZES:
        # never echo the content: it is, or is close to, the secret
        raise ConfigurationError(
            f"{KEY_VARIABLE}: {path} is malformed: expected one line of base64 holding a "
            "16, 24 or 32-byte AES key"
        )
    return text


def write_key_file(path: str | os.PathLike[str]) -> None:
    """A new key, readable by the owner only; an existing file is never replaced, since
    losing its key would make every event encrypted with it unreadable."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)  # exactly 0600, whatever the umask
        handle.write(AESCipher.create_key(KEY_BYTES) + "\n")


def lookup_key(cipher_key: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=LOOKUP_INFO
    ).derive(base64.b64decode(cipher_key))


def national_id_digest(lookup_key: bytes, national_id: str) -> str:
    """Equal for the same ID however it is spaced or cased; without the key, a guess
    cannot be tested against it."""
    normalised = national_id.strip().upper().encode()
    return hmac.new(lookup_key, normalised, hashlib.sha256).hexdigest()
