"""An in-memory reseller portal, customer PBX and mailbox for the provisioning workflow tests.

It registers under the real activity names and keeps the platform's rules that the workflows
depend on (unique names, immutable product types, one demo, idempotent steps), so the tests are
about orchestration: the four steps, batches and progress, undo on failure, the trial's timer.
The real activities are tested against the real simulator in tests/activities.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from pbxops.activities.provisioning import TrialTimers
from pbxops.contracts.emails import EmailActivities, TemplatedEmail
from pbxops.contracts.helpdesk import OpenTicket, Ticket
from pbxops.contracts.mail import EmailMessage, EmailSent
from pbxops.contracts.pbx import ActivityNames
from pbxops.contracts.provisioning import (
    AccountRef,
    AccountSnapshot,
    AccountState,
    AssignRoles,
    ConfigurePbx,
    ConnectionSnapshot,
    ConnectionState,
    CreateAccount,
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
    Undone,
    UpdateAccount,
    WithdrawInvitation,
    name_key,
)
from pbxops.contracts.support import (
    ContactAction,
    ContactKind,
    ProblemReportCreated,
    ProblemReportInput,
    SupportActivityNames,
    SupportContact,
    SupportContactsChangeInput,
    SupportContactsChangeResult,
)
from tests.workflows.fake_mail import deliver_all, rendered

N = ProvisioningActivityNames
IMMUTABLE = {"contact-centre", "compliance"}
PARTNERS = {"p-anna": "anna@northwind.example", "p-bruno": "bruno@northwind.example"}


def rejected(message: str, status: int = 409) -> ApplicationError:
    return ApplicationError(message, type=f"PlatformRejected{status}", non_retryable=True)


@dataclass
class Mail:
    to: list[str]
    subject: str
    text: str
    key: str


@dataclass
class FakeAccount:
    id: str
    reseller: str
    name: str
    product_type: str
    country: str
    trial: bool
    trial_days: int
    internal_demo: bool
    created_at: datetime
    created_by: str = "partner"
    state: str = "provisioning"
    trial_expired: bool = False
    reference: str = ""
    admins: list[str] = field(default_factory=list)
    users: set[str] = field(default_factory=set)
    connection: dict[str, Any] | None = None
    contacts: list[SupportContact] = field(default_factory=list)
    pending_roles: list[str] = field(default_factory=list)
    monitored_sub_accounts: int = 0


@dataclass
class FakeCustomers:
    pbx_users: int = 2000
    sub_accounts: int = 3
    sub_account_users: int = 10
    connect_error: str | None = None
    """Connecting to the customer's PBX fails with this (non-retryable) reason."""
    sync_fails_after: int | None = None
    """The PBX stops answering (non-retryable) once this many users were read."""
    transient_sync_failures: int = 0
    """Fail the next N sync attempts after one page (retryable): the heartbeat resumes them."""
    undo_fails: bool = False
    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    mails: list[Mail] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    tickets: list[OpenTicket] = field(default_factory=list)
    reports: dict[str, ProblemReportInput] = field(default_factory=dict)
    sync_attempts: int = 0
    sync_resumed_from: list[str | None] = field(default_factory=list)
    _keys: dict[str, Any] = field(default_factory=dict)

    # --- helpers -------------------------------------------------------------------------------

    def _key(self) -> str:
        info = activity.info()
        return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"

    def _users(self, include_subs: bool) -> list[str]:
        main = [f"{n:05d}" for n in range(1, self.pbx_users + 1)]
        if not include_subs:
            return main
        subs = [
            f"s{s}-{n:04d}"
            for s in range(1, self.sub_accounts + 1)
            for n in range(1, self.sub_account_users + 1)
        ]
        return sorted(main + subs)

    def account(self, account_id: str) -> FakeAccount:
        found = self.accounts.get(account_id)
        if found is None:
            raise rejected(f"customer account '{account_id}' not found", 404)
        return found

    def snapshot(self, acc: FakeAccount) -> AccountSnapshot:
        conn = None
        if acc.connection is not None:
            conn = ConnectionSnapshot(
                **acc.connection,
                users_synced=len(acc.users),
                sub_accounts_monitored=acc.monitored_sub_accounts,
            )
        return AccountSnapshot(
            id=acc.id,
            reseller=acc.reseller,
            name=acc.name,
            product_type=acc.product_type,
            reference=acc.reference,
            country=acc.country,
            locale="it-IT",
            state=AccountState(acc.state),
            created_by=acc.created_by,
            trial=acc.trial,
            trial_days=acc.trial_days,
            trial_ends_at=acc.created_at + timedelta(days=acc.trial_days) if acc.trial else None,
            trial_expired=acc.trial_expired,
            internal_demo=acc.internal_demo,
            users=len(acc.users) + len(acc.admins),
            admins=len(acc.admins),
            connection=conn,
            support_contacts=list(acc.contacts),
            roles_pending=list(acc.pending_roles),
        )

    def add_account(self, account_id: str, **fields: Any) -> FakeAccount:
        """An account that exists already (as if created earlier or directly by the provider)."""
        defaults: dict[str, Any] = {
            "reseller": "northwind",
            "name": account_id.title(),
            "product_type": "professional",
            "country": "IT",
            "trial": False,
            "trial_days": 30,
            "internal_demo": False,
            "created_at": datetime.now(UTC),
            "state": "active",
        }
        acc = FakeAccount(id=account_id, **{**defaults, **fields})
        if not acc.contacts:
            acc.contacts = [SupportContact(kind=ContactKind.EMAIL, email="help@partner.example")]
        self.accounts[account_id] = acc
        return acc

    def mails_to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.to]

    # --- activities ----------------------------------------------------------------------------

    def activities(self) -> list:
        fake = self

        def once(result_of: Any) -> Any:
            """Replay the first answer for a step's key, like the platform's Idempotency-Key."""
            key = fake._key()
            if key not in fake._keys:
                fake._keys[key] = result_of()
            return fake._keys[key]

        @activity.defn(name=N.CREATE_ACCOUNT)
        async def create_account(inp: CreateAccount) -> AccountSnapshot:
            fake.calls.append("create-account")

            def create() -> AccountSnapshot:
                key = name_key(inp.customer.name)
                if any(
                    a.reseller == inp.reseller and name_key(a.name) == key
                    for a in fake.accounts.values()
                ):
                    raise rejected(
                        f"a customer named '{inp.customer.name}' already exists for reseller "
                        f"'{inp.reseller}'"
                    )
                acc = FakeAccount(
                    id=key,
                    reseller=inp.reseller,
                    name=inp.customer.name,
                    product_type=inp.customer.product_type,
                    country=inp.customer.country,
                    trial=inp.customer.trial,
                    trial_days=inp.customer.trial_days,
                    internal_demo=inp.customer.internal_demo,
                    # The server's clock, which time skipping moves (not this machine's).
                    created_at=activity.info().current_attempt_scheduled_time,
                    reference=inp.customer.reference,
                    contacts=[
                        SupportContact(
                            kind=ContactKind.PARTNER,
                            email=PARTNERS[c.partner],
                            partner_user_id=c.partner,
                        )
                        if c.partner
                        else SupportContact(kind=ContactKind.EMAIL, email=str(c.email))
                        for c in inp.support_contacts
                    ],
                )
                fake.accounts[acc.id] = acc
                return fake.snapshot(acc)

            return once(create)  # type: ignore[no-any-return]

        @activity.defn(name=N.GET_ACCOUNT)
        async def get_account(ref: AccountRef) -> AccountSnapshot:
            return fake.snapshot(fake.account(ref.account_id))

        @activity.defn(name=N.GET_RESELLER)
        async def get_reseller(ref: ResellerRef) -> ResellerSnapshot:
            return ResellerSnapshot(
                id=ref.reseller_id,
                name="Northwind Telecom Partners",
                notification_email=f"provisioning@{ref.reseller_id}.example",
            )

        @activity.defn(name=N.DELETE_ACCOUNT)
        async def delete_account(ref: AccountRef) -> Undone:
            fake.calls.append("undo-create-account")
            if fake.undo_fails:
                raise rejected("the platform refused to delete the account", 409)
            done = fake.accounts.pop(ref.account_id, None) is not None
            return Undone(what=ref.account_id, done=done)

        @activity.defn(name=N.ACTIVATE_ACCOUNT)
        async def activate_account(ref: AccountRef) -> AccountSnapshot:
            fake.calls.append("activate-account")
            acc = fake.account(ref.account_id)
            acc.state = "active"
            return fake.snapshot(acc)

        @activity.defn(name=N.UPDATE_ACCOUNT)
        async def update_account(inp: UpdateAccount) -> AccountSnapshot:
            acc = fake.account(inp.account_id)
            changes = inp.changes.given()
            new_type = changes.get("product_type")
            if new_type and new_type != acc.product_type and acc.product_type in IMMUTABLE:
                raise rejected(
                    f"product type '{acc.product_type}' of account '{acc.id}' cannot be changed "
                    "once assigned"
                )
            if changes.get("internal_demo") and any(
                a.internal_demo and a.reseller == acc.reseller and a.id != acc.id
                for a in fake.accounts.values()
            ):
                raise rejected(f"reseller '{acc.reseller}' already has an internal demo system")
            for name, value in changes.items():
                setattr(acc, name, value)
            if {"trial", "trial_days"} & set(changes):
                acc.trial_expired = False
            return fake.snapshot(acc)

        @activity.defn(name=N.EXPIRE_TRIAL)
        async def expire_trial(ref: AccountRef) -> AccountSnapshot:
            fake.calls.append("expire-trial")
            acc = fake.account(ref.account_id)
            acc.trial_expired = True
            return fake.snapshot(acc)

        @activity.defn(name=N.INVITE_ADMIN)
        async def invite_admin(inp: InviteAdmin) -> InvitationSent:
            fake.calls.append(activity.info().activity_id)

            def invite() -> InvitationSent:
                acc = fake.account(inp.account_id)
                acc.admins.append(inp.admin.email)
                fake.mails.append(
                    Mail(
                        [inp.admin.email],
                        f"You are invited to administer {inp.customer_name}",
                        "https://portal.example/invitations/secret-token",
                        fake._key(),
                    )
                )
                return InvitationSent(
                    user_id=f"a{len(acc.admins)}", email=inp.admin.email, message_id=fake._key()
                )

            return once(invite)  # type: ignore[no-any-return]

        @activity.defn(name=N.WITHDRAW_INVITATION)
        async def withdraw_invitation(inp: WithdrawInvitation) -> EmailSent:
            fake.calls.append(activity.info().activity_id)

            def withdraw() -> EmailSent:
                fake.mails.append(
                    Mail(
                        [inp.email],
                        f"Invitation withdrawn: {inp.customer_name}",
                        inp.reason,
                        fake._key(),
                    )
                )
                return EmailSent(message_id=fake._key(), recipients=1)

            return once(withdraw)  # type: ignore[no-any-return]

        @activity.defn(name=N.CONFIGURE_PBX)
        async def configure_pbx(inp: ConfigurePbx) -> ConnectionSnapshot:
            fake.calls.append("configure-pbx")
            acc = fake.account(inp.account_id)
            acc.connection = {
                "host": inp.pbx.host,
                "template": inp.pbx.template,
                "enabled": inp.pbx.enabled,
                "auto_provision_sub_accounts": inp.pbx.auto_provision_sub_accounts,
                "state": ConnectionState.PENDING if inp.pbx.enabled else ConnectionState.DISABLED,
            }
            return fake.snapshot(acc).connection  # type: ignore[return-value]

        @activity.defn(name=N.ENABLE_PBX)
        async def enable_pbx(ref: AccountRef) -> ConnectionSnapshot:
            fake.calls.append("enable-pbx")
            acc = fake.account(ref.account_id)
            assert acc.connection is not None
            acc.connection.update(enabled=True, state=ConnectionState.PENDING)
            return fake.snapshot(acc).connection  # type: ignore[return-value]

        @activity.defn(name=N.CONNECT_PBX)
        async def connect_pbx(ref: AccountRef) -> PbxDiscovery:
            fake.calls.append("connect-pbx")
            acc = fake.account(ref.account_id)
            assert acc.connection is not None
            host = acc.connection["host"]
            if fake.connect_error:
                raise rejected(
                    f"could not connect to the PBX at '{host}': {fake.connect_error}", 422
                )
            acc.connection["state"] = ConnectionState.CONNECTED
            subs = acc.connection["auto_provision_sub_accounts"]
            return PbxDiscovery(
                host=host,
                model="MiVoice Business",
                users_total=len(fake._users(subs)),
                sub_accounts_total=fake.sub_accounts,
            )

        @activity.defn(name=N.SYNC_PBX_USERS)
        async def sync_pbx_users(req: SyncUsersRequest) -> SyncProgress:
            fake.calls.append(activity.info().activity_id)
            fake.sync_attempts += 1
            acc = fake.account(req.account_id)
            details = activity.info().heartbeat_details
            resume = details[0] if details else {}
            cursor = resume.get("cursor", req.cursor)
            synced = resume.get("synced", 0)
            fake.sync_resumed_from.append(cursor)
            everyone = fake._users(req.include_sub_accounts)
            pages = 0
            while synced < req.batch_users:
                start = 0 if cursor is None else everyone.index(cursor) + 1
                page = everyone[start : start + min(req.page_size, req.batch_users - synced)]
                if fake.sync_fails_after is not None and len(acc.users) >= fake.sync_fails_after:
                    raise rejected(f"the PBX at '{acc.connection['host']}' closed the session", 422)  # type: ignore[index]
                if pages and fake.transient_sync_failures > 0:
                    fake.transient_sync_failures -= 1
                    raise ApplicationError("PBX answered 503", type="PlatformUnavailable")
                acc.users.update(page)
                synced += len(page)
                pages += 1
                cursor = page[-1] if page else cursor
                done = start + len(page) >= len(everyone)
                activity.heartbeat({"cursor": cursor, "synced": synced})
                await asyncio.sleep(0)
                if done:
                    return SyncProgress(
                        cursor=None,
                        done=True,
                        synced_in_batch=synced,
                        discovered_total=len(everyone),
                        account_users=len(acc.users),
                    )
            return SyncProgress(
                cursor=cursor,
                done=False,
                synced_in_batch=synced,
                discovered_total=len(everyone),
                account_users=len(acc.users),
            )

        @activity.defn(name=N.START_MONITORING)
        async def start_monitoring(req: StartMonitoring) -> MonitoringStarted:
            fake.calls.append("start-monitoring")
            acc = fake.account(req.account_id)
            assert acc.connection is not None
            acc.connection["state"] = ConnectionState.MONITORING
            acc.monitored_sub_accounts = fake.sub_accounts if req.include_sub_accounts else 0
            return MonitoringStarted(
                calls=True, agent_status=True, sub_accounts_monitored=acc.monitored_sub_accounts
            )

        @activity.defn(name=N.REMOVE_PBX)
        async def remove_pbx(req: RemovePbx) -> Undone:
            fake.calls.append(activity.info().activity_id)
            acc = fake.accounts.get(req.account_id)
            if acc is None:
                return Undone(what="pbx", done=False)
            acc.users.clear()
            acc.monitored_sub_accounts = 0
            if req.keep_disabled and acc.connection is not None:
                acc.connection.update(enabled=False, state=ConnectionState.DISABLED)
            else:
                acc.connection = None
            return Undone(what="pbx", done=True)

        @activity.defn(name=N.ASSIGN_ROLES)
        async def assign_roles(inp: AssignRoles) -> RolesAssigned:
            fake.calls.append("assign-roles")
            acc = fake.account(inp.account_id)
            known = {f"user{u}@acme.example" for u in acc.users} | set(acc.admins)
            acc.pending_roles = [a.user for a in inp.roles.assignments if a.user not in known]
            return RolesAssigned(
                applied=len(acc.users) + len(acc.admins), pending=acc.pending_roles
            )

        @activity.defn(name=SupportActivityNames.CHANGE_CONTACTS)
        async def change_contacts(inp: SupportContactsChangeInput) -> SupportContactsChangeResult:
            acc = fake.account(inp.account_id)
            if acc.created_by != "partner":
                raise rejected(
                    "an administrative user may change support contacts only on accounts "
                    f"created by a partner; account '{acc.id}' was created by the "
                    f"{acc.created_by}",
                    403,
                )
            email = PARTNERS.get(inp.contact.partner or "", str(inp.contact.email))
            present = [c for c in acc.contacts if c.email == email]
            if inp.action is ContactAction.ADD:
                if not present:
                    kind = ContactKind.PARTNER if inp.contact.partner else ContactKind.EMAIL
                    acc.contacts.append(
                        SupportContact(kind=kind, email=email, partner_user_id=inp.contact.partner)
                    )
            elif present:
                if len(acc.contacts) == 1:
                    raise rejected(f"account '{acc.id}' must keep at least one support contact")
                acc.contacts.remove(present[0])
            return SupportContactsChangeResult(
                account_id=acc.id,
                action=inp.action,
                changed=(inp.action is ContactAction.ADD) != bool(present),
                contacts=list(acc.contacts),
            )

        @activity.defn(name=SupportActivityNames.CREATE_REPORT)
        async def create_report(inp: ProblemReportInput) -> ProblemReportCreated:
            acc = fake.account(inp.account_id)
            fake.reports.setdefault(inp.report_id, inp)
            return ProblemReportCreated(
                report_id=inp.report_id,
                account_id=acc.id,
                customer_name=acc.name,
                created_at="2026-11-22T10:00:00Z",
                contacts=list(acc.contacts),
            )

        @activity.defn(name=ActivityNames.MAIL_SEND)
        async def send(email: EmailMessage) -> EmailSent:
            def deliver() -> EmailSent:
                fake.mails.append(
                    Mail([str(a) for a in email.to], email.subject, email.text, fake._key())
                )
                return EmailSent(message_id=fake._key(), recipients=len(email.to))

            return once(deliver)  # type: ignore[no-any-return]

        @activity.defn(name=EmailActivities.SEND_TEMPLATE)
        async def send_template(email: TemplatedEmail) -> EmailSent:
            messages = await rendered(email)

            def deliver() -> EmailSent:
                count = deliver_all(
                    messages,
                    lambda m: fake.mails.append(
                        Mail([str(a) for a in m.to], m.subject, m.text, fake._key())
                    ),
                )
                return EmailSent(message_id=fake._key(), recipients=count)

            return once(deliver)  # type: ignore[no-any-return]

        @activity.defn(name=ActivityNames.HELPDESK_OPEN_TICKET)
        async def open_ticket(ticket: OpenTicket) -> Ticket:
            fake.tickets.append(ticket)
            return Ticket(id=f"T-{len(fake.tickets)}", status="open")

        return [
            create_account,
            get_account,
            get_reseller,
            delete_account,
            activate_account,
            update_account,
            expire_trial,
            invite_admin,
            withdraw_invitation,
            configure_pbx,
            enable_pbx,
            connect_pbx,
            sync_pbx_users,
            start_monitoring,
            remove_pbx,
            assign_roles,
            change_contacts,
            create_report,
            send,
            send_template,
            open_ticket,
            # The real one: it only starts or signals the trial workflow with the worker's client.
            TrialTimers().trial_timer,
        ]
