"""Histories of NumberPackageRemoval worth guarding: both billing paths, a partly done request,
manual handling, the verification ticket, a refused requester."""

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.number_removal import NumberRemovalInput
from pbxops.workflows.number_removal import NumberPackageRemoval
from tests.histories.record import Scenario
from tests.workflows.fake_numbers import DIRECT, ECOM, FakeNumber, FakeNumberWorld

N1, N2, N3 = "+390280881001", "+390280881002", "+390280881003"


def _scenario(
    name: str,
    numbers: list[FakeNumber],
    requested_by: str = "giulia@acme.example",
    memo: dict[str, str] | None = None,
    **overrides: timedelta,
) -> Scenario:
    def activities() -> list:
        return FakeNumberWorld().add(*numbers).activities()

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = NumberRemovalInput(
            tenant_id="acme",
            numbers=[n.number for n in numbers],
            requested_by=requested_by,
            **overrides,
        )
        return await client.start_workflow(
            NumberPackageRemoval.run, inp, id=workflow_id, task_queue=task_queue, memo=memo
        )

    async def drive(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        return None  # time skipping carries the workflow to its end

    return Scenario(name, activities, start, drive)


SCENARIOS = [
    _scenario("number_removal_ecommerce", [FakeNumber(N1, ECOM), FakeNumber(N2, ECOM)]),
    _scenario(
        "number_removal_direct_partly",
        [
            FakeNumber(N1, DIRECT, billing_account=None),
            FakeNumber(N2, DIRECT, billing_account=None),
            FakeNumber(N3, DIRECT, billing_account=None, locked_reason="porting"),
        ],
    ),
    _scenario(
        "number_removal_unknown_soc", [FakeNumber(N1, "LegacyBundle0909", billing_account=None)]
    ),
    _scenario(
        "number_removal_verification_ticket",
        [FakeNumber(N1, DIRECT, billing_account=None, csu_shows_deletion=False)],
        verify_hard_cap=timedelta(hours=1),
    ),
    # Since emails come from templates (mail.send_template), an e-commerce number deleted but not
    # verified in time still counts in the licences to decrease.
    _scenario(
        "number_removal_ecommerce_email_templates", [FakeNumber(N1, ECOM), FakeNumber(N2, ECOM)]
    ),
    _scenario(
        "number_removal_unverified_billed",
        [FakeNumber(N1, ECOM), FakeNumber(N2, ECOM, csu_shows_deletion=False)],
        verify_hard_cap=timedelta(hours=1),
    ),
    _scenario("number_removal_late_verification", [FakeNumber(N1, visible_after_polls=16)]),
    _scenario("number_removal_not_allowed", [FakeNumber(N1)], requested_by="ugo@acme.example"),
    # Who started it and who asked, in its result (workflow patch audit-in-results).
    _scenario(
        "number_removal_audited",
        [FakeNumber(N1, ECOM)],
        memo={"started_by": "ops@provider.example"},
    ),
]
