"""Histories of customer provisioning, the PBX connection, trials, updates, support contacts and
problem reports worth guarding (against the in-memory portal of tests/workflows)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.provisioning import (
    AccountChanges,
    ConnectionState,
    CustomerProvisioningInput,
    CustomerTrialInput,
    CustomerUpdateInput,
    PbxEnableInput,
)
from pbxops.contracts.support import (
    ActingAs,
    ContactAction,
    ContactRef,
    ProblemReportInput,
    SupportContactsChangeInput,
)
from pbxops.workflows.customer_trial import CustomerTrial
from pbxops.workflows.customer_update import CustomerUpdate
from pbxops.workflows.pbx_connection import PbxConnectionEnable
from pbxops.workflows.provisioning import CustomerProvisioning
from pbxops.workflows.support import ProblemReport, SupportContactsChange
from tests.histories.record import Scenario
from tests.workflows.fake_customers import FakeCustomers


def _input(**customer: Any) -> CustomerProvisioningInput:
    pbx = customer.pop("pbx", {"host": "pbx.acme.example", "auto_provision_sub_accounts": True})
    return CustomerProvisioningInput.model_validate(
        {
            "reseller": "northwind",
            "customer": {
                "name": "ACME S.r.l.",
                "product_type": "professional",
                "country": "IT",
                **customer,
            },
            "admins": [{"name": "Giulia Rossi", "email": "giulia@acme.example"}],
            "pbx": pbx,
            "roles": {"assignments": [{"user": "user00001@acme.example", "roles": ["Agent"]}]},
            "support_contacts": ["p-anna", "help@partner.example"],
        }
    )


async def _nothing(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    return None


def _scenario(
    name: str,
    fake: FakeCustomers,
    workflow: Any,
    inp: Any,
    drive=_nothing,
    memo: dict[str, str] | None = None,
) -> Scenario:
    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        return await client.start_workflow(
            workflow.run, inp, id=workflow_id, task_queue=task_queue, memo=memo
        )

    return Scenario(name, fake.activities, start, drive)


def _disabled_account() -> FakeCustomers:
    fake = FakeCustomers(pbx_users=1200)
    fake.add_account("acme-srl").connection = {
        "host": "pbx.acme.example",
        "template": "default",
        "enabled": False,
        "auto_provision_sub_accounts": False,
        "state": ConnectionState.DISABLED,
    }
    return fake


def _trial_account() -> FakeCustomers:
    fake = FakeCustomers()
    fake.add_account("trial-co", trial=True, created_at=datetime.now(UTC))
    return fake


async def _past_trial_end(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    await env.sleep(timedelta(days=31))


SCENARIOS = [
    _scenario(
        "provisioning_2000_users_trial",
        FakeCustomers(),
        CustomerProvisioning,
        _input(trial=True),
    ),
    _scenario(
        "provisioning_undone_at_step_3",
        FakeCustomers(connect_error="authentication failed"),
        CustomerProvisioning,
        _input(),
    ),
    # Recorded after the emails came from templates: the withdrawal names the customer's country.
    _scenario(
        "provisioning_undone_at_step_3_email_templates",
        FakeCustomers(connect_error="authentication failed"),
        CustomerProvisioning,
        _input(),
    ),
    _scenario(
        "provisioning_pbx_disabled",
        FakeCustomers(),
        CustomerProvisioning,
        _input(pbx={"host": "pbx.acme.example", "enabled": False}),
    ),
    _scenario(
        "pbx_connection_enable",
        _disabled_account(),
        PbxConnectionEnable,
        PbxEnableInput(account_id="acme-srl"),
    ),
    _scenario(
        "customer_trial_expired",
        _trial_account(),
        CustomerTrial,
        CustomerTrialInput(account_id="trial-co"),
        _past_trial_end,
    ),
    _scenario(
        "customer_trial_expired_email_templates",
        _trial_account(),
        CustomerTrial,
        CustomerTrialInput(account_id="trial-co"),
        _past_trial_end,
    ),
    _scenario(
        "customer_update_trial_on",
        _trial_account(),
        CustomerUpdate,
        CustomerUpdateInput(account_id="trial-co", changes=AccountChanges(trial_days=45)),
    ),
    _scenario(
        "support_contacts_add",
        _trial_account(),
        SupportContactsChange,
        SupportContactsChangeInput(
            account_id="trial-co",
            action=ContactAction.ADD,
            contact=ContactRef(partner="p-anna"),
            acting_as=ActingAs.PARTNER,
        ),
    ),
    _scenario(
        "problem_report",
        _trial_account(),
        ProblemReport,
        ProblemReportInput(
            account_id="trial-co",
            report_id="PR-1",
            application="Mitel One",
            description="No audio on outbound calls.",
        ),
    ),
    # Who filed it, in its result (workflow patch audit-in-results).
    _scenario(
        "problem_report_audited",
        _trial_account(),
        ProblemReport,
        ProblemReportInput(
            account_id="trial-co",
            report_id="PR-2",
            application="Mitel One",
            description="No audio on outbound calls.",
        ),
        memo={"started_by": "ops@provider.example"},
    ),
    _scenario(
        "problem_report_email_templates",
        _trial_account(),
        ProblemReport,
        ProblemReportInput(
            account_id="trial-co",
            report_id="PR-1",
            application="Mitel One",
            description="No audio on outbound calls.",
        ),
    ),
]
