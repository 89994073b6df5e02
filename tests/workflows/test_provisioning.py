"""CustomerProvisioning, PbxConnectionEnable, CustomerTrial and CustomerUpdate on the
time-skipping test server, against the in-memory reseller portal (fake_customers.py).

30-day trials pass in milliseconds; assertions are about what the procedures did.
"""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.procedures import Outcome
from pbxops.contracts.provisioning import (
    AccountChanges,
    ConnectionState,
    CustomerProvisioningInput,
    CustomerTrialResult,
    CustomerUpdateInput,
    CustomerUpdateResult,
    PbxEnableInput,
    ProvisioningResult,
    ProvisioningStatus,
    TrialOutcome,
)
from pbxops.workflows.customer_trial import CustomerTrial
from pbxops.workflows.customer_update import CustomerUpdate
from pbxops.workflows.pbx_connection import PbxConnectionEnable
from pbxops.workflows.provisioning import CustomerProvisioning
from tests.conftest import time_skipping_server
from tests.workflows.fake_customers import FakeCustomers
from tests.workflows.harness import worker

pytestmark = pytest.mark.asyncio


def provisioning_input(**overrides: Any) -> CustomerProvisioningInput:
    data: dict[str, Any] = {
        "reseller": "northwind",
        "customer": {"name": "ACME S.r.l.", "product_type": "professional", "country": "IT"},
        "admins": [{"name": "Giulia Rossi", "email": "giulia@acme.example"}],
        "pbx": {"host": "pbx.acme.example"},
        "roles": {
            "default_roles": ["User"],
            "assignments": [{"user": "user00001@acme.example", "roles": ["Supervisor"]}],
        },
        "support_contacts": ["p-anna", "help@partner.example"],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return CustomerProvisioningInput.model_validate(data)


async def provision(
    env: WorkflowEnvironment, portal: FakeCustomers, inp: CustomerProvisioningInput
) -> WorkflowHandle:
    return await env.client.start_workflow(
        CustomerProvisioning.run,
        inp,
        id=f"customer-provisioning/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
    )


async def failure_of(handle: WorkflowHandle) -> str:
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    return failure.value.cause.message  # type: ignore[union-attr]


async def test_happy_path_syncs_2000_users_in_batches_and_keeps_history_small(
    time_skipping_env, portal
):
    handle = await provision(time_skipping_env, portal, provisioning_input())

    result = await handle.result()

    assert result.account_id == "acme-srl"
    assert result.users_synced == 2000
    assert result.connection == ConnectionState.MONITORING
    assert result.invitations_sent == ["giulia@acme.example"]
    account = portal.accounts["acme-srl"]
    assert account.state == "active" and len(account.users) == 2000
    assert account.connection and account.connection["state"] == ConnectionState.MONITORING
    # 2,000 users in batches of 500: four sync activities, not one per page or per user.
    assert [c for c in portal.calls if c.startswith("sync-users")] == [
        "sync-users-1",
        "sync-users-2",
        "sync-users-3",
        "sync-users-4",
    ]
    assert portal.calls.index("create-account") < portal.calls.index("invite-admin-1")
    assert portal.calls.index("invite-admin-1") < portal.calls.index("configure-pbx")
    assert portal.calls[-2:] == ["assign-roles", "activate-account"]
    [invitation] = portal.mails
    assert invitation.to == ["giulia@acme.example"]
    status = await handle.query("status", result_type=ProvisioningStatus)
    assert status.outcome == Outcome.COMPLETED and status.tenant_id == "acme-srl"
    assert status.steps_done == ["customer-details", "primary-user", "pbx-connection", "roles"]
    assert status.users_synced == 2000 and status.users_total == 2000
    history = await handle.fetch_history()
    assert len(history.events) < 80, len(history.events)
    # No invitation link (a credential) anywhere in history.
    assert "invitations/" not in history.to_json()


async def test_who_started_the_provisioning_is_in_its_status_and_result(time_skipping_env, portal):
    handle = await time_skipping_env.client.start_workflow(
        CustomerProvisioning.run,
        provisioning_input(),
        id=f"customer-provisioning/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
        memo={"started_by": "ops@provider.example"},  # as every pbxops start sets it
    )

    result = await handle.result()

    assert result.started_by == "ops@provider.example"
    status = await handle.query("status", result_type=ProvisioningStatus)
    assert status.started_by == "ops@provider.example"


async def test_progress_is_visible_between_batches(time_skipping_env, portal):
    gate = asyncio.Event()
    original = {a.__temporal_activity_definition.name: a for a in portal.activities()}
    portal.pbx_users = 1200
    sync = original["customers.sync_pbx_users"]

    from temporalio import activity

    from pbxops.contracts.provisioning import SyncProgress, SyncUsersRequest

    @activity.defn(name="customers.sync_pbx_users")
    async def paused_sync(req: SyncUsersRequest) -> SyncProgress:
        if req.cursor is not None and not gate.is_set():
            await gate.wait()
        return await sync(req)

    activities = [a for n, a in original.items() if n != "customers.sync_pbx_users"]
    async with worker(time_skipping_env, [*activities, paused_sync]) as task_queue:
        handle = await time_skipping_env.client.start_workflow(
            CustomerProvisioning.run,
            provisioning_input(),
            id=f"customer-provisioning/test-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        status = None
        for _ in range(200):
            status = await handle.query("status", result_type=ProvisioningStatus)
            if status.users_synced:
                break
            await asyncio.sleep(0.02)
        assert status is not None
        assert status.step == "pbx-connection"
        assert status.users_synced == 500 and status.users_total == 1200
        assert "500 of 1,200 users" in status.step_detail
        metadata = await handle.query("__temporal_workflow_metadata")
        assert "500 of 1,200 users" in str(metadata)
        gate.set()
        result = await handle.result()
    assert result.users_synced == 1200


async def test_disabled_connection_imports_nothing_until_enabled(time_skipping_env, portal):
    handle = await provision(
        time_skipping_env,
        portal,
        provisioning_input(pbx={"host": "pbx.acme.example", "enabled": False}),
    )
    result = await handle.result()

    assert result.connection == ConnectionState.DISABLED and result.users_synced == 0
    assert "connect-pbx" not in portal.calls
    assert not any(c.startswith("sync-users") for c in portal.calls)
    # The Supervisor assignment waits for its user, who is not on the account yet.
    assert result.roles_pending == ["user00001@acme.example"]
    assert portal.accounts["acme-srl"].state == "active"

    enable = await time_skipping_env.client.start_workflow(
        PbxConnectionEnable.run,
        PbxEnableInput(account_id="acme-srl"),
        id=f"pbx-connection/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
    )
    enabled = await enable.result()

    assert enabled.users_synced == 2000
    account = portal.accounts["acme-srl"]
    assert account.connection and account.connection["enabled"]
    assert account.connection["state"] == ConnectionState.MONITORING
    assert portal.calls[-7:-5] == ["enable-pbx", "connect-pbx"]


async def test_enable_failure_disables_again_and_removes_imported_users(time_skipping_env, portal):
    handle = await provision(
        time_skipping_env,
        portal,
        provisioning_input(pbx={"host": "pbx.acme.example", "enabled": False}),
    )
    await handle.result()
    portal.sync_fails_after = 1000

    enable = await time_skipping_env.client.start_workflow(
        PbxConnectionEnable.run,
        PbxEnableInput(account_id="acme-srl"),
        id=f"pbx-connection/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
    )
    message = await failure_of(enable)

    assert message == (
        "enabling the PBX connection of account 'acme-srl' failed: the PBX at "
        "'pbx.acme.example' closed the session. The connection is disabled again and no "
        "imported user remains."
    )
    account = portal.accounts["acme-srl"]
    assert account.users == set() and account.state == "active"
    assert account.connection and account.connection["state"] == ConnectionState.DISABLED


async def test_sub_accounts_are_provisioned_and_their_users_synced(time_skipping_env, portal):
    inp = provisioning_input(pbx={"host": "pbx.acme.example", "auto_provision_sub_accounts": True})
    result = await (await provision(time_skipping_env, portal, inp)).result()

    assert result.sub_accounts_monitored == 3
    assert result.users_synced == 2000 + 3 * 10


async def test_without_auto_provision_only_the_main_account_is_monitored(time_skipping_env, portal):
    result = await (await provision(time_skipping_env, portal, provisioning_input())).result()

    assert result.sub_accounts_monitored == 0 and result.users_synced == 2000


async def test_failure_at_step_3_undoes_steps_1_and_2(time_skipping_env, portal):
    portal.connect_error = "authentication failed"
    handle = await provision(time_skipping_env, portal, provisioning_input())

    message = await failure_of(handle)

    assert message == (
        "step 3 (PBX connection) failed: could not connect to the PBX at 'pbx.acme.example': "
        "authentication failed. Undone: PBX connection and synchronised users removed; "
        "invitation of Admin user 1 withdrawn; account 'acme-srl' deleted"
    )
    assert portal.accounts == {}
    # Undone newest first, each once.
    undo = [c for c in portal.calls if c.startswith("undo")]
    assert undo == ["undo-pbx", "undo-invite-admin-1", "undo-create-account"]
    # One invitation, one withdrawal: never a second invitation.
    assert [m.subject for m in portal.mails_to("giulia@acme.example")] == [
        "You are invited to administer ACME S.r.l.",
        "Invitation withdrawn: ACME S.r.l.",
    ]
    status = await handle.query("status", result_type=ProvisioningStatus)
    assert status.outcome == Outcome.FAILED and status.step == "failed"
    assert len(status.undone) == 3


async def test_failure_mid_sync_removes_imported_users_and_the_account(time_skipping_env, portal):
    portal.sync_fails_after = 1000
    message = await failure_of(await provision(time_skipping_env, portal, provisioning_input()))

    assert message.startswith("step 3 (PBX connection) failed: the PBX at 'pbx.acme.example' ")
    assert portal.accounts == {}
    assert "sync-users-3" in portal.calls and "sync-users-4" not in portal.calls


async def test_failure_at_step_1_creates_nothing(time_skipping_env, portal):
    portal.add_account("acme-srl", name="ACME S.r.l.")
    message = await failure_of(await provision(time_skipping_env, portal, provisioning_input()))

    assert message == (
        "step 1 (customer details) failed: a customer named 'ACME S.r.l.' already exists for "
        "reseller 'northwind'; nothing was created"
    )
    assert portal.mails == [] and "invite-admin-1" not in portal.calls


async def test_an_undo_that_cannot_be_done_opens_a_ticket(time_skipping_env, portal):
    portal.connect_error = "authentication failed"
    portal.undo_fails = True

    message = await failure_of(await provision(time_skipping_env, portal, provisioning_input()))

    assert "Could NOT undo: account: the platform refused to delete the account" in message
    assert "(support ticket T-1)" in message
    [ticket] = portal.tickets
    assert ticket.tenant_id == "acme-srl" and "clean-up" in ticket.subject


async def test_a_retried_sync_resumes_from_its_heartbeat_and_invites_once(
    time_skipping_env, portal
):
    portal.transient_sync_failures = 1
    result = await (await provision(time_skipping_env, portal, provisioning_input())).result()

    assert result.users_synced == 2000
    assert portal.sync_attempts == 5  # four batches, one of them retried
    # The retried attempt started from the cursor its first attempt heartbeated.
    assert portal.sync_resumed_from[1] == "00200"
    assert len(portal.mails_to("giulia@acme.example")) == 1


async def trial_handle(env: WorkflowEnvironment, result) -> WorkflowHandle:
    assert result.trial_workflow_id == f"customer-trial/{result.account_id}"
    return env.client.get_workflow_handle(result.trial_workflow_id, result_type=CustomerTrialResult)


async def completed(env: WorkflowEnvironment, handle: WorkflowHandle, result_type: type) -> Any:
    """A workflow's result *without* letting the test server skip time while we wait.

    Awaiting a time-skipping handle's result unlocks time skipping; with a trial timer pending
    in another workflow, the server could jump 30 days in that window. A plain handle waits in
    real time (these workflows only run quick activities), so the tests move the clock alone.
    """
    plain = env.client.get_workflow_handle(
        handle.id, run_id=handle.result_run_id, result_type=result_type
    )
    for _ in range(1000):
        if (await plain.describe()).status != WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.02)
    return await plain.result()


async def outcome(
    env: WorkflowEnvironment, handle: WorkflowHandle, skip: timedelta = timedelta(0)
) -> CustomerTrialResult:
    """Skip time, then the trial workflow's result."""
    if skip:
        await env.sleep(skip)
    return await completed(env, handle, CustomerTrialResult)


async def test_trial_expiry_emails_the_reseller_and_marks_the_account(time_skipping_env, portal):
    result = await provisioned(
        time_skipping_env,
        portal,
        name="Trial Co",
        product_type="essentials",
        country="IT",
        trial=True,
    )
    trial = await trial_handle(time_skipping_env, result)

    await time_skipping_env.sleep(timedelta(days=29))
    assert not portal.accounts["trial-co"].trial_expired
    assert portal.mails_to("provisioning@northwind.example") == []

    ended = await outcome(time_skipping_env, trial, timedelta(days=2))

    assert ended.outcome == TrialOutcome.EXPIRED
    assert ended.notified == "provisioning@northwind.example"
    assert portal.accounts["trial-co"].trial_expired
    [mail] = portal.mails_to("provisioning@northwind.example")
    # In the customer's language (an Italian customer: resellers sell in their own country).
    assert mail.subject == "Periodo di prova scaduto: Trial Co (trial-co)"
    assert "Il periodo di prova di 30 giorni del cliente Trial Co" in mail.text


async def update(env: WorkflowEnvironment, portal: FakeCustomers, account: str, **changes):
    handle = await env.client.start_workflow(
        CustomerUpdate.run,
        CustomerUpdateInput(account_id=account, changes=AccountChanges(**changes)),
        id=f"customer-update/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
    )
    return await completed(env, handle, CustomerUpdateResult)


async def provisioned(env: WorkflowEnvironment, portal: FakeCustomers, **customer: Any):
    """Provision a trial customer, waiting in real time (see ``completed``)."""
    handle = await provision(env, portal, provisioning_input(customer=customer))
    return await completed(env, handle, ProvisioningResult)


async def test_a_trial_ended_early_expires_nothing(time_skipping_env, portal):
    result = await provisioned(
        time_skipping_env,
        portal,
        name="Convert Co",
        product_type="essentials",
        country="IT",
        trial=True,
    )
    trial = await trial_handle(time_skipping_env, result)
    await time_skipping_env.sleep(timedelta(days=3))

    updated = await update(time_skipping_env, portal, "convert-co", trial=False)

    assert updated.account.trial is False
    assert (await outcome(time_skipping_env, trial)).outcome == TrialOutcome.CONVERTED
    assert portal.mails_to("provisioning@northwind.example") == []
    assert "expire-trial" not in portal.calls


async def test_an_extended_trial_expires_at_its_new_end(time_skipping_env, portal):
    result = await provisioned(
        time_skipping_env,
        portal,
        name="Longer Co",
        product_type="essentials",
        country="IT",
        trial=True,
    )
    trial = await trial_handle(time_skipping_env, result)
    await time_skipping_env.sleep(timedelta(days=10))

    await update(time_skipping_env, portal, "longer-co", trial_days=60)
    await time_skipping_env.sleep(timedelta(days=25))
    assert not portal.accounts["longer-co"].trial_expired

    ended = await outcome(time_skipping_env, trial, timedelta(days=26))
    assert ended.outcome == TrialOutcome.EXPIRED
    assert len(portal.mails_to("provisioning@northwind.example")) == 1


async def test_turning_a_trial_on_later_starts_its_timer(time_skipping_env, portal):
    portal.add_account(
        "later-co", trial_days=14, created_at=await time_skipping_env.get_current_time()
    )

    updated = await update(time_skipping_env, portal, "later-co", trial=True)

    assert updated.trial_workflow_id == "customer-trial/later-co"
    trial = time_skipping_env.client.get_workflow_handle(
        "customer-trial/later-co", result_type=CustomerTrialResult
    )
    await time_skipping_env.sleep(timedelta(days=13))
    assert not portal.accounts["later-co"].trial_expired
    assert (await outcome(time_skipping_env, trial, timedelta(days=2))).outcome == (
        TrialOutcome.EXPIRED
    )


async def test_update_refuses_an_immutable_product_type(time_skipping_env, portal):
    portal.add_account("fixed-co", product_type="contact-centre")

    with pytest.raises(WorkflowFailureError) as failure:
        await update(time_skipping_env, portal, "fixed-co", product_type="professional")

    assert failure.value.cause.message == (  # type: ignore[union-attr]
        "product type 'contact-centre' of account 'fixed-co' cannot be changed once assigned"
    )
    assert portal.accounts["fixed-co"].product_type == "contact-centre"


async def test_update_refuses_a_second_internal_demo(time_skipping_env, portal):
    portal.add_account("demo-one", internal_demo=True)
    portal.add_account("demo-two")

    with pytest.raises(WorkflowFailureError) as failure:
        await update(time_skipping_env, portal, "demo-two", internal_demo=True)

    assert "already has an internal demo system" in failure.value.cause.message  # type: ignore[union-attr]
    assert not portal.accounts["demo-two"].internal_demo


async def test_update_changes_mutable_properties(time_skipping_env, portal):
    portal.add_account("edit-co")

    updated = await update(
        time_skipping_env, portal, "edit-co", reference="PO-9", product_type="essentials"
    )

    assert updated.account.reference == "PO-9" and updated.account.product_type == "essentials"
    assert updated.trial_workflow_id is None


async def test_trial_workflow_of_a_deleted_account_ends_quietly(time_skipping_env, portal):
    portal.add_account("gone-co", trial=True, created_at=await time_skipping_env.get_current_time())
    handle = await time_skipping_env.client.start_workflow(
        CustomerTrial.run,
        {"account_id": "gone-co"},
        id="customer-trial/gone-co",
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
        result_type=CustomerTrialResult,
    )
    await time_skipping_env.sleep(timedelta(days=1))
    del portal.accounts["gone-co"]

    ended = await outcome(time_skipping_env, handle, timedelta(days=30))

    assert ended.outcome == TrialOutcome.ACCOUNT_GONE


async def test_cancelling_part_way_undoes_what_was_done():
    """In a test server of its own: a cancelled workflow leaves the test server refusing to skip
    time afterwards (seen with temporal-test-server), which would stall the session's other
    time-skipping tests."""
    async with time_skipping_server() as env:
        await _cancel_part_way(env, FakeCustomers())


async def _cancel_part_way(time_skipping_env: WorkflowEnvironment, portal: FakeCustomers) -> None:
    from temporalio import activity

    from pbxops.contracts.provisioning import SyncProgress, SyncUsersRequest

    never = asyncio.Event()
    activities = [
        a
        for a in portal.activities()
        if a.__temporal_activity_definition.name != "customers.sync_pbx_users"
    ]

    @activity.defn(name="customers.sync_pbx_users")
    async def stuck_sync(req: SyncUsersRequest) -> SyncProgress:
        # Heartbeats, so the cancellation reaches it and the server sees it end (a silent
        # activity would stay "running" there and hold up time skipping for later tests).
        while not never.is_set():
            activity.heartbeat()
            await asyncio.sleep(0.05)
        raise AssertionError("unreachable")

    async with worker(time_skipping_env, [*activities, stuck_sync]) as task_queue:
        handle = await time_skipping_env.client.start_workflow(
            CustomerProvisioning.run,
            provisioning_input(),
            id=f"customer-provisioning/test-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        for _ in range(200):
            if "connect-pbx" in portal.calls:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = await handle.query("status", result_type=ProvisioningStatus)

    assert "the provisioning was cancelled" in (status.error or "")
    assert portal.accounts == {}
    assert [c for c in portal.calls if c.startswith("undo")] == [
        "undo-pbx",
        "undo-invite-admin-1",
        "undo-create-account",
    ]
