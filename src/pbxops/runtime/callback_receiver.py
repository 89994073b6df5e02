"""The small HTTP receiver the platform calls when one of its jobs ends.

It turns the callback into a Signal on the workflow named in the URL, so a procedure learns the
news at once without polling. A callback is a *hint*: the workflow confirms with the platform
before it acts on one. Still, only the platform may send them, so a request must carry, in this
order (each refusal answers before anything later is looked at, and before the body is read):

1. the platform's bearer token (scheme case-insensitive) — else 401;
2. a kind this receiver knows — else 404;
3. the per-job credential of its URL (``ref`` + ``sig``, runtime/callback_auth.py), which the
   platform token does not give — else 403;
4. a JSON content type — else 415; a body of at most ``MAX_BODY_BYTES`` — else 413, without
   reading more than that;
5. a workflow of the kind's type (a mobile event never reaches a deactivation) — else 409; a
   workflow that no longer runs answers 410 so the platform stops retrying.

A repeat of a callback already signalled (the platform delivers at least once) answers 200 and
signals nothing, so duplicates do not grow the workflow's history.
"""

import contextlib
import hashlib
import hmac
import socket
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog
import uvicorn
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from pbxops.contracts.mobile import DEVICE_EVENT_SIGNAL, DeviceEvent
from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent
from pbxops.contracts.procedures import Procedure
from pbxops.runtime.callback_auth import REF_PARAM, SIG_PARAM, CallbackSigner

log = structlog.get_logger(__name__)

# A callback is a few hundred bytes; anything near this is not one.
MAX_BODY_BYTES = 64 * 1024
# What one Signal may carry into history (the validated event, re-serialised).
MAX_EVENT_BYTES = 2 * 1024
# Callbacks remembered for dropping repeats (a few hours of a busy platform).
REMEMBERED_CALLBACKS = 8192


@dataclass(frozen=True)
class CallbackKind:
    signal: str
    event: type[BaseModel]
    workflow_types: frozenset[str]


# `/callbacks/<kind>/<workflow id>`: what each kind of callback carries, the Signal it becomes,
# and the workflow types that take it.
KINDS = {
    # a platform job ended
    "platform": CallbackKind(
        PLATFORM_EVENT_SIGNAL,
        PlatformEvent,
        frozenset({Procedure.DEACTIVATION, Procedure.REACTIVATION, Procedure.DELETION}),
    ),
    # a phone event of a mobile line
    "mobile": CallbackKind(DEVICE_EVENT_SIGNAL, DeviceEvent, frozenset({Procedure.MOBILE_LINE})),
}


class _TooLarge(Exception):
    pass


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _bearer(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header ("" if it is not one)."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > cap):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise _TooLarge
    return bytes(body)


class _Recent:
    """The last callbacks signalled, to drop the platform's repeats (bounded, oldest out)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        return key in self._keys

    def add(self, key: bytes) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)

    def discard(self, key: bytes) -> None:
        self._keys.pop(key, None)


async def _signal(
    handle: WorkflowHandle[Any, Any], kind: CallbackKind, kind_name: str, event: BaseModel
) -> JSONResponse | None:
    """Signal the workflow if it runs and is of the kind's type; else the answer to give."""
    try:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return _answer(410, "workflow is not running")
        if description.workflow_type not in kind.workflow_types:
            return _answer(409, f"a {kind_name} callback cannot go to this workflow")
        await handle.signal(kind.signal, event)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return _answer(410, "workflow is not running")  # the platform stops retrying
        return _answer(503, "Temporal unavailable")
    return None


def create_receiver(
    client: Client,
    token: str,
    signer: CallbackSigner,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    # Starlette rather than FastAPI: two routes do not need OpenAPI, and FastAPI's import alone
    # costs the worker memory for as long as it runs (measured: docs/benchmarks.md, section 3).
    expected = token.encode()
    recent = _Recent(REMEMBERED_CALLBACKS)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def callback(request: Request) -> JSONResponse:
        # The token first: nothing about the URL is answered to a caller without it.
        presented = _bearer(request.headers.get("authorization", "")).encode()
        if not hmac.compare_digest(presented, expected):
            return _answer(401, "missing or invalid bearer token")
        kind_name = request.path_params["kind"]
        kind = KINDS.get(kind_name)
        if kind is None:
            return _answer(404, "Not Found")
        # Starlette has already percent-decoded the path once; decoding again would let
        # `%2525` name a different workflow than the one the URL was signed for.
        workflow_id = request.path_params["workflow_id"]
        ref = request.query_params.get(REF_PARAM, "")
        signature = request.query_params.get(SIG_PARAM, "")
        if not ref or not signer.verify(kind_name, workflow_id, ref, signature):
            return _answer(403, "missing or invalid callback credential")
        if not _is_json(request.headers.get("content-type", "")):
            return _answer(415, "callbacks must be application/json")
        try:
            body = await _read_capped(request, max_body_bytes)
        except _TooLarge:
            return _answer(413, f"callback body over {max_body_bytes} bytes")
        try:
            event = kind.event.model_validate_json(body)
        except ValidationError as err:
            detail = err.errors(include_url=False, include_context=False, include_input=False)
            return JSONResponse({"detail": detail}, status_code=422)
        payload = event.model_dump_json().encode()
        if len(payload) > MAX_EVENT_BYTES:
            return _answer(422, f"callback event over {MAX_EVENT_BYTES} bytes")
        parts = (kind_name.encode(), workflow_id.encode(), ref.encode(), payload)
        key = hashlib.sha256(b"\0".join(parts)).digest()
        if key in recent:
            return JSONResponse({"status": "duplicate"}, status_code=200)
        recent.add(key)  # a concurrent repeat is dropped too; forgotten again unless signalled
        signalled = False
        try:
            answer = await _signal(client.get_workflow_handle(workflow_id), kind, kind_name, event)
            signalled = answer is None
        finally:
            if not signalled:
                recent.discard(key)
        if answer is not None:
            return answer
        log.info("callback signalled", workflow_id=workflow_id, signal=kind.signal)
        return JSONResponse({"status": "signalled"}, status_code=202)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/callbacks/{kind}/{workflow_id:path}", callback, methods=["POST"]),
        ]
    )


class ReceiverFailed(Exception):
    pass


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the worker's event loop; the worker owns SIGINT/SIGTERM, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn calls sys.exit() when it cannot start (a port taken, say); inside the worker's
        # event loop that SystemExit would end the process with uvicorn's code and a traceback.
        try:
            await super().serve(sockets)
        except SystemExit as exc:
            raise ReceiverFailed(f"uvicorn stopped with exit code {exc.code}") from None


def embedded_server(app: Starlette, host: str, port: int) -> EmbeddedServer:
    return EmbeddedServer(uvicorn.Config(app, host=host, port=port, log_level="warning"))
