"""SupportContactsChange and ProblemReport on the time-skipping test server (fake portal)."""

import uuid

import pytest
from temporalio.client import WorkflowFailureError

from pbxops.contracts.procedures import ProcedureStatus
from pbxops.contracts.support import (
    ActingAs,
    ContactAction,
    ContactKind,
    ContactRef,
    ProblemReportInput,
    SupportContact,
    SupportContactsChangeInput,
)
from pbxops.workflows.support import ProblemReport, SupportContactsChange

pytestmark = pytest.mark.asyncio


async def change(env, portal, account: str, action: str, contact: str, acting_as: str):
    return await env.client.execute_workflow(
        SupportContactsChange.run,
        SupportContactsChangeInput(
            account_id=account,
            action=ContactAction(action),
            contact=ContactRef.model_validate(contact),
            acting_as=ActingAs(acting_as),
        ),
        id=f"support-contacts/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,
    )


async def test_a_partner_adds_and_removes_contacts(time_skipping_env, portal):
    portal.add_account("acme")

    added = await change(time_skipping_env, portal, "acme", "add", "p-anna", "partner")
    assert added.changed and [c.email for c in added.contacts] == [
        "help@partner.example",
        "anna@northwind.example",
    ]
    removed = await change(
        time_skipping_env, portal, "acme", "remove", "help@partner.example", "partner"
    )
    assert [c.email for c in removed.contacts] == ["anna@northwind.example"]


async def test_the_last_contact_cannot_be_removed(time_skipping_env, portal):
    portal.add_account("solo")

    with pytest.raises(WorkflowFailureError) as failure:
        await change(time_skipping_env, portal, "solo", "remove", "help@partner.example", "admin")

    assert failure.value.cause.message == "account 'solo' must keep at least one support contact"  # type: ignore[union-attr]
    assert len(portal.accounts["solo"].contacts) == 1


async def test_an_admin_is_refused_on_an_account_not_created_by_a_partner(
    time_skipping_env, portal
):
    portal.add_account("direct", created_by="provider")

    with pytest.raises(WorkflowFailureError) as failure:
        await change(time_skipping_env, portal, "direct", "add", "ops@direct.example", "admin")

    assert failure.value.cause.message.startswith(  # type: ignore[union-attr]
        "an administrative user may change support contacts only on accounts created by a "
        "partner; account 'direct' was created by the provider"
    )


async def test_a_problem_report_emails_every_contact_once(time_skipping_env, portal):
    acc = portal.add_account("acme", name="ACME S.r.l.")
    acc.contacts = [
        SupportContact(
            kind=ContactKind.PARTNER, email="anna@northwind.example", partner_user_id="p-anna"
        ),
        SupportContact(kind=ContactKind.EMAIL, email="help@partner.example"),
        # The partner's address listed again explicitly: still one email.
        SupportContact(kind=ContactKind.EMAIL, email="Anna@northwind.example"),
    ]
    report = ProblemReportInput(
        account_id="acme",
        report_id="PR-1",
        application="Mitel One",
        description="No audio on outbound calls since 9:00.",
        reported_by="mario@acme.example",
    )

    result = await time_skipping_env.client.execute_workflow(
        ProblemReport.run,
        report,
        id="problem-report/acme/PR-1",
        task_queue=portal.task_queue,
    )

    assert result.emailed == ["anna@northwind.example", "help@partner.example"]
    assert sorted(m.to[0] for m in portal.mails) == result.emailed
    mail = portal.mails[0]
    assert mail.subject == "[PR-1] Problem report from ACME S.r.l.: Mitel One"
    assert "No audio on outbound calls" in mail.text and "mario@acme.example" in mail.text
    assert portal.reports["PR-1"] == report


async def test_a_problem_report_for_an_unknown_account_fails_with_the_reason(
    time_skipping_env, portal
):
    with pytest.raises(WorkflowFailureError) as failure:
        await time_skipping_env.client.execute_workflow(
            ProblemReport.run,
            ProblemReportInput(
                account_id="nobody", report_id="PR-2", application="x", description="y"
            ),
            id="problem-report/nobody/PR-2",
            task_queue=portal.task_queue,
        )
    assert failure.value.cause.message == "customer account 'nobody' not found"  # type: ignore[union-attr]
    assert portal.mails == []


async def test_who_started_a_contact_change_and_a_report_is_in_its_status_and_result(
    time_skipping_env, portal
):
    portal.add_account("acme")
    memo = {"started_by": "ops@provider.example"}  # as every pbxops start sets it
    handle = await time_skipping_env.client.start_workflow(
        SupportContactsChange.run,
        SupportContactsChangeInput(
            account_id="acme",
            action=ContactAction.ADD,
            contact=ContactRef.model_validate("p-anna"),
            acting_as=ActingAs.PARTNER,
        ),
        id=f"support-contacts/test-{uuid.uuid4()}",
        task_queue=portal.task_queue,
        memo=memo,
    )
    changed = await handle.result()
    assert changed.changed and changed.started_by == "ops@provider.example"
    status = await handle.query("status", result_type=ProcedureStatus)
    assert status.started_by == "ops@provider.example"

    reported = await time_skipping_env.client.execute_workflow(
        ProblemReport.run,
        ProblemReportInput(
            account_id="acme", report_id="PR-9", application="softphone", description="no audio"
        ),
        id=f"problem-report/acme/PR-9-{uuid.uuid4()}",
        task_queue=portal.task_queue,
        memo=memo,
    )
    assert reported.started_by == "ops@provider.example"
