"""What the provisioning family's workflows share: the saga's steps and limits, the trial's timer,
and the PBX user synchronisation (docs/procedures.md#provisioning).

The workflows themselves, one per module: ``provisioning`` (the four steps, as a saga),
``pbx_connection`` (a PBX connection enabled later), ``customer_trial`` (the trial's end) and
``customer_update`` (edits of a customer's properties).
"""

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from pbxops.contracts.provisioning import (
        AccountRef,
        MonitoringStarted,
        PbxDiscovery,
        ProvisioningActivityNames,
        StartMonitoring,
        SyncOptions,
        SyncProgress,
        SyncUsersRequest,
        TrialTimer,
        TrialTimerRequest,
    )

from pbxops.workflows import calls

Names = ProvisioningActivityNames
M = TypeVar("M", bound=BaseModel)

# A forward step gives the platform calls.FORWARD (retrying 5xx, timeouts), then the saga undoes.
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


async def trial_timer(account_id: str, *, start: bool) -> TrialTimer:
    return await calls.run(
        Names.TRIAL_TIMER,
        TrialTimerRequest(account_id=account_id, start_if_missing=start),
        TrialTimer,
        activity_id="trial-timer",
        summary="start the trial's timer" if start else "tell the trial's timer to re-read",
        schedule_to_close=calls.MUST_SUCCEED,
    )


def count_of(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def users_word(n: int | None) -> str:
    return "user" if n == 1 else "users"


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
        discovery = await calls.run(
            Names.CONNECT_PBX,
            ref,
            PbxDiscovery,
            activity_id="connect-pbx",
            summary="connect to the customer's PBX and discover its users",
            schedule_to_close=calls.FORWARD,
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
            progress = await calls.run(
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
                summary=f"synchronise users, batch {batch} (from {count_of(self.synced)})",
                start_to_close=SYNC_ATTEMPT,
                heartbeat=SYNC_HEARTBEAT,
                schedule_to_close=calls.FORWARD,
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
        self.monitoring = await calls.run(
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
            start_to_close=SYNC_ATTEMPT,
            heartbeat=SYNC_HEARTBEAT,
            schedule_to_close=calls.FORWARD,
        )
