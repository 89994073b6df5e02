"""HTTP API of the mobile-line (eSIM) area: the platform's (``/pbx``), the phone's (``/phone``)
and the demo controls (``/admin``). See API.md, "Mobile lines (eSIM)"."""

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response

from pbxsim.clock import as_utc, utcnow
from pbxsim.db import Database
from pbxsim.deps import get_db, require_admin, require_token
from pbxsim.mobile.platform import (
    ActivateIn,
    CallIn,
    CdrOut,
    CodeIn,
    CodeOut,
    DeletedOut,
    DeviceIn,
    DeviceOut,
    MobileOrgIn,
    MobileOrgOut,
    create_device,
    current_code,
    delete_device,
    device_out,
    expire_code,
    get_device,
    get_org,
    issue_code,
    list_cdrs,
    list_devices,
    org_out,
    phone_activate,
    phone_call,
    phone_deactivate,
    phone_reactivate,
    phone_remove,
    put_org,
)

router = APIRouter(prefix="/pbx", tags=["mobile"], dependencies=[Depends(require_token)])
phone = APIRouter(prefix="/phone", tags=["phone"], dependencies=[Depends(require_token)])
admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/tenants/{tenant_id}/mobile")
def organisation(tenant_id: str, db: Database = Depends(get_db)) -> MobileOrgOut:
    """The organisation's licence pool and mobile settings."""
    with db.reading() as session:
        return org_out(session, get_org(session, tenant_id))


@router.get("/tenants/{tenant_id}/mobile/devices")
def devices(
    tenant_id: str,
    user_id: str | None = Query(default=None),
    status: str | None = Query(default=None),
    db: Database = Depends(get_db),
) -> list[DeviceOut]:
    now = utcnow()
    with db.transaction() as session:
        found = list_devices(session, tenant_id, user_id, status)
        return [device_out(session, device, now) for device in found]


@router.put("/mobile/devices/{device_id}", status_code=201)
def put_device(
    device_id: str, body: DeviceIn, response: Response, db: Database = Depends(get_db)
) -> DeviceOut:
    """Assign a licence from the pool to the user (201); the same device again answers 200."""
    now = utcnow()
    with db.transaction() as session:
        device, created = create_device(session, device_id, body, now)
        if not created:
            response.status_code = 200
        return device_out(session, device, now)


@router.get("/mobile/devices/{device_id}")
def device(device_id: str, db: Database = Depends(get_db)) -> DeviceOut:
    now = utcnow()
    with db.transaction() as session:
        return device_out(session, get_device(session, device_id), now)


@router.post("/mobile/devices/{device_id}/activation-codes", status_code=201)
def new_code(device_id: str, body: CodeIn, db: Database = Depends(get_db)) -> CodeOut:
    """Generate a new activation code; every earlier code of the device is invalidated."""
    with db.transaction() as session:
        return issue_code(session, device_id, body, utcnow())


@router.get("/mobile/devices/{device_id}/activation-code")
def code(device_id: str, db: Database = Depends(get_db)) -> CodeOut:
    """The device's current code, to copy, email or print (operator credentials only)."""
    with db.transaction() as session:
        return current_code(session, device_id, utcnow())


@router.post("/mobile/devices/{device_id}/activation-codes/{code_id}/expire")
def expire(device_id: str, code_id: str, db: Database = Depends(get_db)) -> DeviceOut:
    with db.transaction() as session:
        return expire_code(session, device_id, code_id, utcnow())


@router.delete("/mobile/devices/{device_id}")
def delete(device_id: str, db: Database = Depends(get_db)) -> DeletedOut:
    with db.transaction() as session:
        return delete_device(session, device_id, utcnow())


@router.get("/cdrs")
def cdrs(
    tenant_id: str | None = Query(default=None),
    subclient_type: str | None = Query(default=None, description="e.g. Mobile_Network"),
    since: datetime | None = Query(default=None),
    limit: int = Query(default=1000, ge=1, le=10_000),
    db: Database = Depends(get_db),
) -> list[CdrOut]:
    """Call detail records, oldest first; online lines' calls are generated as time passes."""
    with db.transaction() as session:
        return list_cdrs(
            session,
            utcnow(),
            tenant_id=tenant_id,
            sub_client_type=subclient_type,
            since=as_utc(since) if since else None,
            limit=limit,
        )


@phone.post("/esim/activate")
def activate(body: ActivateIn, db: Database = Depends(get_db)) -> DeviceOut:
    """A phone downloads the eSIM profile with an activation code (QR, or typed in)."""
    with db.transaction() as session:
        return phone_activate(session, body, utcnow())


@phone.post("/devices/{device_id}/remove")
def remove(device_id: str, db: Database = Depends(get_db)) -> DeviceOut:
    with db.transaction() as session:
        return phone_remove(session, device_id, utcnow())


@phone.post("/devices/{device_id}/deactivate")
def deactivate(device_id: str, db: Database = Depends(get_db)) -> DeviceOut:
    with db.transaction() as session:
        return phone_deactivate(session, device_id, utcnow())


@phone.post("/devices/{device_id}/reactivate")
def reactivate(device_id: str, db: Database = Depends(get_db)) -> DeviceOut:
    with db.transaction() as session:
        return phone_reactivate(session, device_id, utcnow())


@phone.post("/devices/{device_id}/calls", status_code=201)
def call(device_id: str, body: CallIn | None = None, db: Database = Depends(get_db)) -> CdrOut:
    with db.transaction() as session:
        return phone_call(session, device_id, body or CallIn(), utcnow())


@admin.put("/tenants/{tenant_id}/mobile")
def put_organisation(
    tenant_id: str, body: MobileOrgIn, db: Database = Depends(get_db)
) -> MobileOrgOut:
    """Set the organisation's licence pool size and mobile settings."""
    with db.transaction() as session:
        return org_out(session, put_org(session, tenant_id, body))
