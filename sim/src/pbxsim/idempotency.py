"""Idempotency-Key support for every mutating PBX and helpdesk call.

The first response (status + body) given for a key is stored and replayed for any later request
carrying it, so a client retrying after a lost answer gets the original answer and nothing runs
twice. Implemented as ASGI middleware so every present and future mutating route gets it without
remembering to.

- Only authenticated requests use the store: an anonymous caller can neither read a stored answer
  nor poison a key with its 401.
- Server errors (5xx) are not stored: they are not an answer to the request, and a retry must get
  the chance to run it. Nor is the answer to a request whose body was cut off by the client's
  death (found by the chaos suite: a worker SIGKILLed mid-request left a stored 400 that every
  retry replayed).
- Requests with the same key are serialised in this process, so a retry racing the original
  waits for it and replays its answer.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.deps import token_matches
from pbxsim.models import IdempotencyKey, table

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIXES = ("/pbx/", "/helpdesk/")
MAX_KEY_LENGTH = 500


@dataclass(frozen=True)
class StoredResponse:
    method: str
    path: str
    status_code: int
    content_type: str | None
    body: bytes


# Built once: every mutating request runs both, and building a statement costs more than running it.
_TABLE = table(IdempotencyKey)
_LOAD = select(
    _TABLE.c.method, _TABLE.c.path, _TABLE.c.status_code, _TABLE.c.content_type, _TABLE.c.body
).where(_TABLE.c.key == bindparam("key"))
_SAVE = insert(_TABLE)


def load(db: Database, key: str) -> StoredResponse | None:
    with db.reading_connection() as connection:
        row = connection.execute(_LOAD, {"key": key}).first()
    return None if row is None else StoredResponse(*row)


def save(db: Database, key: str, response: StoredResponse) -> None:
    values = {
        "key": key,
        "method": response.method,
        "path": response.path,
        "status_code": response.status_code,
        "content_type": response.content_type,
        "body": response.body,
        "created_at": utcnow(),
    }
    try:
        with db.connection() as connection:
            connection.execute(_SAVE, values)
    except IntegrityError:
        pass  # another process stored it first: the first answer stays


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, db: Database, token: str) -> None:
        self.app = app
        self._db = db
        self._token = token
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def _serialised(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or not scope["path"].startswith(PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if not key or not token_matches(headers.get("authorization"), self._token):
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            await _send_json(send, 422, f"Idempotency-Key is longer than {MAX_KEY_LENGTH} chars")
            return
        async with self._serialised(key):
            await self._handle(key, scope, receive, send)

    async def _handle(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        stored = await asyncio.to_thread(load, self._db, key)
        if stored is not None:
            if (stored.method, stored.path) != (method, path):
                detail = f"Idempotency-Key '{key}' was already used for a different request"
                await _send_json(send, 422, detail)
            else:
                await self._replay(stored, send)
            return

        status = 500
        content_type: str | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = Headers(raw=message.get("headers", [])).get("content-type")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        body_received = False
        cut_off = False

        async def watch() -> Message:
            # A client that died mid-request (its body cut off) gets no stored answer: the app's
            # "error parsing the body" is not the answer to the request the retry will send.
            nonlocal body_received, cut_off
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_received = True
            elif message["type"] == "http.disconnect" and not body_received:
                cut_off = True
            return message

        await self.app(scope, watch, capture)
        if status < 500 and not cut_off:
            response = StoredResponse(method, path, status, content_type, b"".join(chunks))
            await asyncio.to_thread(save, self._db, key, response)

    async def _replay(self, stored: StoredResponse, send: Send) -> None:
        headers = [(b"idempotent-replayed", b"true")]
        if stored.content_type:
            headers.append((b"content-type", stored.content_type.encode("latin-1")))
        await send(
            {"type": "http.response.start", "status": stored.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": stored.body})
