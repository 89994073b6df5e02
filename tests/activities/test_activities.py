"""The real activities against the real simulator (HTTP) and its real SMTP mailbox."""

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from pbxops.activities.codes import CodeVault
from pbxops.activities.helpdesk import HelpdeskActivities
from pbxops.activities.locales import Locales
from pbxops.activities.mail import MailActivities, SmtpSender
from pbxops.activities.pbx import PbxActivities
from pbxops.contracts.deletion import PURGE_STEPS, CodeEmail, PurgeRequest
from pbxops.contracts.emails import Audience, EmailTemplate, TemplatedEmail
from pbxops.contracts.helpdesk import CommentOnTicket, OpenTicket, ResolveTicket
from pbxops.contracts.mail import EmailMessage
from pbxops.contracts.pbx import ServiceState, TenantRef, TransitionKind, TransitionRequest
from pbxops.runtime.callback_auth import CallbackSigner
from tests.processes import free_port, wait_until
from tests.stack import ADMIN_HEADERS, Stack

UI = "http://ui.example:8233"
VAULT = CodeVault(b"activity-tests-secret")
SIGNER = CallbackSigner(b"activity-tests-callback-secret")


def activity_env(step: str, workflow_id: str | None = None) -> ActivityEnvironment:
    """An activity context as a workflow step would give it (ids feed the idempotency key)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=workflow_id or f"pbx-deactivation/{uuid.uuid4()}",
        workflow_run_id="run-1",
        activity_id=step,
        workflow_namespace="default",
    )
    return env


async def test_request_transition_starts_the_job_and_is_idempotent(simulator: Stack, http):
    simulator.put_tenant("act-a", deactivation_seconds=0.3)
    pbx = PbxActivities(http, "http://127.0.0.1:9/unused", SIGNER)
    env = activity_env("request-deactivation")
    request = TransitionRequest(tenant_id="act-a", kind=TransitionKind.DEACTIVATION)

    first = await env.run(pbx.request_transition, request)
    # A retry after a crash sends the same key: the platform answers the same job, no 409.
    again = await env.run(pbx.request_transition, request)

    assert again.job_id == first.job_id
    assert first.before.state == ServiceState.ACTIVE and first.before.extensions_total == 4

    for _ in range(100):  # the job takes 0.3 s in the simulator
        snap = await activity_env("poll").run(pbx.get_service, TenantRef(tenant_id="act-a"))
        if snap.state == ServiceState.DEACTIVATED:
            break
        await asyncio.sleep(0.1)
    after = await activity_env("verify").run(pbx.get_service, TenantRef(tenant_id="act-a"))
    assert after.state == ServiceState.DEACTIVATED
    assert after.extensions_total == 4 and after.extensions_registered == 0
    assert after.billing_active and not after.access_visible


async def test_purge_runs_every_step_once_even_when_retried(simulator: Stack, http):
    simulator.put_tenant("act-purge", deletion_seconds=None, recordings=3)  # the job never ends
    pbx = PbxActivities(http, "http://127.0.0.1:9/unused", SIGNER)
    workflow_id = f"pbx-deletion/{uuid.uuid4()}"
    deletion = TransitionRequest(tenant_id="act-purge", kind=TransitionKind.DELETION)
    await activity_env("request-deletion", workflow_id).run(pbx.request_transition, deletion)
    purge = PurgeRequest(tenant_id="act-purge", steps=list(PURGE_STEPS))

    first = await activity_env("purge", workflow_id).run(pbx.purge_all, purge)
    # A retry (the worker died before reporting) gets the platform's first answers back.
    again = await activity_env("purge", workflow_id).run(pbx.purge_all, purge)

    removed = {done.step: done.removed for done in first.steps}
    assert removed == {
        "extensions": 4,
        "users": 2,
        "recordings": 3,
        "numbers": 0,
        "usage": 100,
        "billing": 1,
    }
    assert again == first
    after = await activity_env("verify").run(pbx.get_service, TenantRef(tenant_id="act-purge"))
    assert after.state == ServiceState.DELETING  # the erasure job itself is still running
    assert (after.extensions_total, after.users_total, after.recordings_total) == (0, 0, 0)
    assert after.usage_minutes == 0 and not after.billing_active


async def test_unknown_tenant_is_non_retryable_with_the_platform_sentence(simulator, http):
    pbx = PbxActivities(http, "http://127.0.0.1:9", SIGNER)
    with pytest.raises(ApplicationError) as err:
        await activity_env("request-deactivation").run(
            pbx.request_transition,
            TransitionRequest(tenant_id="act-nobody", kind=TransitionKind.DEACTIVATION),
        )
    assert err.value.non_retryable
    assert err.value.message == "tenant 'act-nobody' not found"


async def test_wrong_state_is_non_retryable_409(simulator: Stack, http):
    simulator.put_tenant("act-off", state="deactivated")
    pbx = PbxActivities(http, "http://127.0.0.1:9", SIGNER)
    with pytest.raises(ApplicationError) as err:
        await activity_env("request-deactivation").run(
            pbx.request_transition,
            TransitionRequest(tenant_id="act-off", kind=TransitionKind.DEACTIVATION),
        )
    assert err.value.non_retryable and err.value.type == "PlatformRejected409"
    assert "deactivated" in err.value.message


async def test_platform_500_is_retryable(simulator: Stack, http):
    simulator.put_tenant("act-faulty")
    await http.put("/admin/faults", json={"route_prefix": "/pbx", "error_rate": 1.0})
    try:
        pbx = PbxActivities(http, "http://127.0.0.1:9", SIGNER)
        with pytest.raises(ApplicationError) as err:
            await activity_env("poll").run(pbx.get_service, TenantRef(tenant_id="act-faulty"))
        assert not err.value.non_retryable
        assert "500" in err.value.message
    finally:
        await http.delete("/admin/faults")


async def test_unreachable_platform_is_retryable():
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}") as dead:
        pbx = PbxActivities(dead, "http://127.0.0.1:9", SIGNER)
        with pytest.raises(ApplicationError) as err:
            await activity_env("poll").run(pbx.get_service, TenantRef(tenant_id="x"))
    assert not err.value.non_retryable and err.value.type == "PlatformUnavailable"


async def test_ticket_is_opened_once_per_step_then_commented_and_resolved(simulator, http):
    helpdesk = HelpdeskActivities(http, UI)
    env = activity_env("sla-ticket", workflow_id="pbx-deactivation/act-t")
    ask = OpenTicket(subject="Deactivation late", body="still running", tenant_id="act-t")

    first = await env.run(helpdesk.open_ticket, ask)
    retried = await env.run(helpdesk.open_ticket, ask)

    assert retried.id == first.id
    found = (await http.get("/helpdesk/tickets", params={"tenant_id": "act-t"})).json()
    assert len(found) == 1
    # Pinned to the run that opened it: a later procedure reusing the workflow id has its own.
    assert found[0]["workflow_url"] == (
        f"{UI}/namespaces/default/workflows/pbx-deactivation%2Fact-t/run-1/history"
    )
    assert found[0]["workflow_url"] in found[0]["body"]

    await activity_env("sla-ticket-comment", "pbx-deactivation/act-t").run(
        helpdesk.comment, CommentOnTicket(ticket_id=first.id, body="still waiting")
    )
    resolved = await activity_env("sla-ticket-resolve", "pbx-deactivation/act-t").run(
        helpdesk.resolve, ResolveTicket(ticket_id=first.id, comment="done after 20 minutes")
    )
    assert resolved.status == "resolved"
    ticket = (await http.get(f"/helpdesk/tickets/{first.id}")).json()
    assert [c["body"] for c in ticket["comments"]][:1] == ["still waiting"]


async def test_mail_goes_through_real_smtp_once_even_when_retried(simulator: Stack):
    mail = MailActivities(
        SmtpSender("127.0.0.1", simulator.smtp_port), "pbxops <noreply@x.it>", VAULT
    )
    to = f"{uuid.uuid4().hex[:8]}@acme.example"
    email = EmailMessage(to=[to], subject="Service deactivated", text="plain", html="<b>rich</b>")
    env = activity_env("notify")

    sent = await env.run(mail.send, email)
    await env.run(mail.send, email)  # a retry after the server accepted: same Message-ID

    def delivered() -> list[dict]:
        found = httpx.get(
            f"{simulator.platform_url}/api/v1/search",
            params={"query": f"to:{to}"},
            headers=ADMIN_HEADERS,
        )
        return found.json()["messages"]

    wait_until(lambda: len(delivered()) == 1, 10, "the message in the mailbox")
    [summary] = delivered()
    message = httpx.get(
        f"{simulator.platform_url}/api/v1/message/{summary['ID']}", headers=ADMIN_HEADERS
    ).json()
    assert message["MessageID"] in sent.message_id
    assert message["Subject"] == "Service deactivated"
    assert message["Text"].strip() == "plain" and "<b>rich</b>" in message["HTML"]


async def test_mail_server_down_is_retryable():
    mail = MailActivities(SmtpSender("127.0.0.1", free_port(), timeout=2), "x@x.it", VAULT)
    email = EmailMessage(to=["a@acme.example"], subject="s", text="t")
    with pytest.raises(ApplicationError) as err:
        await activity_env("notify").run(mail.send, email)
    assert not err.value.non_retryable and err.value.type == "MailUnavailable"


async def test_a_templated_email_goes_in_the_tenant_language_and_staff_get_english_once(
    simulator: Stack, http
):
    tenant = f"act-{uuid.uuid4().hex[:6]}"
    simulator.put_tenant(tenant, country="BG", timezone="Europe/Sofia")
    mail = MailActivities(
        SmtpSender("127.0.0.1", simulator.smtp_port),
        "pbxops <noreply@x.it>",
        VAULT,
        Locales(http, staff_domains=["provider.example"]),
    )
    admin, operator = f"{tenant}@{tenant}.example", f"{tenant}@provider.example"
    email = TemplatedEmail(
        template=EmailTemplate.DELETION_DONE,
        to=[admin],
        staff_to=[operator],
        audience=Audience(tenant_id=tenant),  # country and time zone read from the platform
        values={"tenant_name": "Тест ООД <b>", "tenant_id": tenant, "ticket_id": None},
    )
    env = activity_env("notify-deleted")

    sent = await env.run(mail.send_template, email)
    await env.run(mail.send_template, email)  # a retry: the same two messages, not four

    def delivered(to: str) -> list[dict]:
        found = httpx.get(
            f"{simulator.platform_url}/api/v1/search",
            params={"query": f"to:{to}"},
            headers=ADMIN_HEADERS,
        )
        return found.json()["messages"]

    wait_until(lambda: len(delivered(admin)) == len(delivered(operator)) == 1, 10, "both")
    assert sent.recipients == 2
    [customer] = delivered(admin)
    [staff] = delivered(operator)
    assert customer["Subject"] == "Услугата Cloud PBX е изтрита: Тест ООД <b>"
    assert staff["Subject"] == "Cloud PBX service deleted: Тест ООД <b>"
    body = httpx.get(
        f"{simulator.platform_url}/api/v1/message/{customer['ID']}", headers=ADMIN_HEADERS
    ).json()
    assert "Всички нейни данни" in body["Text"] and "Тест ООД &lt;b&gt;" in body["HTML"]
    assert body["MessageID"] in sent.message_id  # the customer's message has the step's own id


async def test_the_deletion_code_email_is_in_the_tenant_language_with_its_local_expiry(
    simulator: Stack, http
):
    tenant = f"act-{uuid.uuid4().hex[:6]}"
    simulator.put_tenant(tenant, country="FR", timezone="Europe/Paris")
    mail = MailActivities(
        SmtpSender("127.0.0.1", simulator.smtp_port), "x@x.it", VAULT, Locales(http)
    )
    env = activity_env("email-code", f"pbx-deletion/{tenant}")
    scheduled = datetime(2026, 10, 23, 16, 12, 40, tzinfo=UTC)
    env.info = dataclasses.replace(env.info, scheduled_time=scheduled)
    admin = f"{tenant}@{tenant}.example"
    sealed = VAULT.seal("48213907", f"pbx-deletion/{tenant}/run-1")
    request = CodeEmail(
        tenant_id=tenant, tenant_name="Acme", to=[admin], sealed=sealed, valid_minutes=60
    )

    await env.run(mail.send_deletion_code, request)

    def delivered() -> list[dict]:
        found = httpx.get(
            f"{simulator.platform_url}/api/v1/search",
            params={"query": f"to:{admin}"},
            headers=ADMIN_HEADERS,
        )
        return found.json()["messages"]

    wait_until(lambda: len(delivered()) == 1, 10, "the code email")
    [summary] = delivered()
    body = httpx.get(
        f"{simulator.platform_url}/api/v1/message/{summary['ID']}", headers=ADMIN_HEADERS
    ).json()
    assert summary["Subject"].startswith("Code de confirmation de la SUPPRESSION")
    assert "48213907" in body["Text"]
    # One hour from when the step was scheduled, in Paris time, truncated to the minute.
    assert "valable jusqu'à 19:12 le vendredi 23 octobre 2026" in body["Text"]
