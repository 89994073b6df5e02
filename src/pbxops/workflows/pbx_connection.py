"""Enabling a customer's PBX connection later (``pbxops customer enable-pbx``): the same
connection, user synchronisation and monitoring as provisioning's step 3."""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.procedures import Procedure
    from pbxops.contracts.provisioning import (
        AccountRef,
        AccountSnapshot,
        ConnectionSnapshot,
        PbxEnableInput,
        PbxEnableResult,
        ProvisioningStatus,
        RemovePbx,
        Undone,
    )
    from pbxops.contracts.wording import plural

from pbxops.workflows import calls
from pbxops.workflows.progress import AUDIT_IN_RESULTS, Tracked, started_by
from pbxops.workflows.provisioning_steps import UNDO, Names, PbxSync, Step, count_of, users_word
from pbxops.workflows.sla import cause_message


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
            started_by=started_by(),
        )

    @workflow.query(description="Step and users synchronised so far.")
    def status(self) -> ProvisioningStatus:
        assert isinstance(self._status, ProvisioningStatus)
        return self._status

    def _sync_progress(self, what: str, synced: int, total: int | None) -> None:
        assert isinstance(self._status, ProvisioningStatus)
        self._status.users_synced = synced
        self._status.users_total = total
        self._enter(
            Step.PBX, f"{what}: {count_of(synced)} of {count_of(total)} {users_word(total)}"
        )

    @workflow.run
    async def run(self, inp: PbxEnableInput) -> PbxEnableResult:
        ref = AccountRef(account_id=inp.account_id)
        self._enter("reading-account", f"reading account `{inp.account_id}`")
        try:
            account = await calls.run(
                Names.GET_ACCOUNT,
                ref,
                AccountSnapshot,
                activity_id="read-account",
                summary=f"read account {inp.account_id}",
                schedule_to_close=calls.FORWARD,
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
            await calls.run(
                Names.ENABLE_PBX,
                ref,
                ConnectionSnapshot,
                activity_id="enable-pbx",
                summary="enable the PBX connection",
                schedule_to_close=calls.FORWARD,
            )
            await sync.run()
        except ActivityError as err:
            reason = cause_message(err)
            self._enter(Step.UNDOING, f"{reason}. Disabling the connection again.")
            await calls.run(
                Names.REMOVE_PBX,
                RemovePbx(account_id=inp.account_id, keep_disabled=True),
                Undone,
                activity_id="undo-enable",
                summary="undo: disable the connection and remove imported users",
                schedule_to_close=UNDO,
            )
            raise self._failed(
                f"enabling the PBX connection of account '{inp.account_id}' failed: {reason}. "
                "The connection is disabled again and no imported user remains.",
                "PbxConnectionFailed",
            ) from err
        after = await calls.run(
            Names.GET_ACCOUNT,
            ref,
            AccountSnapshot,
            activity_id="read-account-after",
            summary=f"read account {inp.account_id}",
            schedule_to_close=calls.FORWARD,
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
            started_by=self._status.started_by if workflow.patched(AUDIT_IN_RESULTS) else None,
        )
