"""Every customer procedure that meets a header-unsafe name from the platform ends with ONE ticket.

The deletion and the number removal are proven on the real stack (test_unsafe_data_ticket.py);
here, on the time-skipping server, that a retried ticket activity and a replay of the deletion
never open a second ticket, and the reseller-portal procedures, against the in-memory portal
whose account records carry a "\\r\\nBcc: …" name. The portal's reads check names exactly as the
real activities do (``pbxops.activities.platform_text``), so each procedure meets the real
``UnsafePlatformData`` failure.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from pbxops.activities.platform_text import header_text
from pbxops.contracts.deletion import DeletionInput
from pbxops.contracts.helpdesk import OpenTicket, Ticket
from pbxops.contracts.pbx import ActivityNames
from pbxops.contracts.procedures import ProcedureStatus
from pbxops.contracts.provisioning import (
    AccountChanges,
    AccountSnapshot,
    CustomerProvisioningInput,
    CustomerTrialInput,
    CustomerUpdateInput,
    PbxEnableInput,
)
from pbxops.contracts.support import ProblemReportCreated, ProblemReportInput, SupportActivityNames
from pbxops.runtime.sandbox import workflow_runner
from pbxops.workflows.customer_trial import CustomerTrial
from pbxops.workflows.customer_update import CustomerUpdate
from pbxops.workflows.pbx_connection import PbxConnectionEnable
from pbxops.workflows.provisioning import CustomerProvisioning
from pbxops.workflows.registry import ALL_WORKFLOWS
from pbxops.workflows.service_deletion import ServiceDeletion
from pbxops.workflows.support import ProblemReport
from tests.workflows.fake_customers import FakeAccount, FakeCustomers
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.harness import serving, worker

pytestmark = pytest.mark.asyncio

INJECTION = "\r\nBcc: evil@attacker.example"


async def test_a_retried_ticket_activity_and_a_replay_open_one_deletion_ticket(time_skipping_env):
    platform = FakePlatform(tenant_name=f"ACME{INJECTION}")
    real = {activity._Definition.must_from_callable(a).name: a for a in platform.activities()}
    answers_lost = []

    @activity.defn(name=ActivityNames.HELPDESK_OPEN_TICKET)
    async def open_ticket_answer_lost_once(ticket: OpenTicket) -> Ticket:
        opened = await real[ActivityNames.HELPDESK_OPEN_TICKET](ticket)
        if not answers_lost:  # the helpdesk opened it, but its answer never arrived
            answers_lost.append(opened.id)
            raise ApplicationError("helpdesk answer lost", type="PlatformUnavailable")
        return opened

    activities = [*real.values()]
    activities[activities.index(real[ActivityNames.HELPDESK_OPEN_TICKET])] = (
        open_ticket_answer_lost_once
    )
    async with worker(time_skipping_env, activities) as task_queue:
        handle = await time_skipping_env.client.start_workflow(
            ServiceDeletion.run,
            DeletionInput(tenant_id="acme", requested_by="ops@provider.example"),
            id=f"pbx-deletion/{uuid.uuid4()}",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    history = await handle.fetch_history()
    await Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    ).replay_workflow(history)

    assert answers_lost == ["T-1"]  # the activity was retried
    [ticket] = platform.tickets  # one ticket all the same, and none from the replay
    assert "pbxops stopped the deletion of tenant 'acme' before the code email" in ticket.body
    assert "(support ticket T-1)" in failure.value.cause.message  # type: ignore[union-attr]
    assert platform.codes_sent == {}  # no code email went out


@dataclass
class HostilePortal(FakeCustomers):
    """The portal, where the accounts in ``hostile`` carry a header injection in their name."""

    hostile: set[str] = field(default_factory=set)

    def _name(self, acc: FakeAccount) -> str:
        name = acc.name + (INJECTION if acc.id in self.hostile else "")
        return header_text(name, f"name of customer account '{acc.id}'")

    def snapshot(self, acc: FakeAccount) -> AccountSnapshot:
        return super().snapshot(acc).model_copy(update={"name": self._name(acc)})

    def activities(self) -> list:
        portal = self

        @activity.defn(name=SupportActivityNames.CREATE_REPORT)
        async def create_report(inp: ProblemReportInput) -> ProblemReportCreated:
            acc = portal.account(inp.account_id)
            portal.reports.setdefault(inp.report_id, inp)
            return ProblemReportCreated(
                report_id=inp.report_id,
                account_id=acc.id,
                customer_name=portal._name(acc),
                created_at="2026-11-22T10:00:00Z",
                contacts=list(acc.contacts),
            )

        others = [
            a
            for a in super().activities()
            if activity._Definition.must_from_callable(a).name != SupportActivityNames.CREATE_REPORT
        ]
        return [*others, create_report]


@pytest_asyncio.fixture(scope="module")
async def worker_portal(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[HostilePortal]:
    async with serving(time_skipping_env, HostilePortal()) as fake:
        yield fake


@pytest.fixture
def portal(worker_portal: HostilePortal) -> HostilePortal:
    worker_portal.__init__()  # type: ignore[misc]
    return worker_portal


def _hostile_account(portal: HostilePortal, account_id: str, **fields: Any) -> None:
    portal.add_account(account_id, **fields)
    portal.hostile.add(account_id)


async def _ends_with_one_ticket(
    env: WorkflowEnvironment, portal: HostilePortal, run: Any, inp: Any, workflow_id: str
) -> tuple[str, ProcedureStatus]:
    handle = await env.client.start_workflow(
        run,
        inp,
        id=workflow_id,
        task_queue=portal.task_queue,  # type: ignore[attr-defined]
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    message = failure.value.cause.message  # type: ignore[union-attr]
    [ticket] = portal.tickets  # exactly one
    for text in (ticket.subject, ticket.body):
        assert "\r" not in text and "Bcc:" not in text and "evil@attacker.example" not in text
    assert "cannot be used in an email" in ticket.body
    assert "correct the record on the platform" in ticket.body
    assert message.endswith("(support ticket T-1)"), message
    status = await handle.query("status", result_type=ProcedureStatus)
    assert status.ticket_id == "T-1" and status.escalated
    assert not any("evil@attacker.example" in m.to for m in portal.mails)
    return ticket.body, status


async def test_provisioning_that_reads_back_an_unsafe_name_ends_with_one_ticket(
    time_skipping_env, portal
):
    portal.hostile.add("acme-srl")  # the platform answers the new account with a hostile name
    inp = CustomerProvisioningInput.model_validate(
        {
            "reseller": "northwind",
            "customer": {"name": "ACME S.r.l.", "product_type": "professional", "country": "IT"},
            "admins": [{"name": "Giulia Rossi", "email": "giulia@acme.example"}],
            "pbx": {"host": "pbx.acme.example"},
            "roles": {"default_roles": ["User"]},
            "support_contacts": ["help@partner.example"],
        }
    )

    body, _ = await _ends_with_one_ticket(
        time_skipping_env,
        portal,
        CustomerProvisioning.run,
        inp,
        f"customer-provisioning/test-{uuid.uuid4()}",
    )

    assert "the provisioning of customer 'ACME S.r.l.' (reseller northwind)" in body
    assert portal.mails_to("giulia@acme.example") == []  # no invitation went out


async def test_enabling_a_pbx_of_an_account_with_an_unsafe_name_ends_with_one_ticket(
    time_skipping_env, portal
):
    _hostile_account(portal, "bad-pbx")

    body, _ = await _ends_with_one_ticket(
        time_skipping_env,
        portal,
        PbxConnectionEnable.run,
        PbxEnableInput(account_id="bad-pbx"),
        f"pbx-connection/test-{uuid.uuid4()}",
    )

    assert "enabling the PBX connection of account 'bad-pbx'" in body


async def test_an_update_answered_with_an_unsafe_name_ends_with_one_ticket(
    time_skipping_env, portal
):
    _hostile_account(portal, "bad-update")

    body, _ = await _ends_with_one_ticket(
        time_skipping_env,
        portal,
        CustomerUpdate.run,
        CustomerUpdateInput(account_id="bad-update", changes=AccountChanges(reference="PO-7")),
        f"customer-update/test-{uuid.uuid4()}",
    )

    assert "the update of account 'bad-update'" in body


async def test_a_trial_of_an_account_with_an_unsafe_name_ends_with_one_ticket(
    time_skipping_env, portal
):
    _hostile_account(portal, "bad-trial", trial=True)

    body, _ = await _ends_with_one_ticket(
        time_skipping_env,
        portal,
        CustomerTrial.run,
        CustomerTrialInput(account_id="bad-trial"),
        f"customer-trial/test-{uuid.uuid4()}",
    )

    assert "the trial of account 'bad-trial'; the reseller was not emailed" in body
    assert portal.mails_to("provisioning@northwind.example") == []


async def test_a_problem_report_on_an_account_with_an_unsafe_name_ends_with_one_ticket(
    time_skipping_env, portal
):
    _hostile_account(portal, "bad-report")
    inp = ProblemReportInput(
        account_id="bad-report", report_id="PR-1", application="Softphone", description="x"
    )

    body, _ = await _ends_with_one_ticket(
        time_skipping_env, portal, ProblemReport.run, inp, f"problem-report/test-{uuid.uuid4()}"
    )

    assert "problem report PR-1 of account 'bad-report'" in body
    assert portal.mails_to("help@partner.example") == []  # no contact emailed
