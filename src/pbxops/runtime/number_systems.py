"""The operator's systems the number package removal uses, and how pbxops logs in to them.

Three systems (see ``pbxops.contracts.number_removal``): the support view (CSU), the device portal
(StreetSmart) and the e-commerce billing panel (2Checkout). Each has its own operator account,
read from the settings (environment or secret files, never code). This module builds an
authenticated ``httpx.AsyncClient`` per system for the activities and the CLI. Credentials are
re-read from the settings whenever a system refuses them, so a rotated password in the secret
store is picked up without restarting the worker.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

from pbxops.runtime.settings import Settings, without_password


class System(StrEnum):
    CSU = "csu"
    DEVICE_PORTAL = "device_portal"
    ECOMMERCE = "ecommerce"

    @property
    def label(self) -> str:
        return _TITLES[self]

    @property
    def env_names(self) -> str:
        prefix = f"PBXOPS_{self.value.upper()}"
        return f"{prefix}_USERNAME and {prefix}_PASSWORD"


_TITLES = {
    System.CSU: "the support view (CSU)",
    System.DEVICE_PORTAL: "the device portal (StreetSmart)",
    System.ECOMMERCE: "the e-commerce billing panel (2Checkout)",
}


class CredentialsMissing(Exception):
    """An operator account is not configured; the message says which settings to set."""


@dataclass(frozen=True)
class Account:
    system: System
    base_url: str
    username: str | None
    password: str | None
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # never the password, whatever prints this
        url = without_password(self.base_url)
        return f"Account({self.system.value}, {url}, user={self.username!r})"

    __str__ = __repr__


def account(settings: Settings, system: System) -> Account:
    password = getattr(settings, f"{system.value}_password")
    base_url = getattr(settings, f"{system.value}_url") or settings.platform_url
    headers: tuple[tuple[str, str], ...] = ()
    if system is System.DEVICE_PORTAL:
        headers = (("X-COID", settings.device_portal_coid),)
    return Account(
        system=system,
        base_url=base_url,
        username=getattr(settings, f"{system.value}_username"),
        password=password.get_secret_value() if password else None,
        headers=headers,
    )


class OperatorSystems:
    """One authenticated client per system; the settings are read again (``reload``) when an
    account is missing or refused, so a secret file written or rotated later is picked up."""

    def __init__(
        self, settings: Settings, reload: Callable[[], Settings] = Settings, timeout: float = 10.0
    ) -> None:
        self._settings = settings
        self._reload = reload
        self._timeout = timeout
        self._clients: dict[System, httpx.AsyncClient] = {}

    def client(self, system: System) -> httpx.AsyncClient:
        if system not in self._clients:
            found = account(self._settings, system)
            if not found.username or not found.password:
                self._settings = self._reload()
                found = account(self._settings, system)
            if not found.username or not found.password:
                raise CredentialsMissing(
                    f"no operator account for {system.label}: set {system.env_names}, or put "
                    f"the secret files pbxops_{system.value}_username and "
                    f"pbxops_{system.value}_password in PBXOPS_SECRETS_DIR"
                )
            self._clients[system] = httpx.AsyncClient(
                base_url=found.base_url,
                auth=httpx.BasicAuth(found.username, found.password),
                headers=dict(found.headers),
                timeout=self._timeout,
                # Operator credentials go to the configured system only, never via an env proxy.
                trust_env=False,
            )
        return self._clients[system]

    async def refresh(self, system: System) -> None:
        """Forget the system's client: the next call reads the credentials again."""
        self._settings = self._reload()
        client = self._clients.pop(system, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
