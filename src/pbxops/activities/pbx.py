"""Activities that talk to the PBX platform's API."""

from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from pbxops.activities.http import request
from pbxops.activities.idempotency import idempotency_key, workflow_of_activity
from pbxops.activities.platform_text import address, header_text
from pbxops.contracts.deletion import (
    DeletionActivities,
    Purged,
    PurgeReport,
    PurgeRequest,
    PurgeStep,
    TenantAdmins,
    TenantLines,
)
from pbxops.contracts.pbx import (
    ActivityNames,
    ServiceSnapshot,
    TenantRef,
    TransitionAccepted,
    TransitionRequest,
)
from pbxops.contracts.wording import plural
from pbxops.runtime.callback_auth import CallbackSigner, job_ref


def _snapshot(tenant: dict[str, Any]) -> ServiceSnapshot:
    service = tenant["service"]
    data = tenant["data"]
    return ServiceSnapshot(
        tenant_id=tenant["id"],
        tenant_name=tenant["name"],
        state=service["state"],
        billing_active=service["billing_active"],
        extensions_total=data["extensions"],
        extensions_registered=data["extensions_registered"],
        access_visible=service.get("access") is not None,
        usage_minutes=service.get("usage_minutes", 0),
        users_total=data["users"],
        recordings_total=data["recordings"],
        mobile_lines_total=data.get("mobile_lines", 0),
        numbers_total=data.get("numbers", 0),
        support_contacts_total=data.get("support_contacts", 0),
        problem_reports_total=data.get("problem_reports", 0),
    )


class PbxActivities:
    def __init__(
        self, client: httpx.AsyncClient, callback_base_url: str, signer: CallbackSigner
    ) -> None:
        self._client = client
        self._callback_base_url = callback_base_url.rstrip("/")
        self._signer = signer

    async def _snapshot(self, tenant_id: str) -> ServiceSnapshot:
        # One GET: the tenant's own counts say what it stores (extensions, registered ones,
        # users, recordings), so no list of extensions has to be fetched and counted.
        return _snapshot(
            await request(self._client, "GET", f"/pbx/tenants/{quote(tenant_id, safe='')}")
        )

    def _callback_url(self, key: str) -> str:
        """Where the platform reports the job's end: the worker's receiver signals this workflow.
        The URL carries this job's credential (runtime/callback_auth.py), never in history."""
        _, workflow_id, _ = workflow_of_activity()
        return self._signer.url(self._callback_base_url, "platform", workflow_id, job_ref(key))

    @activity.defn(name=ActivityNames.PBX_REQUEST_TRANSITION)
    async def request_transition(self, req: TransitionRequest) -> TransitionAccepted:
        """Ask the platform to start a deactivation/reactivation job; returns at once.

        The snapshot is read first so the workflow can prove afterwards what the job changed
        (a deactivation must delete no extension and leave billing alone).
        """
        before = await self._snapshot(req.tenant_id)
        # The name goes into the result email's subject: refused here, before any job starts,
        # non-retryable, when the platform's record is unsafe in a header.
        header_text(before.tenant_name, f"name of tenant '{req.tenant_id}'")
        key = idempotency_key()
        job = await request(
            self._client,
            "POST",
            f"/pbx/tenants/{quote(req.tenant_id, safe='')}/{req.kind.value}",
            json={"callback_url": self._callback_url(key)},
            idempotency_key=key,
        )
        activity.logger.info("platform accepted %s job %s", req.kind.value, job["job_id"])
        return TransitionAccepted(job_id=job["job_id"], before=before)

    @activity.defn(name=DeletionActivities.GET_ADMINS)
    async def get_admins(self, ref: TenantRef) -> TenantAdmins:
        """The tenant and the emails of its users with the Admin role (who get the code)."""
        path = f"/pbx/tenants/{quote(ref.tenant_id, safe='')}"
        tenant = await request(self._client, "GET", path)
        admins = await request(self._client, "GET", f"{path}/users", params={"role": "Admin"})
        # Both go into the code email's headers: refused here, non-retryable, when unsafe.
        return TenantAdmins(
            tenant_id=tenant["id"],
            tenant_name=header_text(tenant["name"], f"name of tenant '{ref.tenant_id}'"),
            country=tenant["country"],
            timezone=tenant["timezone"],
            state=tenant["service"]["state"],
            admins=[
                address(user["email"], f"email address of Admin '{user.get('id', '?')}'")
                for user in admins
            ],
        )

    @activity.defn(name=DeletionActivities.PURGE)
    async def purge(self, step: PurgeStep) -> Purged:
        """One step of the delivery team's purge; safe to repeat."""
        body = await request(
            self._client,
            "POST",
            f"/pbx/tenants/{quote(step.tenant_id, safe='')}/purge/{quote(step.step, safe='')}",
            idempotency_key=idempotency_key(),
        )
        return Purged(step=step.step, removed=body["removed"])

    @activity.defn(name=DeletionActivities.PURGE_ALL)
    async def purge_all(self, purge: PurgeRequest) -> PurgeReport:
        """Every purge step, in order, in one platform request (one transaction there). Each
        step is idempotent and the request carries its key, so a retry is harmless."""
        body = await request(
            self._client,
            "POST",
            f"/pbx/tenants/{quote(purge.tenant_id, safe='')}/purge",
            json={"steps": purge.steps},
            idempotency_key=idempotency_key(),
        )
        activity.logger.info("purged %s: %s", purge.tenant_id, ", ".join(purge.steps))
        return PurgeReport(
            steps=[Purged(step=s["step"], removed=s["removed"]) for s in body["steps"]]
        )

    @activity.defn(name=ActivityNames.PBX_GET_SERVICE)
    async def get_service(self, ref: TenantRef) -> ServiceSnapshot:
        """Read the service as it is now: the safety poll behind the platform's callback."""
        return await self._snapshot(ref.tenant_id)

    async def _live_lines(self, tenant_id: str) -> list[str]:
        path = f"/pbx/tenants/{quote(tenant_id, safe='')}/mobile/devices"
        devices = await request(self._client, "GET", path)
        return [device["id"] for device in devices if device["status"] != "deleted"]

    @activity.defn(name=DeletionActivities.LIVE_LINES)
    async def live_mobile_lines(self, ref: TenantRef) -> TenantLines:
        """The tenant's eSIM lines not deleted yet: the deletion tells each one's workflow."""
        return TenantLines(
            tenant_id=ref.tenant_id, device_ids=await self._live_lines(ref.tenant_id)
        )

    @activity.defn(name=DeletionActivities.LINES_ENDED)
    async def mobile_lines_ended(self, ref: TenantRef) -> TenantLines:
        """Fails (retryably) while a line is still live; the workflow's retry policy waits."""
        if live := await self._live_lines(ref.tenant_id):
            raise ApplicationError(
                f"{plural(len(live), 'eSIM line')} of tenant '{ref.tenant_id}' still live: "
                f"{', '.join(live[:5])}",
                type="LinesStillLive",
            )
        return TenantLines(tenant_id=ref.tenant_id)
