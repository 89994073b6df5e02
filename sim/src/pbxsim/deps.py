"""What routes need from the app: the database, the bearer-token check and the admin check.

Both dependencies are ``async def`` although they never await: FastAPI runs a sync dependency in
the threadpool, a hop per dependency per request, which cost more CPU than the work itself.
"""

import hmac

from fastapi import HTTPException, Request

from pbxsim.db import Database
from pbxsim.settings import SimulatorSettings

UNAUTHORIZED = "missing or invalid bearer token"
ADMIN_HEADER = "X-Admin-Token"
ADMIN_COOKIE = "simulator_admin"
ADMIN_REQUIRED = f"missing or invalid admin token ({ADMIN_HEADER})"


def token_matches(authorization: str | None, token: str) -> bool:
    # Constant-time comparison: the token is the only thing guarding the platform.
    expected = f"Bearer {token}".encode()
    return hmac.compare_digest((authorization or "").encode(), expected)


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> SimulatorSettings:
    settings: SimulatorSettings = request.app.state.settings
    return settings


async def require_token(request: Request) -> None:
    token = get_settings(request).token
    if not token_matches(request.headers.get("authorization"), token):
        raise HTTPException(
            status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )


def admin_matches(presented: str | None, admin_token: str) -> bool:
    return hmac.compare_digest((presented or "").encode(), admin_token.encode())


async def require_admin(request: Request) -> None:
    """The simulator's own controls (admin, chaos, mailbox): the admin token, never the
    platform token, which every pbxops operator holds."""
    if not admin_matches(request.headers.get(ADMIN_HEADER), get_settings(request).admin):
        raise HTTPException(status_code=401, detail=ADMIN_REQUIRED)
