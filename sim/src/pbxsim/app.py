"""The simulator's web application: routers, middleware, and the background services it owns.

Request path, outermost first: fault injection (may answer 500 or add latency before anything
runs) → idempotency (replays a stored answer) → routes (bearer token checked per router).
The lifespan runs the job runner (an asyncio task) and the SMTP server (its own thread).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from pbxsim import chaos_routes, routes_admin
from pbxsim.callbacks import CallbackDispatcher
from pbxsim.db import Database
from pbxsim.errors import install_error_handlers
from pbxsim.faults import FaultInjectionMiddleware, FaultStore
from pbxsim.helpdesk import routes as routes_helpdesk
from pbxsim.idempotency import IdempotencyMiddleware
from pbxsim.jobs import JobRunner
from pbxsim.mailbox import routes as routes_mailbox
from pbxsim.mailbox.server import smtp_controller
from pbxsim.mobile.routes import admin as mobile_admin
from pbxsim.mobile.routes import phone as mobile_phone
from pbxsim.mobile.routes import router as mobile_router
from pbxsim.numbers.routes import router as numbers_router
from pbxsim.pbx import routes as routes_pbx
from pbxsim.provisioning.routes import admin as provisioning_admin
from pbxsim.provisioning.routes import router as provisioning_router
from pbxsim.settings import SimulatorSettings

log = structlog.get_logger("simulator")


def create_app(settings: SimulatorSettings | None = None) -> FastAPI:
    settings = settings or SimulatorSettings()
    db = Database(settings.db)
    db.create_schema()
    faults = FaultStore(db)
    faults.load()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # trust_env=False: callbacks go straight to the receiver, never through an env proxy.
        async with httpx.AsyncClient(
            timeout=settings.callback_timeout_seconds, trust_env=False
        ) as client:
            dispatcher = CallbackDispatcher(
                db,
                client,
                settings.token,
                max_attempts=settings.callback_attempts,
                backoff_seconds=settings.callback_backoff_seconds,
            )
            runner = JobRunner(db, dispatcher, settings.job_tick_seconds)
            runner.start()
            smtp = smtp_controller(db, settings.host, settings.smtp_port)
            _app.state.smtp = smtp  # for /admin/smtp (chaos_routes.py)
            try:
                await asyncio.to_thread(smtp.start)
            except BaseException:
                await runner.stop()
                raise
            log.info(
                "simulator ready",
                http=f"http://{settings.host}:{settings.http_port}",
                smtp=f"{settings.host}:{settings.smtp_port}",
                db=db.safe_url,
            )
            try:
                yield
            finally:
                await asyncio.to_thread(smtp.stop)
                await runner.stop()
                db.dispose()
                log.info("simulator stopped")

    app = FastAPI(
        title="pbxops simulator",
        description="The PBX platform, helpdesk and mailbox pbxops talks to (see API.md).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.faults = faults
    install_error_handlers(app)
    # Added innermost first: Starlette wraps each new middleware around the previous ones.
    app.add_middleware(IdempotencyMiddleware, db=db, token=settings.token)
    app.add_middleware(FaultInjectionMiddleware, store=faults)

    app.include_router(routes_pbx.router)
    app.include_router(routes_helpdesk.router)
    app.include_router(routes_helpdesk.pages)
    app.include_router(routes_mailbox.api)
    app.include_router(routes_mailbox.pages)
    app.include_router(routes_admin.router)
    app.include_router(mobile_router)
    app.include_router(mobile_phone)
    app.include_router(mobile_admin)
    app.include_router(numbers_router)
    app.include_router(provisioning_router)
    app.include_router(provisioning_admin)
    app.include_router(chaos_routes.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/inbox")

    return app
