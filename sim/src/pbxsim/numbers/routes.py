"""The phone-number systems of the provider, as the number package removal sees them.

- ``/csu``: the **support view** (CSU). Every number's record with its subscription's SOC code and
  its **Deleted Datetime** (blank until the removal has reached CSU).
- ``/streetsmart``: the **device portal**. A company's devices; "Delete Device".
- ``/ecommerce``: the **e-commerce billing panel** (2Checkout). Each account's "update
  subscription" link.
- ``/admin/numbers``: shaping numbers for tests and demos (the platform's bearer token).

The first three take the operator's own accounts (HTTP Basic, checked against the vault, see
``pbxsim.numbers.vault``), never the platform token. See API.md, "Phone numbers".
"""

import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pbxops.contracts.lifecycle import Action
from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.deps import get_db, require_admin
from pbxsim.errors import ConflictError, NotFoundError, SimulatorError
from pbxsim.numbers.models import EcommerceAccount, NumberDevice
from pbxsim.numbers.vault import (
    open_vault,
    require_csu,
    require_device_portal,
    require_ecommerce,
)
from pbxsim.pbx.models import Tenant
from pbxsim.pbx.tenants import get_tenant, require_allowed

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ECOMMERCE_SOC_PREFIX = "ecom2checkout"


class InvalidNumberError(SimulatorError):
    status_code = 422


def normalise(number: str) -> str:
    """The systems search by E.164; a missing ``+`` is forgiven, anything else is refused."""
    candidate = number.strip().replace(" ", "")
    if candidate and not candidate.startswith("+"):
        candidate = "+" + candidate
    if not E164.match(candidate):
        raise InvalidNumberError(f"'{number}' is not an E.164 phone number (e.g. +390280881001)")
    return candidate


# --- bodies ------------------------------------------------------------------------------------


class CsuRecord(BaseModel):
    number: str
    tenant_id: str
    company: str
    device_id: str
    label: str
    soc_code: str
    billing_account: str | None
    created_datetime: datetime
    deleted_datetime: datetime | None


class CompanyOut(BaseModel):
    id: str
    name: str


class PortalDevice(BaseModel):
    device_id: str
    number: str
    label: str


class DeviceDeletedOut(BaseModel):
    device_id: str
    number: str
    deleted_at: datetime


class AccountOut(BaseModel):
    account_number: str
    company: str
    licences: int
    update_subscription_url: str


class DeviceSpec(BaseModel):
    number: str
    label: str = ""
    soc_code: str = Field(default="CKSWDirectAdv1515", min_length=1, max_length=64)
    billing_account: str | None = None
    """Defaults to the tenant's e-commerce account for Ecom2Checkout* SOC codes."""
    csu_sync_seconds: float | None = Field(default=0.0, ge=0)
    """Seconds until CSU shows the Deleted Datetime; null: never (verification cannot succeed)."""
    locked_reason: str | None = None
    """When set, the device portal refuses to delete the device with this sentence."""

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        if not E164.match(value):
            raise ValueError("must be an E.164 number, e.g. +390280881001")
        return value


class AccountSpec(BaseModel):
    account_number: str = Field(min_length=1, max_length=64)
    licences: int = Field(default=0, ge=0)
    update_subscription_url: str | None = None


class NumbersIn(BaseModel):
    ecommerce_account: AccountSpec | None = None
    devices: list[DeviceSpec] = Field(default_factory=list)

    @field_validator("devices")
    @classmethod
    def _unique(cls, devices: list[DeviceSpec]) -> list[DeviceSpec]:
        numbers = [device.number for device in devices]
        if len(numbers) != len(set(numbers)):
            raise ValueError("each number may appear only once")
        return devices


class AdminDevice(DeviceSpec):
    device_id: str
    created_at: datetime
    deleted_at: datetime | None


class NumbersOut(BaseModel):
    tenant_id: str
    ecommerce_account: AccountOut | None
    devices: list[AdminDevice]


class NumberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csu_sync_seconds: float | None = Field(default=None, ge=0)
    locked_reason: str | None = None


# --- reading and writing -----------------------------------------------------------------------


def csu_deleted_datetime(device: NumberDevice, now: datetime) -> datetime | None:
    """What CSU shows: the Deleted Datetime once the removal has reached it (the sync knob)."""
    if device.deleted_at is None or device.csu_sync_seconds is None:
        return None
    if now < device.deleted_at + timedelta(seconds=device.csu_sync_seconds):
        return None
    return device.deleted_at


def _company(session: Session, tenant_id: str) -> str:
    tenant = session.get(Tenant, tenant_id)
    return tenant.name if tenant else tenant_id


def csu_record(session: Session, device: NumberDevice, now: datetime) -> CsuRecord:
    return CsuRecord(
        number=device.number,
        tenant_id=device.tenant_id,
        company=_company(session, device.tenant_id),
        device_id=device.id,
        label=device.label,
        soc_code=device.soc_code,
        billing_account=device.billing_account,
        created_datetime=device.created_at,
        deleted_datetime=csu_deleted_datetime(device, now),
    )


def latest_device(session: Session, number: str) -> NumberDevice | None:
    """The number's current device, else its most recent removed one."""
    rows = session.scalars(select(NumberDevice).where(NumberDevice.number == number)).all()
    active = [row for row in rows if row.deleted_at is None]
    if active:
        return active[0]
    return max(rows, key=lambda row: row.created_at, default=None)


def tenant_devices(session: Session, tenant_id: str) -> Sequence[NumberDevice]:
    return session.scalars(
        select(NumberDevice)
        .where(NumberDevice.tenant_id == tenant_id)
        .order_by(NumberDevice.number, NumberDevice.created_at)
    ).all()


def account_out(account: EcommerceAccount) -> AccountOut:
    return AccountOut(
        account_number=account.account_number,
        company=account.company,
        licences=account.licences,
        update_subscription_url=account.update_subscription_url,
    )


def default_update_link(account_number: str) -> str:
    return (
        f"https://secure.2checkout.example/subscriptions/{account_number}/update"
        f"?token={secrets.token_hex(8)}"
    )


def admin_device(device: NumberDevice) -> AdminDevice:
    return AdminDevice(
        number=device.number,
        label=device.label,
        soc_code=device.soc_code,
        billing_account=device.billing_account,
        csu_sync_seconds=device.csu_sync_seconds,
        locked_reason=device.locked_reason,
        device_id=device.id,
        created_at=device.created_at,
        deleted_at=device.deleted_at,
    )


def numbers_out(session: Session, tenant_id: str) -> NumbersOut:
    account = session.scalar(
        select(EcommerceAccount).where(EcommerceAccount.tenant_id == tenant_id)
    )
    return NumbersOut(
        tenant_id=tenant_id,
        ecommerce_account=account_out(account) if account else None,
        devices=[admin_device(device) for device in tenant_devices(session, tenant_id)],
    )


def new_device(
    tenant_id: str, spec: DeviceSpec, account: str | None, now: datetime
) -> NumberDevice:
    billing = spec.billing_account
    if billing is None and spec.soc_code.lower().startswith(ECOMMERCE_SOC_PREFIX):
        billing = account
    return NumberDevice(
        id=f"dev-{secrets.token_hex(6)}",
        tenant_id=tenant_id,
        number=spec.number,
        label=spec.label,
        soc_code=spec.soc_code,
        billing_account=billing,
        created_at=now,
        csu_sync_seconds=spec.csu_sync_seconds,
        locked_reason=spec.locked_reason,
    )


def ensure_account(
    session: Session, tenant: Tenant, spec: AccountSpec, *, replace: bool
) -> EcommerceAccount:
    account = session.get(EcommerceAccount, spec.account_number)
    if account is not None and account.tenant_id != tenant.id:
        raise ConflictError(
            f"e-commerce account '{spec.account_number}' belongs to tenant '{account.tenant_id}'"
        )
    if account is None:
        account = EcommerceAccount(
            account_number=spec.account_number,
            tenant_id=tenant.id,
            company=tenant.name,
            licences=spec.licences,
            update_subscription_url=spec.update_subscription_url
            or default_update_link(spec.account_number),
        )
        session.add(account)
    elif replace:
        account.company = tenant.name
        account.licences = spec.licences
        if spec.update_subscription_url:
            account.update_subscription_url = spec.update_subscription_url
    return account


def put_numbers(session: Session, tenant_id: str, spec: NumbersIn, now: datetime) -> NumbersOut:
    tenant = get_tenant(session, tenant_id)
    for device in spec.devices:
        owner = session.scalar(
            select(NumberDevice).where(
                NumberDevice.number == device.number,
                NumberDevice.deleted_at.is_(None),
                NumberDevice.tenant_id != tenant_id,
            )
        )
        if owner is not None:
            raise ConflictError(
                f"number {device.number} is a device of tenant '{owner.tenant_id}'; "
                "remove it there first"
            )
    session.execute(delete(NumberDevice).where(NumberDevice.tenant_id == tenant_id))
    keep = spec.ecommerce_account.account_number if spec.ecommerce_account else None
    session.execute(
        delete(EcommerceAccount).where(
            EcommerceAccount.tenant_id == tenant_id, EcommerceAccount.account_number != keep
        )
    )
    account = (
        ensure_account(session, tenant, spec.ecommerce_account, replace=True)
        if spec.ecommerce_account
        else None
    )
    number = account.account_number if account else None
    session.add_all(new_device(tenant_id, device, number, now) for device in spec.devices)
    session.flush()
    return numbers_out(session, tenant_id)


def delete_device(
    session: Session, tenant_id: str, device_id: str, key: str | None, now: datetime
) -> tuple[NumberDevice, bool]:
    """Delete Device; returns the device and whether this answer replays an earlier one."""
    get_tenant(session, tenant_id)
    device = session.get(NumberDevice, device_id)
    if device is None or device.tenant_id != tenant_id:
        raise NotFoundError(f"device '{device_id}' not found for company '{tenant_id}'")
    if device.deleted_at is not None:
        if key is not None and key == device.delete_key:
            return device, True
        raise ConflictError(
            f"device {device_id} ({device.number}) was already deleted at "
            f"{device.deleted_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    # Only an active service's numbers are removed (a deletion releases them all itself).
    require_allowed(session.connection(), tenant_id, Action.NUMBER_REMOVAL)
    if device.locked_reason:
        raise ConflictError(
            f"device {device_id} ({device.number}) cannot be deleted: {device.locked_reason}"
        )
    device.deleted_at = now
    device.delete_key = key
    return device, False


# --- routes ------------------------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Provision the operator accounts before the simulator answers its first request."""
    app.state.operator_vault = open_vault(app.state.settings.db)
    yield


router = APIRouter(lifespan=_lifespan)
csu = APIRouter(prefix="/csu", tags=["csu"], dependencies=[Depends(require_csu)])
portal = APIRouter(
    prefix="/streetsmart", tags=["device portal"], dependencies=[Depends(require_device_portal)]
)
ecommerce = APIRouter(
    prefix="/ecommerce", tags=["e-commerce"], dependencies=[Depends(require_ecommerce)]
)
admin = APIRouter(prefix="/admin/numbers", tags=["admin"], dependencies=[Depends(require_admin)])


@csu.get("/numbers/{number}")
def csu_number(number: str, db: Database = Depends(get_db)) -> CsuRecord:
    wanted = normalise(number)
    with db.transaction() as session:
        device = latest_device(session, wanted)
        if device is None:
            raise NotFoundError(f"number {wanted} not found")
        return csu_record(session, device, utcnow())


@csu.get("/numbers")
def csu_numbers(
    tenant_id: str = Query(description="the company's tenant id"), db: Database = Depends(get_db)
) -> list[CsuRecord]:
    now = utcnow()
    with db.transaction() as session:
        return [csu_record(session, d, now) for d in tenant_devices(session, tenant_id)]


@portal.get("/companies")
def companies(
    name: str = Query(default="", description="part of the company's name"),
    db: Database = Depends(get_db),
) -> list[CompanyOut]:
    with db.transaction() as session:
        tenants = session.scalars(select(Tenant).order_by(Tenant.id)).all()
        wanted = name.lower()
        return [CompanyOut(id=t.id, name=t.name) for t in tenants if wanted in t.name.lower()]


@portal.get("/companies/{tenant_id}/devices")
def devices(tenant_id: str, db: Database = Depends(get_db)) -> list[PortalDevice]:
    """View Devices: a removed device is no longer listed."""
    with db.transaction() as session:
        get_tenant(session, tenant_id)
        return [
            PortalDevice(device_id=d.id, number=d.number, label=d.label)
            for d in tenant_devices(session, tenant_id)
            if d.deleted_at is None
        ]


@portal.delete("/companies/{tenant_id}/devices/{device_id}")
def delete_device_route(
    tenant_id: str,
    device_id: str,
    response: Response,
    idempotency_key: str | None = Header(default=None, max_length=500),
    db: Database = Depends(get_db),
) -> DeviceDeletedOut:
    with db.transaction() as session:
        device, replayed = delete_device(session, tenant_id, device_id, idempotency_key, utcnow())
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        assert device.deleted_at is not None
        return DeviceDeletedOut(
            device_id=device.id, number=device.number, deleted_at=device.deleted_at
        )


@ecommerce.get("/accounts/{account_number}")
def account(account_number: str, db: Database = Depends(get_db)) -> AccountOut:
    with db.transaction() as session:
        found = session.get(EcommerceAccount, account_number)
        if found is None:
            raise NotFoundError(f"account '{account_number}' not found")
        return account_out(found)


@admin.put("/tenants/{tenant_id}")
def put(tenant_id: str, body: NumbersIn, db: Database = Depends(get_db)) -> NumbersOut:
    """Replace the tenant's numbers (removed ones included) and its e-commerce account."""
    with db.transaction() as session:
        return put_numbers(session, tenant_id, body, utcnow())


@admin.get("/tenants/{tenant_id}")
def get(tenant_id: str, db: Database = Depends(get_db)) -> NumbersOut:
    with db.transaction() as session:
        get_tenant(session, tenant_id)
        return numbers_out(session, tenant_id)


@admin.patch("/{number}")
def patch(number: str, body: NumberPatch, db: Database = Depends(get_db)) -> AdminDevice:
    """Change a number's knobs (its current device, else its latest removed one)."""
    wanted = normalise(number)
    with db.transaction() as session:
        device = latest_device(session, wanted)
        if device is None:
            raise NotFoundError(f"number {wanted} not found")
        for field, value in body.model_dump(exclude_unset=True).items():
            setattr(device, field, value)
        return admin_device(device)


router.include_router(csu)
router.include_router(portal)
router.include_router(ecommerce)
router.include_router(admin)
