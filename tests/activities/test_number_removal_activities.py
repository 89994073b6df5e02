"""The number-removal activities against the real simulator (support view, device portal,
e-commerce panel, platform users), logging in with the operator accounts of its vault."""

import dataclasses
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from pbxops.activities.number_removal import NumberRemovalActivities
from pbxops.contracts.number_removal import (
    BillingAccountRef,
    DeleteDevice,
    LookupNumbers,
    RequesterCheck,
    VerifyRemoval,
)
from pbxops.runtime.number_systems import OperatorSystems, System, account
from pbxops.runtime.settings import Settings
from tests.stack import Stack

SYSTEMS = ("csu", "device_portal", "ecommerce")


def vault(stack: Stack) -> Path:
    return stack.workdir / "secrets"


def credentials(stack: Stack) -> dict[str, str]:
    found = {}
    for system in SYSTEMS:
        for part in ("username", "password"):
            found[f"{system}_{part}"] = (vault(stack) / f"pbxops_{system}_{part}").read_text()
    return found


def settings(stack: Stack, **overrides: str) -> Settings:
    values = {"platform_url": stack.platform_url, **credentials(stack), **overrides}
    return Settings(**values)  # type: ignore[arg-type]


def activity_env(step: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=f"number-removal/{uuid.uuid4()}",
        workflow_run_id="run-1",
        activity_id=step,
        workflow_namespace="default",
    )
    return env


def new_number() -> str:
    return "+3902" + "".join(random.choice("0123456789") for _ in range(8))


def make_numbers(stack: Stack, tenant_id: str, devices: list[dict], account: str | None = None):
    stack.put_tenant(tenant_id)
    body = {
        "ecommerce_account": {"account_number": account, "licences": 5} if account else None,
        "devices": devices,
    }
    with stack.api() as api:
        response = api.put(f"/admin/numbers/tenants/{tenant_id}", json=body)
        response.raise_for_status()
        return response.json()


@pytest_asyncio.fixture
async def numbers(simulator: Stack, http) -> AsyncIterator[NumberRemovalActivities]:
    systems = OperatorSystems(settings(simulator), reload=lambda: settings(simulator))
    yield NumberRemovalActivities(http, systems)
    await systems.aclose()


async def test_lookup_reads_csu_and_the_device_list(simulator: Stack, numbers):
    n1, n2, unknown = new_number(), new_number(), new_number()
    acct = f"2CO-{uuid.uuid4().hex[:6]}"
    made = make_numbers(
        simulator,
        "nr-look",
        [
            {"number": n1, "label": "Reception", "soc_code": "Ecom2Checkout1515"},
            {"number": n2, "soc_code": "CKSWDirectAdv1515"},
        ],
        account=acct,
    )
    devices = {d["number"]: d["device_id"] for d in made["devices"]}

    found = await activity_env("lookup").run(
        numbers.lookup, LookupNumbers(numbers=[n1, n2, unknown])
    )

    first, second, missing = found.records
    assert first.found and first.tenant_id == "nr-look" and first.label == "Reception"
    assert first.soc_code == "Ecom2Checkout1515" and first.billing_account == acct
    assert first.device_id == devices[n1] and first.deleted_at is None
    assert second.soc_code == "CKSWDirectAdv1515" and second.billing_account is None
    assert not missing.found and missing.tenant_id is None

    link = await activity_env("billing-link").run(
        numbers.billing_link, BillingAccountRef(account_number=acct)
    )
    assert link.account_number == acct
    assert link.update_subscription_url.startswith(
        f"https://secure.2checkout.example/subscriptions/{acct}/update"
    )


async def test_delete_is_idempotent_and_verify_sees_the_deleted_datetime(simulator, numbers):
    number = new_number()
    made = make_numbers(simulator, "nr-del", [{"number": number, "csu_sync_seconds": 0}])
    device_id = made["devices"][0]["device_id"]
    request = DeleteDevice(tenant_id="nr-del", device_id=device_id, number=number)
    asked_at = datetime.now(UTC)
    step = activity_env(f"delete-{number}")

    first = await step.run(numbers.delete_device, request)
    # A retry (same workflow, same step: same idempotency key) answers the same deletion.
    again = await step.run(numbers.delete_device, request)
    assert again == first and first.device_id == device_id

    # Another request (another key) is refused: the device is already gone.
    with pytest.raises(ApplicationError) as refused:
        await activity_env(f"delete-{number}").run(numbers.delete_device, request)
    assert refused.value.non_retryable and "was already deleted at" in refused.value.message

    verified = await activity_env("verify").run(
        numbers.verify_removed,
        VerifyRemoval(
            tenant_id="nr-del", number=number, device_id=device_id, requested_at=asked_at
        ),
    )
    assert verified.deleted_at == first.deleted_at

    # A Deleted Datetime from before this request does not match it.
    with pytest.raises(ApplicationError) as mismatch:
        await activity_env("verify").run(
            numbers.verify_removed,
            VerifyRemoval(
                tenant_id="nr-del",
                number=number,
                device_id=device_id,
                requested_at=asked_at + timedelta(hours=1),
            ),
        )
    assert mismatch.value.non_retryable and "does not match the removal" in mismatch.value.message


async def test_verify_not_visible_yet_is_a_retryable_benign_poll(simulator, numbers):
    number = new_number()
    made = make_numbers(simulator, "nr-lag", [{"number": number, "csu_sync_seconds": None}])
    device_id = made["devices"][0]["device_id"]
    deleted = await activity_env("delete").run(
        numbers.delete_device, DeleteDevice(tenant_id="nr-lag", device_id=device_id, number=number)
    )

    with pytest.raises(ApplicationError) as not_yet:
        await activity_env("verify").run(
            numbers.verify_removed,
            VerifyRemoval(
                tenant_id="nr-lag",
                number=number,
                device_id=device_id,
                requested_at=deleted.deleted_at,
            ),
        )

    assert not not_yet.value.non_retryable
    assert not_yet.value.type == "RemovalNotVisibleYet"
    assert not_yet.value.category == ApplicationErrorCategory.BENIGN
    assert f"no Deleted Datetime for {number} yet" in not_yet.value.message


async def test_a_locked_device_is_refused_with_the_portals_sentence(simulator, numbers):
    number = new_number()
    made = make_numbers(
        simulator, "nr-lock", [{"number": number, "locked_reason": "a porting is in progress"}]
    )
    request = DeleteDevice(
        tenant_id="nr-lock", device_id=made["devices"][0]["device_id"], number=number
    )
    with pytest.raises(ApplicationError) as refused:
        await activity_env("delete").run(numbers.delete_device, request)
    assert refused.value.non_retryable and refused.value.type == "PlatformRejected409"
    assert refused.value.message.endswith("cannot be deleted: a porting is in progress")


@pytest.mark.parametrize(
    "roles, allowed", [(["Admin"], True), (["User", "Super User"], True), (["User"], False)]
)
async def test_check_requester_reads_the_tenants_roles(simulator: Stack, numbers, roles, allowed):
    tenant = f"nr-role-{uuid.uuid4().hex[:6]}"
    simulator.put_tenant(
        tenant,
        users=[{"id": "u1", "name": "Pat", "email": "Pat@Example.com", "roles": roles}],
        extensions=[],
    )
    verdict = await activity_env("check").run(
        numbers.check_requester, RequesterCheck(tenant_id=tenant, email="pat@example.com")
    )
    assert verdict.allowed is allowed and verdict.roles == sorted(roles)
    stranger = await activity_env("check").run(
        numbers.check_requester, RequesterCheck(tenant_id=tenant, email="who@example.com")
    )
    assert not stranger.allowed and stranger.roles == []


async def test_refused_credentials_are_read_again_and_then_reported(simulator: Stack, http):
    number = new_number()
    make_numbers(simulator, "nr-cred", [{"number": number}])
    wrong = settings(simulator, csu_password="not-the-password")
    # The secret store was rotated after the worker started: the refusal makes it read again.
    rotated = NumberRemovalActivities(
        http, OperatorSystems(wrong, reload=lambda: settings(simulator))
    )
    found = await activity_env("lookup").run(rotated.lookup, LookupNumbers(numbers=[number]))
    assert found.records[0].found

    stale = NumberRemovalActivities(http, OperatorSystems(wrong, reload=lambda: wrong))
    with pytest.raises(ApplicationError) as refused:
        await activity_env("lookup").run(stale.lookup, LookupNumbers(numbers=[number]))
    assert refused.value.type == "OperatorCredentialsRejected"
    assert not refused.value.non_retryable  # fix the secret and the procedure carries on
    assert "not-the-password" not in refused.value.message

    bare = Settings(platform_url=simulator.platform_url)
    missing = NumberRemovalActivities(http, OperatorSystems(bare, reload=lambda: bare))
    with pytest.raises(ApplicationError) as unset:
        await activity_env("lookup").run(missing.lookup, LookupNumbers(numbers=[number]))
    assert unset.value.type == "OperatorCredentialsMissing"
    assert "PBXOPS_CSU_USERNAME and PBXOPS_CSU_PASSWORD" in unset.value.message


def test_operator_credentials_come_from_the_secrets_dir(simulator: Stack, monkeypatch):
    monkeypatch.setenv("PBXOPS_SECRETS_DIR", str(vault(simulator)))
    for system in SYSTEMS:
        monkeypatch.delenv(f"PBXOPS_{system.upper()}_PASSWORD", raising=False)

    loaded = Settings()

    expected = credentials(simulator)
    assert loaded.csu_username == expected["csu_username"]
    assert loaded.csu_password is not None
    assert loaded.csu_password.get_secret_value() == expected["csu_password"]
    assert loaded.device_portal_password == SecretStr(expected["device_portal_password"])
    # Never shown by a repr, a log line or a traceback.
    assert expected["csu_password"] not in repr(loaded)
    assert expected["csu_password"] not in repr(account(loaded, System.CSU))
    # The environment wins over a file.
    monkeypatch.setenv("PBXOPS_CSU_PASSWORD", "from-env")
    assert Settings().csu_password == SecretStr("from-env")
