"""Removing the package of phone numbers: billing path, delete, verify, inform
(docs/procedures.md#number-removal).

One request is one customer's list of numbers (id ``number-removal/<lowest E.164 number>``):

1. **authorising**: the requester must be an Admin or Super User of the tenant; otherwise the
   procedure fails at once and nothing is changed.
2. **looking-up**: each number's record in the support view (CSU): its device on the customer's
   device list and its subscription's SOC code, which decides the billing path:
   ``Ecom2Checkout*`` e-commerce (the account's "update subscription" link is fetched now, before
   anything is deleted), ``CKSWDirect*`` direct, anything else **manual handling**.
3. **handing-over**: numbers that need a person (unknown SOC code, no billing link) go into one
   support ticket and are not touched.
4. **removing**: each remaining number is its own step: "Delete Device" on the device portal
   (retried, idempotent), then verification as a *retry-as-poll* activity: the support view must
   show a Deleted Datetime matching the removal and the portal must no longer list the number.
   Past the verification deadline one support ticket is opened and checking goes on until the
   hard cap; a late confirmation resolves the ticket.
5. **informing**: one email to the requester: what was removed, what was not and why, and for
   e-commerce numbers the link to update the subscription with the number of licences to take off:
   every number whose device was deleted, those not verified in time marked pending verification
   (they have their ticket), so billing is never left on a number that is gone.

A request where no number could be removed fails with the reasons; a partly done request
completes and says, in its result, its status and the email, which number ended how.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.emails import (
        EMAIL_TEMPLATES_PATCH,
        Audience,
        EmailTemplate,
        TemplatedEmail,
    )
    from pbxops.contracts.helpdesk import OpenTicket
    from pbxops.contracts.number_removal import (
        BillingAccountRef,
        BillingLink,
        BillingPath,
        DeleteDevice,
        DeviceDeleted,
        LookupNumbers,
        NumberActivities,
        NumberOutcome,
        NumberRecords,
        NumberRemovalInput,
        NumberRemovalResult,
        NumberRemovalStatus,
        NumberState,
        RemovalVerified,
        RequesterCheck,
        RequesterVerdict,
        VerifyRemoval,
        billing_path,
    )
    from pbxops.contracts.procedures import Outcome, Procedure
    from pbxops.contracts.wording import minutes_or_hours, plural, utc_time

from pbxops.workflows import calls, legacy_emails
from pbxops.workflows.progress import AUDIT_IN_RESULTS, Tracked, started_by, unsafe_data_ticket
from pbxops.workflows.sla import (
    Escalation,
    HardCapReached,
    SlaWindow,
    cause_message,
    wait_with_sla,
)

# Verification polls the support view through the activity's retry policy: quickly at first
# (the Deleted Datetime usually shows within seconds), then less and less often, every 10
# minutes at most: about 16 polls in the first 15 minutes. Retries cost no history events, only
# the final answer does.
VERIFY_POLL = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(minutes=10),
)
# The SLA helper's own cap sits just after the verification activities' cap: they end first.
_CAP_MARGIN = timedelta(minutes=5)
_MIN_VERIFY = timedelta(seconds=10)


class Step:
    AUTHORISING = "authorising"
    LOOKING_UP = "looking-up"
    HANDING_OVER = "handing-over"
    REMOVING = "removing"
    INFORMING = "informing"
    DONE = "done"
    FAILED = "failed"


_DELETED = (NumberOutcome.REMOVED, NumberOutcome.NOT_VERIFIED)


def _duration(delta: timedelta) -> str:
    return minutes_or_hours(delta)


@workflow.defn(name=Procedure.NUMBER_REMOVAL.value)
class NumberPackageRemoval(Tracked):
    """Remove the package of one customer's phone numbers: billing path, delete, verify, inform."""

    _status: NumberRemovalStatus

    @workflow.init
    def __init__(self, inp: NumberRemovalInput) -> None:
        self._input = inp
        self._numbers = {number: NumberState(number=number) for number in inp.numbers}
        self._links: dict[str, BillingLink] = {}
        self._tenant_name = inp.tenant_id
        self._manual_ticket: str | None = None
        # Since EMAIL_TEMPLATES_PATCH an e-commerce number deleted but not verified in time counts
        # in the licences to decrease (marked pending verification): before, it was left out,
        # and a request with none verified told the customer nothing about billing at all.
        self._bill_unverified = False
        self._escalation = Escalation(inp.tenant_id)
        self._status = NumberRemovalStatus(
            procedure=Procedure.NUMBER_REMOVAL,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.tenant_id,
            step=Step.AUTHORISING,
            started_at=workflow.now(),
            started_by=started_by(),
        )

    @workflow.query(description="Step, each number's outcome, deadline and tickets.")
    def status(self) -> NumberRemovalStatus:
        return self._status.model_copy(
            update={
                "numbers": [state.model_copy() for state in self._numbers.values()],
                "ticket_id": self._escalation.ticket_id or self._manual_ticket,
                "manual_ticket_id": self._manual_ticket,
                "verification_ticket_id": self._escalation.ticket_id,
            }
        )

    @workflow.run
    async def run(self, inp: NumberRemovalInput) -> NumberRemovalResult:
        await self._authorise()
        await self._look_up()
        await self._hand_over()
        removable = [s for s in self._numbers.values() if s.outcome is NumberOutcome.PENDING]
        if removable:
            await self._remove(removable)
        if not any(state.outcome in _DELETED for state in self._numbers.values()):
            raise self._failed("nothing was removed: " + self._reasons(), "NothingRemoved")
        email_id = await self._inform()
        return self._finish(email_id)

    # --- 1. who asks ----------------------------------------------------------------------------

    async def _authorise(self) -> None:
        inp = self._input
        self._enter(Step.AUTHORISING, f"Checking the requester's role on tenant `{inp.tenant_id}`.")
        try:
            verdict = await calls.run(
                NumberActivities.CHECK_REQUESTER,
                RequesterCheck(tenant_id=inp.tenant_id, email=inp.requested_by),
                RequesterVerdict,
                activity_id="check-requester",
                schedule_to_close=calls.MUST_SUCCEED,
                summary="check the requester is an Admin or Super User",
            )
        except ActivityError as err:
            ticket = await unsafe_data_ticket(
                self._status,
                self._escalation,
                err,
                procedure=f"the removal of numbers of tenant '{inp.tenant_id}' before any change",
                subject=f"Number removal for tenant {inp.tenant_id} stopped: unsafe platform data",
            )
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err
        self._tenant_name = verdict.tenant_name
        if not verdict.allowed:
            roles = ", ".join(verdict.roles) or "none: not a user of this tenant"
            raise self._failed(
                f"the requester is not an Admin or Super User of tenant '{inp.tenant_id}' "
                f"(their roles: {roles}); only they may ask for a number's removal. "
                "Nothing was changed",
                "RequesterNotAllowed",
            )

    # --- 2. what each number is -----------------------------------------------------------------

    async def _look_up(self) -> None:
        inp = self._input
        self._enter(Step.LOOKING_UP, "Reading each number's record and SOC code in CSU.")
        try:
            found = await calls.run(
                NumberActivities.LOOKUP,
                LookupNumbers(numbers=list(self._numbers)),
                NumberRecords,
                activity_id="lookup",
                schedule_to_close=calls.MUST_SUCCEED,
                summary=f"look up {plural(len(self._numbers), 'number')} in CSU and the device "
                "portal",
            )
        except ActivityError as err:
            raise self._failed(cause_message(err), "LookupFailed") from err
        for record in found.records:
            state = self._numbers[record.number]
            if not record.found:
                self._settle(state, NumberOutcome.UNKNOWN, "this number is not known to CSU")
                continue
            if record.tenant_id != inp.tenant_id:
                # Nothing of another customer's record goes into this one's status or email.
                self._settle(state, NumberOutcome.OTHER_CUSTOMER, "not a number of this customer")
                continue
            state.soc_code, state.label = record.soc_code, record.label
            state.billing_account, state.device_id = record.billing_account, record.device_id
            if record.deleted_at is not None:
                state.deleted_at = record.deleted_at
                self._settle(
                    state,
                    NumberOutcome.ALREADY_REMOVED,
                    f"already removed on {utc_time(record.deleted_at)}",
                )
            elif record.device_id is None:
                self._settle(
                    state, NumberOutcome.UNKNOWN, "not on the customer's device list any more"
                )
            else:
                self._choose_path(state)
        await self._fetch_links()
        self._show()

    def _choose_path(self, state: NumberState) -> None:
        state.billing = billing_path(state.soc_code)
        if state.billing is BillingPath.UNKNOWN:
            self._settle(
                state,
                NumberOutcome.MANUAL,
                f"unknown SOC code '{state.soc_code}': the billing change needs a person",
            )
        elif state.billing is BillingPath.ECOMMERCE and not state.billing_account:
            self._settle(
                state,
                NumberOutcome.MANUAL,
                f"e-commerce SOC code '{state.soc_code}' without a billing account number",
            )

    async def _fetch_links(self) -> None:
        """The e-commerce accounts' update links, before anything is deleted: a customer must
        never lose a number without being told how to stop paying for it."""
        waiting = [
            s
            for s in self._numbers.values()
            if s.outcome is NumberOutcome.PENDING and s.billing is BillingPath.ECOMMERCE
        ]
        for account in sorted({s.billing_account for s in waiting if s.billing_account}):
            try:
                self._links[account] = await calls.run(
                    NumberActivities.BILLING_LINK,
                    BillingAccountRef(account_number=account),
                    BillingLink,
                    activity_id=f"billing-link-{account}",
                    schedule_to_close=calls.MUST_SUCCEED,
                    summary=f"get the update-subscription link of account {account}",
                )
            except ActivityError as err:
                for state in waiting:
                    if state.billing_account == account:
                        self._settle(
                            state,
                            NumberOutcome.MANUAL,
                            f"no update-subscription link for account {account}: "
                            + cause_message(err),
                        )

    # --- 3. what needs a person -----------------------------------------------------------------

    async def _hand_over(self) -> None:
        manual = [s for s in self._numbers.values() if s.outcome is NumberOutcome.MANUAL]
        if not manual:
            return
        inp = self._input
        self._enter(Step.HANDING_OVER, f"Opening a ticket for {plural(len(manual), 'number')}.")
        others = sum(1 for s in self._numbers.values() if s.outcome is NumberOutcome.PENDING)
        lines = [f"- {s.display}: {s.detail}" for s in manual]
        ticket = await calls.open_ticket(
            OpenTicket(
                subject=f"Number removal for tenant {inp.tenant_id}: "
                f"{plural(len(manual), 'number')} {'needs' if len(manual) == 1 else 'need'} "
                "manual handling",
                body=(
                    f"A removal of {plural(len(self._numbers), 'number')} of tenant "
                    f"'{inp.tenant_id}' "
                    f"({self._tenant_name}) was asked for. pbxops cannot choose the billing path "
                    "of these, and removed nothing for them:\n"
                    + "\n".join(lines)
                    + "\n\npbxops goes on with the other "
                    + f"{plural(others, 'number')} of the request."
                ),
                tenant_id=inp.tenant_id,
            ),
            step="manual-ticket",
        )
        self._manual_ticket = ticket.id
        self._status.escalated = True
        workflow.upsert_search_attributes(
            [sa.ESCALATED.value_set(True), sa.TICKET_ID.value_set(ticket.id)]
        )
        for state in manual:
            state.detail += f" (support ticket {ticket.id})"
        self._show()

    # --- 4. delete and verify, each number its own step -----------------------------------------

    async def _remove(self, removable: list[NumberState]) -> None:
        inp = self._input
        started = workflow.now()
        cap_at = started + inp.verify_hard_cap
        window = SlaWindow(deadline=started + inp.verify_deadline, hard_cap_at=cap_at + _CAP_MARGIN)
        self._status.sla_deadline = window.deadline
        workflow.upsert_search_attributes(
            [sa.STEP.value_set(Step.REMOVING), sa.SLA_DEADLINE.value_set(window.deadline)]
        )
        self._enter(
            Step.REMOVING,
            f"Deleting {plural(len(removable), 'device')} and checking CSU shows each removal. "
            f"Support ticket if not verified by **{utc_time(window.deadline)}**.",
        )
        tasks = [asyncio.create_task(self._remove_one(state, cap_at)) for state in removable]

        def settled() -> bool:
            return all(task.done() for task in tasks)

        async def still_settled() -> bool:
            return settled()

        try:
            await wait_with_sla(
                reached=settled,
                poll=still_settled,
                window=window,
                on_breach=self._escalate,
                what="every removal is verified",
            )
        except HardCapReached:
            for state in removable:
                if not state.outcome.settled:
                    self._settle(
                        state,
                        NumberOutcome.NOT_VERIFIED,
                        f"not verified within {_duration(inp.verify_hard_cap)}",
                    )
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error  # a bug, not an outcome: fail the workflow task, fix, replay
        await self._close_verification(started)

    async def _remove_one(self, state: NumberState, cap_at: datetime) -> None:
        assert state.device_id is not None
        inp = self._input
        state.outcome = NumberOutcome.REMOVING
        self._show()
        requested_at = workflow.now()
        try:
            deleted = await calls.run(
                NumberActivities.DELETE_DEVICE,
                DeleteDevice(
                    tenant_id=inp.tenant_id, device_id=state.device_id, number=state.number
                ),
                DeviceDeleted,
                activity_id=f"delete-{state.number}",
                schedule_to_close=calls.MUST_SUCCEED,
                summary=f"delete the device of {state.number}",
            )
        except ActivityError as err:
            if not state.outcome.settled:  # not already given up on at the hard cap
                self._settle(state, NumberOutcome.NOT_REMOVED, cause_message(err))
            return
        state.deleted_at = deleted.deleted_at
        state.outcome = NumberOutcome.VERIFYING
        state.detail = f"device deleted at {utc_time(deleted.deleted_at)}; checking CSU"
        self._show()
        remaining = cap_at - workflow.now()
        if remaining < _MIN_VERIFY:
            self._settle(state, NumberOutcome.NOT_VERIFIED, "no time left to verify the removal")
            return
        try:
            verified = await calls.run(
                NumberActivities.VERIFY_REMOVED,
                VerifyRemoval(
                    tenant_id=inp.tenant_id,
                    number=state.number,
                    device_id=state.device_id,
                    requested_at=requested_at,
                ),
                RemovalVerified,
                activity_id=f"verify-{state.number}",
                # The poll's deadline: retries stop at the hard cap.
                schedule_to_close=remaining,
                retry=VERIFY_POLL,
                summary=f"poll CSU until {state.number} shows its Deleted Datetime",
            )
        except ActivityError as err:
            if not state.outcome.settled:
                self._settle(
                    state, NumberOutcome.NOT_VERIFIED, f"removal not verified: {cause_message(err)}"
                )
            return
        state.verified_at = workflow.now()
        self._settle(
            state,
            NumberOutcome.REMOVED,
            f"removed; CSU shows it deleted at {utc_time(verified.deleted_at)}",
        )

    async def _escalate(self) -> None:
        inp = self._input
        waiting = [s for s in self._numbers.values() if s.outcome is NumberOutcome.VERIFYING]
        stuck = [s for s in self._numbers.values() if s.outcome is NumberOutcome.REMOVING]
        lines = [
            f"- {s.display}: device {s.device_id} deleted at {utc_time(s.deleted_at)}"
            for s in waiting
        ]
        lines += [f"- {s.display}: the device portal has not confirmed the deletion" for s in stuck]
        ticket = await self._escalation.open(
            subject=f"Number removal for tenant {inp.tenant_id}: "
            f"{plural(len(lines), 'removal')} not verified after {_duration(inp.verify_deadline)}",
            body=(
                f"pbxops deleted these devices of tenant '{inp.tenant_id}' ({self._tenant_name}) "
                f"but CSU does not show their Deleted Datetime after "
                f"{_duration(inp.verify_deadline)}:\n"
                + "\n".join(lines)
                + "\n\npbxops keeps checking until "
                f"{utc_time(self._status.started_at + inp.verify_hard_cap)} and resolves this "
                "ticket when CSU confirms every removal."
            ),
        )
        self._status.escalated = True
        self._show(f"**Escalated**: support ticket `{ticket}`.")

    async def _close_verification(self, started: datetime) -> None:
        unverified = [s for s in self._numbers.values() if s.outcome is NumberOutcome.NOT_VERIFIED]
        lines = "\n".join(f"- {s.display}: {s.detail}" for s in unverified)
        if self._escalation.ticket_id is None:
            if not unverified:
                return
            # Verification failed for good before the deadline (e.g. a mismatching date-time).
            await self._escalation.open(
                subject=f"Number removal for tenant {self._input.tenant_id}: "
                f"{plural(len(unverified), 'removal')} not verified",
                body="pbxops deleted these devices but could not verify the removal:\n" + lines,
            )
            self._status.escalated = True
        elif unverified:
            await self._escalation.comment(
                "pbxops stopped checking; still not verified:\n" + lines + "\nNeeds a person."
            )
        else:
            await self._escalation.resolve(
                f"CSU confirmed every removal after {_duration(workflow.now() - started)}. "
                "Resolved automatically by pbxops."
            )
        for state in unverified:
            state.detail += f" (support ticket {self._escalation.ticket_id})"

    # --- 5. tell the customer -------------------------------------------------------------------

    async def _inform(self) -> str:
        inp = self._input
        self._enter(Step.INFORMING, "Emailing the requester what was done.")
        if workflow.patched(EMAIL_TEMPLATES_PATCH):
            self._bill_unverified = True
            sent = await calls.send_template(self._done_email(), step="notify")
            return sent.message_id
        sent = await calls.send_email(
            legacy_emails.number_removal(
                str(inp.requested_by),
                self._tenant_name,
                list(self._numbers.values()),
                self._counted_links(),
            ),
            step="notify",
        )
        return sent.message_id

    def _done_email(self) -> TemplatedEmail:
        """What the requester reads, in the tenant's language (rendered by the activity)."""
        states = list(self._numbers.values())

        def row(s: NumberState) -> dict[str, str | None]:
            return {"number": s.number, "label": s.label}

        not_removed = [
            {
                **row(s),
                "reason": s.outcome.value,
                "detail": s.detail,
                "ticket": self._manual_ticket,
                "deleted_at": s.deleted_at.isoformat() if s.deleted_at else None,
            }
            for s in states
            if s.outcome not in _DELETED
        ]
        removed = [
            {**row(s), "deleted_at": s.deleted_at.isoformat() if s.deleted_at else None}
            for s in states
            if s.outcome is NumberOutcome.REMOVED
        ]
        links = self._counted_links()
        return TemplatedEmail(
            template=EmailTemplate.NUMBER_REMOVAL_DONE,
            to=[self._input.requested_by],
            audience=Audience(tenant_id=self._input.tenant_id),
            values={
                "tenant_name": self._tenant_name,
                "total": len(states),
                "complete": len(removed) == len(states),
                "removed": removed,
                "pending": [row(s) for s in states if s.outcome is NumberOutcome.NOT_VERIFIED],
                "verification_ticket": self._escalation.ticket_id,
                "not_removed": not_removed,
                "links": [
                    {
                        "url": link.update_subscription_url,
                        "licences": link.licences_to_decrease,
                        "pending": self._billed(link.account_number, NumberOutcome.NOT_VERIFIED),
                    }
                    for link in links
                ],
                "direct_only": not links
                and any(
                    s.billing is BillingPath.DIRECT
                    for s in states
                    if s.outcome is NumberOutcome.REMOVED
                ),
            },
        )

    def _billed(self, account: str, *outcomes: NumberOutcome) -> int:
        """E-commerce numbers of ``account`` that ended in one of ``outcomes``."""
        return sum(
            1
            for s in self._numbers.values()
            if s.outcome in outcomes
            and s.billing is BillingPath.ECOMMERCE
            and s.billing_account == account
        )

    def _counted_links(self) -> list[BillingLink]:
        counted = []
        billed = _DELETED if self._bill_unverified else (NumberOutcome.REMOVED,)
        for account, link in sorted(self._links.items()):
            count = self._billed(account, *billed)
            if count:
                counted.append(link.model_copy(update={"licences_to_decrease": count}))
        return counted

    # --- bookkeeping ----------------------------------------------------------------------------

    def _finish(self, email_id: str) -> NumberRemovalResult:
        states = list(self._numbers.values())
        removed = sum(1 for s in states if s.outcome is NumberOutcome.REMOVED)
        links = self._counted_links()
        self._status.outcome = Outcome.COMPLETED
        self._status.finished_at = workflow.now()
        self._enter(Step.DONE, f"{removed} of {plural(len(states), 'number')} removed.")
        return NumberRemovalResult(
            tenant_id=self._input.tenant_id,
            numbers=[s.model_copy() for s in states],
            removed=removed,
            licences_to_decrease=sum(link.licences_to_decrease for link in links),
            billing_links=links,
            email_message_id=email_id,
            manual_ticket_id=self._manual_ticket,
            verification_ticket_id=self._escalation.ticket_id,
            **self._who(),
        )

    def _who(self) -> dict[str, str | None]:
        """Who started the removal and who asked for it, in results since AUDIT_IN_RESULTS."""
        if not workflow.patched(AUDIT_IN_RESULTS):
            return {}
        return {"started_by": self._status.started_by, "requested_by": self._input.requested_by}

    def _reasons(self) -> str:
        return "; ".join(f"{s.number}: {s.detail}" for s in self._numbers.values())

    def _settle(self, state: NumberState, outcome: NumberOutcome, detail: str) -> None:
        state.outcome = outcome
        state.detail = detail
        self._show()

    def _render(self) -> str:
        """The UI's current details: the step, then one line per number."""
        rows = "\n".join(
            f"- `{s.number}` **{s.outcome.value}**" + (f": {s.detail}" if s.detail else "")
            for s in self._numbers.values()
        )
        return f"**{self._status.step}**\n\n{self._status.step_detail}\n\n{rows}"
