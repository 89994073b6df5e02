"""An in-memory platform and helpdesk for workflow tests.

Workflow tests are about orchestration (deadlines, tickets, retries), so the outside world is a
fake here; the real activities are tested against the real simulator in tests/activities.
The fake registers under the real activity names, so the workflow code under test is unchanged;
its helpdesk and mailbox are the shared ones (fake_helpdesk.py).
"""

from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError

from pbxops.activities import platform_text
from pbxops.activities.calendar import business_deadline
from pbxops.activities.codes import CodeActivities, CodeVault
from pbxops.contracts.deletion import (
    CodeEmail,
    DeletionActivities,
    Purged,
    PurgeReport,
    PurgeRequest,
    PurgeStep,
    TenantAdmins,
    TenantLines,
)
from pbxops.contracts.mail import EmailSent
from pbxops.contracts.pbx import (
    ActivityNames,
    ServiceSnapshot,
    ServiceState,
    TenantRef,
    TransitionAccepted,
    TransitionRequest,
)
from tests.workflows.fake_helpdesk import FakeHelpdesk


@dataclass
class FakePlatform(FakeHelpdesk):
    tenant_id: str = "acme"
    tenant_name: str = "ACME S.r.l."
    """As the platform gives it to the Admins' lookup, which checks it as the real one does."""
    state: ServiceState = ServiceState.ACTIVE
    extensions: int = 4
    registered: int = 4
    billing_active: bool = True
    users: int = 3
    recordings: int = 7
    usage_minutes: int = 1234
    admins: list[str] = field(default_factory=lambda: ["anna@acme.example", "marco@acme.example"])
    country: str = "IT"
    timezone: str = "Europe/Rome"
    vault: CodeVault = field(default_factory=lambda: CodeVault(b"test-secret-0123456789"))
    codes_sent: dict[str, list[str]] = field(default_factory=dict)
    """What each Admin's inbox shows: address → codes received (one per distinct message)."""
    purged: list[str] = field(default_factory=list)
    fail_requests: int = 0
    """Answer the next N transition requests with a transient 5xx."""
    request_attempts: int = 0
    polls: int = 0
    mobile_lines: list[str] = field(default_factory=list)
    support_contacts: int = 0
    """What the platform still shows of the account's contacts after its job (0: erased)."""
    """Device ids of the tenant's live eSIM lines (their workflows end them on a deletion)."""

    def snapshot(self) -> ServiceSnapshot:
        return ServiceSnapshot(
            tenant_id=self.tenant_id,
            tenant_name=self.tenant_name,
            state=self.state,
            billing_active=self.billing_active,
            extensions_total=self.extensions,
            extensions_registered=self.registered,
            access_visible=self.state == ServiceState.ACTIVE,
            usage_minutes=self.usage_minutes,
            users_total=self.users,
            recordings_total=self.recordings,
            support_contacts_total=self.support_contacts,
        )

    def finish(self, target: ServiceState) -> None:
        """What the platform's job does when it ends."""
        self.state = target
        self.registered = 0 if target == ServiceState.DEACTIVATED else self.extensions
        if target == ServiceState.DELETED:
            self.extensions = self.registered = self.users = self.recordings = 0
            self.usage_minutes = 0
            self.billing_active = False

    def activities(self) -> list:
        platform = self

        @activity.defn(name=ActivityNames.PBX_REQUEST_TRANSITION)
        async def request_transition(req: TransitionRequest) -> TransitionAccepted:
            platform.request_attempts += 1
            if req.tenant_id != platform.tenant_id:
                raise ApplicationError(
                    f"tenant '{req.tenant_id}' not found",
                    type="PlatformRejected404",
                    non_retryable=True,
                )
            if platform.fail_requests > 0:
                platform.fail_requests -= 1
                raise ApplicationError("answered 500: injected fault", type="PlatformUnavailable")
            allowed = (
                (ServiceState.ACTIVE, ServiceState.DEACTIVATED)
                if req.kind.target_state == ServiceState.DELETED
                else (req.kind.from_state,)
            )
            if platform.state not in allowed:
                raise ApplicationError(
                    f"service of tenant '{req.tenant_id}' is {platform.state.value}",
                    type="PlatformRejected409",
                    non_retryable=True,
                )
            before = platform.snapshot()
            # As the real activity: a name unsafe in a header is refused before any job starts.
            platform_text.header_text(before.tenant_name, f"name of tenant '{req.tenant_id}'")
            platform.state = req.kind.transient_state
            return TransitionAccepted(job_id="job-1", before=before)

        @activity.defn(name=ActivityNames.PBX_GET_SERVICE)
        async def get_service(ref: TenantRef) -> ServiceSnapshot:
            platform.polls += 1
            return platform.snapshot()

        @activity.defn(name=DeletionActivities.GET_ADMINS)
        async def get_admins(ref: TenantRef) -> TenantAdmins:
            if ref.tenant_id != platform.tenant_id:
                raise ApplicationError(
                    f"tenant '{ref.tenant_id}' not found",
                    type="PlatformRejected404",
                    non_retryable=True,
                )
            # The real activity's checks (activities/pbx.py): unsafe names end the procedure.
            return TenantAdmins(
                tenant_id=platform.tenant_id,
                tenant_name=platform_text.header_text(
                    platform.tenant_name, f"name of tenant '{ref.tenant_id}'"
                ),
                country=platform.country,
                timezone=platform.timezone,
                state=platform.state,
                admins=[
                    platform_text.address(a, "email address of Admin") for a in platform.admins
                ],
            )

        @activity.defn(name=DeletionActivities.PURGE)
        async def purge(step: PurgeStep) -> Purged:
            platform.purged.append(step.step)
            return Purged(step=step.step, removed=1)

        @activity.defn(name=DeletionActivities.PURGE_ALL)
        async def purge_all(request: PurgeRequest) -> PurgeReport:
            platform.purged.extend(request.steps)
            return PurgeReport(steps=[Purged(step=step, removed=1) for step in request.steps])

        @activity.defn(name=DeletionActivities.LIVE_LINES)
        async def live_mobile_lines(ref: TenantRef) -> TenantLines:
            return TenantLines(tenant_id=ref.tenant_id, device_ids=list(platform.mobile_lines))

        @activity.defn(name=DeletionActivities.LINES_ENDED)
        async def mobile_lines_ended(ref: TenantRef) -> TenantLines:
            if platform.mobile_lines:
                raise ApplicationError(f"{len(platform.mobile_lines)} line(s) still live")
            return TenantLines(tenant_id=ref.tenant_id)

        @activity.defn(name=DeletionActivities.SEND_CODE)
        async def send_code(email: CodeEmail) -> EmailSent:
            info = activity.info()
            code = platform.vault.open(email.sealed, f"{info.workflow_id}/{info.workflow_run_id}")
            for address in email.to:
                platform.codes_sent.setdefault(str(address), []).append(code)
            return EmailSent(message_id="<code@test>", recipients=len(email.to))

        codes = CodeActivities(platform.vault)
        return [
            *self.helpdesk_activities(),
            request_transition,
            get_service,
            get_admins,
            purge,
            purge_all,
            live_mobile_lines,
            mobile_lines_ended,
            send_code,
            codes.issue,
            codes.check,
            business_deadline,  # the real calendar: pure computation
        ]

    def code_for(self, address: str = "anna@acme.example") -> str:
        return self.codes_sent[address][-1]
