"""Customer provisioning in four steps (PROCEDURES.md §4), as a saga; the PBX connection enabled
later; the trial period's end; and edits of a customer's properties.

1. customer details: the account is created on the reseller portal (with its support contacts);
2. primary user: every Admin is invited by email as soon as the account exists;
3. PBX connection: stored; unless created disabled, the platform connects to the customer's PBX,
   every configured user is synchronised (a batch of pages per activity, progress after each
   batch), sub-accounts are provisioned when asked, and monitoring of calls and agent status
   starts;
4. roles: assigned from the input (defaults for everyone else), and the account goes live.

A failure part-way undoes what was done, newest first (PBX connection removed, invitations
withdrawn, account deleted): no half-created customer remains. A trial account gets its own
``CustomerTrial`` workflow, which outlives this one and emails the reseller when the trial ends.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
)

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from contracts import search_attributes as sa
    from contracts.emails import EMAIL_TEMPLATES_PATCH, Audience, EmailTemplate, TemplatedEmail
    from contracts.helpdesk import OpenTicket
    from contracts.mail import EmailMessage, EmailSent
    from contracts.procedures import Outcome, Procedure, ProcedureStatus
    from contracts.provisioning import (
        TRIAL_CHANGED_SIGNAL,
        AccountRef,
        AccountSnapshot,
        AssignRoles,
        ConfigurePbx,
        ConnectionSnapshot,
        ConnectionState,
        CreateAccount,
        CustomerProvisioningInput,
        CustomerTrialInput,
        CustomerTrialResult,
        CustomerUpdateInput,
        CustomerUpdateResult,
        InvitationSent,
        InviteAdmin,
        MonitoringStarted,
        PbxDiscovery,
        PbxEnableInput,
        PbxEnableResult,
        ProvisioningActivityNames,
        ProvisioningResult,
        ProvisioningStatus,
        RemovePbx,
        ResellerRef,
        ResellerSnapshot,
        RolesAssigned,
        StartMonitoring,
        SyncOptions,
        SyncProgress,
        SyncUsersRequest,
        TrialOutcome,
        TrialTimer,
        TrialTimerRequest,
        Undone,
        UpdateAccount,
        WithdrawInvitation,
    )
    from contracts.wording import plural

from workflows import calls
from workflows.sla import Escalation, fail, ticket_on_unsafe_platform_data

Names = ProvisioningActivityNames
M = TypeVar("M", bound=BaseModel)

# A forward step gives the platform this long (retrying 5xx and timeouts) before the saga undoes.
FORWARD = timedelta(minutes=15)
# An undo keeps trying much longer: leaving a half-created customer is the worse outcome.
UNDO = timedelta(hours=24)
SYNC_ATTEMPT = timedelta(minutes=10)
SYNC_HEARTBEAT = timedelta(seconds=30)


class Step:
    DETAILS = "customer-details"
    PRIMARY_USER = "primary-user"
    PBX = "pbx-connection"
    ROLES = "roles"
    UNDOING = "undoing"
    DONE = "done"
    FAILED = "failed"


STEP_LABELS = {
    Step.DETAILS: "step 1 (customer details)",
    Step.PRIMARY_USER: "step 2 (primary user)",
    Step.PBX: "step 3 (PBX connection)",
    Step.ROLES: "step 4 (role assignment)",
}


async def act(
    name: str,
    arg: BaseModel,
    result_type: type[M],
    *,
    activity_id: str,
    summary: str,
    limit: timedelta = FORWARD,
    attempt: timedelta = calls.PER_ATTEMPT,
    heartbeat: timedelta | None = None,
) -> M:
    """One activity call: platform retry policy, an explicit step id, a summary for the UI."""
    return await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        activity_id=activity_id,
        start_to_close_timeout=attempt,
        schedule_to_close_timeout=limit,
        heartbeat_timeout=heartbeat,
        retry_policy=calls.PLATFORM_RETRY,
        summary=summary,
    )


async def trial_timer(account_id: str, *, start: bool) -> TrialTimer:
    return await act(
        Names.TRIAL_TIMER,
        TrialTimerRequest(account_id=account_id, start_if_missing=start),
        TrialTimer,
        activity_id="trial-timer",
        summary="start the trial's timer" if start else "tell the trial's timer to re-read",
        limit=calls.MUST_SUCCEED,
    )


def cause_message(err: BaseException) -> str:
    """The innermost ApplicationError's message: the platform's (or the PBX's) own sentence."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return cause.message if isinstance(cause, ApplicationError) else str(err)


def cause_type(err: BaseException) -> str | None:
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return cause.type if isinstance(cause, ApplicationError) else None


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _users(n: int | None) -> str:
    return "user" if n == 1 else "users"


class Tracked:
    """Status for the query and the UI's current details, kept in one place."""

    _status: ProcedureStatus

    def _enter(self, step: str, detail: str) -> None:
        self._status.step = step
        self._status.step_detail = detail
        workflow.set_current_details(self._render())

    def _render(self) -> str:
        return f"**{self._status.step}**\n\n{self._status.step_detail}"

    def _done(self, step: str, detail: str) -> None:
        self._status.outcome = Outcome.COMPLETED
        self._status.finished_at = workflow.now()
        self._enter(step, detail)

    def _failed(self, message: str, kind: str) -> ApplicationError:
        self._status.outcome = Outcome.FAILED
        self._status.error = message
        self._status.finished_at = workflow.now()
        self._enter(Step.FAILED, message)
        return fail(message, kind)

    async def _ticket_if_unsafe(self, err: ActivityError, procedure: str, subject: str) -> str:
        """When the platform's data could not go into an email, open the one support ticket
        (``ticket_on_unsafe_platform_data``); " (support ticket T-…)" for the failure, else ""."""
        ticket = await ticket_on_unsafe_platform_data(
            Escalation(self._status.tenant_id), err, procedure=procedure, subject=subject
        )
        if ticket is None:
            return ""
        self._status.ticket_id = ticket
        self._status.escalated = True
        return f" (support ticket {ticket})"


class PbxSync:
    """Step 3's work after the connection is stored: connect, synchronise, monitor.

    Shared by provisioning and ``pbxops customer enable-pbx``. ``on_progress`` is called after
    every batch, so the workflow can show "1,000 of 2,000 users" in the UI and to ``--wait``.
    """

    def __init__(
        self,
        account_id: str,
        country: str,
        include_sub_accounts: bool,
        options: SyncOptions,
        on_progress: Callable[[str, int, int | None], None],
    ) -> None:
        self.account_id = account_id
        self.country = country
        self.include_sub_accounts = include_sub_accounts
        self.options = options
        self.on_progress = on_progress
        self.synced = 0
        self.total: int | None = None
        self.monitoring: MonitoringStarted | None = None

    async def run(self) -> None:
        ref = AccountRef(account_id=self.account_id)
        self.on_progress("connecting to the PBX", 0, None)
        discovery = await act(
            Names.CONNECT_PBX,
            ref,
            PbxDiscovery,
            activity_id="connect-pbx",
            summary="connect to the customer's PBX and discover its users",
        )
        self.total = discovery.users_total
        self.on_progress(
            f"connected to {discovery.model} at {discovery.host}; synchronising users",
            0,
            self.total,
        )
        cursor: str | None = None
        batch = 0
        while True:
            batch += 1
            progress = await act(
                Names.SYNC_PBX_USERS,
                SyncUsersRequest(
                    account_id=self.account_id,
                    country=self.country,
                    include_sub_accounts=self.include_sub_accounts,
                    cursor=cursor,
                    page_size=self.options.page_size,
                    batch_users=self.options.batch_users,
                ),
                SyncProgress,
                activity_id=f"sync-users-{batch}",
                summary=f"synchronise users, batch {batch} (from {_count(self.synced)})",
                attempt=SYNC_ATTEMPT,
                heartbeat=SYNC_HEARTBEAT,
            )
            self.synced += progress.synced_in_batch
            self.total = progress.discovered_total
            cursor = progress.cursor
            self.on_progress("synchronising users", self.synced, self.total)
            if progress.done:
                break
        if self.include_sub_accounts and discovery.sub_accounts_total:
            what = f"provisioning {discovery.sub_accounts_total} sub-accounts and starting"
        else:
            what = "starting"
        self.on_progress(f"{what} monitoring of calls and agent status", self.synced, self.total)
        self.monitoring = await act(
            Names.START_MONITORING,
            StartMonitoring(
                account_id=self.account_id,
                include_sub_accounts=self.include_sub_accounts,
                page_size=self.options.page_size,
            ),
            MonitoringStarted,
            activity_id="start-monitoring",
            summary="monitor calls and agent status"
            + (" on every sub-account" if self.include_sub_accounts else ""),
            attempt=SYNC_ATTEMPT,
            heartbeat=SYNC_HEARTBEAT,
        )


@workflow.defn(name=Procedure.PROVISIONING.value)
class CustomerProvisioning(Tracked):
    """Create a customer account in four steps; undo everything if a step fails."""

    @workflow.init
    def __init__(self, inp: CustomerProvisioningInput) -> None:
        self._input = inp
        self._status = ProvisioningStatus(
            procedure=Procedure.PROVISIONING,
            workflow_id=workflow.info().workflow_id,
            tenant_id="",
            step=Step.DETAILS,
            started_at=workflow.now(),
        )
        self._undo: list[tuple[str, Callable[[], Awaitable[Undone | EmailSent]]]] = []
        self._account: AccountSnapshot | None = None
        self._progress = ""

    @workflow.query(description="Step, steps done, users synchronised, and what was undone.")
    def status(self) -> ProvisioningStatus:
        assert isinstance(self._status, ProvisioningStatus)
        return self._status

    @property
    def _st(self) -> ProvisioningStatus:
        assert isinstance(self._status, ProvisioningStatus)
        return self._status

    def _render(self) -> str:
        inp = self._input
        order = [Step.DETAILS, Step.PRIMARY_USER, Step.PBX, Step.ROLES]
        titles = ["Customer details", "Primary user", "PBX connection", "Role assignment"]
        lines = [
            f"**{self._status.step}**: {self._status.step_detail}",
            "",
            f"Customer **{inp.customer.name}** of reseller `{inp.reseller}`"
            + (f", account `{self._st.tenant_id}`" if self._st.tenant_id else ""),
            "",
        ]
        for n, (step, title) in enumerate(zip(order, titles, strict=True), start=1):
            if step in self._st.steps_done:
                mark = "done"
            elif step == self._status.step:
                mark = "**running**"
            else:
                mark = "to do"
            lines.append(f"{n}. {title}: {mark}")
        if self._st.undone:
            lines += ["", "Undone: " + "; ".join(self._st.undone)]
        return "\n".join(lines)

    def _step_done(self, step: str) -> None:
        self._st.steps_done.append(step)

    def _sync_progress(self, what: str, synced: int, total: int | None) -> None:
        self._st.users_synced = synced
        self._st.users_total = total
        self._enter(Step.PBX, f"{what}: {_count(synced)} of {_count(total)} {_users(total)}")

    @workflow.run
    async def run(self, inp: CustomerProvisioningInput) -> ProvisioningResult:
        step = Step.DETAILS
        try:
            return await self._provision(inp)
        except ActivityError as err:
            step = self._status.step
            if isinstance(err.cause, CancelledError):
                # Cancelled (from the UI or the CLI) while an activity ran: undo, end cancelled.
                await self._undo_all(step, "the provisioning was cancelled")
                raise asyncio.CancelledError() from err
            failure = await self._undo_all(step, cause_message(err))
            if self._st.ticket_id is None:  # a clean-up ticket already tells a person
                label = STEP_LABELS.get(step, step)
                if ticket := await self._ticket_if_unsafe(
                    err,
                    f"the provisioning of customer '{inp.customer.name}' (reseller "
                    f"{inp.reseller}) at {label}",
                    f"Provisioning for reseller {inp.reseller} stopped: unsafe platform data",
                ):
                    failure = self._failed(failure.message + ticket, "ProvisioningFailed")
            raise failure from err
        except asyncio.CancelledError:
            step = self._status.step
            await self._undo_all(step, "the provisioning was cancelled")
            raise

    async def _provision(self, inp: CustomerProvisioningInput) -> ProvisioningResult:
        customer = inp.customer
        # --- step 1 ---------------------------------------------------------------------------
        self._enter(
            Step.DETAILS,
            f"creating the account ({customer.product_type}, "
            f"{customer.country}) with {plural(len(inp.support_contacts), 'support contact')}",
        )
        account = await act(
            Names.CREATE_ACCOUNT,
            CreateAccount(
                reseller=inp.reseller, customer=customer, support_contacts=inp.support_contacts
            ),
            AccountSnapshot,
            activity_id="create-account",
            summary="create the customer account with its support contacts",
        )
        self._account = account
        self._st.tenant_id = account.id
        ref = AccountRef(account_id=account.id)
        self._undo.append(
            (
                f"account '{account.id}' deleted",
                lambda: act(
                    Names.DELETE_ACCOUNT,
                    ref,
                    Undone,
                    activity_id="undo-create-account",
                    summary=f"undo: delete account {account.id}",
                    limit=UNDO,
                ),
            )
        )
        self._step_done(Step.DETAILS)
        workflow.upsert_search_attributes(
            [sa.TENANT_ID.value_set(account.id), sa.STEP.value_set(Step.PRIMARY_USER)]
        )

        # --- step 2 ---------------------------------------------------------------------------
        invited: list[InvitationSent] = []
        for n, admin in enumerate(inp.admins, start=1):
            self._enter(Step.PRIMARY_USER, f"inviting Admin user {n} of {len(inp.admins)} by email")
            sent = await act(
                Names.INVITE_ADMIN,
                InviteAdmin(account_id=account.id, customer_name=customer.name, admin=admin),
                InvitationSent,
                activity_id=f"invite-admin-{n}",
                summary=f"create Admin user {n} and email the invitation",
            )
            invited.append(sent)
            self._undo.append(self._withdraw(n, sent.email, customer.name))
        self._step_done(Step.PRIMARY_USER)

        # --- step 3 ---------------------------------------------------------------------------
        workflow.upsert_search_attributes([sa.STEP.value_set(Step.PBX)])
        pbx = inp.pbx
        self._enter(
            Step.PBX,
            f"storing the connection to {pbx.host}"
            + ("" if pbx.enabled else " (disabled: no connection, no import until enabled)"),
        )
        connection = await act(
            Names.CONFIGURE_PBX,
            ConfigurePbx(account_id=account.id, pbx=pbx),
            ConnectionSnapshot,
            activity_id="configure-pbx",
            summary="store the PBX connection" + ("" if pbx.enabled else " (disabled)"),
        )
        self._undo.append(
            (
                "PBX connection and synchronised users removed",
                lambda: act(
                    Names.REMOVE_PBX,
                    RemovePbx(account_id=account.id, keep_disabled=False),
                    Undone,
                    activity_id="undo-pbx",
                    summary="undo: remove the PBX connection and synchronised users",
                    limit=UNDO,
                ),
            )
        )
        sync: PbxSync | None = None
        if pbx.enabled:
            sync = PbxSync(
                account.id,
                customer.country,
                pbx.auto_provision_sub_accounts,
                inp.sync,
                self._sync_progress,
            )
            await sync.run()
        self._step_done(Step.PBX)

        # --- step 4 ---------------------------------------------------------------------------
        workflow.upsert_search_attributes([sa.STEP.value_set(Step.ROLES)])
        self._enter(
            Step.ROLES,
            f"assigning roles ({len(inp.roles.assignments)} explicit, default "
            f"{', '.join(inp.roles.default_roles) or 'none'})",
        )
        roles = await act(
            Names.ASSIGN_ROLES,
            AssignRoles(account_id=account.id, roles=inp.roles),
            RolesAssigned,
            activity_id="assign-roles",
            summary="assign user roles and access",
        )
        live = await act(
            Names.ACTIVATE_ACCOUNT,
            ref,
            AccountSnapshot,
            activity_id="activate-account",
            summary="finish provisioning: the account goes live",
        )
        self._step_done(Step.ROLES)
        # From here on nothing is undone: the customer exists.
        self._undo.clear()

        trial_id = None
        if live.trial:
            try:
                timer = await trial_timer(account.id, start=True)
                trial_id = timer.workflow_id
            except ActivityError as err:
                # The customer exists and stays: only the reminder is missing; say how to fix it.
                workflow.logger.warning("trial timer not started: %s", cause_message(err))
                self._st.error = (
                    f"the trial timer could not be started ({cause_message(err)}); start it with "
                    f"`pbxops customer update {account.id} --trial`"
                )
        state = connection.state if sync is None else ConnectionState.MONITORING
        summary = (
            f"account {account.id} is live; "
            + (
                f"{plural(sync.synced, 'user')} synchronised, monitoring calls and agent status"
                if sync
                else "PBX connection disabled (enable it with `pbxops customer enable-pbx`)"
            )
            + (f"; trial ends {live.trial_ends_at:%Y-%m-%d}" if live.trial_ends_at else "")
        )
        self._done(Step.DONE, summary)
        return ProvisioningResult(
            account_id=account.id,
            reseller=inp.reseller,
            name=customer.name,
            connection=state,
            users_synced=sync.synced if sync else 0,
            sub_accounts_monitored=(
                sync.monitoring.sub_accounts_monitored if sync and sync.monitoring else 0
            ),
            invitations_sent=[sent.email for sent in invited],
            roles_pending=roles.pending,
            trial_ends_at=live.trial_ends_at,
            trial_workflow_id=trial_id,
        )

    def _withdrawal_locale(self) -> dict[str, str | None]:
        """The invited Admin's language (the customer's country), for runs after the patch."""
        if not workflow.patched(EMAIL_TEMPLATES_PATCH):
            return {}
        return {"account_id": self._st.tenant_id, "country": self._input.customer.country}

    def _withdraw(
        self, n: int, email: str, customer_name: str
    ) -> tuple[str, Callable[[], Awaitable[EmailSent]]]:
        def undo() -> Awaitable[EmailSent]:
            return act(
                Names.WITHDRAW_INVITATION,
                WithdrawInvitation(
                    customer_name=customer_name,
                    email=email,
                    reason=self._st.error or "the provisioning failed",
                    **self._withdrawal_locale(),
                ),
                EmailSent,
                activity_id=f"undo-invite-admin-{n}",
                summary=f"undo: tell Admin user {n} the invitation is withdrawn",
                limit=UNDO,
            )

        return f"invitation of Admin user {n} withdrawn", undo

    async def _undo_all(self, step: str, reason: str) -> ApplicationError:
        """Undo what was done, newest first; report what was undone and what could not be."""
        label = STEP_LABELS.get(step, step)
        self._st.error = f"{label} failed: {reason}"
        self._st.outcome = Outcome.FAILED
        if not self._undo:
            return self._failed(
                f"{label} failed: {reason}; nothing was created", "ProvisioningFailed"
            )
        self._enter(Step.UNDOING, f"{label} failed: {reason}. Undoing what was done.")
        problems: list[str] = []
        for what, undo in reversed(self._undo):
            try:
                await undo()
                self._st.undone.append(what)
            except ActivityError as err:
                problems.append(f"{what.split(' ')[0]}: {cause_message(err)}")
            self._enter(Step.UNDOING, f"{label} failed: {reason}. Undoing what was done.")
        self._undo.clear()
        message = f"{label} failed: {reason}. Undone: {'; '.join(self._st.undone) or 'nothing'}"
        if problems:
            ticket = await calls.open_ticket(
                OpenTicket(
                    subject=f"Half-created customer {self._st.tenant_id} needs a clean-up",
                    body=(
                        f"Provisioning of '{self._input.customer.name}' (reseller "
                        f"{self._input.reseller}) failed at {label}: {reason}. pbxops could not "
                        f"undo: {'; '.join(problems)}. Remove what remains by hand."
                    ),
                    tenant_id=self._st.tenant_id,
                ),
                step="cleanup-ticket",
            )
            self._st.ticket_id = ticket.id
            message += f". Could NOT undo: {'; '.join(problems)} (support ticket {ticket.id})"
        return self._failed(message, "ProvisioningFailed")


@workflow.defn(name=Procedure.PBX_CONNECTION.value)
class PbxConnectionEnable(Tracked):
    """Enable a connection created disabled: connect, synchronise users, monitor.

    On failure the connection goes back to disabled and imported users are removed, so a retry
    starts from a clean state; the account itself is untouched.
    """

    @workflow.init
    def __init__(self, inp: PbxEnableInput) -> None:
        self._input = inp
        self._status = ProvisioningStatus(
            procedure=Procedure.PBX_CONNECTION,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.account_id,
            step="reading-account",
            started_at=workflow.now(),
        )

    @workflow.query(description="Step and users synchronised so far.")
    def status(self) -> ProvisioningStatus:
        assert isinstance(self._status, ProvisioningStatus)
        return self._status

    def _sync_progress(self, what: str, synced: int, total: int | None) -> None:
        assert isinstance(self._status, ProvisioningStatus)
        self._status.users_synced = synced
        self._status.users_total = total
        self._enter(Step.PBX, f"{what}: {_count(synced)} of {_count(total)} {_users(total)}")

    @workflow.run
    async def run(self, inp: PbxEnableInput) -> PbxEnableResult:
        ref = AccountRef(account_id=inp.account_id)
        self._enter("reading-account", f"reading account `{inp.account_id}`")
        try:
            account = await act(
                Names.GET_ACCOUNT,
                ref,
                AccountSnapshot,
                activity_id="read-account",
                summary=f"read account {inp.account_id}",
            )
        except ActivityError as err:
            ticket = await self._ticket_if_unsafe(
                err,
                f"enabling the PBX connection of account '{inp.account_id}' before any change",
                f"PBX connection of account {inp.account_id} stopped: unsafe platform data",
            )
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err
        conn = account.connection
        if conn is None:
            raise self._failed(f"account '{inp.account_id}' has no PBX connection", "NoConnection")
        if conn.enabled:
            raise self._failed(
                f"the PBX connection of account '{inp.account_id}' is already enabled "
                f"({conn.state.value})",
                "AlreadyEnabled",
            )
        sync = PbxSync(
            inp.account_id,
            account.country,
            conn.auto_provision_sub_accounts,
            inp.sync,
            self._sync_progress,
        )
        try:
            self._enter(Step.PBX, f"enabling the connection to {conn.host}")
            await act(
                Names.ENABLE_PBX,
                ref,
                ConnectionSnapshot,
                activity_id="enable-pbx",
                summary="enable the PBX connection",
            )
            await sync.run()
        except ActivityError as err:
            reason = cause_message(err)
            self._enter(Step.UNDOING, f"{reason}. Disabling the connection again.")
            await act(
                Names.REMOVE_PBX,
                RemovePbx(account_id=inp.account_id, keep_disabled=True),
                Undone,
                activity_id="undo-enable",
                summary="undo: disable the connection and remove imported users",
                limit=UNDO,
            )
            raise self._failed(
                f"enabling the PBX connection of account '{inp.account_id}' failed: {reason}. "
                "The connection is disabled again and no imported user remains.",
                "PbxConnectionFailed",
            ) from err
        after = await act(
            Names.GET_ACCOUNT,
            ref,
            AccountSnapshot,
            activity_id="read-account-after",
            summary=f"read account {inp.account_id}",
        )
        self._done(
            Step.DONE,
            f"{plural(sync.synced, 'user')} synchronised; monitoring calls and agent status",
        )
        return PbxEnableResult(
            account_id=inp.account_id,
            users_synced=sync.synced,
            sub_accounts_monitored=sync.monitoring.sub_accounts_monitored if sync.monitoring else 0,
            roles_pending=after.roles_pending,
        )


@workflow.defn(name=Procedure.TRIAL.value)
class CustomerTrial(Tracked):
    """Wait for the end of a customer's trial; then mark it trial-expired and tell the reseller.

    The end date is the platform's (creation + trial days) and is read again whenever the timer
    fires or the trial is changed (``trial_changed`` signal), so an extended, shortened or
    cancelled trial needs nothing else.
    """

    @workflow.init
    def __init__(self, inp: CustomerTrialInput) -> None:
        self._input = inp
        self._changed = False
        self._reads = 0
        self._status = ProcedureStatus(
            procedure=Procedure.TRIAL,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.account_id,
            step="reading-account",
            started_at=workflow.now(),
        )

    @workflow.signal(name=TRIAL_CHANGED_SIGNAL, description="The trial was changed: re-read it.")
    def trial_changed(self) -> None:
        self._changed = True

    @workflow.query(description="When the trial ends and what happened.")
    def status(self) -> ProcedureStatus:
        return self._status

    async def _read(self) -> AccountSnapshot | None:
        self._reads += 1
        try:
            return await act(
                Names.GET_ACCOUNT,
                AccountRef(account_id=self._input.account_id),
                AccountSnapshot,
                activity_id=f"read-account-{self._reads}",
                summary="read the trial's end date",
                limit=calls.MUST_SUCCEED,
            )
        except ActivityError as err:
            if cause_type(err) == "PlatformRejected404":
                return None
            raise

    @workflow.run
    async def run(self, inp: CustomerTrialInput) -> CustomerTrialResult:
        try:
            return await self._run(inp)
        except ActivityError as err:
            ticket = await self._ticket_if_unsafe(
                err,
                f"the trial of account '{inp.account_id}'; the reseller was not emailed",
                f"Trial of account {inp.account_id} stopped: unsafe platform data",
            )
            if not ticket:
                raise  # as before this change: the activity's own failure
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err

    async def _run(self, inp: CustomerTrialInput) -> CustomerTrialResult:
        while True:
            self._changed = False
            account = await self._read()
            if account is None:
                self._done(Step.DONE, f"account `{inp.account_id}` no longer exists")
                return CustomerTrialResult(
                    account_id=inp.account_id, outcome=TrialOutcome.ACCOUNT_GONE
                )
            if not account.trial:
                self._done(Step.DONE, "the trial was ended: the customer is no longer in trial")
                return CustomerTrialResult(
                    account_id=inp.account_id, outcome=TrialOutcome.CONVERTED
                )
            ends = account.trial_ends_at
            assert ends is not None
            now = workflow.now()
            if ends <= now:
                break
            self._enter(
                "waiting-for-trial-end",
                f"trial of **{account.name}** ({plural(account.trial_days, 'day')}) ends "
                f"**{ends:%Y-%m-%d %H:%M} UTC**; the reseller is emailed then",
            )
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._changed,
                    timeout=ends - now,
                    timeout_summary=f"until the trial ends ({ends:%Y-%m-%d})",
                )
        self._enter("expiring", "marking the account trial-expired and emailing the reseller")
        expired = await act(
            Names.EXPIRE_TRIAL,
            AccountRef(account_id=inp.account_id),
            AccountSnapshot,
            activity_id="expire-trial",
            summary="mark the account trial-expired",
            limit=calls.MUST_SUCCEED,
        )
        reseller = await act(
            Names.GET_RESELLER,
            ResellerRef(reseller_id=expired.reseller),
            ResellerSnapshot,
            activity_id="read-reseller",
            summary=f"read reseller {expired.reseller}",
            limit=calls.MUST_SUCCEED,
        )
        if workflow.patched(EMAIL_TEMPLATES_PATCH):
            await calls.send_template(trial_template(expired, reseller), step="notify-reseller")
        else:
            await calls.send_email(trial_email(expired, reseller), step="notify-reseller")
        self._done(Step.DONE, f"trial expired; reseller {reseller.id} emailed")
        return CustomerTrialResult(
            account_id=inp.account_id,
            outcome=TrialOutcome.EXPIRED,
            notified=reseller.notification_email,
        )


def trial_template(account: AccountSnapshot, reseller: ResellerSnapshot) -> TemplatedEmail:
    """To the reseller, in the customer's language (resellers sell in their own country)."""
    return TemplatedEmail(
        template=EmailTemplate.TRIAL_EXPIRED,
        to=[reseller.notification_email],
        audience=Audience(account_id=account.id, country=account.country, locale=account.locale),
        values={
            "greeting_name": reseller.name,
            "customer_name": account.name,
            "account_id": account.id,
            "product_type": account.product_type,
            "trial_days": account.trial_days,
            "ends_at": account.trial_ends_at.isoformat() if account.trial_ends_at else None,
        },
    )


def trial_email(account: AccountSnapshot, reseller: ResellerSnapshot) -> EmailMessage:
    """Replay only: the email of trials that ended before ``EMAIL_TEMPLATES_PATCH``."""
    ends: datetime | None = account.trial_ends_at
    return EmailMessage(
        to=[reseller.notification_email],
        subject=f"Trial expired: {account.name} ({account.id})",
        text="\n".join(
            [
                f"Hello {reseller.name},",
                "",
                f"The {account.trial_days}-day trial of your customer {account.name} "
                f"(account {account.id}, product type {account.product_type}) ended"
                + (f" on {ends:%Y-%m-%d}." if ends else "."),
                "The account is now marked trial-expired.",
                "",
                "To keep the customer, end the trial (it is then billed normally):",
                f"  pbxops customer update {account.id} --no-trial",
                "or extend it:",
                f"  pbxops customer update {account.id} --trial-days <days>",
            ]
        ),
    )


@workflow.defn(name=Procedure.CUSTOMER_UPDATE.value)
class CustomerUpdate(Tracked):
    """Edit a customer's properties; the platform refuses an immutable product type's change
    and a second internal demo. A change of the trial reaches its ``CustomerTrial`` workflow."""

    @workflow.init
    def __init__(self, inp: CustomerUpdateInput) -> None:
        self._status = ProcedureStatus(
            procedure=Procedure.CUSTOMER_UPDATE,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.account_id,
            step="updating",
            started_at=workflow.now(),
        )

    @workflow.query(description="Step and outcome of the update.")
    def status(self) -> ProcedureStatus:
        return self._status

    @workflow.run
    async def run(self, inp: CustomerUpdateInput) -> CustomerUpdateResult:
        given = inp.changes.given()
        self._enter("updating", f"changing {', '.join(sorted(given))} of `{inp.account_id}`")
        try:
            account = await act(
                Names.UPDATE_ACCOUNT,
                UpdateAccount(account_id=inp.account_id, changes=inp.changes),
                AccountSnapshot,
                activity_id="update-account",
                summary=f"update {', '.join(sorted(given))}",
            )
        except ActivityError as err:
            ticket = await self._ticket_if_unsafe(
                err,
                f"the update of account '{inp.account_id}' after the platform took the change",
                f"Update of account {inp.account_id} stopped: unsafe platform data",
            )
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err
        trial_id = None
        if {"trial", "trial_days"} & set(given):
            # A trial switched on (or lengthened after it expired) needs its timer; a running
            # timer re-reads the end date; a trial switched off ends its timer.
            start = account.trial and not account.trial_expired
            timer = await trial_timer(inp.account_id, start=start)
            trial_id = timer.workflow_id if timer.running else None
        self._done(Step.DONE, f"account `{inp.account_id}` updated")
        return CustomerUpdateResult(account=account, trial_workflow_id=trial_id)
