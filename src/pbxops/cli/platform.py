"""The one client for the platform, portal and helpdesk reads the CLI does itself (so bad input
starts nothing), with one map from their answers to one-line errors."""

import re
from typing import Any
from urllib.parse import quote

import httpx

from pbxops.cli.errors import OperatorError
from pbxops.contracts.provisioning import ProductType, ProvisioningCatalog, name_key
from pbxops.runtime.settings import Settings, without_password

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_id(value: str, what: str) -> str:
    """Ids go into visibility queries and URLs: accept only the platform's id syntax."""
    if not _ID.fullmatch(value):  # not .match: its $ also matches before a final "\n"
        raise OperatorError(
            f"'{value[:80]}' is not a {what} (letters, digits, '.', '_', '-'; at most 64)"
        )
    return value


def check_tenant_id(tenant_id: str) -> str:
    return check_id(tenant_id, "tenant id")


class PlatformApi:
    def __init__(self, settings: Settings) -> None:
        self._url = without_password(settings.platform_url)
        self._http = httpx.AsyncClient(
            base_url=settings.platform_url,
            headers={"Authorization": f"Bearer {settings.platform_token.get_secret_value()}"},
            timeout=settings.http_timeout_seconds,
        )

    async def __aenter__(self) -> "PlatformApi":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """One request, every answer that is not a success mapped to one sentence: the
        platform's own ``detail`` for a refusal, "try again" for its failures. ``missing_ok``:
        None for a 404 instead of an error."""
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as err:
            raise OperatorError(f"cannot reach the PBX platform at {self._url} ({err})") from err
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 401:
            raise OperatorError("the PBX platform refused our token (check PBXOPS_PLATFORM_TOKEN)")
        if 400 <= response.status_code < 500:
            detail = _detail(response)
            if detail is None:
                detail = (
                    "not found"
                    if response.status_code == 404
                    else f"the PBX platform answered {response.status_code} for {path}"
                )
            raise OperatorError(detail)
        if not response.is_success:
            raise OperatorError(
                f"the PBX platform answered {response.status_code} for {path}; try again"
            )
        return response.json()

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.call("GET", path, params=params)

    async def device(self, device_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(f"/pbx/mobile/devices/{quote(device_id, safe='')}")
        return result

    async def current_code(self, device_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(
            f"/pbx/mobile/devices/{quote(device_id, safe='')}/activation-code"
        )
        return result

    async def tenant(self, tenant_id: str) -> dict[str, Any]:
        return await self._get(f"/pbx/tenants/{quote(check_tenant_id(tenant_id), safe='')}")

    async def tickets(self, status: str | None, tenant_id: str | None) -> list[dict[str, Any]]:
        params = {}
        if status:
            params["status"] = status
        if tenant_id:
            params["tenant_id"] = check_tenant_id(tenant_id)
        return await self._get("/helpdesk/tickets", params=params)

    async def account(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(
            f"/pbx/customers/{quote(check_tenant_id(account_id), safe='')}"
        )
        return result

    async def reseller(self, reseller_id: str) -> dict[str, Any] | None:
        return await self.call(
            "GET", f"/pbx/resellers/{quote(reseller_id, safe='')}", missing_ok=True
        )

    async def customers(self, reseller_id: str | None) -> list[dict[str, Any]]:
        params = {"reseller": reseller_id} if reseller_id else None
        result: list[dict[str, Any]] = await self._get("/pbx/customers", params=params)
        return result

    async def product_types(self) -> list[ProductType]:
        return [ProductType.model_validate(p) for p in await self._get("/pbx/product-types")]

    async def roles(self) -> list[str]:
        return [role["id"] for role in await self._get("/pbx/roles")]

    async def billing(self, month: str, reseller_id: str | None) -> dict[str, Any]:
        params = {"month": month, **({"reseller": reseller_id} if reseller_id else {})}
        result: dict[str, Any] = await self._get("/pbx/billing", params=params)
        return result

    async def catalog(self, reseller_id: str) -> ProvisioningCatalog:
        product_types = await self.product_types()
        roles = await self.roles()
        reseller = await self.reseller(reseller_id) if _looks_like_id(reseller_id) else None
        if reseller is None:
            return ProvisioningCatalog(
                reseller_id=reseller_id,
                reseller_found=False,
                product_types=product_types,
                roles=roles,
            )
        return ProvisioningCatalog(
            reseller_id=reseller_id,
            reseller_found=True,
            partner_ids=[p["id"] for p in reseller["partners"]],
            customers={
                name_key(c["name"]): (c["id"], c["name"]) for c in await self.customers(reseller_id)
            },
            demo_account=reseller["demo_account"],
            product_types=product_types,
            roles=roles,
        )


def _looks_like_id(value: str) -> bool:
    try:
        check_tenant_id(value)
    except OperatorError:
        return False
    return True


def _detail(response: httpx.Response) -> str | None:
    """The platform's sentence for a refusal, if it gave one (never a body that is not JSON)."""
    try:
        detail = response.json().get("detail") if response.content else None
    except (ValueError, AttributeError):
        return None
    return detail if isinstance(detail, str) else None
