"""Chaos controls beyond ``/admin/faults``: take the SMTP listener down and bring it back.

``POST /admin/smtp/stop`` closes the listening socket (senders then get "connection refused", as
from a mail server that is down) while the HTTP API, the mailbox read API and every stored message
stay up; ``POST /admin/smtp/start`` listens again on the same port. The simulator is one process,
so this is how the chaos suite takes mail down without taking the platform down with it.
"""

import asyncio
from asyncio import AbstractServer
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from fastapi import APIRouter, Depends, HTTPException, Request

from pbxsim.deps import require_admin

T = TypeVar("T")

router = APIRouter(prefix="/admin/smtp", tags=["admin"], dependencies=[Depends(require_admin)])


def _controller(request: Request) -> Controller:
    controller: Controller | None = getattr(request.app.state, "smtp", None)
    if controller is None or controller.server is None:
        raise HTTPException(status_code=409, detail="the SMTP server is not running")
    return controller


def _listening(controller: Controller) -> bool:
    return controller.server is not None and controller.server.is_serving()


async def _in_smtp_loop(controller: Controller, coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the SMTP server's own event loop (it lives in its own thread)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, controller.loop))


@router.get("")
def smtp_state(request: Request) -> dict[str, bool]:
    return {"listening": _listening(_controller(request))}


@router.post("/stop")
async def stop_smtp(request: Request) -> dict[str, bool]:
    controller = _controller(request)
    server = controller.server
    if server is not None and server.is_serving():

        async def close() -> None:
            server.close()
            await server.wait_closed()

        await _in_smtp_loop(controller, close())
    return {"listening": False}


@router.post("/start")
async def start_smtp(request: Request) -> dict[str, bool]:
    controller = _controller(request)
    if not _listening(controller):

        async def listen() -> AbstractServer:
            return await controller._create_server()

        # The closed server object is replaced; the app's shutdown closes whichever is current.
        controller.server = await _in_smtp_loop(controller, listen())
    return {"listening": True}
