"""Tenants as the API shows them, and how the admin API and the seed write them."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from simulator.deletion import recordings_count
from simulator.deletion_models import DeletionRecord, Recording
from simulator.errors import NotFoundError
from simulator.models import Extension, Tenant, User
from simulator.schemas import (
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


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"tenant '{tenant_id}' not found")
    return tenant


def list_tenants(session: Session) -> Sequence[Tenant]:
    return session.scalars(select(Tenant).order_by(Tenant.id)).all()


def tenant_settings(tenant: Tenant) -> TenantSettings:
    return TenantSettings.model_validate(tenant.settings or {})


def tenant_out(tenant: Tenant) -> TenantOut:
    # Access is visible only on an active service: that is what "deactivated" means to a customer.
    active = tenant.service_state == ServiceState.ACTIVE
    session = object_session(tenant)
    assert session is not None, "tenant_out needs a tenant attached to a session"
    record = session.get(DeletionRecord, tenant.id)
    access = Access(portal_url=tenant.portal_url, sip_domain=tenant.sip_domain) if active else None
    return TenantOut(
        id=tenant.id,
        name=tenant.name,
        country=tenant.country,
        timezone=tenant.timezone,
        service=Service(
            state=ServiceState(tenant.service_state),
            access=access,
            billing_active=tenant.billing_active,
            usage_minutes=tenant.usage_minutes,
        ),
        settings=tenant_settings(tenant),
        data=StoredData(
            users=len(tenant.users),
            extensions=len(tenant.extensions),
            extensions_registered=sum(1 for ext in tenant.extensions if ext.registered),
            recordings=recordings_count(session, tenant.id),
        ),
        deleted_at=record.completed_at if record else None,
    )


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, name=user.name, email=user.email, roles=list(user.roles))


def extension_out(ext: Extension) -> ExtensionOut:
    return ExtensionOut(number=ext.number, user_id=ext.user_id, registered=ext.registered)


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
