"""Edits of a customer's properties (``pbxops customer update``), checked and applied on the
reseller portal."""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.procedures import Procedure, ProcedureStatus
    from pbxops.contracts.provisioning import (
        AccountSnapshot,
        CustomerUpdateInput,
        CustomerUpdateResult,
        UpdateAccount,
    )

from pbxops.workflows import calls
from pbxops.workflows.progress import AUDIT_IN_RESULTS, Tracked, started_by
from pbxops.workflows.provisioning_steps import Names, Step, trial_timer
from pbxops.workflows.sla import cause_message


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
            started_by=started_by(),
        )

    @workflow.query(description="Step and outcome of the update.")
    def status(self) -> ProcedureStatus:
        return self._status

    @workflow.run
    async def run(self, inp: CustomerUpdateInput) -> CustomerUpdateResult:
        given = inp.changes.given()
        self._enter("updating", f"changing {', '.join(sorted(given))} of `{inp.account_id}`")
        try:
            account = await calls.run(
                Names.UPDATE_ACCOUNT,
                UpdateAccount(account_id=inp.account_id, changes=inp.changes),
                AccountSnapshot,
                activity_id="update-account",
                summary=f"update {', '.join(sorted(given))}",
                schedule_to_close=calls.FORWARD,
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
        return CustomerUpdateResult(
            account=account,
            trial_workflow_id=trial_id,
            started_by=self._status.started_by if workflow.patched(AUDIT_IN_RESULTS) else None,
        )
