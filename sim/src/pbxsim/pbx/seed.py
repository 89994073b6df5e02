"""The PBX platform's demo tenants: a fast, a slow and a stuck platform (see API.md, "Seed").

Seeding is an idempotent upsert of the demo's static facts (names, people, extensions, timings).
An existing tenant keeps its live state (service state, registrations, billing, usage, running
jobs), so ``serve --seed`` on a restart never rewinds a demo in progress.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from pbxsim.pbx.models import Extension, Tenant, User
from pbxsim.pbx.schemas import ExtensionIn, TenantIn, TenantSettings, UserIn
from pbxsim.pbx.tenants import put_tenant


@dataclass(frozen=True)
class DemoTenant:
    id: str
    name: str
    deactivation_seconds: float | None
    reactivation_seconds: float | None
    deletion_seconds: float | None
    recordings: int
    usage_minutes: int
    admins: tuple[str, str]
    user: str
    extensions: tuple[str, ...]


DEMO_TENANTS = (
    DemoTenant(
        id="acme",
        name="ACME Telecomunicazioni S.r.l.",
        deactivation_seconds=3.0,
        reactivation_seconds=3.0,
        deletion_seconds=5.0,
        recordings=12,
        usage_minutes=1234,
        admins=("Giulia Rossi", "Marco Bianchi"),
        user="Francesca Esposito",
        extensions=("101", "102", "103", "104"),
    ),
    DemoTenant(
        # Slower than the SLAs (15 minutes; 2 business days for a deletion): the procedure
        # opens a ticket, then resolves it.
        id="globex",
        name="Globex Italia S.p.A.",
        deactivation_seconds=20 * 60.0,
        reactivation_seconds=20 * 60.0,
        deletion_seconds=4 * 24 * 3600.0,
        recordings=40,
        usage_minutes=8760,
        admins=("Alessandro Ferrari", "Chiara Romano"),
        user="Luca Colombo",
        extensions=("201", "202", "203", "204", "205"),
    ),
    DemoTenant(
        # Never finishes by itself: un-stick it with POST /admin/tenants/initech/complete-jobs.
        id="initech",
        name="Initech Servizi S.r.l.",
        deactivation_seconds=None,
        reactivation_seconds=None,
        deletion_seconds=None,
        recordings=3,
        usage_minutes=402,
        admins=("Sara Ricci", "Davide Marino"),
        user="Elena Greco",
        extensions=("301", "302", "303"),
    ),
)


def _email(name: str, tenant_id: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{tenant_id}.example"


def demo_spec(demo: DemoTenant) -> TenantIn:
    people = [(name, ["Admin"]) for name in demo.admins] + [(demo.user, ["User"])]
    users = [
        UserIn(id=f"u{i}", name=name, email=_email(name, demo.id), roles=roles)
        for i, (name, roles) in enumerate(people, start=1)
    ]
    # Every user has an extension; the rest are shared phones (meeting rooms, reception).
    extensions = [
        ExtensionIn(number=number, user_id=users[i].id if i < len(users) else None)
        for i, number in enumerate(demo.extensions)
    ]
    return TenantIn(
        name=demo.name,
        usage_minutes=demo.usage_minutes,
        deactivation_seconds=demo.deactivation_seconds,
        reactivation_seconds=demo.reactivation_seconds,
        deletion_seconds=demo.deletion_seconds,
        recordings=demo.recordings,
        users=users,
        extensions=extensions,
    )


def _refresh_static(tenant: Tenant, spec: TenantIn) -> None:
    """Update what the demo defines; leave what the platform's jobs have changed."""
    tenant.name = spec.name or tenant.name
    tenant.country = spec.country
    tenant.timezone = spec.timezone
    tenant.settings = TenantSettings(
        deactivation_seconds=spec.deactivation_seconds,
        reactivation_seconds=spec.reactivation_seconds,
        deletion_seconds=spec.deletion_seconds,
    ).model_dump()
    if tenant.service_state in ("deleting", "deleted"):
        return  # a deleted tenant's people must not come back with a re-seed
    users = {user.id: user for user in tenant.users}
    for user_spec in spec.users:
        user = users.get(user_spec.id)
        if user is None:
            user = User(tenant_id=tenant.id, id=user_spec.id)
            tenant.users.append(user)
        user.name, user.email, user.roles = user_spec.name, user_spec.email, list(user_spec.roles)
    exts = {ext.number: ext for ext in tenant.extensions}
    for ext_spec in spec.extensions:
        ext = exts.get(ext_spec.number)
        if ext is None:
            # A new extension registers only if the service is up.
            ext = Extension(
                tenant_id=tenant.id,
                number=ext_spec.number,
                registered=tenant.service_state == "active",
            )
            tenant.extensions.append(ext)
        ext.user_id = ext_spec.user_id


def seed_pbx(session: Session, now: datetime) -> list[str]:
    """Upsert the demo tenants; returns their ids."""
    for demo in DEMO_TENANTS:
        spec = demo_spec(demo)
        tenant = session.get(Tenant, demo.id)
        if tenant is None:
            put_tenant(session, demo.id, spec, now)
        else:
            _refresh_static(tenant, spec)
            tenant.updated_at = now
    return [demo.id for demo in DEMO_TENANTS]
