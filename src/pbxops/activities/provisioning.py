"""Activities that provision customer accounts on the reseller portal and connect their PBX.

Every mutating call carries the idempotency key of its workflow step, so a retried or replayed
step never creates a second account, a second invitation or a second import. The invitation link
is a credential: it is read from the platform and mailed inside the same activity, so it never
reaches workflow history, and a retry resends the same message (same Message-ID, dropped by the
mail store) rather than a second invitation.
"""

from typing import Any
from urllib.parse import quote

import httpx
import phonenumbers
from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from pbxops.activities.http import request
from pbxops.activities.idempotency import idempotency_key
from pbxops.activities.mail import MailActivities
from pbxops.activities.platform_text import address, header_text
from pbxops.contracts.emails import Audience, EmailTemplate, TemplatedEmail
from pbxops.contracts.mail import EmailSent
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.provisioning import (
    TRIAL_CHANGED_SIGNAL,
    AccountRef,
    AccountSnapshot,
    AssignRoles,
    ConfigurePbx,
    ConnectionSnapshot,
    CreateAccount,
    CustomerTrialInput,
    InvitationSent,
    InviteAdmin,
    MonitoringStarted,
    PbxDiscovery,
    ProvisioningActivityNames,
    RemovePbx,
    ResellerRef,
    ResellerSnapshot,
    RolesAssigned,
    StartMonitoring,
    SyncProgress,
    SyncUsersRequest,
    TrialTimer,
    TrialTimerRequest,
    Undone,
    UpdateAccount,
    WithdrawInvitation,
)
from pbxops.contracts.search_attributes import PROCEDURE_NAME, STEP, TENANT_ID
from pbxops.contracts.support import SupportContact

Names = ProvisioningActivityNames


def _path(account_id: str, tail: str = "") -> str:
    return f"/pbx/customers/{quote(account_id, safe='')}{tail}"


def connection_snapshot(body: dict[str, Any]) -> ConnectionSnapshot:
    return ConnectionSnapshot.model_validate(body)


def account_snapshot(body: dict[str, Any]) -> AccountSnapshot:
    return AccountSnapshot(
        id=body["id"],
        reseller=body["reseller"],
        name=header_text(body["name"], f"name of customer account '{body['id']}'"),
        product_type=body["product_type"],
        reference=body["reference"],
        country=body["country"],
        locale=body["locale"],
        state=body["state"],
        created_by=body["created_by"],
        trial=body["trial"],
        trial_days=body["trial_days"],
        trial_ends_at=body["trial_ends_at"],
        trial_expired=body["trial_expired"],
        internal_demo=body["internal_demo"],
        users=body["users"],
        admins=body["admins"],
        connection=connection_snapshot(body["connection"]) if body["connection"] else None,
        support_contacts=[SupportContact.model_validate(c) for c in body["support_contacts"]],
        roles_pending=body["roles_pending"],
        service_state=body.get("service_state"),
        esim_licences=body.get("esim_licences", 0),
    )


def e164(phone: str | None, country: str) -> str | None:
    """A number as configured on the PBX (national format) in E.164, by the customer's country."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def invitation_email(inp: InviteAdmin, url: str) -> TemplatedEmail:
    return TemplatedEmail(
        template=EmailTemplate.INVITATION,
        to=[inp.admin.email],
        audience=Audience(account_id=inp.account_id),
        values={"greeting_name": inp.admin.name, "customer_name": inp.customer_name, "url": url},
    )


class ProvisioningActivities:
    def __init__(self, client: httpx.AsyncClient, mail: MailActivities) -> None:
        self._client = client
        self._mail = mail

    async def _account(self, account_id: str) -> AccountSnapshot:
        return account_snapshot(await request(self._client, "GET", _path(account_id)))

    async def _change(self, method: str, account_id: str, tail: str = "", **options: Any) -> Any:
        """A change to one customer account, under this attempt's idempotency key: a retry gets
        the platform's first answer back instead of making the change twice."""
        return await request(
            self._client,
            method,
            _path(account_id, tail),
            idempotency_key=idempotency_key(),
            **options,
        )

    # --- step 1 --------------------------------------------------------------------------------

    @activity.defn(name=Names.CREATE_ACCOUNT)
    async def create_account(self, inp: CreateAccount) -> AccountSnapshot:
        body = await request(
            self._client,
            "POST",
            f"/pbx/resellers/{quote(inp.reseller, safe='')}/customers",
            json={
                **inp.customer.model_dump(),
                "support_contacts": [c.model_dump(exclude_none=True) for c in inp.support_contacts],
            },
            idempotency_key=idempotency_key(),
        )
        activity.logger.info("created customer account %s", body["id"])
        return account_snapshot(body)

    @activity.defn(name=Names.GET_ACCOUNT)
    async def get_account(self, ref: AccountRef) -> AccountSnapshot:
        return await self._account(ref.account_id)

    @activity.defn(name=Names.GET_RESELLER)
    async def get_reseller(self, ref: ResellerRef) -> ResellerSnapshot:
        body = await request(
            self._client, "GET", f"/pbx/resellers/{quote(ref.reseller_id, safe='')}"
        )
        return ResellerSnapshot(
            id=body["id"],
            name=header_text(body["name"], f"name of reseller '{ref.reseller_id}'"),
            notification_email=address(
                body["notification_email"], f"notification address of reseller '{ref.reseller_id}'"
            ),
        )

    @activity.defn(name=Names.DELETE_ACCOUNT)
    async def delete_account(self, ref: AccountRef) -> Undone:
        body = await self._change("DELETE", ref.account_id)
        return Undone(what=f"account {ref.account_id}", done=bool(body["deleted"]))

    @activity.defn(name=Names.ACTIVATE_ACCOUNT)
    async def activate_account(self, ref: AccountRef) -> AccountSnapshot:
        body = await self._change("POST", ref.account_id, "/activate")
        return account_snapshot(body)

    @activity.defn(name=Names.UPDATE_ACCOUNT)
    async def update_account(self, inp: UpdateAccount) -> AccountSnapshot:
        body = await self._change("PATCH", inp.account_id, json=inp.changes.given())
        return account_snapshot(body)

    @activity.defn(name=Names.EXPIRE_TRIAL)
    async def expire_trial(self, ref: AccountRef) -> AccountSnapshot:
        body = await self._change("POST", ref.account_id, "/trial/expire")
        return account_snapshot(body)

    # --- step 2 --------------------------------------------------------------------------------

    @activity.defn(name=Names.INVITE_ADMIN)
    async def invite_admin(self, inp: InviteAdmin) -> InvitationSent:
        """Make the Admin user and mail their invitation, in one step that is safe to retry."""
        invitation = await self._change(
            "POST",
            inp.account_id,
            "/admins",
            json={"name": inp.admin.name, "email": inp.admin.email},
        )
        sent = await self._mail.deliver_template(
            invitation_email(inp, invitation["invitation_url"]), idempotency_key()
        )
        return InvitationSent(
            user_id=invitation["user_id"], email=invitation["email"], message_id=sent.message_id
        )

    @activity.defn(name=Names.WITHDRAW_INVITATION)
    async def withdraw_invitation(self, inp: WithdrawInvitation) -> EmailSent:
        """Tell an invited Admin that the account they were invited to was not created."""
        return await self._mail.deliver_template(
            TemplatedEmail(
                template=EmailTemplate.INVITATION_WITHDRAWN,
                to=[inp.email],
                # Runs before the account is gone: its record gives the language (then English).
                audience=Audience(country=inp.country, account_id=inp.account_id),
                values={"customer_name": inp.customer_name, "reason": inp.reason},
            ),
            idempotency_key(),
        )

    # --- step 3 --------------------------------------------------------------------------------

    @activity.defn(name=Names.CONFIGURE_PBX)
    async def configure_pbx(self, inp: ConfigurePbx) -> ConnectionSnapshot:
        body = await self._change("PUT", inp.account_id, "/pbx", json=inp.pbx.model_dump())
        return connection_snapshot(body)

    @activity.defn(name=Names.ENABLE_PBX)
    async def enable_pbx(self, ref: AccountRef) -> ConnectionSnapshot:
        body = await self._change("POST", ref.account_id, "/pbx/enable")
        return connection_snapshot(body)

    @activity.defn(name=Names.CONNECT_PBX)
    async def connect_pbx(self, ref: AccountRef) -> PbxDiscovery:
        body = await self._change("POST", ref.account_id, "/pbx/connect")
        return PbxDiscovery.model_validate(body)

    @activity.defn(name=Names.SYNC_PBX_USERS)
    async def sync_pbx_users(self, req: SyncUsersRequest) -> SyncProgress:
        """Read users from the PBX a page at a time and import them, up to ``batch_users``.

        The cursor is heartbeated after every page: a retried attempt resumes there instead of
        starting the batch again (imports are upserts, so a repeated page is harmless anyway).
        """
        details = activity.info().heartbeat_details
        resume: dict[str, Any] = details[0] if details and isinstance(details[0], dict) else {}
        cursor: str | None = resume.get("cursor", req.cursor)
        synced = int(resume.get("synced", 0))
        key = idempotency_key()
        total, account_users, done = 0, 0, False
        while synced < req.batch_users:
            params = {
                "limit": str(min(req.page_size, req.batch_users - synced)),
                "sub_accounts": "true" if req.include_sub_accounts else "false",
            }
            if cursor:
                params["cursor"] = cursor
            page = await request(
                self._client, "GET", _path(req.account_id, "/pbx/users"), params=params
            )
            total = page["total"]
            if page["items"]:
                imported = await request(
                    self._client,
                    "POST",
                    _path(req.account_id, "/users/import"),
                    json={
                        "users": [
                            {
                                "pbx_user_id": user["id"],
                                "name": user["name"],
                                "email": user["email"],
                                "extension": user["extension"],
                                "phone_e164": e164(user["phone"], req.country),
                                "sub_account": user["sub_account"],
                            }
                            for user in page["items"]
                        ]
                    },
                    idempotency_key=f"{key}/after-{cursor or 'start'}",
                )
                account_users = imported["account_users"]
                synced += len(page["items"])
            cursor = page["next_cursor"]
            activity.heartbeat({"cursor": cursor, "synced": synced})
            if cursor is None:
                done = True
                break
        activity.logger.info("synchronised %d users of %s in this batch", synced, req.account_id)
        return SyncProgress(
            cursor=cursor,
            done=done,
            synced_in_batch=synced,
            discovered_total=total,
            account_users=account_users,
        )

    @activity.defn(name=Names.START_MONITORING)
    async def start_monitoring(self, req: StartMonitoring) -> MonitoringStarted:
        """Provision every sub-account (when asked, a page at a time), then monitor calls and
        agent status."""
        key = idempotency_key()
        if req.include_sub_accounts:
            cursor: str | None = None
            pages = 0
            while True:
                params = {"limit": str(req.page_size)}
                if cursor:
                    params["cursor"] = cursor
                page = await request(
                    self._client, "GET", _path(req.account_id, "/pbx/sub-accounts"), params=params
                )
                if page["items"]:
                    pages += 1
                    await request(
                        self._client,
                        "POST",
                        _path(req.account_id, "/pbx/sub-accounts"),
                        json={"ids": [sub["id"] for sub in page["items"]]},
                        idempotency_key=f"{key}/sub-accounts-{pages}",
                    )
                activity.heartbeat({"pages": pages})
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        body = await request(
            self._client,
            "POST",
            _path(req.account_id, "/pbx/monitoring"),
            idempotency_key=key,
        )
        return MonitoringStarted(
            calls=body["monitoring_calls"],
            agent_status=body["monitoring_agent_status"],
            sub_accounts_monitored=body["sub_accounts_monitored"],
        )

    @activity.defn(name=Names.REMOVE_PBX)
    async def remove_pbx(self, req: RemovePbx) -> Undone:
        body = await self._change(
            "DELETE",
            req.account_id,
            "/pbx",
            params={"keep_disabled": "true" if req.keep_disabled else "false"},
        )
        return Undone(what=f"PBX connection of {req.account_id}", done=bool(body["removed"]))

    # --- step 4 --------------------------------------------------------------------------------

    @activity.defn(name=Names.ASSIGN_ROLES)
    async def assign_roles(self, inp: AssignRoles) -> RolesAssigned:
        body = await self._change("PUT", inp.account_id, "/roles", json=inp.roles.model_dump())
        return RolesAssigned(applied=body["applied"], pending=body["pending"])


class TrialTimers:
    """Starts or nudges the ``CustomerTrial`` workflow of an account, from the worker's client.

    Signal-with-start: the trial workflow runs at most once per account (its id), a second call
    only tells it to re-read the trial. Started by an activity rather than as a child workflow so
    it has no parent to outlive (and it is tested with time skipping, which abandoned children
    break in the test server).
    """

    def __init__(self, client: Client | None = None) -> None:
        self._client = client

    @activity.defn(name=Names.TRIAL_TIMER)
    async def trial_timer(self, req: TrialTimerRequest) -> TrialTimer:
        client = self._client or activity.client()
        workflow_id = Procedure.TRIAL.workflow_id(req.account_id)
        if not req.start_if_missing:
            try:
                await client.get_workflow_handle(workflow_id).signal(TRIAL_CHANGED_SIGNAL)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return TrialTimer(workflow_id=workflow_id, running=False)
                raise
            return TrialTimer(workflow_id=workflow_id, running=True)
        await client.start_workflow(
            Procedure.TRIAL.value,
            CustomerTrialInput(account_id=req.account_id),
            id=workflow_id,
            task_queue=activity.info().task_queue,
            start_signal=TRIAL_CHANGED_SIGNAL,
            static_summary=f"Trial of customer account {req.account_id}",
            static_details=(
                "Emails the reseller and marks the account trial-expired when the trial period "
                "ends; re-reads the end date whenever the trial is changed."
            ),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(TENANT_ID, req.account_id),
                    SearchAttributePair(PROCEDURE_NAME, Procedure.TRIAL.value),
                    SearchAttributePair(STEP, "waiting-for-trial-end"),
                ]
            ),
        )
        return TrialTimer(workflow_id=workflow_id, running=True)
