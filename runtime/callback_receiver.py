"""The small HTTP receiver the platform calls when one of its jobs ends.

It turns the callback into a Signal on the workflow named in the URL, so a procedure learns the
news at once without polling. Callbacks are authenticated with the platform's bearer token. A
callback for a workflow that no longer runs answers 410 so the platform stops retrying it.
"""

import contextlib
import hmac
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import structlog
import uvicorn
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts.mobile import DEVICE_EVENT_SIGNAL, DeviceEvent
from contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CallbackKind:
    signal: str
    event: type[BaseModel]


# `/callbacks/<kind>/<workflow id>`: what each kind of callback carries and the Signal it becomes.
KINDS = {
    "platform": CallbackKind(PLATFORM_EVENT_SIGNAL, PlatformEvent),  # a platform job ended
    "mobile": CallbackKind(DEVICE_EVENT_SIGNAL, DeviceEvent),  # a phone event of a mobile line
}


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_receiver(client: Client, token: str) -> Starlette:
    # Starlette rather than FastAPI: two routes do not need OpenAPI, and FastAPI's import alone
    # costs the worker about 10 MB of memory for as long as it runs (issue 8's idle benchmark).
    expected = f"Bearer {token}".encode()

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def callback(request: Request) -> JSONResponse:
        kind = KINDS.get(request.path_params["kind"])
        if kind is None:
            return _answer(404, "Not Found")
        authorization = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(authorization, expected):
            return _answer(401, "missing or invalid bearer token")
        try:
            event = kind.event.model_validate_json(await request.body())
        except ValidationError as err:
            detail = err.errors(include_url=False, include_context=False, include_input=False)
            return JSONResponse({"detail": detail}, status_code=422)
        workflow_id = unquote(request.path_params["workflow_id"])
        try:
            await client.get_workflow_handle(workflow_id).signal(kind.signal, event)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return _answer(410, "workflow is not running")  # the platform stops retrying
            return _answer(503, "Temporal unavailable")
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
