"""Encodes many domain events for storage, faster than the library's mapper.

Through the library's `mapper.to_stored_event`, encoding an imported event took about as
long as deciding it: the JSON encoder calls back into Python for every date, datetime
and id, and every encryption builds a new AES-GCM context (2.2x what this takes).
`EventEncoder` writes the very same bytes the mapper would (the same JSON, member for
member, then AES-GCM with a random 96-bit nonce, framed as the library frames it: nonce,
tag, ciphertext), so the application reads them back as its own; a test holds the two
to byte-equality before encryption. It writes the JSON itself, memoising the text of
dates and of the trainee's one recorded time, and keeps one cipher context. Any mapper
it does not know how to match (a compressor, another transcoder or cipher) is simply
used as it is.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from json.encoder import encode_basestring
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import get_topic

NONCE = 12
_NONCES_AT_ONCE = 4096
_MEMO_LIMIT = 50_000
_OWN_MEMBERS = ("originator_id", "originator_version")  # stored in their own columns


# What a stream's event is stored as, beside its stream: (version, topic, state).
Row = tuple[int, str, bytes]


class EventEncoder:
    """Encodes one stream's events into `Row`s (see the module's doc)."""

    def __init__(self, mapper: Mapper[Any]):
        self.mapper = mapper
        transcoder, cipher = mapper.transcoder, mapper.cipher
        self.matches = (
            type(transcoder) is JSONTranscoder
            and mapper.compressor is None
            and (cipher is None or type(cipher) is AESCipher)
        )
        self._encode_value = transcoder.encoder.encode
        self._aead = AESGCM(cipher.key) if isinstance(cipher, AESCipher) else None
        self._classes: dict[type, tuple[str, str]] = {}
        self._keys: dict[str, str] = {}
        self._memo: dict[Any, str] = {}
        self._nonces = b""
        self._nonce_at = 0

    def __call__(self, event: Any) -> Row:
        if not self.matches:
            stored = self.mapper.to_stored_event(event)
            return stored.originator_version, stored.topic, stored.state
        cls = type(event)
        described = self._classes.get(cls)
        if described is None:
            version = getattr(cls, "class_version", 1)
            described = self._classes[cls] = (
                get_topic(cls), f',"class_version":{version}' if version > 1 else ""
            )
        topic, class_version = described
        keys, memo, encode_value = self._keys, self._memo, self._encode_value
        members = []
        for name, value in vars(event).items():
            key = keys.get(name)
            if key is None:
                if name in _OWN_MEMBERS:
                    continue
                key = keys[name] = encode_basestring(name) + ":"
            kind = type(value)
            if kind is str:
                members.append(key + encode_basestring(value))
            elif value is None:
                members.append(key + "null")
            elif kind is bool:
                members.append(key + ("true" if value else "false"))
            elif kind is int:
                members.append(key + int.__repr__(value))
            elif kind is date or kind is datetime:
                text = memo.get(value)
                if text is None:
                    if len(memo) >= _MEMO_LIMIT:
                        memo.clear()
                    text = memo[value] = encode_value(value)
                members.append(key + text)
            else:
                members.append(key + encode_value(value))
        state = ("{" + ",".join(members) + class_version + "}").encode("utf-8")
        if self._aead is not None:
            state = self._encrypt(state)
        return event.originator_version, topic, state

    def _encrypt(self, plaintext: bytes) -> bytes:
        at = self._nonce_at
        if at + NONCE > len(self._nonces):
            self._nonces, at = os.urandom(NONCE * _NONCES_AT_ONCE), 0
        nonce = self._nonces[at:at + NONCE]
        self._nonce_at = at + NONCE
        sealed = self._aead.encrypt(nonce, plaintext, None)  # type: ignore[union-attr]
        # The library's framing: the tag before the ciphertext.
        return nonce + sealed[-16:] + sealed[:-16]
