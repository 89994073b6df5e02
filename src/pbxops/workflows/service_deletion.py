"""Cloud PBX service deletion (docs/procedures.md#deletion).

1. The tenant's users with the Admin role are listed; none → the procedure fails (nobody could
   receive the code).
2. An 8-digit code is generated and emailed to every Admin; the workflow keeps only its HMAC.
3. The operator confirms with the code (an Update): a malformed code is refused before it reaches
   history, wrong codes are counted (5 lock the request), and the code is valid for 1 hour from
   the email. Before confirmation the request can be withdrawn; after, never.
4. Confirmed, the service shows ``deleting`` and the delivery team's purge runs step by step.
   The platform's erasure must end within 2 business days of the confirmation (the tenant's
   country and time zone); past that one support ticket is opened, and resolved at the end.
5. The result is verified (nothing left, usage zero, billing stopped) and the operator and the
   Admins are told.
"""

import asyncio
import re
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.calendar import BusinessDeadline
    from pbxops.contracts.deletion import (
        CODE_DIGITS,
        ERASE_STEPS,
        PURGE_LABELS,
        PURGE_STEPS,
        SERVICE_DELETED_SIGNAL,
        Answer,
        CodeCheck,
        CodeEmail,
        ConfirmCode,
        ConfirmKey,
        DeletionInput,
        DeletionResult,
        DeletionStatus,
        Phase,
        PurgeRequest,
        PurgeStep,
        ServiceDeleted,
        TenantAdmins,
        WithdrawRequest,
    )
    from pbxops.contracts.emails import (
        EMAIL_TEMPLATES_PATCH,
        Audience,
        EmailTemplate,
        TemplatedEmail,
    )
    from pbxops.contracts.lifecycle import Action, refusal
    from pbxops.contracts.pbx import (
        PLATFORM_EVENT_SIGNAL,
        PlatformEvent,
        ServiceSnapshot,
        ServiceState,
        TransitionKind,
        TransitionRequest,
    )
    from pbxops.contracts.procedures import AuditEntry, Outcome, Procedure
    from pbxops.contracts.wording import plural

from pbxops.workflows import calls, legacy_emails
from pbxops.workflows.platform_job import PlatformJob
from pbxops.workflows.progress import add_note, failed, show_step, unsafe_data_ticket
from pbxops.workflows.sla import (
    Escalation,
    HardCapReached,
    SlaWindow,
    cause_message,
)

# ASCII digits, the whole string (\d matches any script's digits; $ a final newline).
_CODE_FORMAT = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")

# Deletions started after this change run the whole purge as one activity (3 history events and
# 1 billable action instead of 18 events and 6 actions); those started before keep their six.
# Once none of those can still be running (the 30-day hard cap), the old branch can go.
PURGE_IN_ONE_ACTIVITY = "purge-in-one-activity"
# Deletions started after this change erase everything of the tenant: each eSIM line's
# workflow is told to end its line (device deleted, licence back, user told), and the purge also
# ends what is left of the lines, removes the support contacts and closes the problem reports;
# the final check covers all of it.
ERASE_EVERYTHING = "erase-everything"

# A withdrawal that arrives while the steps before the code email run (listing the Admins,
# issuing the code, emailing it, which may be failing and retrying) cancels them: the workflow
# ends at once and no code goes out after it. Before this change the workflow went on waiting for
# them; the patch is asked only when a withdrawal meets a step in flight, so runs that never see
# one record no marker.
WITHDRAW_CANCELS_STEPS = "withdraw-cancels-steps"

# A sealed code (ConfirmCode.sealed) is at most this long in base64: ephemeral key, nonce, tag,
# the 8 digits. Anything longer is not one.
_SEALED_MAX = 120


class Step:
    ADMINS = "finding-admins"
    AWAITING = "awaiting-confirmation"
    PURGING = "purging"
    WAITING = "waiting-for-delivery"
    VERIFYING = "verifying"
    DONE = "done"
    ENDED = "ended"
    FAILED = "failed"


@workflow.defn(name=Procedure.DELETION.value)
class ServiceDeletion:
    @workflow.init
    def __init__(self, inp: DeletionInput) -> None:
        self._input = inp
        self._digest: str | None = None
        self._box_key: str | None = None
        self._before_code: asyncio.Task[None] | None = None
        # The tenant's country and time zone (from the Admins' lookup): the result email's.
        self._country: str | None = None
        self._timezone: str | None = None
        self._job = PlatformJob(inp.tenant_id, ServiceState.DELETED)
        self._escalation = Escalation(inp.tenant_id)
        self._status = DeletionStatus(
            procedure=Procedure.DELETION,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.tenant_id,
            step=Step.ADMINS,
            started_at=workflow.now(),
            max_wrong_codes=inp.max_wrong_codes,
            started_by=str(inp.requested_by),
        )

    # --- handlers -------------------------------------------------------------------------------

    @workflow.update(
        description="Confirm the deletion with the 8-digit code emailed to the Admins. "
        "Irreversible once accepted. Wrong codes are counted; the request locks at the limit."
    )
    async def confirm(self, request: ConfirmCode) -> Answer:
        assert self._digest is not None  # the validator let us in only while awaiting
        check = CodeCheck(code=request.code, sealed=request.sealed, digest=self._digest)
        matches = await calls.check_code(check)
        self._refuse_unless_awaiting()  # another Update may have won while we checked
        by = request.by or "unknown (confirmed before identities were recorded)"
        if matches:
            self._status.phase = Phase.CONFIRMED
            self._status.confirmed_at = workflow.now()
            self._status.confirmed_by = by
            self._audit("confirmed the deletion", by)
            return Answer(message="confirmed: the deletion cannot be undone", phase=Phase.CONFIRMED)
        self._status.wrong_codes += 1
        self._audit("entered a wrong code", by)
        left = self._input.max_wrong_codes - self._status.wrong_codes
        if left <= 0:
            self._status.phase = Phase.LOCKED
            raise ApplicationError(
                "wrong code; the request is now locked after "
                f"{plural(self._input.max_wrong_codes, 'wrong code')} — start the deletion again",
                type="Locked",
            )
        raise ApplicationError(f"wrong code; {plural(left, 'attempt')} left", type="WrongCode")

    @confirm.validator
    def _validate_confirm(self, request: ConfirmCode) -> None:
        # Runs before the Update reaches history: a plain code this run could take sealed is
        # refused here, so it is never recorded (history must never show a code, wrong or not).
        if request.sealed is not None:
            if request.code or not 0 < len(request.sealed) <= _SEALED_MAX:
                raise ValueError("malformed confirmation: send it with `pbxops delete confirm`")
        elif self._box_key is not None:
            raise ValueError(
                "this run takes the code only sealed (a plain code would be recorded in "
                "history): confirm with an up-to-date `pbxops delete confirm`"
            )
        elif not _CODE_FORMAT.fullmatch(request.code):
            raise ValueError(f"the code is {CODE_DIGITS} digits, e.g. 12345678")
        if not request.by:
            raise ValueError(
                "a confirmation needs the identity of who confirms (--by or PBXOPS_OPERATOR)"
            )
        self._refuse_unless_awaiting()

    @workflow.update(description="Withdraw the request before it is confirmed; never after.")
    def withdraw(self, request: WithdrawRequest) -> Answer:
        self._status.phase = Phase.WITHDRAWN
        self._status.error = request.reason
        if request.by:
            self._status.withdrawn_by = request.by
            self._audit("withdrew the request", request.by)
        in_flight = self._before_code is not None and not self._before_code.done()
        if in_flight and workflow.patched(WITHDRAW_CANCELS_STEPS):
            assert self._before_code is not None
            self._before_code.cancel()  # cancels the activity: no retry, no email after this
        return Answer(message="withdrawn: nothing was deleted", phase=Phase.WITHDRAWN)

    @withdraw.validator
    def _validate_withdraw(self, request: WithdrawRequest) -> None:
        phase = self._status.phase
        if phase == Phase.CONFIRMED:
            raise ValueError("the deletion was confirmed and cannot be undone (irreversible)")
        if phase not in (Phase.REQUESTING, Phase.AWAITING_CODE):
            raise ValueError(f"nothing to withdraw: the request is {phase.value}")
        if not request.by:
            raise ValueError(
                "a withdrawal needs the identity of who withdraws (--by or PBXOPS_OPERATOR)"
            )

    @workflow.signal(name=PLATFORM_EVENT_SIGNAL, description="The platform reports a job's end.")
    def platform_event(self, event: PlatformEvent) -> None:
        self._job.on_event(event)

    @workflow.query(description="Phase, code expiry, wrong attempts, purge steps, SLA, ticket.")
    def status(self) -> DeletionStatus:
        return self._status.model_copy(update={"ticket_id": self._escalation.ticket_id})

    @workflow.query(
        name="confirm_key",
        description="The worker's public key the CLI seals the operator's code to, and the run.",
    )
    def confirm_key(self) -> ConfirmKey:
        info = workflow.info()
        return ConfirmKey(box_key=self._box_key, context=f"{info.workflow_id}/{info.run_id}")

    def _refuse_unless_awaiting(self) -> None:
        phase = self._status.phase
        expires = self._status.code_expires_at
        if phase == Phase.AWAITING_CODE and expires is not None and workflow.now() >= expires:
            phase = Phase.EXPIRED
        reasons = {
            Phase.REQUESTING: "the code has not been emailed yet; try again in a moment",
            Phase.CONFIRMED: "already confirmed: the deletion is in progress and cannot be undone",
            Phase.LOCKED: f"locked after {plural(self._input.max_wrong_codes, 'wrong code')} — "
            "start the deletion again",
            Phase.WITHDRAWN: "the request was withdrawn — start the deletion again",
            Phase.EXPIRED: "expired — start the deletion again",
        }
        if phase in reasons:
            raise ApplicationError(reasons[phase], type=f"Refused{phase.name.title()}")

    # --- the procedure --------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: DeletionInput) -> DeletionResult:
        # The steps up to the code email run as a task a withdrawal can cancel (withdraw()).
        emailed: list[TenantAdmins] = []
        self._before_code = asyncio.create_task(self._email_code(inp, emailed))
        try:
            await self._before_code
        except asyncio.CancelledError:
            if self._status.phase != Phase.WITHDRAWN:
                raise  # the workflow itself was cancelled
        except ActivityError:
            if self._status.phase != Phase.WITHDRAWN:
                raise
            # else: the step the withdrawal cancelled
        if not emailed:  # withdrawn before any code went out
            return self._ended_unconfirmed()
        [tenant] = emailed
        try:
            await workflow.wait_condition(
                lambda: self._status.phase != Phase.AWAITING_CODE,
                timeout=max(self._code_expires() - workflow.now(), timedelta(seconds=1)),
                timeout_summary="code validity",
            )
        except TimeoutError:
            self._status.phase = Phase.EXPIRED
        if self._status.phase != Phase.CONFIRMED:
            return self._ended_unconfirmed()

        confirmed_at = self._status.confirmed_at or workflow.now()
        deadline = await calls.business_deadline(
            BusinessDeadline(
                start=confirmed_at,
                business_days=inp.delivery_business_days,
                country=tenant.country,
                timezone=tenant.timezone,
            )
        )
        return await self._delete(tenant.tenant_name, tenant.admins, confirmed_at, deadline.at)

    def _code_expires(self) -> datetime:
        assert self._status.code_expires_at is not None
        return self._status.code_expires_at

    async def _email_code(self, inp: DeletionInput, emailed: list[TenantAdmins]) -> None:
        """List the Admins, issue the code, email it; ``emailed`` gets the tenant once it went."""
        self._enter(Step.ADMINS, "Listing the tenant's users with the Admin role.")
        try:
            tenant = await calls.get_admins(inp.tenant_id)
        except ActivityError as err:
            if self._status.phase == Phase.WITHDRAWN:
                raise
            ticket = await unsafe_data_ticket(
                self._status,
                self._escalation,
                err,
                procedure=f"the deletion of tenant '{inp.tenant_id}' before the code email",
                subject=f"Deletion of tenant {inp.tenant_id} stopped: unsafe platform data",
            )
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err
        self._country, self._timezone = tenant.country, tenant.timezone
        # The lifecycle table decides (contracts/lifecycle.py): only an active or deactivated
        # service can be deleted; a deleting or deleted one "is already" so.
        if (refused := refusal(inp.tenant_id, tenant.state, Action.DELETE)) is not None:
            kind = (
                "AlreadyDeleted"
                if tenant.state in (ServiceState.DELETING, ServiceState.DELETED)
                else "WrongState"
            )
            raise self._failed(refused, kind)
        if not tenant.admins:
            raise self._failed(
                f"tenant '{inp.tenant_id}' has no user with the Admin role, so nobody can "
                "receive the confirmation code; give a user the Admin role and start again",
                "NoAdmin",
            )

        if self._status.phase == Phase.WITHDRAWN:
            return  # withdrawn before any code went out
        issued = await calls.issue_code()
        self._digest = issued.digest
        self._box_key = issued.box_key
        minutes = int(inp.code_validity.total_seconds() // 60)
        await calls.send_code(
            CodeEmail(
                tenant_id=inp.tenant_id,
                tenant_name=tenant.tenant_name,
                to=tenant.admins,
                sealed=issued.sealed,
                valid_minutes=minutes,
            )
        )
        expires = workflow.now() + inp.code_validity  # "valid 1 hour from the email"
        self._status.admins_notified = len(tenant.admins)
        self._status.code_expires_at = expires
        if self._status.phase == Phase.REQUESTING:  # not withdrawn meanwhile
            self._status.phase = Phase.AWAITING_CODE
        workflow.upsert_search_attributes(
            [sa.STEP.value_set(Step.AWAITING), sa.SLA_DEADLINE.value_set(expires)]
        )
        self._enter(
            Step.AWAITING,
            f"Code emailed to {plural(len(tenant.admins), 'Admin')}; valid until "
            f"**{expires:%H:%M} UTC**. Confirm with `pbxops delete confirm --tenant "
            f"{inp.tenant_id} --code …`.",
        )
        emailed.append(tenant)

    async def _delete(
        self, tenant_name: str, admins: list[str], confirmed_at: datetime, deadline: datetime
    ) -> DeletionResult:
        inp = self._input
        # Asked here, right after the business-deadline local activity, so that the patch's
        # marker is recorded in the same workflow task as that activity's marker (Temporal bills
        # the markers of one workflow task as one action). The SDK also upserts the
        # TemporalChangeVersion search attribute with it: 1 action, against the 5 it saves.
        purge_in_one = workflow.patched(PURGE_IN_ONE_ACTIVITY)
        erase_everything = purge_in_one and workflow.patched(ERASE_EVERYTHING)
        # Asked here for the same reason, though it decides only the final email's activity.
        templated_email = workflow.patched(EMAIL_TEMPLATES_PATCH)
        self._status.sla_deadline = deadline
        workflow.upsert_search_attributes(
            [sa.STEP.value_set(Step.PURGING), sa.SLA_DEADLINE.value_set(deadline)]
        )
        self._enter(Step.PURGING, "The delivery team has the request: the service shows deleting.")
        try:
            accepted = await calls.request_transition(
                TransitionRequest(tenant_id=inp.tenant_id, kind=TransitionKind.DELETION)
            )
        except ActivityError as err:
            raise self._failed(cause_message(err), "PlatformRejected") from err
        self._job.job_id = accepted.job_id
        if erase_everything:
            await self._end_lines()
        if purge_in_one:
            await self._purge(deadline, erase_everything)
        else:
            await self._purge_step_by_step(deadline)

        self._enter(
            Step.WAITING,
            f"Waiting for the platform to finish erasing the data (job `{accepted.job_id}`). "
            f"Support ticket if not deleted by **{deadline:%Y-%m-%d %H:%M} UTC**.",
        )
        try:
            after = await self._job.wait_and_read(
                SlaWindow(deadline=deadline, hard_cap_at=confirmed_at + inp.hard_cap),
                lambda: self._escalate(deadline),
                what=f"{inp.tenant_id} is deleted",
                status=self._status,
                reading=lambda: self._enter(
                    Step.VERIFYING, "Checking that nothing of the tenant remains."
                ),
            )
        except HardCapReached as err:
            message = (
                f"the platform did not finish deleting tenant '{inp.tenant_id}' within "
                f"{plural(inp.hard_cap.days, 'day')} of the confirmation"
            )
            await self._escalation.comment(f"pbxops stopped waiting: {message}. Needs a person.")
            raise self._failed(message, "HardCapReached") from err

        self._verify(after)
        if self._escalation.ticket_id:
            await self._escalation.resolve(
                "The deletion completed after the 2-business-day deadline. Resolved "
                "automatically by pbxops."
            )
        if templated_email:
            await calls.send_template(
                self._deleted_email(tenant_name, admins), step="notify-deleted"
            )
        else:
            await calls.send_email(
                legacy_emails.service_deleted(
                    self._input.tenant_id,
                    tenant_name,
                    self._escalation.ticket_id,
                    [str(inp.requested_by), *admins],
                ),
                step="notify-deleted",
            )
        self._status.outcome = Outcome.COMPLETED
        self._status.finished_at = workflow.now()
        self._enter(Step.DONE, "The service is deleted: data erased, usage zero, billing stopped.")
        return self._result(after.state, deadline)

    async def _end_lines(self) -> None:
        """Every live eSIM line's own workflow ends it: its device is deleted, its licence goes
        back and its user is told, exactly as when one line is deleted. A line whose workflow
        does not answer in time is ended by the purge (licence back, but no email)."""
        tenant_id = self._input.tenant_id
        lines = await calls.live_mobile_lines(tenant_id)
        if not lines.device_ids:
            return
        self._enter(
            Step.PURGING,
            f"Ending {plural(len(lines.device_ids), 'eSIM line')}: each line's workflow "
            "deletes its device, returns its licence and tells its user.",
        )
        told = ServiceDeleted(tenant_id=tenant_id, by=self._status.confirmed_by or "")
        signals = [
            workflow.get_external_workflow_handle(Procedure.MOBILE_LINE.workflow_id(device)).signal(
                SERVICE_DELETED_SIGNAL, told
            )
            for device in lines.device_ids
        ]
        outcomes = await asyncio.gather(*signals, return_exceptions=True)
        missing = [d for d, o in zip(lines.device_ids, outcomes, strict=True) if o is not None]
        try:
            await calls.mobile_lines_ended(tenant_id)
        except ActivityError:
            missing = missing or lines.device_ids
        if missing:
            add_note(
                self._status,
                f"{plural(len(missing), 'eSIM line')} ({', '.join(missing)}) did not end by its "
                "workflow; the purge ends them (licence back, the user not emailed).",
            )

    async def _purge(self, deadline: datetime, erase_everything: bool = False) -> None:
        steps = list(PURGE_STEPS) + (list(ERASE_STEPS) if erase_everything else [])
        self._enter(
            Step.PURGING,
            f"Purging: {', '.join(PURGE_LABELS[step] for step in steps)}. Deadline "
            f"**{deadline:%Y-%m-%d %H:%M} UTC** (2 business days).",
        )
        report = await calls.purge_all(PurgeRequest(tenant_id=self._input.tenant_id, steps=steps))
        self._status.purged.extend(done.step for done in report.steps)
        add_note(
            self._status,
            "Purged: " + ", ".join(f"{done.step} ({done.removed})" for done in report.steps) + ".",
        )

    async def _purge_step_by_step(self, deadline: datetime) -> None:
        """How deletions started before ``PURGE_IN_ONE_ACTIVITY`` purge (kept for their replay)."""
        for number, step in enumerate(PURGE_STEPS, start=1):
            self._enter(
                Step.PURGING,
                f"Purge step {number}/{len(PURGE_STEPS)}: {PURGE_LABELS[step]}. Deadline "
                f"**{deadline:%Y-%m-%d %H:%M} UTC** (2 business days).",
            )
            await calls.purge(PurgeStep(tenant_id=self._input.tenant_id, step=step))
            self._status.purged.append(step)

    async def _escalate(self, deadline: datetime) -> None:
        inp = self._input
        ticket = await self._escalation.open(
            subject=f"Deletion of tenant {inp.tenant_id} not finished after 2 business days",
            body=(
                f"The deletion of tenant '{inp.tenant_id}' was confirmed at "
                f"{self._status.confirmed_at:%Y-%m-%d %H:%M} UTC; the provider's limit of 2 "
                f"business days passed at {deadline:%Y-%m-%d %H:%M} UTC and the service is "
                f"still not deleted (platform job {self._job.job_id}; purge steps done: "
                f"{', '.join(self._status.purged) or 'none'}). pbxops keeps waiting and will "
                "resolve this ticket when the deletion completes."
            ),
        )
        self._status.escalated = True
        add_note(self._status, f"**Escalated**: support ticket `{ticket}`.")

    def _verify(self, after: ServiceSnapshot) -> None:
        left = {
            "state": after.state != ServiceState.DELETED,
            "extensions": after.extensions_total > 0,
            "users": after.users_total > 0,
            "recordings": after.recordings_total > 0,
            "usage": after.usage_minutes > 0,
            "billing": after.billing_active,
            "eSIM lines": after.mobile_lines_total > 0,
            "numbers": after.numbers_total > 0,
            "support contacts": after.support_contacts_total > 0,
            # The platform counts only the reports still open (the purge closes them as
            # "service deleted" and keeps them, emptied, for the reseller's support).
            "problem reports": after.problem_reports_total > 0,
        }
        problems = [name for name, wrong in left.items() if wrong]
        if problems:
            raise self._failed(
                f"the platform reported tenant '{self._input.tenant_id}' deleted, but these "
                f"remain: {', '.join(problems)}",
                "VerificationFailed",
            )

    def _deleted_email(self, tenant_name: str, admins: list[str]) -> TemplatedEmail:
        """The Admins read it in the tenant's language; the operator who asked, in English."""
        return TemplatedEmail(
            template=EmailTemplate.DELETION_DONE,
            to=list(dict.fromkeys(admins)),
            staff_to=[self._input.requested_by],
            audience=Audience(
                tenant_id=self._input.tenant_id, country=self._country, timezone=self._timezone
            ),
            values={
                "tenant_name": tenant_name,
                "tenant_id": self._input.tenant_id,
                "ticket_id": self._escalation.ticket_id,
            },
        )

    # --- bookkeeping ----------------------------------------------------------------------------

    def _ended_unconfirmed(self) -> DeletionResult:
        phase = self._status.phase
        endings = {
            Phase.EXPIRED: "The code expired before anyone confirmed: nothing was deleted.",
            Phase.LOCKED: "Too many wrong codes: the request is locked, nothing was deleted.",
            Phase.WITHDRAWN: "The request was withdrawn: nothing was deleted.",
        }
        self._status.outcome = Outcome.COMPLETED
        self._status.finished_at = workflow.now()
        self._enter(Step.ENDED, endings[phase])
        workflow.upsert_search_attributes([sa.STEP.value_set(phase.value)])
        return self._result(None, None)

    def _result(self, state: ServiceState | None, deadline: datetime | None) -> DeletionResult:
        return DeletionResult(
            tenant_id=self._input.tenant_id,
            phase=self._status.phase,
            state=state,
            requested_by=str(self._input.requested_by),
            confirmed_by=self._status.confirmed_by,
            withdrawn_by=self._status.withdrawn_by,
            confirmed_at=self._status.confirmed_at,
            deadline=deadline,
            escalated=self._escalation.ticket_id is not None,
            ticket_id=self._escalation.ticket_id,
        )

    def _audit(self, action: str, by: str) -> None:
        self._status.audit.append(AuditEntry(action=action, by=by, at=workflow.now()))
        add_note(self._status, f"{action.capitalize()}: **{by}**.")

    def _enter(self, step: str, detail: str) -> None:
        show_step(self._status, step, detail)

    def _failed(self, message: str, kind: str) -> ApplicationError:
        return failed(self._status, message, kind)
