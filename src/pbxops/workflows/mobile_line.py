"""A mobile line (eSIM) for its whole life: ``mobile-line/<device id>``
(docs/procedures.md#mobile-line).

One workflow per device owns the device's activation state: it provisions the line (a licence
from the organisation's pool, the first activation code), mirrors the phone's events (Signals from
the platform's callback: activated, removed, deactivated, reactivated), lets the operator issue a
new code (only while pending activation), handle a lost or stolen phone, and delete the device
(Updates), and expires each code after 90 days with one timer. It ends when the device is deleted.

Idle cost is what matters here (thousands of lines wait months for a user): a pending line is one
timer and a small state; there is no polling. Codes never enter history: activities return only a
code's id and HMAC. A long life is cut into runs by continue-as-new, carrying a small state.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.deletion import SERVICE_DELETED_SIGNAL, ServiceDeleted
    from pbxops.contracts.mobile import (
        DEVICE_EVENT_SIGNAL,
        RECENT_EVENTS_KEPT,
        CodeInfo,
        CodeIssued,
        CodeOutcome,
        CodeReason,
        CodeRequest,
        CodeState,
        DeleteRequest,
        DeviceDeleted,
        DeviceEvent,
        DeviceRef,
        DeviceSnapshot,
        DeviceStatus,
        ExpireCode,
        IssueCode,
        LastEvent,
        MobileActivityNames,
        MobileLineInput,
        MobileLineResult,
        MobileLineState,
        MobileLineStatus,
        PhoneEventKind,
        ProvisionLine,
    )
    from pbxops.contracts.procedures import AuditEntry, Outcome, Procedure
    from pbxops.contracts.wording import days_or_seconds

from pbxops.workflows import calls
from pbxops.workflows.progress import AUDIT_IN_RESULTS, StepIndex, details, started_by
from pbxops.workflows.sla import cause_message, fail

# Issuing a code also sends its email: each call gets calls.MUST_SUCCEED, an hour of outages of
# the platform and the mail server.
_HAND_OVER_PAUSE = timedelta(seconds=1)
# The patch: a phone event only wakes the line, which reads the device from the platform and
# takes the platform's view; an event the platform does not know (seq beyond its own) is ignored.
EVENTS_CONFIRMED = "device-events-confirmed-by-platform"
# How long the line keeps asking the platform to confirm one event.
CONFIRM_FOR = timedelta(minutes=10)


class Step:
    PROVISIONING = "provisioning"
    PENDING = "pending-activation"
    CODE_EXPIRED = "code-expired"
    NEEDS_CODE = "needs-new-code"
    ONLINE = "online"
    OFFLINE = "offline"
    ISSUING = "issuing-code"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"


def _days(delta: timedelta) -> str:
    return days_or_seconds(delta)


def _require_identity(req: "CodeRequest | DeleteRequest") -> None:
    """A change to a line records who made it: an Update without an identity is refused."""
    if not (req.requested_by or "").strip():
        raise ValueError(
            "a change to a mobile line needs the identity of who makes it (--by or PBXOPS_OPERATOR)"
        )


@workflow.defn(name=Procedure.MOBILE_LINE.value)
class MobileLine:
    """The activation state of one mobile-line device, from provisioning to deletion."""

    @workflow.init
    def __init__(self, inp: MobileLineInput) -> None:
        self._input = inp
        self._state = inp.carried.model_copy(deep=True) if inp.carried else MobileLineState()
        self._lock = asyncio.Lock()
        self._expiry: asyncio.Task[None] | None = None
        self._expiry_acting = False
        self._busy = False
        self._result: MobileLineResult | None = None
        self._deleting = False
        self._finished_at: datetime | None = None
        self._error: str | None = None
        self._step = Step.PROVISIONING if not self._state.provisioned else ""
        self._detail = ""
        self._index = StepIndex(Step.PROVISIONING)
        # Set by the tenant's deletion (a Signal): the line ends with the service.
        self._service_deleted: ServiceDeleted | None = None
        # Carried by continue-as-new with the rest of the state: the next run still shows them.
        self._audit: list[AuditEntry] = self._state.audit
        if self._state.started_by is None:
            self._state.started_by = started_by()
        self._deleted_by: str | None = None
        # The newest phone event not yet confirmed with the platform, and its confirmer.
        self._hint: DeviceEvent | None = None
        self._confirming = False
        self._confirmer: asyncio.Task[None] | None = None
        self._confirms = 0

    # --- the run --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: MobileLineInput) -> MobileLineResult:
        if self._state.provisioned:
            self._index.indexed = self._step_for_state()
            self._refresh()
            self._arm_expiry()
        else:
            await self._provision()
        while self._result is None:
            await workflow.wait_condition(
                lambda: (
                    self._result is not None
                    or self._time_to_hand_over()
                    or self._service_deleted is not None
                )
            )
            if self._result is None and self._service_deleted is not None:
                await self._end_with_the_service(self._service_deleted)
            if self._result is not None:
                break
            # Hand over to a fresh run once nothing is in flight; the state goes with it. The
            # hand-over gets a workflow task of its own (a short timer), never the task that
            # completed an Update or applied a Signal.
            await workflow.wait_condition(self._quiet)
            if self._result is not None:
                break
            await workflow.sleep(_HAND_OVER_PAUSE, summary="hand over to a fresh run")
            if self._quiet() and self._result is None:
                self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result

    def _quiet(self) -> bool:
        return self._result is not None or (
            not self._busy
            and not self._lock.locked()
            and not self._confirming  # a phone event still being confirmed
            and workflow.all_handlers_finished()
        )

    def _continue_as_new(self) -> None:
        self._state.runs += 1
        workflow.logger.info("continuing as new (run %d)", self._state.runs)
        workflow.continue_as_new(self._input.model_copy(update={"carried": self._state}))

    def _time_to_hand_over(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    async def _provision(self) -> None:
        inp = self._input
        self._enter(
            Step.PROVISIONING,
            f"Assigning a mobile-line licence of `{inp.tenant_id}` to user `{inp.user_id}` and "
            "issuing the first activation code.",
        )
        self._busy = True
        try:
            issued = await calls.run(
                MobileActivityNames.PROVISION,
                ProvisionLine(
                    device_id=inp.device_id,
                    tenant_id=inp.tenant_id,
                    user_id=inp.user_id,
                    validity=inp.code_validity,
                ),
                CodeIssued,
                activity_id="provision",
                schedule_to_close=calls.MUST_SUCCEED,
                summary="assign a licence, issue and deliver the first code",
            )
        except ActivityError as err:
            # Pool exhausted, unknown user, a second line for the user: nothing was created.
            message = cause_message(err)
            self._error = message
            self._enter(Step.FAILED, message)
            raise fail(message, "ProvisioningRefused") from err
        finally:
            self._busy = False
        self._state.provisioned = True
        self._state.line_started_at = workflow.now()
        self._state.number = issued.device.number
        self._adopt_code(issued, CodeReason.PROVISION)

    # --- codes ----------------------------------------------------------------------------------

    def _adopt_code(
        self, issued: CodeIssued, reason: CodeReason, by: str | None = None
    ) -> CodeOutcome:
        now = workflow.now()
        # The workflow's own clock sets the expiry, so "90 days" is exactly 90 days of its timer;
        # the platform holds the same validity and refuses the code on its own too.
        code = CodeInfo(
            code_id=issued.code_id,
            digest=issued.digest,
            reason=reason,
            issued_at=now,
            expires_at=now + self._input.code_validity,
            delivery=issued.delivery,
            delivery_note=issued.delivery_note,
        )
        self._state.code = code
        self._state.codes_issued += 1
        self._adopt(issued.device)
        self._arm_expiry()
        self._refresh()
        return CodeOutcome(
            device_id=self._input.device_id,
            code_id=code.code_id,
            status=self._state.status,
            delivery=code.delivery,
            delivery_note=code.delivery_note,
            issued_at=code.issued_at,
            expires_at=code.expires_at,
            issued_by=(by or self._state.started_by)
            if workflow.patched(AUDIT_IN_RESULTS)
            else None,
        )

    def _arm_expiry(self) -> None:
        """One timer per live code; a new code or an activation cancels the previous one."""
        self._disarm_expiry()
        code = self._state.code
        if code is not None and code.state == CodeState.CURRENT:
            self._expiry = asyncio.create_task(self._expire_when_due(code.code_id))

    def _disarm_expiry(self) -> None:
        """Cancel the timer of a code that is no longer live (never an expiry in progress)."""
        if self._expiry is not None and not self._expiry_acting and not self._expiry.done():
            self._expiry.cancel()
        self._expiry = None

    async def _expire_when_due(self, code_id: str) -> None:
        code = self._state.code
        if code is None or code.code_id != code_id:
            return
        delay = code.expires_at - workflow.now()
        try:
            if delay > timedelta(0):
                await workflow.sleep(delay, summary=f"activation code {code_id} expires")
        except asyncio.CancelledError:
            return
        self._expiry_acting = True
        try:
            await self._expire(code_id)
        finally:
            self._expiry_acting = False

    async def _expire(self, code_id: str) -> None:
        async with self._lock:
            code = self._state.code
            if code is None or code.code_id != code_id or code.state != CodeState.CURRENT:
                return
            self._busy = True
            try:
                device = await calls.run(
                    MobileActivityNames.EXPIRE_CODE,
                    ExpireCode(device_id=self._input.device_id, code_id=code_id),
                    DeviceSnapshot,
                    activity_id=f"expire-{code_id}",
                    schedule_to_close=calls.MUST_SUCCEED,
                    summary=f"mark activation code {code_id} expired at the platform",
                )
            except ActivityError:
                # The platform refuses the code by its own clock anyway; say so and go on.
                workflow.logger.warning("could not mark code %s expired at the platform", code_id)
                device = None
            finally:
                self._busy = False
            used = device is not None and device.current_code_state == CodeState.USED
            if device is not None and device.current_code_id == code_id and used:
                # The activation's callback was lost: the platform knows better.
                code.state = CodeState.USED
                self._adopt(device)
                self._refresh()
                return
            code.state = CodeState.EXPIRED
            if device is not None:
                self._adopt(device)
            self._refresh()

    async def _issue(self, reason: CodeReason, by: str | None = None) -> CodeOutcome:
        label = "lost/stolen: new activation data" if reason is CodeReason.LOST_STOLEN else ""
        self._enter(Step.ISSUING, label or "Issuing a new activation code.")
        self._busy = True
        try:
            issued = await calls.run(
                MobileActivityNames.ISSUE_CODE,
                IssueCode(
                    device_id=self._input.device_id,
                    reason=reason,
                    validity=self._input.code_validity,
                ),
                CodeIssued,
                activity_id=f"code-{self._state.codes_issued + 1}",
                schedule_to_close=calls.MUST_SUCCEED,
                summary=(
                    "deactivate the lost phone's line, issue and deliver a new code"
                    if reason is CodeReason.LOST_STOLEN
                    else "issue and deliver a new activation code"
                ),
            )
        except ActivityError as err:
            self._refresh()
            raise ApplicationError(cause_message(err), type="PlatformRejected") from err
        finally:
            self._busy = False
        return self._adopt_code(issued, reason, by)

    # --- phone events (Signals) -----------------------------------------------------------------

    @workflow.signal(
        name=DEVICE_EVENT_SIGNAL,
        description="The platform reports what the phone did: activated, removed, "
        "deactivated, reactivated.",
    )
    def device_event(self, event: DeviceEvent) -> None:
        if event.device_id != self._input.device_id:
            workflow.logger.warning("ignored an event of another device")
            return
        if event.seq <= self._state.event_seq:
            return  # a duplicate or a late one: the platform delivers at least once
        if workflow.patched(EVENTS_CONFIRMED):
            # A hint, never a verdict: keep the newest, confirm it with the platform.
            if self._hint is None or event.seq > self._hint.seq:
                self._hint = event
            if not self._confirming:
                self._confirming = True
                self._confirmer = asyncio.create_task(self._confirm_events())
            return
        self._state.event_seq = event.seq
        self._state.events_seen += 1
        if self._state.status != DeviceStatus.DELETED:
            self._state.status = event.status
        code = self._state.code
        detail = ""
        if event.kind is PhoneEventKind.ACTIVATED and code is not None:
            if event.code_id in (None, code.code_id):
                code.state = CodeState.USED
                self._disarm_expiry()
                detail = f"code {code.code_id} used"
        elif event.kind is PhoneEventKind.REMOVED:
            detail = "the user removed the line from the phone"
        last = LastEvent(kind=event.kind.value, at=event.at, detail=detail)
        recent = [*self._state.recent_events, last]
        self._state.recent_events = recent[-RECENT_EVENTS_KEPT:]
        if not self._busy:
            self._refresh()

    async def _confirm_events(self) -> None:
        """Read the device for each pending hint; adopt what the platform shows."""
        try:
            async with self._lock:
                # Under the lock: never while an Update (a deletion, a new code) is under way.
                while self._hint is not None and self._result is None:
                    hint, self._hint = self._hint, None
                    if hint.seq <= self._state.event_seq:
                        continue  # the platform's view already covers it
                    device = await self._read_device()
                    if device is None:
                        continue
                    if device.event_seq < hint.seq:
                        # Beyond anything the platform recorded: forged or broken, not adopted.
                        workflow.logger.warning(
                            "ignored a phone event the platform does not know (seq %d > %d)",
                            hint.seq,
                            device.event_seq,
                        )
                        continue
                    self._apply_confirmed(hint, device)
        finally:
            self._confirming = False

    async def _read_device(self) -> DeviceSnapshot | None:
        self._confirms += 1
        self._busy = True
        try:
            # A local activity: a read, and its marker shares the workflow task (and the one
            # billable action) with the patch's marker when the event is a run's first.
            return await calls.run_local(
                MobileActivityNames.GET_DEVICE,
                DeviceRef(device_id=self._input.device_id),
                DeviceSnapshot,
                activity_id=f"confirm-event-{self._confirms}",
                schedule_to_close=CONFIRM_FOR,
                summary="confirm the phone event with the platform",
            )
        except ActivityError:
            # The next event, the code's expiry or an operator's command reads it again.
            workflow.logger.warning("could not confirm a phone event with the platform")
            return None
        finally:
            self._busy = False

    def _apply_confirmed(self, hint: DeviceEvent, device: DeviceSnapshot) -> None:
        self._state.events_seen += 1
        if self._state.status != DeviceStatus.DELETED:
            self._adopt(device)
        code = self._state.code
        detail = ""
        used = (
            code is not None
            and code.state == CodeState.CURRENT
            and device.current_code_id == code.code_id
            and device.current_code_state == CodeState.USED
        )
        if used and code is not None:
            code.state = CodeState.USED
            self._disarm_expiry()
            detail = f"code {code.code_id} used"
        elif hint.kind is PhoneEventKind.REMOVED:
            detail = "the user removed the line from the phone"
        last = LastEvent(kind=hint.kind.value, at=hint.at, detail=detail)
        self._state.recent_events = [*self._state.recent_events, last][-RECENT_EVENTS_KEPT:]
        self._refresh()

    # --- operator commands (Updates) ------------------------------------------------------------

    def _require_live(self) -> None:
        device = self._input.device_id
        if not self._state.provisioned:
            raise ValueError(f"mobile device '{device}' is still being provisioned")
        if self._deleting or self._state.status == DeviceStatus.DELETED:
            raise ValueError(f"mobile device '{device}' is deleted")

    def _require_pending(self) -> None:
        self._require_live()
        status = self._state.status
        if status != DeviceStatus.PENDING_ACTIVATION:
            raise ValueError(
                f"mobile device '{self._input.device_id}' is {status.label}; a new activation "
                "code can be generated only while it is pending activation"
            )

    @workflow.update(
        description="Generate a new activation code (only while pending activation); it "
        "invalidates every earlier code and is delivered like the first one."
    )
    async def new_code(self, req: CodeRequest) -> CodeOutcome:
        async with self._lock:
            try:
                self._require_pending()
            except ValueError as err:
                raise ApplicationError(str(err), type="WrongStatus") from None
            self._record(req, "issued a new activation code")
            return await self._issue(CodeReason.NEW_CODE, req.requested_by)

    @new_code.validator
    def _validate_new_code(self, req: CodeRequest) -> None:
        self._require_pending()
        _require_identity(req)

    @workflow.update(
        description="Lost or stolen phone: deactivate the line on it and issue new activation "
        "data for the replacement (from any status but deleted)."
    )
    async def lost_stolen(self, req: CodeRequest) -> CodeOutcome:
        async with self._lock:
            try:
                self._require_live()
            except ValueError as err:
                raise ApplicationError(str(err), type="WrongStatus") from None
            self._record(req, "reported the phone lost or stolen")
            return await self._issue(CodeReason.LOST_STOLEN, req.requested_by)

    @lost_stolen.validator
    def _validate_lost_stolen(self, req: CodeRequest) -> None:
        self._require_live()
        _require_identity(req)

    @workflow.update(
        description="Delete the device: its licence returns to the pool, the user is told to "
        "remove the line from the phone by hand, and this workflow ends."
    )
    async def delete(self, req: DeleteRequest) -> MobileLineResult:
        async with self._lock:
            try:
                self._require_live()
            except ValueError as err:
                raise ApplicationError(str(err), type="WrongStatus") from None
            self._record(req, "deleted the line")
            self._deleted_by = req.requested_by
            return await self._delete_device()

    async def _delete_device(self) -> MobileLineResult:
        """Delete the device, return its licence, tell the user; the workflow then ends."""
        self._deleting = True
        self._enter(Step.DELETING, "Deleting the device and returning its licence.")
        self._busy = True
        try:
            deleted = await calls.run(
                MobileActivityNames.DELETE_DEVICE,
                DeviceRef(device_id=self._input.device_id),
                DeviceDeleted,
                activity_id="delete",
                schedule_to_close=calls.MUST_SUCCEED,
                summary="delete the device, return its licence, tell the user",
            )
        except ActivityError as err:
            self._deleting = False
            self._refresh()
            raise ApplicationError(cause_message(err), type="PlatformRejected") from err
        finally:
            self._busy = False
        self._disarm_expiry()
        if self._state.code is not None and self._state.code.state == CodeState.CURRENT:
            self._state.code.state = CodeState.REVOKED
        self._adopt(deleted.device, force=True)
        self._state.status = DeviceStatus.DELETED
        self._finished_at = workflow.now()
        self._result = MobileLineResult(
            device_id=self._input.device_id,
            status=DeviceStatus.DELETED,
            licences_available=deleted.licences_available,
            user_notified=deleted.user_notified,
            codes_issued=self._state.codes_issued,
            **self._who_did_what(),
        )
        note = "the user was emailed" if deleted.user_notified else deleted.note
        self._refresh(
            extra=f"Licence returned to the pool ({deleted.licences_available} available); {note}."
        )
        return self._result

    @delete.validator
    def _validate_delete(self, req: DeleteRequest) -> None:
        self._require_live()
        _require_identity(req)

    def _who_did_what(self) -> dict[str, Any]:
        """The result's audit: who provisioned the line, who deleted it, every change between."""
        if not workflow.patched(AUDIT_IN_RESULTS):
            return {}
        return {
            "provisioned_by": self._state.started_by,
            "deleted_by": self._deleted_by,
            "audit": list(self._audit),
        }

    def _record(self, req: CodeRequest | DeleteRequest, action: str) -> None:
        """Who changed the line, for its status (audit of who did what)."""
        if req.requested_by:
            self._audit.append(AuditEntry(action=action, by=req.requested_by, at=workflow.now()))

    @workflow.signal(
        name=SERVICE_DELETED_SIGNAL,
        description="The tenant's service is being deleted: end this line as a deletion does "
        "(device deleted, licence back, the user told) and end this workflow.",
    )
    def service_deleted(self, notice: ServiceDeleted) -> None:
        if notice.tenant_id == self._input.tenant_id and self._service_deleted is None:
            self._service_deleted = notice

    async def _end_with_the_service(self, notice: ServiceDeleted) -> None:
        async with self._lock:
            if self._result is not None or self._deleting:
                return
            self._deleted_by = notice.by or "the service deletion"
            self._audit.append(
                AuditEntry(
                    action="deleted the tenant's service, ending this line",
                    by=self._deleted_by,
                    at=workflow.now(),
                )
            )
            try:
                await self._delete_device()
            except ApplicationError as err:
                # The deletion's purge ends the line on the platform; this workflow ends anyway.
                self._finished_at = workflow.now()
                self._state.status = DeviceStatus.DELETED
                self._result = MobileLineResult(
                    device_id=self._input.device_id,
                    status=DeviceStatus.DELETED,
                    licences_available=0,
                    user_notified=False,
                    codes_issued=self._state.codes_issued,
                    **self._who_did_what(),
                )
                self._refresh(extra=f"Ended with the service: {err.message}")

    # --- status ---------------------------------------------------------------------------------

    @workflow.query(description="Device status and colour, code issued/expires at, last event.")
    def status(self) -> MobileLineStatus:
        inp = self._input
        state = self._state
        finished = self._result is not None
        return MobileLineStatus(
            procedure=Procedure.MOBILE_LINE,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.tenant_id,
            step=self._step,
            step_detail=self._detail,
            outcome=(
                Outcome.COMPLETED
                if finished
                else Outcome.FAILED
                if self._error
                else Outcome.RUNNING
            ),
            started_at=state.line_started_at or workflow.info().start_time,
            finished_at=self._finished_at,
            error=self._error,
            device_id=inp.device_id,
            user_id=inp.user_id,
            number=state.number,
            device_status=state.status,
            colour=state.status.colour,
            code=state.code,
            codes_issued=state.codes_issued,
            last_event=state.recent_events[-1] if state.recent_events else None,
            recent_events=state.recent_events,
            runs=state.runs,
            started_by=state.started_by,
            audit=list(self._audit),
        )

    # --- bookkeeping ----------------------------------------------------------------------------

    def _adopt(self, device: DeviceSnapshot, *, force: bool = False) -> None:
        """Take the platform's view when it is at least as recent as ours."""
        if force or device.event_seq >= self._state.event_seq:
            self._state.event_seq = max(self._state.event_seq, device.event_seq)
            self._state.status = device.status
            self._state.number = device.number or self._state.number

    def _step_for_state(self) -> str:
        status = self._state.status
        code = self._state.code
        if status == DeviceStatus.DELETED:
            return Step.DELETED
        if status == DeviceStatus.ONLINE:
            return Step.ONLINE
        if status == DeviceStatus.OFFLINE:
            return Step.OFFLINE
        if code is not None and code.state == CodeState.CURRENT:
            return Step.PENDING
        if code is not None and code.state == CodeState.EXPIRED:
            return Step.CODE_EXPIRED
        return Step.NEEDS_CODE

    def _refresh(self, extra: str = "") -> None:
        """Step and details from the state; the Step search attribute follows status changes."""
        step = self._step_for_state()
        state = self._state
        code = state.code
        device = f"`{self._input.device_id}` ({state.number or 'no number yet'})"
        lines = [f"Device {device} is **{state.status.label}** ({state.status.colour})."]
        if code is not None:
            if code.state == CodeState.CURRENT:
                where = (
                    "emailed to the user"
                    if code.delivery == "email"
                    else f"for the operator to hand over ({code.delivery_note})"
                )
                lines.append(
                    f"Activation code `{code.code_id}` {where}; issued "
                    f"{code.issued_at:%Y-%m-%d %H:%M} UTC, expires "
                    f"**{code.expires_at:%Y-%m-%d %H:%M} UTC** "
                    f"({_days(self._input.code_validity)})."
                )
            elif code.state == CodeState.EXPIRED:
                lines.append(
                    f"**Code expired** on {code.expires_at:%Y-%m-%d %H:%M} UTC: issue a new one "
                    "(`pbxops mobile new-code`)."
                )
            elif step == Step.NEEDS_CODE:
                lines.append("No usable activation code: issue one (`pbxops mobile new-code`).")
        if state.recent_events:
            last = state.recent_events[-1]
            lines.append(f"Last phone event: {last.kind} at {last.at:%Y-%m-%d %H:%M} UTC.")
        if extra:
            lines.append(extra)
        if workflow.patched(AUDIT_IN_RESULTS):
            lines.append(self._who_line())
        self._enter(step, "\n\n".join(lines))

    def _who_line(self) -> str:
        """``Provisioned by **x**; last change: y reported the phone lost or stolen (time).``"""
        line = f"Provisioned by **{self._state.started_by or 'unknown'}**"
        if self._audit:
            last = self._audit[-1]
            line += f"; last change: **{last.by}** {last.action} ({last.at:%Y-%m-%d %H:%M} UTC)"
        return line + "."

    def _enter(self, step: str, detail: str) -> None:
        self._step = step
        self._detail = detail
        workflow.set_current_details(details(step, detail))
        # People search lines by Step ("whose code expired"); the brief steps are not indexed.
        if step not in (Step.ISSUING, Step.DELETING):
            self._index.set(step)
