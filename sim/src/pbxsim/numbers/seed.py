"""The demo tenants' phone numbers: one per path of the number package removal.

- acme: +39 02 8088 1001…1003, `Ecom2Checkout1515`, account 2CO-100231: the e-commerce path
  (update link, licences to decrease);
- globex: +39 06 4567 2001…2002, `CKSWDirectAdv1515`: the direct path;
- initech: +39 011 555 3001 `LegacyBundle0909` (unknown SOC code: a ticket, nothing removed),
  +39 011 555 3002 (CSU never shows the deletion: the verification ticket), +39 011 555 3003
  (locked by a porting request: the portal refuses the deletion).

Idempotent: a number is created only if the tenant never had it, so a number removed in a demo
stays removed after a re-seed (reset it with ``PUT /admin/numbers/tenants/{id}``).
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pbxsim.clock import utcnow
from pbxsim.numbers.models import NumberDevice
from pbxsim.numbers.routes import AccountSpec, DeviceSpec, ensure_account, new_device
from pbxsim.pbx.models import Tenant

ECOM, DIRECT = "Ecom2Checkout1515", "CKSWDirectAdv1515"


@dataclass(frozen=True)
class DemoNumbers:
    tenant_id: str
    account: str | None
    devices: tuple[DeviceSpec, ...]


DEMO_NUMBERS = (
    DemoNumbers(
        "acme",
        "2CO-100231",
        (
            DeviceSpec(number="+390280881001", label="Reception", soc_code=ECOM),
            DeviceSpec(number="+390280881002", label="Sales", soc_code=ECOM),
            DeviceSpec(number="+390280881003", label="Fax", soc_code=ECOM),
        ),
    ),
    DemoNumbers(
        "globex",
        None,
        (
            DeviceSpec(number="+390645672001", label="Front desk", soc_code=DIRECT),
            DeviceSpec(number="+390645672002", label="Warehouse", soc_code=DIRECT),
        ),
    ),
    DemoNumbers(
        "initech",
        None,
        (
            DeviceSpec(number="+390115553001", label="Help desk", soc_code="LegacyBundle0909"),
            DeviceSpec(number="+390115553002", label="Lab", soc_code=DIRECT, csu_sync_seconds=None),
            DeviceSpec(
                number="+390115553003",
                label="Porting",
                soc_code=DIRECT,
                locked_reason="the number is being ported to another carrier",
            ),
        ),
    ),
)


def seed_numbers(session: Session) -> None:
    """Upsert the demo numbers of the demo tenants that exist (they are seeded first)."""
    session.flush()
    now = utcnow()
    for demo in DEMO_NUMBERS:
        tenant = session.get(Tenant, demo.tenant_id)
        if tenant is None:
            continue
        account = None
        if demo.account:
            spec = AccountSpec(account_number=demo.account, licences=len(demo.devices) + 2)
            account = ensure_account(session, tenant, spec, replace=False).account_number
        known = set(
            session.scalars(
                select(NumberDevice.number).where(NumberDevice.tenant_id == demo.tenant_id)
            )
        )
        session.add_all(
            new_device(demo.tenant_id, spec, account, now)
            for spec in demo.devices
            if spec.number not in known
        )
