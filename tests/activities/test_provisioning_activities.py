"""The provisioning and support activities against the real simulator (HTTP) and its SMTP mailbox.

The sync activity pages through 2,000 users of a simulated customer PBX, heartbeating its cursor;
a retried attempt resumes from the heartbeat; the invitation email carries the link while the
activity's result does not.
"""

import dataclasses
import uuid
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from pbxops.activities.codes import CodeVault
from pbxops.activities.mail import MailActivities, SmtpSender
from pbxops.activities.provisioning import ProvisioningActivities, e164
from pbxops.activities.support import SupportActivities
from pbxops.contracts.provisioning import (
    AccountChanges,
    AccountRef,
    AdminUser,
    AssignRoles,
    ConfigurePbx,
    CreateAccount,
    CustomerDetails,
    InviteAdmin,
    PbxConnectionSpec,
    RemovePbx,
    RoleSetup,
    StartMonitoring,
    SyncUsersRequest,
    UpdateAccount,
)
from pbxops.contracts.support import (
    ActingAs,
    ContactAction,
    ContactRef,
    ProblemReportInput,
    SupportContactsChangeInput,
)
from tests.stack import ADMIN_HEADERS, Stack


def activity_env(step: str, workflow_id: str, heartbeats: list[Any] | None = None):
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=workflow_id,
        workflow_run_id="run-1",
        activity_id=step,
        workflow_namespace="default",
        heartbeat_details=heartbeats or [],
    )
    return env


def setup_portal(simulator: Stack, uid: str, users: int = 2000, **pbx: Any) -> str:
    with simulator.api() as api:
        api.put(
            f"/admin/resellers/r-{uid}",
            json={
                "name": "Reseller",
                "notification_email": f"ops@r-{uid}.example",
                "partners": [{"id": f"p-{uid}", "name": "Pat", "email": f"pat@r-{uid}.example"}],
            },
        ).raise_for_status()
        host = f"pbx.{uid}.example"
        api.put(
            f"/admin/customer-pbxs/{host}",
            json={
                "users": users,
                "sub_accounts": [{"id": "north", "name": "North", "users": 7}],
                **pbx,
            },
        ).raise_for_status()
    return host


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def mail(simulator: Stack) -> MailActivities:
    return MailActivities(
        SmtpSender("127.0.0.1", simulator.smtp_port, timeout=5),
        "pbxops <noreply@pbxops.example>",
        CodeVault(b"provisioning-test-secret-0123"),
    )


def details(uid: str, **overrides: Any) -> CustomerDetails:
    return CustomerDetails(
        **{"name": f"Cust {uid}", "product_type": "professional", "country": "IT", **overrides}
    )


async def created(acts: ProvisioningActivities, uid: str, wf: str, **overrides: Any) -> str:
    account = await activity_env("create-account", wf).run(
        acts.create_account,
        CreateAccount(
            reseller=f"r-{uid}",
            customer=details(uid, **overrides),
            support_contacts=[ContactRef(partner=f"p-{uid}"), ContactRef(email="help@x.example")],
        ),
    )
    return account.id


def mails_to(simulator: Stack, address: str) -> list[dict[str, Any]]:
    return httpx.get(
        f"{simulator.platform_url}/api/v1/search",
        params={"query": f"to:{address}"},
        headers=ADMIN_HEADERS,
    ).json()["messages"]


async def test_the_four_steps_with_2000_users_and_sub_accounts(simulator: Stack, http, mail, uid):
    host = setup_portal(simulator, uid)
    acts = ProvisioningActivities(http, mail)
    wf = f"customer-provisioning/r-{uid}/cust-{uid}"

    account_id = await created(acts, uid, wf)
    again = await activity_env("create-account", wf).run(
        acts.create_account,
        CreateAccount(
            reseller=f"r-{uid}",
            customer=details(uid),
            support_contacts=[ContactRef(email="help@x.example")],
        ),
    )
    assert again.id == account_id  # a retried step replays: no second account, no 409

    admin = AdminUser(name="Marta", email=f"user00001@{uid}.example")
    invite = InviteAdmin(account_id=account_id, customer_name=f"Cust {uid}", admin=admin)
    sent = await activity_env("invite-admin-1", wf).run(acts.invite_admin, invite)
    resent = await activity_env("invite-admin-1", wf).run(acts.invite_admin, invite)
    assert resent.message_id == sent.message_id
    [invitation] = mails_to(simulator, admin.email)  # the retry's resend was dropped
    text = httpx.get(
        f"{simulator.platform_url}/api/v1/message/{invitation['ID']}", headers=ADMIN_HEADERS
    ).json()["Text"]
    assert "https://portal.pbx.example/invitations/" in text
    assert "invitations/" not in sent.model_dump_json()

    spec = PbxConnectionSpec(host=host, auto_provision_sub_accounts=True)
    await activity_env("configure-pbx", wf).run(
        acts.configure_pbx, ConfigurePbx(account_id=account_id, pbx=spec)
    )
    discovery = await activity_env("connect-pbx", wf).run(
        acts.connect_pbx, AccountRef(account_id=account_id)
    )
    assert discovery.users_total == 2007 and discovery.sub_accounts_total == 1

    cursor, batches, synced = None, 0, 0
    while True:
        batches += 1
        progress = await activity_env(f"sync-users-{batches}", wf).run(
            acts.sync_pbx_users,
            SyncUsersRequest(
                account_id=account_id,
                country="IT",
                include_sub_accounts=True,
                cursor=cursor,
                page_size=200,
                batch_users=500,
            ),
        )
        synced += progress.synced_in_batch
        cursor = progress.cursor
        if progress.done:
            break
    assert synced == 2007 and batches == 5
    assert progress.account_users == 2007  # the Admin with the same email is one user

    monitoring = await activity_env("start-monitoring", wf).run(
        acts.start_monitoring,
        StartMonitoring(account_id=account_id, include_sub_accounts=True, page_size=1),
    )
    assert monitoring.calls and monitoring.agent_status and monitoring.sub_accounts_monitored == 1

    roles = await activity_env("assign-roles", wf).run(
        acts.assign_roles,
        AssignRoles(
            account_id=account_id,
            roles=RoleSetup(
                default_roles=["Agent"],
                assignments=[{"user": f"user00002@{uid}.example", "roles": ["Supervisor"]}],
            ),
        ),
    )
    assert roles.applied == 2007 and roles.pending == []
    live = await activity_env("activate-account", wf).run(
        acts.activate_account, AccountRef(account_id=account_id)
    )
    assert live.state == "active" and live.users == 2007 and live.admins == 1
    assert live.connection and live.connection.state == "monitoring"
    with simulator.api() as api:
        page = api.get(f"/pbx/customers/{account_id}/users", params={"limit": 3}).json()
    marta, second = page["items"][0], page["items"][1]
    assert marta["roles"] == ["Admin", "Agent"] and marta["pbx_user_id"] == "00001"
    assert second["roles"] == ["Supervisor"]
    # Numbers stored on the PBX in national format come out in E.164, by the customer's country.
    assert second["phone_e164"].startswith("+39")


async def test_a_retried_sync_resumes_from_its_heartbeat(simulator: Stack, http, mail, uid):
    host = setup_portal(simulator, uid, users=450)
    acts = ProvisioningActivities(http, mail)
    wf = f"customer-provisioning/r-{uid}/cust-{uid}"
    account_id = await created(acts, uid, wf)
    await activity_env("configure-pbx", wf).run(
        acts.configure_pbx, ConfigurePbx(account_id=account_id, pbx=PbxConnectionSpec(host=host))
    )
    await activity_env("connect-pbx", wf).run(acts.connect_pbx, AccountRef(account_id=account_id))
    request = SyncUsersRequest(
        account_id=account_id, country="IT", include_sub_accounts=False, batch_users=1000
    )

    # A second attempt that inherits "200 done up to 00200" reads only the rest.
    progress = await activity_env(
        "sync-users-1", wf, heartbeats=[{"cursor": "00200", "synced": 200}]
    ).run(acts.sync_pbx_users, request)

    assert progress.done and progress.synced_in_batch == 450
    assert progress.account_users == 250  # users 00201…00450: the first 200 were never re-read


async def test_connect_refused_is_non_retryable_and_undo_removes_everything(
    simulator: Stack, http, mail, uid
):
    host = setup_portal(simulator, uid, users=5, connect_error="authentication failed")
    acts = ProvisioningActivities(http, mail)
    wf = f"customer-provisioning/r-{uid}/cust-{uid}"
    account_id = await created(acts, uid, wf)
    await activity_env("configure-pbx", wf).run(
        acts.configure_pbx, ConfigurePbx(account_id=account_id, pbx=PbxConnectionSpec(host=host))
    )

    with pytest.raises(ApplicationError) as err:
        await activity_env("connect-pbx", wf).run(
            acts.connect_pbx, AccountRef(account_id=account_id)
        )
    assert err.value.non_retryable
    assert err.value.message == (f"could not connect to the PBX at '{host}': authentication failed")

    undone = await activity_env("undo-pbx", wf).run(
        acts.remove_pbx, RemovePbx(account_id=account_id, keep_disabled=False)
    )
    deleted = await activity_env("undo-create-account", wf).run(
        acts.delete_account, AccountRef(account_id=account_id)
    )
    again = await activity_env("undo-create-account-2", wf).run(
        acts.delete_account, AccountRef(account_id=account_id)
    )
    assert undone.done and deleted.done and not again.done
    with simulator.api() as api:
        assert api.get(f"/pbx/customers/{account_id}").status_code == 404


async def test_an_unreachable_pbx_is_retryable(simulator: Stack, http, mail, uid):
    host = setup_portal(simulator, uid, users=5, reachable=False)
    acts = ProvisioningActivities(http, mail)
    wf = f"customer-provisioning/r-{uid}/cust-{uid}"
    account_id = await created(acts, uid, wf)
    await activity_env("configure-pbx", wf).run(
        acts.configure_pbx, ConfigurePbx(account_id=account_id, pbx=PbxConnectionSpec(host=host))
    )
    with pytest.raises(ApplicationError) as err:
        await activity_env("connect-pbx", wf).run(
            acts.connect_pbx, AccountRef(account_id=account_id)
        )
    assert not err.value.non_retryable and err.value.type == "PlatformUnavailable"


async def test_update_refuses_an_immutable_product_type(simulator: Stack, http, mail, uid):
    setup_portal(simulator, uid, users=0)
    acts = ProvisioningActivities(http, mail)
    wf = f"customer-update/{uid}"
    account_id = await created(acts, uid, wf, product_type="contact-centre")

    with pytest.raises(ApplicationError) as err:
        await activity_env("update-account", wf).run(
            acts.update_account,
            UpdateAccount(account_id=account_id, changes=AccountChanges(product_type="essentials")),
        )
    assert err.value.non_retryable and err.value.type == "PlatformRejected409"
    assert "cannot be changed once assigned" in err.value.message


async def test_contacts_and_a_problem_report(simulator: Stack, http, mail, uid):
    setup_portal(simulator, uid, users=0)
    acts = ProvisioningActivities(http, mail)
    support = SupportActivities(http)
    account_id = await created(acts, uid, f"customer-provisioning/r-{uid}/x")

    changed = await activity_env("add-contact", f"support-contacts/{account_id}").run(
        support.change_contacts,
        SupportContactsChangeInput(
            account_id=account_id,
            action=ContactAction.ADD,
            contact=ContactRef(email="night@x.example"),
            acting_as=ActingAs.ADMIN,
        ),
    )
    assert [c.email for c in changed.contacts] == [
        f"pat@r-{uid}.example",
        "help@x.example",
        "night@x.example",
    ]
    with pytest.raises(ApplicationError) as err:
        await activity_env("add-contact", f"support-contacts/{account_id}/2").run(
            support.change_contacts,
            SupportContactsChangeInput(
                account_id=account_id,
                action=ContactAction.ADD,
                contact=ContactRef(partner=f"p-{uid}"),
                acting_as=ActingAs.ADMIN,
            ),
        )
    assert err.value.type == "PlatformRejected403"

    report = await activity_env("record-report", f"problem-report/{account_id}/PR-1").run(
        support.create_report,
        ProblemReportInput(
            account_id=account_id, report_id="PR-1", application="App", description="broken"
        ),
    )
    assert report.customer_name == f"Cust {uid}" and len(report.contacts) == 3


def test_numbers_are_formatted_by_the_customer_country():
    assert e164("02 8000 0200", "IT") == "+390280000200"
    assert e164("01 23 45 67 89", "FR") == "+33123456789"
    assert e164("not a number", "IT") is None and e164(None, "IT") is None
