"""Mobile lines (eSIM) on the platform: licence pool, devices, activation codes, phone events, CDRs.

The rules, from the provider's document (the repository's docs/procedures.md#mobile-line):

- A device is ``pending_activation`` (grey: a code was generated and not used yet, or the user
  removed the line from the phone), ``online`` (green: activated) or ``offline`` (red: the user
  deactivated the service on the phone); ``deleted`` once deleted.
- A new activation code can be generated only while the device is pending activation, and it
  invalidates every earlier code. "Lost or stolen" deactivates the line on the lost phone and
  issues a new code from any status but deleted.
- A code is accepted once, if it is the device's current code and has not expired; the SM-DP+
  side generates its matching id. ``LPA:1$<SM-DP+ address>$<matching id>`` is what the QR holds.
- Deleting a device returns its licence to the pool.
- Every phone event is reported to the device's ``callback_url`` (the owning workflow's
  receiver) as a durable job callback, retried like the service jobs' callbacks.
- Online lines make calls; their call detail records carry sub-client type ``Mobile_Network``.
"""

import random
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from pbxops.contracts.lifecycle import Action
from pbxsim.errors import ConflictError, NotFoundError, SimulatorError
from pbxsim.mobile.models import (
    DEFAULT_SMDP_ADDRESS,
    ActivationCode,
    CallRecord,
    MobileDevice,
    MobileOrg,
)
from pbxsim.models import table
from pbxsim.pbx.models import Job, Tenant, User
from pbxsim.pbx.tenants import get_tenant, require_allowed
from pbxsim.pbx.transitions import CALLBACK_PENDING, DONE

PENDING, ONLINE, OFFLINE, DELETED = "pending_activation", "online", "offline", "deleted"
COLOURS = {PENDING: "grey", ONLINE: "green", OFFLINE: "red", DELETED: "none"}
CURRENT, USED, SUPERSEDED, EXPIRED, REVOKED = "current", "used", "superseded", "expired", "revoked"
MOBILE_NETWORK, DESK_PHONE = "Mobile_Network", "Desk_Phone"
EVENT_JOB_KIND = "mobile-event"
# Never more calls generated for one line in one read (a line left online for months).
_MAX_AUTO_CALLS = 50
# Unambiguous upper-case letters and digits (no 0/O, 1/I/L).
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class BadRequest(SimulatorError):
    status_code = 400


# --- bodies ------------------------------------------------------------------------------------


class MobileOrgIn(BaseModel):
    licences_total: int = Field(default=0, ge=0, le=100_000)
    suppress_emails: bool = False
    smdp_address: str = Field(default=DEFAULT_SMDP_ADDRESS, min_length=3, max_length=200)
    auto_calls_every_seconds: float | None = Field(default=None, gt=0)


class MobileOrgOut(MobileOrgIn):
    tenant_id: str
    licences_used: int
    licences_available: int


class DeviceIn(BaseModel):
    tenant_id: str
    user_id: str
    callback_url: str | None = None

    @field_validator("callback_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class CodeSummary(BaseModel):
    """A code without its secret."""

    code_id: str
    state: str
    reason: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class DeviceOut(BaseModel):
    id: str
    tenant_id: str
    user_id: str
    number: str
    status: str
    colour: str
    created_at: datetime
    deleted_at: datetime | None
    event_seq: int
    last_event: str | None
    last_event_at: datetime | None
    phone_holds_line: bool
    latest_code: CodeSummary | None
    licences_available: int


class CodeIn(BaseModel):
    reason: str = Field(default="new-code", pattern="^(provision|new-code|lost-stolen)$")
    validity_seconds: float = Field(default=90 * 86400, gt=0, le=3 * 365 * 86400)


class CodeUser(BaseModel):
    id: str
    name: str
    email: str


class CodeOut(CodeSummary):
    """A code with its secret: answered only to the operator's credentials."""

    device_id: str
    smdp_address: str
    matching_id: str
    activation_code: str
    """``LPA:1$<SM-DP+ address>$<matching id>``: what the QR holds, and the code Android asks
    for (the network-provider code)."""
    suppress_emails: bool
    user: CodeUser
    device: DeviceOut


class DeletedOut(BaseModel):
    device: DeviceOut
    licences_available: int
    suppress_emails: bool
    user: CodeUser | None


class ActivateIn(BaseModel):
    activation_code: str = Field(min_length=4, max_length=300)


class CallIn(BaseModel):
    to: str = Field(default="+390212345678", min_length=3, max_length=32)
    duration_seconds: int = Field(default=60, ge=0, le=86_400)
    direction: str = Field(default="outgoing", pattern="^(outgoing|incoming)$")


class CdrOut(BaseModel):
    id: int
    tenant_id: str
    user_id: str | None
    device_id: str | None
    start_time: datetime
    duration_seconds: int
    direction: str
    calling_number: str
    called_number: str
    client_type: str
    sub_client_type: str
    answered: bool


# --- the organisation --------------------------------------------------------------------------


def get_org(session: Session, tenant_id: str) -> MobileOrg:
    """The organisation's settings; a tenant never configured has an empty pool."""
    get_tenant(session, tenant_id)
    org = session.get(MobileOrg, tenant_id)
    if org is None:
        org = MobileOrg(
            tenant_id=tenant_id,
            licences_total=0,
            suppress_emails=False,
            smdp_address=DEFAULT_SMDP_ADDRESS,
        )
    return org


# Plain statements, built once, for what provisioning a line and issuing its code read and write
# (every eSIM line runs both): the ORM's loads and unit of work cost more than the statements.
_U, _O = table(User), table(MobileOrg)
_D, _C = table(MobileDevice), table(ActivationCode)
_USED = (
    select(func.count())
    .select_from(_D)
    .where(_D.c.tenant_id == bindparam("tenant"), _D.c.status != DELETED)
)
_POOL = select(
    select(_O.c.licences_total).where(_O.c.tenant_id == bindparam("tenant")).scalar_subquery(),
    _USED.scalar_subquery(),
)
_ORG_SETTINGS = select(_O.c.smdp_address, _O.c.suppress_emails).where(
    _O.c.tenant_id == bindparam("tenant")
)
_USER = select(_U.c.name, _U.c.email).where(
    _U.c.tenant_id == bindparam("tenant"), _U.c.id == bindparam("user")
)
_LINE_OF_USER = select(_D.c.id).where(
    _D.c.tenant_id == bindparam("tenant"), _D.c.user_id == bindparam("user"), _D.c.status != DELETED
)
_SUPERSEDE = (
    update(_C)
    .where(_C.c.device_id == bindparam("device"), _C.c.state == CURRENT)
    .values(state=SUPERSEDED, closed_at=bindparam("now", type_=_C.c.closed_at.type))
)
_NEW_CODE = insert(_C)


def _pool(session: Session, tenant_id: str) -> tuple[int, int]:
    """(licences in the pool, licences in use); a tenant never configured has an empty pool."""
    session.flush()  # the statement below reads the table, not the session
    total, used = session.connection().execute(_POOL, {"tenant": tenant_id}).one()
    return int(total or 0), int(used or 0)


def _org_settings(session: Session, tenant_id: str) -> tuple[str, bool]:
    """(SM-DP+ address, suppress emails), the defaults for a tenant never configured."""
    row = session.connection().execute(_ORG_SETTINGS, {"tenant": tenant_id}).first()
    return (row.smdp_address, row.suppress_emails) if row else (DEFAULT_SMDP_ADDRESS, False)


def licences_used(session: Session, tenant_id: str) -> int:
    return _pool(session, tenant_id)[1]


def org_out(session: Session, org: MobileOrg) -> MobileOrgOut:
    used = licences_used(session, org.tenant_id)
    return MobileOrgOut(
        tenant_id=org.tenant_id,
        licences_total=org.licences_total,
        suppress_emails=org.suppress_emails,
        smdp_address=org.smdp_address,
        auto_calls_every_seconds=org.auto_calls_every_seconds,
        licences_used=used,
        licences_available=max(org.licences_total - used, 0),
    )


def put_org(session: Session, tenant_id: str, spec: MobileOrgIn) -> MobileOrg:
    get_tenant(session, tenant_id)
    org = session.get(MobileOrg, tenant_id)
    if org is None:
        org = MobileOrg(tenant_id=tenant_id)
        session.add(org)
    org.licences_total = spec.licences_total
    org.suppress_emails = spec.suppress_emails
    org.smdp_address = spec.smdp_address
    org.auto_calls_every_seconds = spec.auto_calls_every_seconds
    return org


# --- devices -----------------------------------------------------------------------------------


def get_device(session: Session, device_id: str) -> MobileDevice:
    device = session.get(MobileDevice, device_id)
    if device is None:
        raise NotFoundError(f"mobile device '{device_id}' not found")
    return device


def _latest_code(session: Session, device_id: str) -> ActivationCode | None:
    return session.scalars(
        select(ActivationCode)
        .where(ActivationCode.device_id == device_id)
        .order_by(ActivationCode.issued_at.desc(), ActivationCode.id.desc())
        .limit(1)
    ).first()


def _summary(code: ActivationCode) -> CodeSummary:
    return CodeSummary(
        code_id=code.id,
        state=code.state,
        reason=code.reason,
        issued_at=code.issued_at,
        expires_at=code.expires_at,
        used_at=code.used_at,
    )


def _expire_if_due(code: ActivationCode, now: datetime) -> None:
    if code.state == CURRENT and code.expires_at <= now:
        code.state = EXPIRED
        code.closed_at = code.expires_at


def device_out(session: Session, device: MobileDevice, now: datetime) -> DeviceOut:
    latest = _latest_code(session, device.id)
    if latest is not None:
        _expire_if_due(latest, now)
    total, used = _pool(session, device.tenant_id)
    return DeviceOut(
        id=device.id,
        tenant_id=device.tenant_id,
        user_id=device.user_id,
        number=device.number,
        status=device.status,
        colour=COLOURS[device.status],
        created_at=device.created_at,
        deleted_at=device.deleted_at,
        event_seq=device.event_seq,
        last_event=device.last_event,
        last_event_at=device.last_event_at,
        phone_holds_line=device.profile_code_id is not None,
        latest_code=_summary(latest) if latest else None,
        licences_available=max(total - used, 0),
    )


def list_devices(
    session: Session, tenant_id: str, user_id: str | None, status: str | None
) -> Sequence[MobileDevice]:
    get_tenant(session, tenant_id)
    query = select(MobileDevice).where(MobileDevice.tenant_id == tenant_id)
    if user_id:
        query = query.where(MobileDevice.user_id == user_id)
    if status:
        query = query.where(MobileDevice.status == status)
    return session.scalars(query.order_by(MobileDevice.created_at, MobileDevice.id)).all()


def _new_number() -> str:
    return "+39333" + "".join(secrets.choice("0123456789") for _ in range(7))


def create_device(
    session: Session, device_id: str, spec: DeviceIn, now: datetime
) -> tuple[MobileDevice, bool]:
    """Assign a licence from the pool to the user: (device, created). Idempotent by device id."""
    tenant_id, user_id = spec.tenant_id, spec.user_id
    connection = session.connection()
    # A deactivated (or deleting) service keeps its lines but gets no new one.
    require_allowed(connection, tenant_id, Action.NEW_MOBILE_LINE)
    if connection.execute(_USER, {"tenant": tenant_id, "user": user_id}).first() is None:
        raise NotFoundError(f"user '{user_id}' not found in tenant '{tenant_id}'")
    existing = session.get(MobileDevice, device_id)
    if existing is not None:
        if existing.status == DELETED:
            raise ConflictError(f"mobile device '{device_id}' was deleted; provision a new one")
        if (existing.tenant_id, existing.user_id) != (spec.tenant_id, spec.user_id):
            raise ConflictError(f"mobile device '{device_id}' belongs to another user")
        if spec.callback_url:
            existing.callback_url = spec.callback_url
        return existing, False
    other = connection.execute(_LINE_OF_USER, {"tenant": tenant_id, "user": user_id}).scalar()
    if other is not None:
        raise ConflictError(
            f"user '{user_id}' of tenant '{tenant_id}' already has mobile line '{other}'"
        )
    total, used = _pool(session, tenant_id)
    if used >= total:
        raise ConflictError(
            f"no mobile-line licence left in the pool of tenant '{tenant_id}' "
            f"({used} of {total} in use)"
        )
    device = MobileDevice(
        id=device_id,
        tenant_id=tenant_id,
        user_id=user_id,
        number=_new_number(),
        status=PENDING,
        callback_url=spec.callback_url,
        created_at=now,
        event_seq=0,
    )
    session.add(device)
    session.flush()
    return device, True


def _live(device: MobileDevice) -> None:
    if device.status == DELETED:
        raise ConflictError(f"mobile device '{device.id}' is deleted")


def _matching_id() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def lpa_string(smdp_address: str, matching_id: str) -> str:
    """The SGP.22 activation code a QR holds."""
    return f"LPA:1${smdp_address}${matching_id}"


def _code_out(
    session: Session, code: ActivationCode, device: MobileDevice, now: datetime
) -> CodeOut:
    _, suppress_emails = _org_settings(session, device.tenant_id)
    user = (
        session.connection()
        .execute(_USER, {"tenant": device.tenant_id, "user": device.user_id})
        .first()
    )
    return CodeOut(
        **_summary(code).model_dump(),
        device_id=device.id,
        smdp_address=code.smdp_address,
        matching_id=code.matching_id,
        activation_code=lpa_string(code.smdp_address, code.matching_id),
        suppress_emails=suppress_emails,
        user=CodeUser(
            id=device.user_id,
            name=user.name if user else device.user_id,
            email=user.email if user else "",
        ),
        device=device_out(session, device, now),
    )


def issue_code(session: Session, device_id: str, spec: CodeIn, now: datetime) -> CodeOut:
    """A new code invalidates every earlier one; only pending devices get one, except after a
    loss or theft, which first takes the line off the lost phone."""
    device = get_device(session, device_id)
    _live(device)
    if spec.reason == "lost-stolen":
        if device.profile_code_id is not None or device.status != PENDING:
            device.profile_code_id = None
            device.status = PENDING
            device.calls_until = None
            _record(device, "lost-stolen", now)
    elif device.status != PENDING:
        raise ConflictError(
            f"mobile device '{device.id}' is {device.status}; a new activation code can be "
            "generated only while it is pending activation"
        )
    session.flush()  # the statements below write the table, not the session
    connection = session.connection()
    # The session holds none of the device's codes here, so none goes stale.
    connection.execute(_SUPERSEDE, {"device": device.id, "now": now})
    smdp_address, _ = _org_settings(session, device.tenant_id)
    fields = {
        "id": f"ac-{secrets.token_hex(6)}",
        "device_id": device.id,
        "matching_id": _matching_id(),
        "smdp_address": smdp_address,
        "reason": spec.reason,
        "state": CURRENT,
        "issued_at": now,
        "expires_at": now + timedelta(seconds=spec.validity_seconds),
    }
    connection.execute(_NEW_CODE, fields)
    return _code_out(session, ActivationCode(**fields), device, now)


def current_code(session: Session, device_id: str, now: datetime) -> CodeOut:
    device = get_device(session, device_id)
    _live(device)
    latest = _latest_code(session, device.id)
    if latest is None:
        raise NotFoundError(f"mobile device '{device.id}' has no activation code yet")
    _expire_if_due(latest, now)
    if latest.state != CURRENT:
        when = latest.used_at or latest.closed_at or latest.expires_at
        raise NotFoundError(
            f"mobile device '{device.id}' has no usable activation code: the latest "
            f"({latest.id}) is {latest.state} since {when:%Y-%m-%d %H:%M} UTC"
        )
    return _code_out(session, latest, device, now)


def expire_code(session: Session, device_id: str, code_id: str, now: datetime) -> DeviceOut:
    """The owner's timer ran out: the code is expired now (a no-op unless it is still current)."""
    device = get_device(session, device_id)
    code = session.get(ActivationCode, code_id)
    if code is None or code.device_id != device.id:
        raise NotFoundError(f"activation code '{code_id}' not found on device '{device_id}'")
    if code.state == CURRENT:
        code.state = EXPIRED
        code.closed_at = now
    return device_out(session, device, now)


def delete_device(session: Session, device_id: str, now: datetime) -> DeletedOut:
    """The licence returns to the pool; the line stops working (the user removes it by hand)."""
    device = get_device(session, device_id)
    if device.status != DELETED:
        device.status = DELETED
        device.deleted_at = now
        device.profile_code_id = None
        device.calls_until = None
        for code in session.scalars(
            select(ActivationCode).where(
                ActivationCode.device_id == device.id, ActivationCode.state == CURRENT
            )
        ):
            code.state = REVOKED
            code.closed_at = now
        _record(device, "deleted", now)
        session.flush()
    org = get_org(session, device.tenant_id)
    user = session.get(User, (device.tenant_id, device.user_id))
    out = device_out(session, device, now)
    return DeletedOut(
        device=out,
        licences_available=out.licences_available,
        suppress_emails=org.suppress_emails,
        user=CodeUser(id=user.id, name=user.name, email=user.email) if user else None,
    )


# --- the phone: what a handset does to its line --------------------------------------------------


def _record(device: MobileDevice, kind: str, now: datetime) -> None:
    device.event_seq += 1
    device.last_event = kind
    device.last_event_at = now


def _emit(
    session: Session, device: MobileDevice, kind: str, now: datetime, code_id: str | None = None
) -> None:
    """Record a phone event and queue its callback to the owning workflow (durable, retried)."""
    _record(device, kind, now)
    if not device.callback_url:
        return
    session.add(
        Job(
            id=f"ev-{secrets.token_hex(8)}",
            kind=EVENT_JOB_KIND,
            tenant_id=device.tenant_id,
            status=DONE,
            created_at=now,
            finished_at=now,
            payload={
                "device_id": device.id,
                "seq": device.event_seq,
                "kind": kind,
                "status": device.status,
                "at": now.isoformat(),
                "code_id": code_id,
            },
            callback_url=device.callback_url,
            callback_state=CALLBACK_PENDING,
            callback_next_at=now,
        )
    )


def _parse_activation_code(value: str) -> tuple[str | None, str]:
    """``LPA:1$<address>$<matching id>`` (QR / Android) or the matching id alone (Apple)."""
    value = value.strip()
    if value.upper().startswith("LPA:"):
        parts = value.split("$")
        if len(parts) < 3 or parts[0].upper() != "LPA:1" or not parts[1] or not parts[2]:
            raise BadRequest("not an activation code: expected LPA:1$<SM-DP+ address>$<code>")
        return parts[1], parts[2]
    return None, value


def phone_activate(session: Session, spec: ActivateIn, now: datetime) -> DeviceOut:
    address, matching_id = _parse_activation_code(spec.activation_code)
    code = session.scalars(
        select(ActivationCode).where(ActivationCode.matching_id == matching_id.upper())
    ).first()
    if code is None:
        raise NotFoundError("unknown activation code")
    if address is not None and address.lower() != code.smdp_address.lower():
        raise ConflictError(f"activation code belongs to another SM-DP+ server than '{address}'")
    device = get_device(session, code.device_id)
    _expire_if_due(code, now)
    refusals = {
        USED: "activation code already used",
        SUPERSEDED: "activation code was replaced by a newer one",
        EXPIRED: f"activation code expired on {code.expires_at:%Y-%m-%d %H:%M} UTC",
        REVOKED: "activation code was revoked (the line was deleted)",
    }
    if code.state != CURRENT:
        raise ConflictError(refusals[code.state])
    _live(device)
    code.state = USED
    code.used_at = now
    code.closed_at = now
    device.status = ONLINE
    device.profile_code_id = code.id
    device.calls_until = now
    _emit(session, device, "activated", now, code.id)
    return device_out(session, device, now)


def _holding_phone(device: MobileDevice) -> None:
    _live(device)
    if device.profile_code_id is None:
        raise ConflictError(f"no phone holds the line of mobile device '{device.id}'")


def phone_remove(session: Session, device_id: str, now: datetime) -> DeviceOut:
    """The user deletes the line from the phone: back to pending activation (a new code is due)."""
    device = get_device(session, device_id)
    _holding_phone(device)
    device.profile_code_id = None
    device.status = PENDING
    device.calls_until = None
    _emit(session, device, "removed", now)
    return device_out(session, device, now)


def phone_deactivate(session: Session, device_id: str, now: datetime) -> DeviceOut:
    device = get_device(session, device_id)
    _holding_phone(device)
    if device.status != ONLINE:
        raise ConflictError(
            f"mobile device '{device.id}' is {device.status}; only an online line can be "
            "deactivated on the phone"
        )
    _generate_calls(session, device, now)
    device.status = OFFLINE
    device.calls_until = None
    _emit(session, device, "deactivated", now)
    return device_out(session, device, now)


def phone_reactivate(session: Session, device_id: str, now: datetime) -> DeviceOut:
    device = get_device(session, device_id)
    _holding_phone(device)
    if device.status != OFFLINE:
        raise ConflictError(
            f"mobile device '{device.id}' is {device.status}; only an offline line can be "
            "reactivated on the phone"
        )
    device.status = ONLINE
    device.calls_until = now
    _emit(session, device, "reactivated", now)
    return device_out(session, device, now)


# --- call detail records -----------------------------------------------------------------------


def _cdr(
    device: MobileDevice, start: datetime, to: str, duration: int, direction: str
) -> CallRecord:
    outgoing = direction == "outgoing"
    return CallRecord(
        tenant_id=device.tenant_id,
        user_id=device.user_id,
        device_id=device.id,
        start_time=start,
        duration_seconds=duration,
        direction="ORIGINATING" if outgoing else "TERMINATING",
        calling_number=device.number if outgoing else to,
        called_number=to if outgoing else device.number,
        client_type="MOBILE_LINE",
        sub_client_type=MOBILE_NETWORK,
        answered=duration > 0,
    )


def phone_call(session: Session, device_id: str, spec: CallIn, now: datetime) -> CdrOut:
    device = get_device(session, device_id)
    _live(device)
    if device.status != ONLINE:
        raise ConflictError(
            f"mobile device '{device.id}' is {device.status}; only an online line makes calls"
        )
    record = _cdr(device, now, spec.to, spec.duration_seconds, spec.direction)
    session.add(record)
    session.flush()
    return cdr_out(record)


def _generate_calls(session: Session, device: MobileDevice, now: datetime) -> None:
    """The calls an online line made since they were last generated (the org's call rate)."""
    org = session.get(MobileOrg, device.tenant_id)
    every = org.auto_calls_every_seconds if org else None
    if device.status != ONLINE or device.calls_until is None or not every:
        return
    step = timedelta(seconds=every)
    at = device.calls_until + step
    made = 0
    rng = random.Random(f"{device.id}/{device.calls_until.isoformat()}")
    while at <= now and made < _MAX_AUTO_CALLS:
        direction = rng.choice(("outgoing", "incoming"))
        to = "+39" + "".join(rng.choice("0123456789") for _ in range(10))
        session.add(_cdr(device, at, to, rng.randint(15, 600), direction))
        device.calls_until = at
        at += step
        made += 1
    if made == _MAX_AUTO_CALLS:
        device.calls_until = now


def cdr_out(record: CallRecord) -> CdrOut:
    return CdrOut(
        id=record.id,
        tenant_id=record.tenant_id,
        user_id=record.user_id,
        device_id=record.device_id,
        start_time=record.start_time,
        duration_seconds=record.duration_seconds,
        direction=record.direction,
        calling_number=record.calling_number,
        called_number=record.called_number,
        client_type=record.client_type,
        sub_client_type=record.sub_client_type,
        answered=record.answered,
    )


def list_cdrs(
    session: Session,
    now: datetime,
    *,
    tenant_id: str | None,
    sub_client_type: str | None,
    since: datetime | None,
    limit: int,
) -> list[CdrOut]:
    online = select(MobileDevice).where(MobileDevice.status == ONLINE)
    if tenant_id:
        get_tenant(session, tenant_id)
        online = online.where(MobileDevice.tenant_id == tenant_id)
    for device in session.scalars(online).all():
        _generate_calls(session, device, now)
    session.flush()
    query = select(CallRecord)
    if tenant_id:
        query = query.where(CallRecord.tenant_id == tenant_id)
    if sub_client_type:
        query = query.where(func.lower(CallRecord.sub_client_type) == sub_client_type.lower())
    if since:
        query = query.where(CallRecord.start_time >= since)
    rows = session.scalars(query.order_by(CallRecord.start_time, CallRecord.id).limit(limit))
    return [cdr_out(row) for row in rows]


def add_desk_calls(session: Session, tenant: Tenant, now: datetime, count: int) -> None:
    """Calls from the tenant's desk phones (extensions), so a CDR report has both kinds."""
    rng = random.Random(tenant.id)
    for n, ext in enumerate(tenant.extensions[:count]):
        session.add(
            CallRecord(
                tenant_id=tenant.id,
                user_id=ext.user_id,
                device_id=None,
                start_time=now - timedelta(hours=count - n),
                duration_seconds=rng.randint(30, 900),
                direction="ORIGINATING",
                calling_number=ext.number,
                called_number="+39" + "".join(rng.choice("0123456789") for _ in range(10)),
                client_type="DESK_PHONE",
                sub_client_type=DESK_PHONE,
                answered=True,
            )
        )


def event_payload(job: Job) -> dict[str, Any]:
    return dict(job.payload or {})
