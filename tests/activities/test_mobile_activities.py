"""The real mobile-line activities against the real simulator (HTTP) and its SMTP mailbox.

The QR code in the email is decoded with a real QR decoder (OpenCV), never by re-encoding.
"""

import base64
import dataclasses
import re
import uuid

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from pbxops.activities.codes import CodeVault
from pbxops.activities.mail import SmtpSender
from pbxops.activities.mobile import MobileActivities
from pbxops.contracts.mobile import (
    CodeReason,
    CodeState,
    Delivery,
    DeviceRef,
    DeviceStatus,
    ExpireCode,
    IssueCode,
    ProvisionLine,
)
from pbxops.runtime.callback_auth import CallbackSigner
from tests.processes import free_port
from tests.qr import decode_qr_png
from tests.stack import ADMIN_HEADERS, Stack

VAULT = CodeVault(b"activities-test-secret-0123456789")
SIGNER = CallbackSigner(b"activity-tests-callback-secret")


def activity_env(step: str, workflow_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=workflow_id,
        workflow_run_id="run-1",
        activity_id=step,
        workflow_namespace="default",
    )
    return env


def mobile(simulator: Stack, http: httpx.AsyncClient, smtp_port: int | None = None):
    sender = SmtpSender("127.0.0.1", smtp_port or simulator.smtp_port, timeout=2)
    return MobileActivities(
        http, sender, "pbxops <noreply@pbxops.example>", VAULT, "http://cb", SIGNER
    )


def setup_tenant(simulator: Stack, tenant_id: str, **org) -> None:
    simulator.put_tenant(tenant_id)
    with simulator.api() as api:
        body = {"licences_total": 1, "smdp_address": "smdp.act.example", **org}
        api.put(f"/admin/tenants/{tenant_id}/mobile", json=body).raise_for_status()


def mails_to(simulator: Stack, address: str) -> list[dict]:
    found = httpx.get(
        f"{simulator.platform_url}/api/v1/search",
        params={"query": f"to:{address}"},
        headers=ADMIN_HEADERS,
    ).json()
    return [
        httpx.get(
            f"{simulator.platform_url}/api/v1/message/{m['ID']}", headers=ADMIN_HEADERS
        ).json()
        for m in found["messages"]
    ]


def decode_qr(html: str) -> str:
    """The QR image of the email's HTML part, decoded as a phone would (tests/qr.py)."""
    match = re.search(r"src=[\"']data:image/png;base64,([A-Za-z0-9+/=]+)[\"']", html)
    assert match, "no inline QR image in the HTML part"
    text = decode_qr_png(base64.b64decode(match.group(1)))
    assert text, "the QR code did not decode"
    return text


def platform_code(simulator: Stack, device_id: str) -> dict:
    with simulator.api() as api:
        response = api.get(f"/pbx/mobile/devices/{device_id}/activation-code")
        response.raise_for_status()
        return response.json()


async def test_provision_emails_a_qr_that_decodes_to_the_code_and_a_retry_sends_nothing_new(
    simulator: Stack, http
):
    tenant = f"mob-{uuid.uuid4().hex[:6]}"
    setup_tenant(simulator, tenant)
    device_id = f"md-{uuid.uuid4().hex[:8]}"
    workflow_id = f"mobile-line/{device_id}"
    activities = mobile(simulator, http)
    line = ProvisionLine(device_id=device_id, tenant_id=tenant, user_id=f"{tenant}-u1")

    issued = await activity_env("provision", workflow_id).run(activities.provision, line)
    again = await activity_env("provision", workflow_id).run(activities.provision, line)

    assert again.code_id == issued.code_id and again.digest == issued.digest
    assert issued.delivery == Delivery.EMAIL
    assert issued.device.status == DeviceStatus.PENDING_ACTIVATION
    code = platform_code(simulator, device_id)
    assert code["code_id"] == issued.code_id
    lpa = code["activation_code"]
    assert lpa == f"LPA:1$smdp.act.example${code['matching_id']}"
    # Only an HMAC of the code comes back, keyed by the worker's secret.
    assert issued.digest == VAULT.digest(lpa, f"{workflow_id}/{issued.code_id}")
    assert code["matching_id"] not in issued.model_dump_json()

    [mail] = mails_to(simulator, f"anna@{tenant}.example")
    assert decode_qr(mail["HTML"]) == lpa
    assert code["matching_id"] in mail["Text"] and "smdp.act.example" in mail["Text"]
    # In the (Italian) tenant's language and time zone.
    assert mail["Subject"].startswith("Attiva la tua linea mobile aziendale")
    assert "è utilizzabile una sola volta e scade alle " in mail["Text"]


async def test_exhausted_pool_is_non_retryable_with_the_platform_sentence(simulator, http):
    tenant = f"mob-{uuid.uuid4().hex[:6]}"
    setup_tenant(simulator, tenant, licences_total=0)
    device_id = f"md-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ApplicationError) as err:
        await activity_env("provision", f"mobile-line/{device_id}").run(
            mobile(simulator, http).provision,
            ProvisionLine(device_id=device_id, tenant_id=tenant, user_id=f"{tenant}-u1"),
        )
    assert err.value.non_retryable
    assert err.value.message == (
        f"no mobile-line licence left in the pool of tenant '{tenant}' (0 of 0 in use)"
    )


async def test_new_code_invalidates_the_old_one_and_suppressed_emails_send_nothing(
    simulator: Stack, http
):
    tenant = f"mob-{uuid.uuid4().hex[:6]}"
    setup_tenant(simulator, tenant, suppress_emails=True)
    device_id = f"md-{uuid.uuid4().hex[:8]}"
    workflow_id = f"mobile-line/{device_id}"
    activities = mobile(simulator, http)
    first = await activity_env("provision", workflow_id).run(
        activities.provision,
        ProvisionLine(device_id=device_id, tenant_id=tenant, user_id=f"{tenant}-u1"),
    )
    old = platform_code(simulator, device_id)

    second = await activity_env("code-2", workflow_id).run(
        activities.issue_code, IssueCode(device_id=device_id, reason=CodeReason.NEW_CODE)
    )

    assert first.delivery == second.delivery == Delivery.OPERATOR
    assert "suppresses emails" in second.delivery_note
    assert mails_to(simulator, f"anna@{tenant}.example") == []
    with simulator.api() as api:
        refused = api.post("/phone/esim/activate", json={"activation_code": old["matching_id"]})
        assert refused.status_code == 409
        assert refused.json()["detail"] == "activation code was replaced by a newer one"
        current = platform_code(simulator, device_id)
        assert current["code_id"] == second.code_id
        api.post("/phone/esim/activate", json={"activation_code": current["activation_code"]})
    online = await activity_env("get", workflow_id).run(
        activities.get_device, DeviceRef(device_id=device_id)
    )
    assert online.status == DeviceStatus.ONLINE and online.event_seq == 1
    assert online.current_code_state == CodeState.USED
    with pytest.raises(ApplicationError) as err:
        await activity_env("code-3", workflow_id).run(
            activities.issue_code, IssueCode(device_id=device_id, reason=CodeReason.NEW_CODE)
        )
    assert err.value.non_retryable and "is online" in err.value.message


async def test_expire_then_delete_returns_the_licence_and_tells_the_user(simulator: Stack, http):
    tenant = f"mob-{uuid.uuid4().hex[:6]}"
    setup_tenant(simulator, tenant)
    device_id = f"md-{uuid.uuid4().hex[:8]}"
    workflow_id = f"mobile-line/{device_id}"
    activities = mobile(simulator, http)
    issued = await activity_env("provision", workflow_id).run(
        activities.provision,
        ProvisionLine(device_id=device_id, tenant_id=tenant, user_id=f"{tenant}-u1"),
    )

    expired = await activity_env(f"expire-{issued.code_id}", workflow_id).run(
        activities.expire_code, ExpireCode(device_id=device_id, code_id=issued.code_id)
    )
    assert expired.current_code_state == CodeState.EXPIRED
    assert expired.status == DeviceStatus.PENDING_ACTIVATION

    deleted = await activity_env("delete", workflow_id).run(
        activities.delete_device, DeviceRef(device_id=device_id)
    )
    assert deleted.device.status == DeviceStatus.DELETED
    assert deleted.licences_available == 1 and deleted.user_notified
    subjects = [m["Subject"] for m in mails_to(simulator, f"anna@{tenant}.example")]
    # The simulator's tenants are Italian by default: the user reads Italian.
    assert any(s.endswith("è stata eliminata") for s in subjects)


async def test_mail_server_down_is_retryable_and_never_shows_the_code(simulator: Stack, http):
    tenant = f"mob-{uuid.uuid4().hex[:6]}"
    setup_tenant(simulator, tenant)
    device_id = f"md-{uuid.uuid4().hex[:8]}"
    workflow_id = f"mobile-line/{device_id}"
    down = mobile(simulator, http, smtp_port=free_port())
    line = ProvisionLine(device_id=device_id, tenant_id=tenant, user_id=f"{tenant}-u1")

    with pytest.raises(ApplicationError) as err:
        await activity_env("provision", workflow_id).run(down.provision, line)

    assert not err.value.non_retryable and err.value.type == "MailUnavailable"
    code = platform_code(simulator, device_id)
    assert code["matching_id"] not in str(err.value)
    # The retry (mail server back) delivers the very same code.
    issued = await activity_env("provision", workflow_id).run(
        mobile(simulator, http).provision, line
    )
    assert issued.code_id == code["code_id"]
    [mail] = mails_to(simulator, f"anna@{tenant}.example")
    assert decode_qr(mail["HTML"]) == code["activation_code"]
