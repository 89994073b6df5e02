"""In-memory support view, device portal, billing panel, helpdesk and mailbox for workflow tests
of the number package removal, registered under the real activity names.

Its helpdesk and mailbox are the shared ones (fake_helpdesk.py).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from pbxops.contracts.number_removal import (
    BillingAccountRef,
    BillingLink,
    DeleteDevice,
    DeviceDeleted,
    LookupNumbers,
    NumberActivities,
    NumberRecord,
    NumberRecords,
    RemovalVerified,
    RequesterCheck,
    RequesterVerdict,
    VerifyRemoval,
)
from tests.workflows.fake_helpdesk import FakeHelpdesk, activity_key

ECOM, DIRECT = "Ecom2Checkout1515", "CKSWDirectAdv1515"


def rejected(message: str, status: int) -> ApplicationError:
    return ApplicationError(message, type=f"PlatformRejected{status}", non_retryable=True)


@dataclass
class FakeNumber:
    number: str
    soc_code: str = ECOM
    tenant_id: str = "acme"
    billing_account: str | None = "2CO-100231"
    label: str = ""
    deleted_at: datetime | None = None
    csu_shows_deletion: bool = True
    """False: CSU never shows the Deleted Datetime (verification cannot succeed)."""
    visible_after_polls: int = 0
    """CSU shows the deletion only after this many unsuccessful verification polls."""
    locked_reason: str | None = None

    @property
    def device_id(self) -> str:
        return f"dev-{self.number[-4:]}"


@dataclass
class FakeNumberWorld(FakeHelpdesk):
    numbers: dict[str, FakeNumber] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(
        default_factory=lambda: {"giulia@acme.example": ["Admin"], "ugo@acme.example": ["User"]}
    )
    tenant_id: str = "acme"
    tenant_name: str = "ACME S.r.l."
    links: dict[str, str] = field(
        default_factory=lambda: {"2CO-100231": "https://2co.example/acct/2CO-100231/update"}
    )
    fail_deletes: int = 0
    """Answer the next N deletions with a transient 5xx (the step is retried)."""
    delete_calls: Counter[str] = field(default_factory=Counter)
    verify_calls: Counter[str] = field(default_factory=Counter)
    _delete_keys: dict[str, str] = field(default_factory=dict)

    def add(self, *numbers: FakeNumber) -> "FakeNumberWorld":
        for item in numbers:
            self.numbers[item.number] = item
        return self

    def activities(self) -> list:
        world = self

        @activity.defn(name=NumberActivities.CHECK_REQUESTER)
        async def check_requester(check: RequesterCheck) -> RequesterVerdict:
            if check.tenant_id != world.tenant_id:
                raise rejected(f"tenant '{check.tenant_id}' not found", 404)
            roles = world.roles.get(str(check.email), [])
            allowed = any(role in ("Admin", "Super User") for role in roles)
            return RequesterVerdict(
                tenant_id=check.tenant_id,
                tenant_name=world.tenant_name,
                allowed=allowed,
                roles=roles,
            )

        @activity.defn(name=NumberActivities.LOOKUP)
        async def lookup(req: LookupNumbers) -> NumberRecords:
            records = []
            for number in req.numbers:
                item = world.numbers.get(number)
                if item is None:
                    records.append(NumberRecord(number=number, found=False))
                    continue
                records.append(
                    NumberRecord(
                        number=number,
                        found=True,
                        tenant_id=item.tenant_id,
                        company=world.tenant_name,
                        soc_code=item.soc_code,
                        billing_account=item.billing_account,
                        deleted_at=item.deleted_at if item.csu_shows_deletion else None,
                        device_id=None if item.deleted_at else item.device_id,
                        label=item.label or None,
                    )
                )
            return NumberRecords(records=records)

        @activity.defn(name=NumberActivities.BILLING_LINK)
        async def billing_link(ref: BillingAccountRef) -> BillingLink:
            if ref.account_number not in world.links:
                raise rejected(f"account '{ref.account_number}' not found", 404)
            return BillingLink(
                account_number=ref.account_number,
                company=world.tenant_name,
                update_subscription_url=world.links[ref.account_number],
            )

        @activity.defn(name=NumberActivities.DELETE_DEVICE)
        async def delete_device(req: DeleteDevice) -> DeviceDeleted:
            world.delete_calls[req.number] += 1
            if world.fail_deletes > 0:
                world.fail_deletes -= 1
                raise ApplicationError("answered 500: injected fault", type="PlatformUnavailable")
            item = world.numbers[req.number]
            key = activity_key()
            if item.deleted_at is not None and world._delete_keys.get(req.number) != key:
                raise rejected(f"device {item.device_id} was already deleted", 409)
            if item.locked_reason:
                raise rejected(
                    f"device {item.device_id} ({item.number}) cannot be deleted: "
                    f"{item.locked_reason}",
                    409,
                )
            if item.deleted_at is None:
                item.deleted_at = datetime.now(UTC)
                world._delete_keys[req.number] = key
            return DeviceDeleted(
                number=item.number, device_id=item.device_id, deleted_at=item.deleted_at
            )

        @activity.defn(name=NumberActivities.VERIFY_REMOVED)
        async def verify_removed(req: VerifyRemoval) -> RemovalVerified:
            world.verify_calls[req.number] += 1
            item = world.numbers[req.number]
            polls = world.verify_calls[req.number]
            if not item.csu_shows_deletion or polls <= item.visible_after_polls:
                raise ApplicationError(
                    f"the support view shows no Deleted Datetime for {req.number} yet",
                    type="RemovalNotVisibleYet",
                    category=ApplicationErrorCategory.BENIGN,
                )
            assert item.deleted_at is not None
            return RemovalVerified(number=req.number, deleted_at=item.deleted_at)

        return [
            *self.helpdesk_activities(),
            check_requester,
            lookup,
            billing_link,
            delete_device,
            verify_removed,
        ]
