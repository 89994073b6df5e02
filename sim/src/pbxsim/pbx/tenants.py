"""Tenants as the API shows them, and how the admin API and the seed write them."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.orm import Session, object_session

from pbxops.contracts.lifecycle import Action, refusal
from pbxsim.errors import ConflictError, NotFoundError
from pbxsim.mobile.models import MobileDevice
from pbxsim.models import AnyRow, table
from pbxsim.numbers.models import NumberDevice
from pbxsim.pbx.deletion_models import DeletionRecord, Recording
from pbxsim.pbx.models import Extension, Tenant, User
from pbxsim.pbx.schemas import (
    Access,
    ExtensionIn,
    ExtensionOut,
    Service,
    ServiceState,
    StoredData,
    TenantIn,
    TenantOut,
    TenantSettings,
    UserIn,
    UserOut,
)
from pbxsim.provisioning.models import ProblemReport, SupportContactRow


def tenant_not_found(tenant_id: str) -> NotFoundError:
    return NotFoundError(f"tenant '{tenant_id}' not found")


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise tenant_not_found(tenant_id)
    return tenant


def tenant_settings(tenant: Tenant) -> TenantSettings:
    return TenantSettings.model_validate(tenant.settings or {})


# A tenant as the API shows it, in one statement: its columns and what it stores (correlated
# counts). Built once: building a statement costs more than running it, and this is the GET
# every procedure polls.
_T, _U, _E = table(Tenant), table(User), table(Extension)
_R, _D = table(Recording), table(DeletionRecord)
_M, _N = table(MobileDevice), table(NumberDevice)
_C, _P = table(SupportContactRow), table(ProblemReport)


def _count(table: Any, *criteria: Any) -> Any:
    return select(func.count()).select_from(table).where(*criteria).scalar_subquery()


_VIEW = select(
    _T.c.id,
    _T.c.name,
    _T.c.country,
    _T.c.timezone,
    _T.c.service_state,
    _T.c.portal_url,
    _T.c.sip_domain,
    _T.c.billing_active,
    _T.c.usage_minutes,
    _T.c.settings,
    _count(_U, _U.c.tenant_id == _T.c.id).label("users"),
    _count(_E, _E.c.tenant_id == _T.c.id).label("extensions"),
    _count(_E, _E.c.tenant_id == _T.c.id, _E.c.registered).label("extensions_registered"),
    _count(_R, _R.c.tenant_id == _T.c.id).label("recordings"),
    _count(_M, _M.c.tenant_id == _T.c.id, _M.c.status != "deleted").label("mobile_lines"),
    _count(_N, _N.c.tenant_id == _T.c.id, _N.c.deleted_at.is_(None)).label("numbers"),
    _count(_C, _C.c.account_id == _T.c.id).label("support_contacts"),
    # Only the open ones: a closed report is the reseller's record and holds none of the
    # tenant's data (a deletion empties it), so a deleted tenant holds none.
    _count(_P, _P.c.account_id == _T.c.id, _P.c.state == "open").label("problem_reports"),
    select(_D.c.completed_at).where(_D.c.tenant_id == _T.c.id).scalar_subquery().label("deleted"),
)
_ONE = _VIEW.where(_T.c.id == bindparam("tenant_id"))
_ALL = _VIEW.order_by(_T.c.id)
_EXISTS = select(_T.c.id).where(_T.c.id == bindparam("tenant_id"))
_STATE = select(_T.c.service_state).where(_T.c.id == bindparam("tenant_id"))
_USERS = (
    select(_U.c.id, _U.c.name, _U.c.email, _U.c.roles)
    .where(_U.c.tenant_id == bindparam("tenant_id"))
    .order_by(_U.c.id)
)
_EXTENSIONS = (
    select(_E.c.number, _E.c.user_id, _E.c.registered)
    .where(_E.c.tenant_id == bindparam("tenant_id"))
    .order_by(_E.c.number)
)


def _view(row: AnyRow) -> TenantOut:
    # Access is visible only on an active service: that is what "deactivated" means to a customer.
    active = row.service_state == ServiceState.ACTIVE
    access = Access(portal_url=row.portal_url, sip_domain=row.sip_domain) if active else None
    return TenantOut(
        id=row.id,
        name=row.name,
        country=row.country,
        timezone=row.timezone,
        service=Service(
            state=ServiceState(row.service_state),
            access=access,
            billing_active=row.billing_active,
            usage_minutes=row.usage_minutes,
        ),
        settings=TenantSettings.model_validate(row.settings or {}),
        data=StoredData(
            users=row.users,
            extensions=row.extensions,
            extensions_registered=row.extensions_registered,
            recordings=row.recordings,
            mobile_lines=row.mobile_lines,
            numbers=row.numbers,
            support_contacts=row.support_contacts,
            problem_reports=row.problem_reports,
        ),
        deleted_at=row.deleted,
    )


def read_tenant(connection: Connection, tenant_id: str) -> TenantOut:
    row = connection.execute(_ONE, {"tenant_id": tenant_id}).first()
    if row is None:
        raise tenant_not_found(tenant_id)
    return _view(row)


def read_tenants(connection: Connection) -> list[TenantOut]:
    return [_view(row) for row in connection.execute(_ALL)]


def require_tenant(connection: Connection, tenant_id: str) -> None:
    """NotFoundError unless the tenant exists; one indexed read, no ORM load."""
    if connection.execute(_EXISTS, {"tenant_id": tenant_id}).first() is None:
        raise tenant_not_found(tenant_id)


def require_allowed(connection: Connection, tenant_id: str, action: Action) -> None:
    """NotFoundError unless the tenant exists, ConflictError (the one sentence naming the
    service's state) unless that state allows the action (contracts/lifecycle.py's table)."""
    state = connection.execute(_STATE, {"tenant_id": tenant_id}).scalar()
    if state is None:
        raise tenant_not_found(tenant_id)
    if (refused := refusal(tenant_id, state, action)) is not None:
        raise ConflictError(refused)


def _tenant_rows(connection: Connection, query: Any, tenant_id: str) -> Sequence[AnyRow]:
    rows = connection.execute(query, {"tenant_id": tenant_id}).all()
    if not rows:  # none, or no such tenant
        require_tenant(connection, tenant_id)
    return rows


def read_users(connection: Connection, tenant_id: str, role: str | None = None) -> list[UserOut]:
    return [
        UserOut(id=row.id, name=row.name, email=row.email, roles=list(row.roles))
        for row in _tenant_rows(connection, _USERS, tenant_id)
        if role is None or role in row.roles
    ]


def read_extensions(connection: Connection, tenant_id: str) -> list[ExtensionOut]:
    return [
        ExtensionOut(number=row.number, user_id=row.user_id, registered=row.registered)
        for row in _tenant_rows(connection, _EXTENSIONS, tenant_id)
    ]


def tenant_out(tenant: Tenant) -> TenantOut:
    """The tenant as the API shows it, including the session's pending changes."""
    session = object_session(tenant)
    assert session is not None, "tenant_out needs a tenant attached to a session"
    session.flush()
    return read_tenant(session.connection(), tenant.id)


def default_access(tenant_id: str) -> tuple[str, str]:
    return f"https://{tenant_id}.pbx.example", f"{tenant_id}.sip.example"


def replace_people(
    tenant: Tenant, users: Sequence[UserIn], extensions: Sequence[ExtensionIn]
) -> None:
    """Make the tenant's users and extensions exactly these (kept rows are updated in place)."""
    current_users = {user.id: user for user in tenant.users}
    tenant.users = [_merge_user(current_users.get(spec.id), tenant.id, spec) for spec in users]
    current_exts = {ext.number: ext for ext in tenant.extensions}
    tenant.extensions = [
        _merge_extension(current_exts.get(spec.number), tenant.id, spec) for spec in extensions
    ]


def _merge_user(row: User | None, tenant_id: str, spec: UserIn) -> User:
    row = row or User(tenant_id=tenant_id, id=spec.id)
    row.name, row.email, row.roles = spec.name, spec.email, list(spec.roles)
    return row


def _merge_extension(row: Extension | None, tenant_id: str, spec: ExtensionIn) -> Extension:
    row = row or Extension(tenant_id=tenant_id, number=spec.number)
    row.user_id, row.registered = spec.user_id, spec.registered
    return row


def put_tenant(session: Session, tenant_id: str, spec: TenantIn, now: datetime) -> Tenant:
    """Create or wholly replace a tenant, live state included (the admin API's PUT)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        portal_url, sip_domain = default_access(tenant_id)
        tenant = Tenant(id=tenant_id, portal_url=portal_url, sip_domain=sip_domain, created_at=now)
        session.add(tenant)
    tenant.name = spec.name or tenant_id.replace("-", " ").title()
    tenant.country = spec.country.upper()
    tenant.timezone = spec.timezone
    tenant.service_state = spec.state.value
    tenant.billing_active = spec.billing_active
    tenant.usage_minutes = spec.usage_minutes
    tenant.settings = TenantSettings(
        deactivation_seconds=spec.deactivation_seconds,
        reactivation_seconds=spec.reactivation_seconds,
        deletion_seconds=spec.deletion_seconds,
    ).model_dump()
    # A replaced tenant starts afresh: its recordings are exactly as many as asked, and an
    # earlier deletion of the same id is forgotten.
    session.execute(delete(Recording).where(Recording.tenant_id == tenant_id))
    session.add_all(
        Recording(tenant_id=tenant_id, name=f"call-{n:04d}.wav", size_kb=512)
        for n in range(spec.recordings)
    )
    session.execute(delete(DeletionRecord).where(DeletionRecord.tenant_id == tenant_id))
    tenant.updated_at = now
    replace_people(tenant, spec.users, spec.extensions)
    return tenant
