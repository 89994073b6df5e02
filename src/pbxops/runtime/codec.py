"""Optional payload encryption: AES-256-GCM on every payload pbxops exchanges with Temporal.

Off unless ``PBXOPS_PAYLOAD_KEY`` is set (the base64 of 32 random bytes; make one with
``python -m pbxops.runtime.codec keygen``). When it is set, ``pbxops.runtime.temporal.connect``
gives every client (the worker, the CLI, tests, benchmarks) a data converter with this codec, so
workflow inputs and results, activity arguments and results, Update and Signal arguments, query
answers, memos and the UI's summaries/details reach the Temporal server only as ciphertext.
Failure messages and stack traces are moved into an encoded attribute too
(``DefaultFailureConverterWithEncodedAttributes``), so a refusal naming a tenant is not readable in
history either. Search attributes and workflow ids are never encrypted (the server must index
them): they hold no secrets and no personal data.

Each encrypted payload carries the id of its key in its metadata (``encryption-key-id``, the first
16 hex digits of a SHA-256 of the key: safe to show). Rotation: set the new key as
``PBXOPS_PAYLOAD_KEY`` and the old one in ``PBXOPS_PAYLOAD_PREVIOUS_KEYS`` (comma-separated); new
payloads use the new key, old histories still decode. Payloads that are not encrypted (written
before encryption was switched on) pass through unchanged.
"""

import base64
import binascii
import dataclasses
import hashlib
import os
import sys
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from pbxops.runtime.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32
_NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """A key setting that is not the base64 of 32 bytes, or a payload whose key is unknown."""


def parse_key(text: str, setting: str = "PBXOPS_PAYLOAD_KEY") -> bytes:
    """The base64 (standard or URL-safe) of exactly 32 bytes."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise PayloadKeyError(
            f"{setting} is not base64 (make a key with `python -m pbxops.runtime.codec keygen`)"
        ) from err
    if len(raw) != KEY_BYTES:
        raise PayloadKeyError(
            f"{setting} must be the base64 of {KEY_BYTES} bytes, not {len(raw)} (make a key with "
            "`python -m pbxops.runtime.codec keygen`)"
        )
    return raw


def key_id(key: bytes) -> str:
    """A short, non-secret name of a key, stored beside each payload it encrypted."""
    return hashlib.sha256(b"pbxops/payload-key-id/" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM per payload: a random 96-bit nonce, the key id bound as associated data."""

    def __init__(self, key: bytes, previous: Iterable[bytes] = ()) -> None:
        self.key_id = key_id(key)
        self._ciphers = {key_id(k): AESGCM(k) for k in (*previous, key)}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            self._decrypt(payload) if payload.metadata.get("encoding") == ENCODING else payload
            for payload in payloads
        ]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        kid = self.key_id.encode()
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), kid)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: kid}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        kid = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise PayloadKeyError(
                f"a payload is encrypted with key {kid!r}, which this process does not hold "
                "(set it in PBXOPS_PAYLOAD_KEY or PBXOPS_PAYLOAD_PREVIOUS_KEYS)"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], kid.encode())
        except InvalidTag as err:
            raise PayloadKeyError(f"a payload encrypted with key {kid!r} fails to decrypt") from err
        return Payload.FromString(plain)


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The codec when ``PBXOPS_PAYLOAD_KEY`` is set, else None (payloads stay plain JSON)."""
    if settings.payload_key is None or not settings.payload_key.get_secret_value().strip():
        return None
    key = parse_key(settings.payload_key.get_secret_value())
    previous = []
    if settings.payload_previous_keys is not None:
        for text in settings.payload_previous_keys.get_secret_value().split(","):
            if text.strip():
                previous.append(parse_key(text, "PBXOPS_PAYLOAD_PREVIOUS_KEYS"))
    return EncryptionCodec(key, previous)


def data_converter(settings: Settings) -> DataConverter:
    """pydantic payloads, encrypted (with encoded failure messages) when a key is set."""
    codec = codec_from_settings(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def keygen() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


if __name__ == "__main__":
    if sys.argv[1:] != ["keygen"]:
        raise SystemExit("usage: python -m pbxops.runtime.codec keygen  (prints a new key)")
    print(keygen())
