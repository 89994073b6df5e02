"""The codec server: lets the Temporal UI (and the ``temporal`` CLI) show encrypted payloads to
authorised people, without the key ever leaving pbxops.

    PBXOPS_PAYLOAD_KEY=… PBXOPS_CODEC_SERVER_TOKEN=… python -m pbxops.runtime.codec_server

It speaks Temporal's remote-codec protocol: ``POST /decode`` and ``POST /encode`` take and answer
``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}`` (protobuf JSON), with CORS for the UI's
origin (``PBXOPS_CODEC_SERVER_ORIGINS``, default ``PBXOPS_UI_URL``). Every call must be authorised:

- ``Authorization: Bearer <PBXOPS_CODEC_SERVER_TOKEN>`` (``temporal workflow show --codec-endpoint
  http://127.0.0.1:8888 --codec-auth "Bearer …"``, scripts, a proxy in front of a UI with SSO);
- or, for a browser on the dev UI (which has no login of its own), a session cookie obtained once
  by entering the token at ``/login``; the UI's codec settings must then "include cross-origin
  credentials".

Anything else answers 401 and decodes nothing. The token and the key are never logged.
"""

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import structlog
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from pbxops.runtime.codec import codec_from_settings
from pbxops.runtime.logging import configure_logging
from pbxops.runtime.settings import Settings, settings_or_exit

log = structlog.get_logger("pbxops.codec_server")

COOKIE = "pbxops_codec_session"


def _session_value(token: str) -> str:
    """What the cookie holds: a MAC of the token, never the token itself."""
    return hmac.new(token.encode(), b"pbxops/codec-session", hashlib.sha256).hexdigest()


def origins(settings: Settings) -> list[str]:
    """The browser origins allowed: the configured ones, else the UI's, under both of the names a
    local UI is opened with (127.0.0.1 and localhost)."""
    if settings.codec_server_origins:
        found = settings.codec_server_origins.split(",")
    else:
        ui = settings.ui_url.rstrip("/")
        found = [
            ui,
            ui.replace("//127.0.0.1", "//localhost"),
            ui.replace("//localhost", "//127.0.0.1"),
        ]
    return list(dict.fromkeys(origin.strip().rstrip("/") for origin in found if origin.strip()))


def create_codec_app(codec: PayloadCodec, token: str, allowed_origins: list[str]) -> FastAPI:
    if not token:
        raise ValueError("the codec server needs a token (PBXOPS_CODEC_SERVER_TOKEN)")
    app = FastAPI(title="pbxops codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed_origins,
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Content-Type", "X-Namespace", "Authorization"],
    )
    session = _session_value(token)

    def authorised(request: Request, authorization: str) -> bool:
        bearer = hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())
        cookie = request.cookies.get(COOKIE, "")
        return bearer or hmac.compare_digest(cookie.encode(), session.encode())

    def endpoint(
        transform: Callable[[Payloads], Awaitable[None]],
    ) -> Callable[..., Awaitable[JSONResponse]]:
        async def handle(request: Request, authorization: str = Header(default="")) -> JSONResponse:
            if not authorised(request, authorization):
                raise HTTPException(status_code=401, detail="missing or invalid codec token")
            try:
                payloads = json_format.Parse(await request.body(), Payloads())
            except json_format.ParseError as err:
                raise HTTPException(status_code=400, detail='expected {"payloads": [...]}') from err
            try:
                await transform(payloads)
            except ValueError as err:
                raise HTTPException(status_code=400, detail=str(err)) from err
            return JSONResponse(json_format.MessageToDict(payloads))

        return handle

    app.post("/decode")(endpoint(codec.decode_wrapper))
    app.post("/encode")(endpoint(codec.encode_wrapper))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse)
    async def login_page() -> str:
        return (
            "<!doctype html><title>pbxops codec server</title>"
            "<h1>Decode pbxops payloads in this browser</h1>"
            '<form method="post"><label>Codec token <input name="token" type="password" '
            "autofocus></label> <button>Sign in</button></form>"
        )

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> HTMLResponse:
        given = parse_qs((await request.body()).decode(errors="replace")).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse("<p>Wrong token.</p>", status_code=401)
        response = HTMLResponse(
            "<p>Signed in: the Temporal UI in this browser can now decode payloads.</p>"
        )
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict", max_age=8 * 3600)
        return response

    return app


def main() -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)
    codec = codec_from_settings(settings)
    if codec is None:
        raise SystemExit("set PBXOPS_PAYLOAD_KEY: without a key there is nothing to decode")
    token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else ""
    if not token:
        raise SystemExit("set PBXOPS_CODEC_SERVER_TOKEN: the codec server decodes only for it")
    host, _, port = settings.codec_server_bind.rpartition(":")
    allowed = origins(settings)
    log.info(
        "codec server ready",
        url=f"http://{host}:{port}",
        key_id=codec.key_id,
        origins=allowed,
    )
    uvicorn.run(
        create_codec_app(codec, token, allowed),
        host=host,
        port=int(port),
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
