"""Customer provisioning in four steps (docs/procedures.md#provisioning), as a saga.

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
from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
)

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.emails import (
        EMAIL_TEMPLATES_PATCH,
    )
    from pbxops.contracts.helpdesk import OpenTicket
    from pbxops.contracts.mail import EmailSent
    from pbxops.contracts.procedures import Outcome, Procedure
    from pbxops.contracts.provisioning import (
        AccountRef,
        AccountSnapshot,
        AssignRoles,
        ConfigurePbx,
        ConnectionSnapshot,
        ConnectionState,
        CreateAccount,
        CustomerProvisioningInput,
        InvitationSent,
        InviteAdmin,
        ProvisioningResult,
        ProvisioningStatus,
        RemovePbx,
        RolesAssigned,
        Undone,
        WithdrawInvitation,
    )
    from pbxops.contracts.wording import plural

from pbxops.workflows import calls
from pbxops.workflows.progress import AUDIT_IN_RESULTS, Tracked, started_by
from pbxops.workflows.provisioning_steps import (
    STEP_LABELS,
    UNDO,
    Names,
    PbxSync,
    Step,
    count_of,
    trial_timer,
    users_word,
)
from pbxops.workflows.sla import cause_message


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
            started_by=started_by(),
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
        self._enter(
            Step.PBX, f"{what}: {count_of(synced)} of {count_of(total)} {users_word(total)}"
        )

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
        account = await calls.run(
            Names.CREATE_ACCOUNT,
            CreateAccount(
                reseller=inp.reseller, customer=customer, support_contacts=inp.support_contacts
            ),
            AccountSnapshot,
            activity_id="create-account",
            summary="create the customer account with its support contacts",
            schedule_to_close=calls.FORWARD,
        )
        self._account = account
        self._st.tenant_id = account.id
        ref = AccountRef(account_id=account.id)
        self._undo.append(
            (
                f"account '{account.id}' deleted",
                lambda: calls.run(
                    Names.DELETE_ACCOUNT,
                    ref,
                    Undone,
                    activity_id="undo-create-account",
                    summary=f"undo: delete account {account.id}",
                    schedule_to_close=UNDO,
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
            sent = await calls.run(
                Names.INVITE_ADMIN,
                InviteAdmin(account_id=account.id, customer_name=customer.name, admin=admin),
                InvitationSent,
                activity_id=f"invite-admin-{n}",
                summary=f"create Admin user {n} and email the invitation",
                schedule_to_close=calls.FORWARD,
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
        connection = await calls.run(
            Names.CONFIGURE_PBX,
            ConfigurePbx(account_id=account.id, pbx=pbx),
            ConnectionSnapshot,
            activity_id="configure-pbx",
            summary="store the PBX connection" + ("" if pbx.enabled else " (disabled)"),
            schedule_to_close=calls.FORWARD,
        )
        self._undo.append(
            (
                "PBX connection and synchronised users removed",
                lambda: calls.run(
                    Names.REMOVE_PBX,
                    RemovePbx(account_id=account.id, keep_disabled=False),
                    Undone,
                    activity_id="undo-pbx",
                    summary="undo: remove the PBX connection and synchronised users",
                    schedule_to_close=UNDO,
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
        roles = await calls.run(
            Names.ASSIGN_ROLES,
            AssignRoles(account_id=account.id, roles=inp.roles),
            RolesAssigned,
            activity_id="assign-roles",
            summary="assign user roles and access",
            schedule_to_close=calls.FORWARD,
        )
        live = await calls.run(
            Names.ACTIVATE_ACCOUNT,
            ref,
            AccountSnapshot,
            activity_id="activate-account",
            summary="finish provisioning: the account goes live",
            schedule_to_close=calls.FORWARD,
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
            started_by=self._status.started_by if workflow.patched(AUDIT_IN_RESULTS) else None,
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
            return calls.run(
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
                schedule_to_close=UNDO,
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
