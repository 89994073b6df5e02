"""One tenant model: a customer account created by provisioning *is* a tenant.

The reseller portal's account (``customer_accounts``) and the Cloud PBX tenant (``tenants``) share
one id. Creating the account opens the tenant with its service ``provisioning``; the last
provisioning step (activation) makes it ``active``; a saga that undoes the account removes the
tenant with it. The account's users (the primary Admin, the users synced from the customer's
PBX, with their roles) are the tenant's users, their extensions its extensions, their phone
numbers its numbers (direct subscriptions), and the account's eSIM licences are the tenant's
mobile-line pool, allocated from its reseller's pool. So every procedure that works on a tenant
(deactivation, deletion, eSIM lines, number removal) works on a customer just provisioned.
"""

import secrets
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pbxops.contracts.wording import plural
from pbxsim.errors import ConflictError
from pbxsim.mobile.models import MobileOrg
from pbxsim.numbers.models import NumberDevice
from pbxsim.pbx.models import Extension, Tenant, User
from pbxsim.pbx.schemas import ServiceState, TenantSettings
from pbxsim.pbx.tenants import default_access
from pbxsim.provisioning.models import CustomerAccount, CustomerUser, ResellerEsimPool

# The country's time zone, for the business-day deadlines of a deletion.
_TIMEZONES = {
    "IT": "Europe/Rome",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "CH": "Europe/Zurich",
    "AT": "Europe/Vienna",
    "BG": "Europe/Sofia",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
}
# A synced PBX user's number is a direct subscription of the tenant.
DIRECT_SOC = "CKSWDirectAdv1515"


def reseller_pool(session: Session, reseller_id: str) -> tuple[int, int]:
    """(licences the reseller has, licences its tenants hold)."""
    session.flush()
    pool = session.get(ResellerEsimPool, reseller_id)
    allocated = session.scalar(
        select(func.coalesce(func.sum(MobileOrg.licences_total), 0))
        .join(CustomerAccount, CustomerAccount.id == MobileOrg.tenant_id)
        .where(CustomerAccount.reseller_id == reseller_id)
    )
    return (pool.licences_total if pool else 0), int(allocated or 0)


def set_reseller_pool(session: Session, reseller_id: str, total: int) -> None:
    pool = session.get(ResellerEsimPool, reseller_id)
    if pool is None:
        session.add(ResellerEsimPool(reseller_id=reseller_id, licences_total=total))
    else:
        pool.licences_total = total


def open_tenant(
    session: Session, account: CustomerAccount, esim_licences: int, state: str, now: datetime
) -> Tenant:
    """The account's tenant, its service ``provisioning`` (or ``state`` for a direct account)."""
    if session.get(Tenant, account.id) is not None:
        raise ConflictError(f"a tenant '{account.id}' already exists")
    if esim_licences:
        total, allocated = reseller_pool(session, account.reseller_id)
        if allocated + esim_licences > total:
            raise ConflictError(
                f"reseller '{account.reseller_id}' has "
                f"{plural(total - allocated, 'eSIM licence')} left "
                f"in its pool; {esim_licences} asked"
            )
    portal_url, sip_domain = default_access(account.id)
    service = ServiceState.ACTIVE if state == "active" else ServiceState.PROVISIONING
    tenant = Tenant(
        id=account.id,
        name=account.name,
        country=account.country,
        timezone=_TIMEZONES.get(account.country, "Europe/Rome"),
        service_state=service.value,
        portal_url=portal_url,
        sip_domain=sip_domain,
        # Nothing is billed while provisioning, nor ever for an internal demo.
        billing_active=service == ServiceState.ACTIVE and not account.internal_demo,
        usage_minutes=0,
        settings=TenantSettings().model_dump(),
        created_at=now,
        updated_at=now,
    )
    session.add(tenant)
    session.flush()
    session.add(MobileOrg(tenant_id=account.id, licences_total=esim_licences))
    return tenant


def activate_tenant(session: Session, account: CustomerAccount) -> None:
    """Provisioning completed: the service is active (and billed, unless an internal demo)."""
    tenant = session.get(Tenant, account.id)
    if tenant is not None and tenant.service_state == ServiceState.PROVISIONING:
        tenant.service_state = ServiceState.ACTIVE.value
        tenant.billing_active = not account.internal_demo


def drop_tenant(session: Session, account_id: str) -> None:
    """A provisioning undone: the tenant goes with its account (it never served anyone)."""
    tenant = session.get(Tenant, account_id)
    if tenant is not None and tenant.service_state == ServiceState.PROVISIONING:
        session.execute(delete(MobileOrg).where(MobileOrg.tenant_id == account_id))
        session.execute(delete(NumberDevice).where(NumberDevice.tenant_id == account_id))
        session.delete(tenant)


def sync_people(session: Session, account: CustomerAccount, now: datetime) -> None:
    """The account's users are the tenant's users (upserted, roles included); a synced user's
    extension and phone number become the tenant's; users gone from the account go."""
    tenant = session.get(Tenant, account.id)
    if tenant is None or tenant.service_state in (ServiceState.DELETING, ServiceState.DELETED):
        return
    session.flush()
    people = session.scalars(
        select(CustomerUser).where(CustomerUser.account_id == account.id)
    ).all()
    users = {user.id: user for user in tenant.users}
    keep = set()
    for person in people:
        keep.add(person.id)
        user = users.get(person.id)
        if user is None:
            user = User(tenant_id=tenant.id, id=person.id)
            tenant.users.append(user)
        user.name, user.email, user.roles = person.name, person.email, list(person.roles or [])
    tenant.users = [user for user in tenant.users if user.id in keep]
    extensions = {ext.number: ext for ext in tenant.extensions}
    for person in people:
        if person.extension and person.extension not in extensions:
            ext = Extension(
                tenant_id=tenant.id,
                number=person.extension,
                user_id=person.id,
                registered=tenant.service_state == ServiceState.ACTIVE,
            )
            tenant.extensions.append(ext)
            extensions[ext.number] = ext
    numbers = set(
        session.scalars(select(NumberDevice.number).where(NumberDevice.tenant_id == tenant.id))
    )
    for person in people:
        if person.phone_e164 and person.phone_e164 not in numbers:
            numbers.add(person.phone_e164)
            session.add(
                NumberDevice(
                    id=f"dev-{secrets.token_hex(6)}",
                    tenant_id=tenant.id,
                    number=person.phone_e164,
                    label=person.name[:200],
                    soc_code=DIRECT_SOC,
                    csu_sync_seconds=0.0,
                    created_at=now,
                )
            )
