"""The operator accounts of the support view, the device portal and the e-commerce panel.

The provider keeps these credentials in a password vault (Passwordstate). The simulator plays that
vault with a directory of secret files, one per setting, named as pbxops reads them
(``pbxops_csu_username``, ``pbxops_csu_password``, …): at start it creates any missing account with
a random password (files readable by their owner only), and it checks every request against the
files as they are *now*, so rotating a password is editing a file. Nothing is ever logged.

Where: ``SIMULATOR_VAULT_DIR``, else ``secrets/`` beside the SQLite database file (so ``make up``
uses ``.data/secrets``, and a test's simulator its own temporary directory), else
``.data/secrets``. pbxops reads the same directory through ``PBXOPS_SECRETS_DIR`` (``make up``:
``.data/secrets`` by default).
"""

import base64
import binascii
import hmac
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, Request
from sqlalchemy.engine import make_url

SYSTEMS = {
    "csu": "the support view (CSU)",
    "device_portal": "the device portal (StreetSmart)",
    "ecommerce": "the e-commerce billing panel (2Checkout)",
}
# The device portal's operators log in to company id 1 ("use 1 as COID").
DEVICE_PORTAL_COID = "1"


def vault_dir(db_url: str) -> Path:
    configured = os.environ.get("SIMULATOR_VAULT_DIR")
    if configured:
        return Path(configured).expanduser()
    url = make_url(db_url)
    database = url.database or ""
    on_disk = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and on_disk:
        return Path(database).expanduser().resolve().parent / "secrets"
    return Path(".data/secrets")


class OperatorVault:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, system: str, part: str) -> Path:
        return self.directory / f"pbxops_{system}_{part}"

    def ensure(self) -> None:
        """Create the accounts that do not exist yet; existing ones are kept as they are."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for system in SYSTEMS:
            self._create(self._path(system, "username"), f"pbxops-{system.replace('_', '-')}")
            self._create(self._path(system, "password"), secrets.token_urlsafe(24))

    @staticmethod
    def _create(path: Path, value: str) -> None:
        # O_EXCL: two simulators starting on the same vault never overwrite each other's secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as file:
            file.write(value)

    def credentials(self, system: str) -> tuple[str, str] | None:
        try:
            username = self._path(system, "username").read_text().strip()
            password = self._path(system, "password").read_text().strip()
        except FileNotFoundError:
            return None
        return username, password

    def matches(self, system: str, authorization: str | None) -> bool:
        expected = self.credentials(system)
        if expected is None or not authorization:
            return False
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Both compared in constant time, always both (no early exit on the user name).
        user_ok = hmac.compare_digest(username.encode(), expected[0].encode())
        password_ok = hmac.compare_digest(password.encode(), expected[1].encode())
        return user_ok and password_ok


def get_vault(request: Request) -> OperatorVault:
    vault: OperatorVault = request.app.state.operator_vault
    return vault


def _require(system: str, request: Request) -> None:
    if not get_vault(request).matches(system, request.headers.get("authorization")):
        raise HTTPException(
            status_code=401,
            detail=f"invalid operator credentials for {SYSTEMS[system]}",
            headers={"WWW-Authenticate": f'Basic realm="{system}"'},
        )


def require_csu(request: Request) -> None:
    _require("csu", request)


def require_device_portal(request: Request) -> None:
    _require("device_portal", request)
    coid = request.headers.get("x-coid")
    if coid != DEVICE_PORTAL_COID:
        raise HTTPException(
            status_code=401,
            detail=f"unknown company id (COID) '{coid or ''}'; operators log in with COID "
            f"{DEVICE_PORTAL_COID}",
        )


def require_ecommerce(request: Request) -> None:
    _require("ecommerce", request)


def open_vault(db_url: str) -> OperatorVault:
    vault = OperatorVault(vault_dir(db_url))
    vault.ensure()
    return vault
