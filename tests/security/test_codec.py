"""The payload codec and the codec server, in process (no Temporal needed)."""

import base64
import json
import logging
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from pbxops.runtime.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadKeyError,
    codec_from_settings,
    data_converter,
    key_id,
    keygen,
    parse_key,
)
from pbxops.runtime.codec_server import COOKIE, create_codec_app
from pbxops.runtime.settings import Settings

UI = "http://127.0.0.1:8233"
TOKEN = "codec-test-token"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_payloads_become_ciphertext_and_come_back():
    key = os.urandom(32)
    codec = EncryptionCodec(key)
    original = [plain("tenant acme-secret-42"), plain("another")]

    encoded = await codec.encode(original)

    assert [p.metadata["encoding"] for p in encoded] == [ENCODING, ENCODING]
    assert all(p.metadata[KEY_ID] == key_id(key).encode() for p in encoded)
    assert all(b"acme-secret-42" not in p.SerializeToString() for p in encoded)
    assert encoded[0].data != (await codec.encode(original[:1]))[0].data  # a fresh nonce each time
    assert await codec.decode(encoded) == original


async def test_rotation_reads_old_payloads_and_writes_with_the_new_key():
    old, new = os.urandom(32), os.urandom(32)
    written_before = await EncryptionCodec(old).encode([plain("before rotation")])
    rotated = EncryptionCodec(new, previous=[old])

    assert await rotated.decode(written_before) == [plain("before rotation")]
    assert (await rotated.encode([plain("x")]))[0].metadata[KEY_ID] == key_id(new).encode()
    with pytest.raises(PayloadKeyError, match=key_id(old)):
        await EncryptionCodec(new).decode(written_before)


async def test_unencrypted_payloads_pass_and_tampering_is_detected():
    codec = EncryptionCodec(os.urandom(32))
    assert await codec.decode([plain("written before encryption")]) == [
        plain("written before encryption")
    ]
    [sealed] = await codec.encode([plain("x")])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadKeyError, match="fails to decrypt"):
        await codec.decode([sealed])


def test_key_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PBXOPS_PAYLOAD_KEY", raising=False)
    monkeypatch.delenv("PBXOPS_PAYLOAD_PREVIOUS_KEYS", raising=False)
    key = keygen()
    assert len(parse_key(key)) == 32
    assert parse_key(base64.urlsafe_b64encode(base64.b64decode(key)).decode()) == parse_key(key)
    with pytest.raises(PayloadKeyError, match="32 bytes, not 16"):
        parse_key(base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(PayloadKeyError, match="not base64"):
        parse_key("not base64!")
    assert data_converter(Settings(_env_file=None)) is pydantic_data_converter
    converter = data_converter(Settings(_env_file=None, payload_key=SecretStr(key)))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    previous = f"{keygen()},{keygen()}"
    with_old = codec_from_settings(
        Settings(
            _env_file=None,
            payload_key=SecretStr(key),
            payload_previous_keys=SecretStr(previous),
        )
    )
    assert with_old is not None and with_old.key_id == key_id(parse_key(key))


@pytest.fixture
async def server() -> AsyncIterator[tuple[httpx.AsyncClient, EncryptionCodec]]:
    codec = EncryptionCodec(os.urandom(32))
    transport = httpx.ASGITransport(app=create_codec_app(codec, TOKEN, [UI]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, codec


def body(payloads: list[Payload]) -> dict:
    return json_format.MessageToDict(Payloads(payloads=payloads))


async def test_codec_server_decodes_only_for_the_token(server, caplog):
    client, codec = server
    encrypted = await codec.encode([plain("acme-secret-42")])
    caplog.set_level(logging.DEBUG)

    assert (await client.post("/decode", json=body(encrypted))).status_code == 401
    wrong = await client.post(
        "/decode", json=body(encrypted), headers={"Authorization": "Bearer no"}
    )
    assert wrong.status_code == 401 and "acme-secret-42" not in wrong.text
    ok = await client.post(
        "/decode", json=body(encrypted), headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert ok.status_code == 200
    decoded = json_format.ParseDict(ok.json(), Payloads()).payloads
    assert list(decoded) == [plain("acme-secret-42")]
    again = await client.post(
        "/encode", json=body(list(decoded)), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert again.status_code == 200
    reencoded = json_format.ParseDict(again.json(), Payloads()).payloads
    assert reencoded[0].metadata["encoding"] == ENCODING
    assert await codec.decode(reencoded) == [plain("acme-secret-42")]
    bad = await client.post("/decode", content=b"[1]", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400
    assert TOKEN not in caplog.text


async def test_codec_server_cors_allows_only_the_ui_origin(server):
    client, _ = server
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    allowed = await client.options("/decode", headers={"Origin": UI, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await client.options("/decode", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


async def test_browser_session_cookie_from_the_login_page(server):
    client, codec = server
    encrypted = await codec.encode([plain("x")])
    assert (await client.post("/login", data={"token": "wrong"})).status_code == 401
    assert COOKIE not in client.cookies

    signed_in = await client.post("/login", data={"token": TOKEN})

    assert signed_in.status_code == 200
    assert TOKEN not in signed_in.headers["set-cookie"]  # a MAC of it, not the token
    assert (await client.post("/decode", json=body(encrypted))).status_code == 200


def test_the_codec_server_refuses_to_run_without_a_token():
    with pytest.raises(ValueError, match="PBXOPS_CODEC_SERVER_TOKEN"):
        create_codec_app(EncryptionCodec(os.urandom(32)), "", [UI])


def test_the_ui_origin_is_allowed_under_both_local_names():
    from pbxops.runtime.codec_server import origins

    default = Settings(_env_file=None, ui_url="http://127.0.0.1:8233/")
    assert origins(default) == ["http://127.0.0.1:8233", "http://localhost:8233"]
    chosen = Settings(_env_file=None, codec_server_origins="https://ui.example, https://b.example")
    assert origins(chosen) == ["https://ui.example", "https://b.example"]
