"""The small HTTP receiver the platform calls when one of its jobs ends.

It turns the callback into a Signal on the workflow named in the URL, so a procedure learns the
news at once without polling. Callbacks are authenticated with the platform's bearer token. A
callback for a workflow that no longer runs answers 410 so the platform stops retrying it.
"""

import contextlib
import hmac
from collections.abc import Iterator
from urllib.parse import unquote

import structlog
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts.mobile import DEVICE_EVENT_SIGNAL, DeviceEvent
from contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent

log = structlog.get_logger(__name__)


def create_receiver(client: Client, token: str) -> FastAPI:
    app = FastAPI(title="pbxops callback receiver", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/callbacks/platform/{workflow_id:path}", status_code=202)
    async def platform_callback(
        workflow_id: str, event: PlatformEvent, authorization: str = Header(default="")
    ) -> dict[str, str]:
        if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            raise HTTPException(status_code=401, detail="missing or invalid bearer token")
        workflow_id = unquote(workflow_id)
        try:
            await client.get_workflow_handle(workflow_id).signal(PLATFORM_EVENT_SIGNAL, event)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise HTTPException(status_code=410, detail="workflow is not running") from err
            raise HTTPException(status_code=503, detail="Temporal unavailable") from err
        log.info("platform callback signalled", workflow_id=workflow_id, job_id=event.job_id)
        return {"status": "signalled"}

    @app.post("/callbacks/mobile/{workflow_id:path}", status_code=202)
    async def mobile_device_callback(
        workflow_id: str, event: DeviceEvent, authorization: str = Header(default="")
    ) -> dict[str, str]:
        """A phone event of a mobile line (activated, removed, ...), as a Signal to its workflow."""
        if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            raise HTTPException(status_code=401, detail="missing or invalid bearer token")
        workflow_id = unquote(workflow_id)
        try:
            await client.get_workflow_handle(workflow_id).signal(DEVICE_EVENT_SIGNAL, event)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise HTTPException(status_code=410, detail="workflow is not running") from err
            raise HTTPException(status_code=503, detail="Temporal unavailable") from err
        log.info("device event signalled", workflow_id=workflow_id, seq=event.seq, kind=event.kind)
        return {"status": "signalled"}

    return app


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the worker's event loop; the worker owns SIGINT/SIGTERM, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def embedded_server(app: FastAPI, host: str, port: int) -> EmbeddedServer:
    return EmbeddedServer(uvicorn.Config(app, host=host, port=port, log_level="warning"))
