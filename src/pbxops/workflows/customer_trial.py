"""A trial account's own workflow: it outlives provisioning, follows changes of the trial's
end, and emails the reseller when the trial ends."""

import contextlib

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.emails import (
        EMAIL_TEMPLATES_PATCH,
        Audience,
        EmailTemplate,
        TemplatedEmail,
    )
    from pbxops.contracts.procedures import Procedure, ProcedureStatus
    from pbxops.contracts.provisioning import (
        TRIAL_CHANGED_SIGNAL,
        AccountRef,
        AccountSnapshot,
        CustomerTrialInput,
        CustomerTrialResult,
        ResellerRef,
        ResellerSnapshot,
        TrialOutcome,
    )
    from pbxops.contracts.wording import plural

from pbxops.workflows import calls, legacy_emails
from pbxops.workflows.progress import Tracked, started_by
from pbxops.workflows.provisioning_steps import Names, Step
from pbxops.workflows.sla import cause_message, cause_type


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
            started_by=started_by(),
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
            return await calls.run(
                Names.GET_ACCOUNT,
                AccountRef(account_id=self._input.account_id),
                AccountSnapshot,
                activity_id=f"read-account-{self._reads}",
                summary="read the trial's end date",
                schedule_to_close=calls.MUST_SUCCEED,
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
        expired = await calls.run(
            Names.EXPIRE_TRIAL,
            AccountRef(account_id=inp.account_id),
            AccountSnapshot,
            activity_id="expire-trial",
            summary="mark the account trial-expired",
            schedule_to_close=calls.MUST_SUCCEED,
        )
        reseller = await calls.run(
            Names.GET_RESELLER,
            ResellerRef(reseller_id=expired.reseller),
            ResellerSnapshot,
            activity_id="read-reseller",
            summary=f"read reseller {expired.reseller}",
            schedule_to_close=calls.MUST_SUCCEED,
        )
        if workflow.patched(EMAIL_TEMPLATES_PATCH):
            await calls.send_template(trial_template(expired, reseller), step="notify-reseller")
        else:
            await calls.send_email(
                legacy_emails.trial_expired(expired, reseller), step="notify-reseller"
            )
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
