"""NumberPackageRemoval on the time-skipping test server, against in-memory systems.

Verification deadlines (15 minutes) and hard caps (hours) pass in milliseconds; assertions are about
what the procedure did (deletions, tickets, emails, per-number outcomes), never wall-clock time.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.number_removal import (
    BillingPath,
    NumberOutcome,
    NumberRemovalInput,
    NumberRemovalStatus,
    billing_path,
    removal_key,
)
from pbxops.contracts.procedures import Outcome, Procedure
from pbxops.workflows.number_removal import NumberPackageRemoval
from tests.workflows.fake_numbers import DIRECT, ECOM, FakeNumber, FakeNumberWorld
from tests.workflows.harness import serving

ADMIN = "giulia@acme.example"
N1, N2, N3 = "+390280881001", "+390280881002", "+390280881003"


@pytest_asyncio.fixture
async def world(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakeNumberWorld]:
    async with serving(time_skipping_env, FakeNumberWorld()) as fake:
        yield fake


async def start(
    env: WorkflowEnvironment,
    world: FakeNumberWorld,
    numbers: list[str],
    memo: dict[str, str] | None = None,
    **overrides,
) -> WorkflowHandle:
    inp = NumberRemovalInput(
        tenant_id=overrides.pop("tenant_id", "acme"),
        numbers=numbers,
        requested_by=overrides.pop("requested_by", ADMIN),
        **overrides,
    )
    return await env.client.start_workflow(
        NumberPackageRemoval.run,
        inp,
        id=Procedure.NUMBER_REMOVAL.workflow_id(f"{removal_key(numbers)}-{uuid.uuid4().hex[:6]}"),
        task_queue=world.task_queue,  # type: ignore[attr-defined]
        memo=memo,
    )


async def status(handle: WorkflowHandle) -> NumberRemovalStatus:
    return await handle.query("status", result_type=NumberRemovalStatus)


async def failure_of(handle: WorkflowHandle) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


# --- the two billing paths -----------------------------------------------------------------------


async def test_ecommerce_number_is_removed_and_customer_gets_link_and_licence_count(
    time_skipping_env, world
):
    world.add(FakeNumber(N1, ECOM, label="Reception"))

    result = await (await start(time_skipping_env, world, [N1])).result()

    assert [(s.number, s.outcome) for s in result.numbers] == [(N1, NumberOutcome.REMOVED)]
    assert result.numbers[0].billing == BillingPath.ECOMMERCE
    assert result.removed == 1 and result.licences_to_decrease == 1
    assert [link.account_number for link in result.billing_links] == ["2CO-100231"]
    assert world.numbers[N1].deleted_at is not None
    assert world.tickets == []
    [mail] = world.mails
    assert mail.to == [ADMIN]
    assert mail.subject == "Phone number removal complete: ACME S.r.l."
    assert "https://2co.example/acct/2CO-100231/update" in mail.text
    assert "decrease the number of licences by 1" in mail.text
    assert f"{N1} (Reception): removed on" in mail.text


async def test_who_started_the_removal_is_in_its_status_and_result(time_skipping_env, world):
    world.add(FakeNumber(N1, DIRECT, billing_account=None))

    # The operator who ran `pbxops number remove` (the start's memo), not the customer's Admin
    # who asked for it (requested_by, who gets the email).
    memo = {"started_by": "ops@provider.example"}
    handle = await start(time_skipping_env, world, [N1], memo=memo)
    result = await handle.result()

    assert (result.started_by, result.requested_by) == ("ops@provider.example", ADMIN)
    assert (await status(handle)).started_by == "ops@provider.example"


async def test_direct_number_is_removed_without_any_billing_link(time_skipping_env, world):
    world.add(FakeNumber(N1, DIRECT, billing_account=None))

    result = await (await start(time_skipping_env, world, [N1])).result()

    assert result.numbers[0].outcome == NumberOutcome.REMOVED
    assert result.numbers[0].billing == BillingPath.DIRECT
    assert result.billing_links == [] and result.licences_to_decrease == 0
    [mail] = world.mails
    assert "2Checkout" not in mail.text and "http" not in mail.text
    assert "billed directly; nothing to do" in mail.text


async def test_several_numbers_make_one_email_with_the_right_licence_count(
    time_skipping_env, world
):
    world.add(FakeNumber(N1), FakeNumber(N2), FakeNumber(N3))
    handle = await start(time_skipping_env, world, [N3, N1, N2])

    result = await handle.result()

    assert result.removed == 3 and result.licences_to_decrease == 3
    assert sum(world.delete_calls.values()) == 3  # each number one deletion
    [mail] = world.mails
    assert "decrease the number of licences by 3" in mail.text
    assert mail.text.count("removed on") == 3


# --- handing over and deadlines -----------------------------------------------------------------


async def test_unknown_soc_code_opens_one_ticket_and_stops(time_skipping_env, world):
    world.add(FakeNumber(N1, "LegacyBundle0909", billing_account=None, label="Help desk"))
    handle = await start(time_skipping_env, world, [N1])

    error = await failure_of(handle)

    [ticket] = world.tickets
    assert "1 number needs manual handling" in ticket.subject
    assert "unknown SOC code 'LegacyBundle0909'" in ticket.body
    assert error.type == "NothingRemoved"
    assert "unknown SOC code 'LegacyBundle0909'" in error.message
    assert f"support ticket {ticket.id}" in error.message
    assert world.delete_calls == {} and world.mails == []
    final = await status(handle)
    assert final.outcome == Outcome.FAILED and final.manual_ticket_id == ticket.id
    assert final.numbers[0].outcome == NumberOutcome.MANUAL


async def test_verification_never_showing_a_deleted_datetime_opens_a_ticket_at_the_deadline(
    time_skipping_env, world
):
    world.add(FakeNumber(N1, DIRECT, billing_account=None, csu_shows_deletion=False))
    handle = await start(time_skipping_env, world, [N1], verify_hard_cap=timedelta(hours=3))

    await time_skipping_env.sleep(timedelta(minutes=14))
    assert world.tickets == []
    assert (await status(handle)).numbers[0].outcome == NumberOutcome.VERIFYING

    await time_skipping_env.sleep(timedelta(minutes=2))
    [ticket] = world.tickets
    assert "not verified after 15 minutes" in ticket.subject
    assert N1 in ticket.body
    current = await status(handle)
    assert current.escalated and current.verification_ticket_id == ticket.id

    result = await handle.result()

    assert len(world.tickets) == 1 and ticket.status == "open"
    assert "Needs a person" in ticket.comments[-1]
    [state] = result.numbers
    assert state.outcome == NumberOutcome.NOT_VERIFIED
    assert "no Deleted Datetime" in state.detail and ticket.id in state.detail
    # The poll is the activity's retry policy: many polls, few history events.
    assert world.verify_calls[N1] > 10
    history = await handle.fetch_history()
    assert len(history.events) < 80
    [mail] = world.mails
    assert mail.subject.startswith("Phone number removal partly complete")
    assert "pending verification" in mail.text


async def test_late_verification_resolves_the_ticket(time_skipping_env, world):
    # The polls back off; the 17th (about 22 minutes in) is the first to see the deletion.
    world.add(FakeNumber(N1, visible_after_polls=16))
    handle = await start(time_skipping_env, world, [N1])

    result = await handle.result()

    assert result.numbers[0].outcome == NumberOutcome.REMOVED
    [ticket] = world.tickets
    assert ticket.status == "resolved" and "confirmed every removal" in ticket.comments[-1]
    assert result.verification_ticket_id == ticket.id
    assert "decrease the number of licences by 1" in world.mails[0].text


# --- billing is never left wrong (issue 15.5) ----------------------------------------------------


async def test_unverified_ecommerce_removal_still_gets_link_and_licence_count(
    time_skipping_env, world
):
    # Deleted on the device portal, but CSU never shows it: before, the customer got no billing
    # instruction at all and kept paying for a number that is gone.
    world.add(FakeNumber(N1, ECOM, label="Reception", csu_shows_deletion=False))

    result = await (
        await start(time_skipping_env, world, [N1], verify_hard_cap=timedelta(hours=1))
    ).result()

    assert result.numbers[0].outcome == NumberOutcome.NOT_VERIFIED
    assert result.licences_to_decrease == 1
    [ticket] = world.tickets  # one, opened at the deadline and commented on at the cap
    assert result.verification_ticket_id == ticket.id
    [mail] = world.mails
    assert "https://2co.example/acct/2CO-100231/update" in mail.text
    assert "decrease the number of licences by 1" in mail.text
    pending = f"Removed, pending verification (our support team follows it up, ticket {ticket.id})"
    assert pending in mail.text
    assert f"  - {N1} (Reception)\n" in mail.text
    assert "1 of these numbers is still pending verification" in mail.text


async def test_verified_and_unverified_removals_of_one_account_are_counted_together(
    time_skipping_env, world
):
    world.add(FakeNumber(N1, ECOM), FakeNumber(N2, ECOM, csu_shows_deletion=False))

    result = await (
        await start(time_skipping_env, world, [N1, N2], verify_hard_cap=timedelta(hours=1))
    ).result()

    outcomes = {s.number: s.outcome for s in result.numbers}
    assert outcomes == {N1: NumberOutcome.REMOVED, N2: NumberOutcome.NOT_VERIFIED}
    assert result.licences_to_decrease == 2
    assert [link.licences_to_decrease for link in result.billing_links] == [2]
    assert len(world.tickets) == 1
    [mail] = world.mails
    assert mail.text.count("https://2co.example/acct/2CO-100231/update") == 1
    assert "decrease the number of licences by 2" in mail.text
    assert "1 of these numbers is still pending verification" in mail.text


# --- refusals and failures ----------------------------------------------------------------------


async def test_a_requester_who_is_not_admin_or_super_user_changes_nothing(time_skipping_env, world):
    world.add(FakeNumber(N1))
    handle = await start(time_skipping_env, world, [N1], requested_by="ugo@acme.example")

    error = await failure_of(handle)

    assert error.type == "RequesterNotAllowed"
    assert "not an Admin or Super User of tenant 'acme' (their roles: User)" in error.message
    assert "ugo@" not in error.message  # no personal data in the failure shown in the UI
    assert world.delete_calls == {} and world.tickets == [] and world.mails == []
    assert world.numbers[N1].deleted_at is None


async def test_a_super_user_may_ask(time_skipping_env, world):
    world.roles["sara@acme.example"] = ["User", "Super User"]
    world.add(FakeNumber(N1, DIRECT))

    result = await (
        await start(time_skipping_env, world, [N1], requested_by="sara@acme.example")
    ).result()

    assert result.removed == 1


async def test_unknown_and_already_removed_numbers_remove_nothing(time_skipping_env, world):
    from datetime import UTC, datetime

    world.add(FakeNumber(N2, deleted_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC)))
    handle = await start(time_skipping_env, world, [N1, N2])

    error = await failure_of(handle)

    assert error.message == (
        f"nothing was removed: {N1}: this number is not known to CSU; "
        f"{N2}: already removed on 2026-01-05 09:30:00 UTC"
    )
    assert world.delete_calls == {} and world.mails == []


async def test_three_numbers_one_refused_is_explicit_in_email_and_status(time_skipping_env, world):
    world.add(
        FakeNumber(N1, label="Reception"),
        FakeNumber(N2, label="Sales"),
        FakeNumber(N3, label="Fax", locked_reason="the number is being ported"),
    )
    handle = await start(time_skipping_env, world, [N1, N2, N3])

    result = await handle.result()

    outcomes = {s.number: s.outcome for s in result.numbers}
    assert outcomes == {
        N1: NumberOutcome.REMOVED,
        N2: NumberOutcome.REMOVED,
        N3: NumberOutcome.NOT_REMOVED,
    }
    assert result.removed == 2 and result.licences_to_decrease == 2
    assert world.numbers[N3].deleted_at is None
    final = await status(handle)
    assert final.outcome == Outcome.COMPLETED
    [refused] = [s for s in final.numbers if s.number == N3]
    assert refused.detail.endswith("cannot be deleted: the number is being ported")
    [mail] = world.mails
    assert mail.subject == "Phone number removal partly complete: ACME S.r.l."
    assert "is done for 2 of them; the others are listed below" in mail.text
    assert "Not removed:" in mail.text
    assert f"{N3} (Fax): the removal was refused (device dev-1003 ({N3}) cannot be" in mail.text
    assert "decrease the number of licences by 2" in mail.text


async def test_a_failing_deletion_is_retried_and_deletes_once(time_skipping_env, world):
    world.add(FakeNumber(N1, DIRECT))
    world.fail_deletes = 2

    result = await (await start(time_skipping_env, world, [N1])).result()

    assert result.numbers[0].outcome == NumberOutcome.REMOVED
    assert world.delete_calls[N1] == 3


async def test_missing_billing_link_hands_the_number_over_before_deleting(time_skipping_env, world):
    world.add(FakeNumber(N1, billing_account="2CO-404"), FakeNumber(N2, DIRECT))

    result = await (await start(time_skipping_env, world, [N1, N2])).result()

    outcomes = {s.number: s.outcome for s in result.numbers}
    assert outcomes == {N1: NumberOutcome.MANUAL, N2: NumberOutcome.REMOVED}
    assert world.delete_calls == {N2: 1}
    [ticket] = world.tickets
    assert "account '2CO-404' not found" in ticket.body
    assert result.manual_ticket_id == ticket.id


# --- contracts ----------------------------------------------------------------------------------


def test_soc_codes_choose_the_billing_path():
    assert billing_path("Ecom2Checkout1515") == BillingPath.ECOMMERCE
    assert billing_path("ecom2checkout2020") == BillingPath.ECOMMERCE
    assert billing_path("CKSWDirectAdv1515") == BillingPath.DIRECT
    assert billing_path("CKSWDirectStd0101") == BillingPath.DIRECT
    assert billing_path("LegacyBundle0909") == BillingPath.UNKNOWN
    assert billing_path(None) == BillingPath.UNKNOWN


def test_the_request_is_keyed_by_its_lowest_number_whatever_the_order():
    assert removal_key([N3, N1, N2]) == removal_key([N1, N2, N3]) == N1
    assert Procedure.NUMBER_REMOVAL.workflow_id(removal_key([N2])) == f"number-removal/{N2}"


@pytest.mark.parametrize(
    "numbers, message",
    [
        (["0280881001"], "is not an E.164 number"),
        ([N1, N1], "only once"),
        ([], "at least 1"),
    ],
)
def test_input_accepts_only_unique_e164_numbers(numbers, message):
    with pytest.raises(ValidationError, match=message):
        NumberRemovalInput(tenant_id="acme", numbers=numbers, requested_by=ADMIN)


async def test_another_customers_number_is_skipped_and_nothing_of_it_is_shown(
    time_skipping_env, world
):
    world.add(FakeNumber(N1, DIRECT), FakeNumber(N2, DIRECT, tenant_id="globex", label="Lab 7"))

    result = await (await start(time_skipping_env, world, [N1, N2])).result()

    [mine, theirs] = result.numbers
    assert mine.outcome == NumberOutcome.REMOVED
    assert theirs.outcome == NumberOutcome.OTHER_CUSTOMER
    assert theirs.label is None and theirs.soc_code is None and theirs.device_id is None
    assert world.delete_calls == {N1: 1}
    assert "Lab 7" not in world.mails[0].text
    assert f"{N2}: not a number of this account" in world.mails[0].text
