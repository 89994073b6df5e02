"""Activities of the number package removal: the support view, the device portal, the e-commerce
billing panel, and the platform's user roles.

Each system is reached with the operator's own account (``pbxops.runtime.number_systems``): the
credentials are read from the settings here, never passed in an activity's input or result, and
re-read once when a system refuses them (a rotated password). The verification activity is a
*retry-as-poll*: "not visible yet" is a retryable, benign error, so the activity's retry policy
does the polling and costs no history event per poll.
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from pbxops.activities.http import PlatformRejected, request
from pbxops.activities.idempotency import idempotency_key
from pbxops.activities.platform_text import header_text
from pbxops.contracts.number_removal import (
    ALLOWED_ROLES,
    CLOCK_TOLERANCE,
    BillingAccountRef,
    BillingLink,
    DeleteDevice,
    DeviceDeleted,
    LookupNumbers,
    NumberActivities,
    NumberRecord,
    NumberRecords,
    RemovalVerified,
    RequesterCheck,
    RequesterVerdict,
    VerifyRemoval,
)
from pbxops.runtime.number_systems import CredentialsMissing, OperatorSystems, System

NOT_VISIBLE_YET = "RemovalNotVisibleYet"


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


def _is_404(err: PlatformRejected) -> bool:
    return err.type == "PlatformRejected404"


def allowed_role(roles: list[str]) -> bool:
    wanted = {role.casefold() for role in ALLOWED_ROLES}
    return any(role.casefold() in wanted for role in roles)


class NumberRemovalActivities:
    def __init__(self, platform: httpx.AsyncClient, systems: OperatorSystems) -> None:
        self._platform = platform
        self._systems = systems

    async def _call(
        self,
        system: System,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        key: str | None = None,
    ) -> Any:
        """One call with the operator's account; credentials are re-read once if refused."""
        for attempt in (1, 2):
            try:
                client = self._systems.client(system)
            except CredentialsMissing as err:
                # Retryable: once the account is configured, the procedure carries on.
                raise ApplicationError(str(err), type="OperatorCredentialsMissing") from None
            try:
                return await request(client, method, path, params=params, idempotency_key=key)
            except PlatformRejected as err:
                if err.type != "PlatformRejected401":
                    raise
                await self._systems.refresh(system)
                if attempt == 2:
                    raise ApplicationError(
                        f"{system.label} refused pbxops' operator account ({err.message}); "
                        f"update {system.env_names} or their secret files",
                        type="OperatorCredentialsRejected",
                    ) from None
        raise AssertionError("unreachable")

    @activity.defn(name=NumberActivities.CHECK_REQUESTER)
    async def check_requester(self, check: RequesterCheck) -> RequesterVerdict:
        """Is the requester an Admin or Super User of the tenant? (Reads only.)"""
        tenant_path = _path("pbx", "tenants", check.tenant_id)
        tenant = await request(self._platform, "GET", tenant_path)
        users = await request(self._platform, "GET", f"{tenant_path}/users")
        email = str(check.email).casefold()
        roles = sorted(
            {role for user in users if user["email"].casefold() == email for role in user["roles"]}
        )
        return RequesterVerdict(
            tenant_id=check.tenant_id,
            tenant_name=header_text(tenant["name"], f"name of tenant '{check.tenant_id}'"),
            allowed=allowed_role(roles),
            roles=roles,
        )

    @activity.defn(name=NumberActivities.LOOKUP)
    async def lookup(self, req: LookupNumbers) -> NumberRecords:
        """Each number's record in the support view, and its device on the customer's list."""
        records: list[NumberRecord] = []
        device_lists: dict[str, list[dict[str, Any]]] = {}
        for number in req.numbers:
            try:
                found = await self._call(System.CSU, "GET", _path("csu", "numbers", number))
            except PlatformRejected as err:
                if not _is_404(err):
                    raise
                records.append(NumberRecord(number=number, found=False))
                continue
            tenant_id = found["tenant_id"]
            if tenant_id not in device_lists:
                device_lists[tenant_id] = await self._devices(tenant_id)
            listed = [d for d in device_lists[tenant_id] if d["number"] == number]
            records.append(
                NumberRecord(
                    number=number,
                    found=True,
                    tenant_id=tenant_id,
                    company=found["company"],
                    soc_code=found["soc_code"],
                    billing_account=found["billing_account"],
                    deleted_at=found["deleted_datetime"],
                    device_id=listed[0]["device_id"] if listed else None,
                    label=found["label"] or None,
                )
            )
        return NumberRecords(records=records)

    async def _devices(self, tenant_id: str) -> list[dict[str, Any]]:
        path = _path("streetsmart", "companies", tenant_id, "devices")
        devices: list[dict[str, Any]] = await self._call(System.DEVICE_PORTAL, "GET", path)
        return devices

    @activity.defn(name=NumberActivities.BILLING_LINK)
    async def billing_link(self, ref: BillingAccountRef) -> BillingLink:
        """The account's "update subscription" link on the e-commerce billing panel."""
        account = await self._call(
            System.ECOMMERCE, "GET", _path("ecommerce", "accounts", ref.account_number)
        )
        return BillingLink(
            account_number=account["account_number"],
            company=account["company"],
            update_subscription_url=account["update_subscription_url"],
        )

    @activity.defn(name=NumberActivities.DELETE_DEVICE)
    async def delete_device(self, req: DeleteDevice) -> DeviceDeleted:
        """Delete Device on the portal. The idempotency key makes a retry answer the same
        deletion (same time), never a second one or a "not found"."""
        path = _path("streetsmart", "companies", req.tenant_id, "devices", req.device_id)
        deleted = await self._call(System.DEVICE_PORTAL, "DELETE", path, key=idempotency_key())
        activity.logger.info("deleted device %s", req.device_id)
        return DeviceDeleted(
            number=deleted["number"],
            device_id=deleted["device_id"],
            deleted_at=deleted["deleted_at"],
        )

    @activity.defn(name=NumberActivities.VERIFY_REMOVED)
    async def verify_removed(self, req: VerifyRemoval) -> RemovalVerified:
        """The support view shows the Deleted Datetime of this removal, and the device portal no
        longer lists the number. "Not yet" is a retryable error: the retry policy is the poll."""
        records = await self._call(
            System.CSU, "GET", _path("csu", "numbers"), params={"tenant_id": req.tenant_id}
        )
        record = next((r for r in records if r["device_id"] == req.device_id), None)
        if record is None:
            raise ApplicationError(
                f"the support view has no record of device {req.device_id} ({req.number})",
                type="RemovalNotVerifiable",
                non_retryable=True,
            )
        if record["deleted_datetime"] is None:
            raise _not_yet(f"the support view shows no Deleted Datetime for {req.number} yet")
        deleted_at = datetime.fromisoformat(record["deleted_datetime"])
        now = datetime.now(UTC)
        if not req.requested_at - CLOCK_TOLERANCE <= deleted_at <= now + CLOCK_TOLERANCE:
            raise ApplicationError(
                f"the support view's Deleted Datetime of {req.number} "
                f"({deleted_at:%Y-%m-%d %H:%M:%S} UTC) does not match the removal asked for at "
                f"{req.requested_at:%Y-%m-%d %H:%M:%S} UTC",
                type="RemovalMismatch",
                non_retryable=True,
            )
        listed = await self._devices(req.tenant_id)
        if any(device["number"] == req.number for device in listed):
            raise _not_yet(f"{req.number} is still on the device portal's device list")
        return RemovalVerified(number=req.number, deleted_at=deleted_at)


def _not_yet(message: str) -> ApplicationError:
    # Benign: an expected answer while polling, logged at DEBUG and kept out of error metrics.
    return ApplicationError(message, type=NOT_VISIBLE_YET, category=ApplicationErrorCategory.BENIGN)
