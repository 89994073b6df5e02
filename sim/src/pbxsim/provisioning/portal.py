"""The reseller portal's rules: customer accounts, their PBX connection, contacts and billing.

What the provider's documents fix is enforced here, so pbxops is checked against a platform that
says no: a customer name is unique per reseller, some product types cannot be changed once
assigned, each reseller has at most one internal demo (never billed), an account is created with
at least one support contact, an invalid address is refused with "Contains an invalid email", an
administrative user may change contacts only on accounts created by a partner, and an account
keeps at least one contact.
"""

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from anyascii import anyascii
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pbxsim.clock import utcnow
from pbxsim.errors import ConflictError, NotFoundError, SimulatorError
from pbxsim.mobile.models import MobileOrg
from pbxsim.models import table
from pbxsim.pbx.models import Tenant
from pbxsim.provisioning import customer_tenants
from pbxsim.provisioning.models import (
    CustomerAccount,
    CustomerPbx,
    CustomerPbxSubAccount,
    CustomerPbxUser,
    CustomerUser,
    PartnerUser,
    PbxConnection,
    ProblemReport,
    Reseller,
    SupportContactRow,
)
from pbxsim.provisioning.schemas import (
    AdminIn,
    BillingOut,
    BillingRow,
    ConnectionOut,
    ContactIn,
    ContactOut,
    ContactsOut,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    CustomerPbxIn,
    CustomerPbxOut,
    CustomerUserOut,
    DirectCustomerIn,
    DiscoveredUserOut,
    DiscoveryOut,
    ImportIn,
    ImportOut,
    InvitationOut,
    Page,
    PartnerOut,
    PbxIn,
    ProblemReportIn,
    ProblemReportOut,
    ProductTypeOut,
    ResellerIn,
    ResellerOut,
    RoleOut,
    RolesIn,
    RolesOut,
    SubAccountOut,
)


class InvalidInput(SimulatorError):
    status_code = 422


class Forbidden(SimulatorError):
    status_code = 403


class PbxUnavailable(SimulatorError):
    """The customer's PBX does not answer: transient, worth retrying."""

    status_code = 503


PRODUCT_TYPES = (
    ProductTypeOut(
        id="essentials",
        name="Essentials",
        immutable=False,
        monthly_price_per_user=4.0,
        description="Softphone, presence and chat.",
    ),
    ProductTypeOut(
        id="professional",
        name="Professional",
        immutable=False,
        monthly_price_per_user=7.5,
        description="Essentials plus call analytics and wallboards.",
    ),
    ProductTypeOut(
        id="contact-centre",
        name="Contact Centre",
        immutable=True,
        monthly_price_per_user=15.0,
        description="Queues, agent status and supervisor tools; fixed once assigned.",
    ),
    ProductTypeOut(
        id="compliance",
        name="Compliance Recording",
        immutable=True,
        monthly_price_per_user=11.0,
        description="Recording with retention policies; fixed once assigned.",
    ),
)
ROLES = (
    RoleOut(id="Admin", description="manages users and settings of the customer account"),
    RoleOut(id="Supervisor", description="sees and manages agents and queues"),
    RoleOut(id="Agent", description="handles calls in queues; has an agent status"),
    RoleOut(id="Reporting", description="reads call reports and analytics"),
    RoleOut(id="User", description="calls, presence and chat"),
)
_ROLE_IDS = tuple(role.id for role in ROLES)
_LOCALES = {
    "IT": "it-IT",
    "FR": "fr-FR",
    "DE": "de-DE",
    "ES": "es-ES",
    "PT": "pt-PT",
    "NL": "nl-NL",
    "BE": "fr-BE",
    "CH": "de-CH",
    "AT": "de-AT",
    "BG": "bg-BG",
    "GB": "en-GB",
    "IE": "en-IE",
    "US": "en-US",
    "CA": "en-CA",
    "AU": "en-AU",
}
INVALID_EMAIL = "Contains an invalid email"
INVITE_BASE = "https://portal.pbx.example/invitations/"


# --- small helpers -----------------------------------------------------------------------------


def name_key(name: str) -> str:
    """Names are unique per reseller ignoring case, accents and punctuation; any script is
    transliterated (``anyascii``: "Тест ООД 1" → ``test-ood-1``), so account ids stay readable."""
    plain = anyascii(unicodedata.normalize("NFKD", name)).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain.replace(".", "")).strip("-")[:60]


def check_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidInput(f"{INVALID_EMAIL}: '{value}'") from None


def check_country(value: str) -> str:
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return code


def locale_for(country: str) -> str:
    return _LOCALES.get(country, f"en-{country}")


def check_product_type(type_id: str) -> ProductTypeOut:
    found = next((p for p in PRODUCT_TYPES if p.id == type_id), None)
    if found is None:
        published = ", ".join(p.id for p in PRODUCT_TYPES)
        raise InvalidInput(f"unknown product type '{type_id}'; published types: {published}")
    return found


def check_roles(roles: Sequence[str]) -> list[str]:
    unknown = [role for role in roles if role not in _ROLE_IDS]
    if unknown:
        raise InvalidInput(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(_ROLE_IDS)}")
    return list(roles)


def _page(
    items: Sequence[Any], total: int, limit: int, key: str = "id"
) -> tuple[list[Any], str | None]:
    cursor = getattr(items[-1], key) if len(items) == limit and items else None
    return list(items), cursor


# --- resellers ---------------------------------------------------------------------------------


def get_reseller(session: Session, reseller_id: str) -> Reseller:
    reseller = session.get(Reseller, reseller_id)
    if reseller is None:
        raise NotFoundError(f"reseller '{reseller_id}' not found")
    return reseller


def demo_of(session: Session, reseller_id: str, but: str | None = None) -> CustomerAccount | None:
    query = select(CustomerAccount).where(
        CustomerAccount.reseller_id == reseller_id, CustomerAccount.internal_demo.is_(True)
    )
    if but is not None:
        query = query.where(CustomerAccount.id != but)
    return session.scalars(query).first()


def reseller_out(session: Session, reseller: Reseller) -> ResellerOut:
    demo = demo_of(session, reseller.id)
    esim_total, esim_allocated = customer_tenants.reseller_pool(session, reseller.id)
    count = session.scalar(
        select(func.count())
        .select_from(CustomerAccount)
        .where(CustomerAccount.reseller_id == reseller.id)
    )
    return ResellerOut(
        id=reseller.id,
        name=reseller.name,
        notification_email=reseller.notification_email,
        partners=[PartnerOut(id=p.id, name=p.name, email=p.email) for p in reseller.partners],
        demo_account=f"{demo.name} ({demo.id})" if demo else None,
        customers=int(count or 0),
        esim_licences_total=esim_total,
        esim_licences_allocated=esim_allocated,
        esim_licences_available=esim_total - esim_allocated,
    )


def put_reseller(session: Session, reseller_id: str, spec: ResellerIn) -> Reseller:
    reseller = session.get(Reseller, reseller_id)
    if reseller is None:
        reseller = Reseller(id=reseller_id, name="", notification_email="")
        session.add(reseller)
    reseller.name = spec.name or reseller.name or reseller_id.replace("-", " ").title()
    reseller.notification_email = check_email(
        spec.notification_email or reseller.notification_email or f"billing@{reseller_id}.example"
    )
    current = {p.id: p for p in reseller.partners}
    for partner in spec.partners:
        row = current.get(partner.id)
        if row is None:
            other = session.get(PartnerUser, partner.id)
            if other is not None and other.reseller_id != reseller_id:
                raise ConflictError(
                    f"partner user '{partner.id}' belongs to reseller '{other.reseller_id}'"
                )
            row = other or PartnerUser(id=partner.id, reseller_id=reseller_id)
            reseller.partners.append(row)
        row.name, row.email = partner.name, check_email(partner.email)
    if spec.esim_licences is not None:
        customer_tenants.set_reseller_pool(session, reseller_id, spec.esim_licences)
    return reseller


# --- customer accounts -------------------------------------------------------------------------


def get_account(session: Session, account_id: str) -> CustomerAccount:
    account = session.get(CustomerAccount, account_id)
    if account is None:
        raise NotFoundError(f"customer account '{account_id}' not found")
    return account


def list_accounts(session: Session, reseller_id: str | None) -> Sequence[CustomerAccount]:
    query = select(CustomerAccount).order_by(CustomerAccount.reseller_id, CustomerAccount.name)
    if reseller_id:
        query = query.where(CustomerAccount.reseller_id == reseller_id)
    return session.scalars(query).all()


def trial_ends_at(account: CustomerAccount) -> datetime | None:
    return account.created_at + timedelta(days=account.trial_days) if account.trial else None


def _contact_out(session: Session, row: SupportContactRow) -> ContactOut:
    if row.partner_user_id:
        partner = session.get(PartnerUser, row.partner_user_id)
        return ContactOut(
            kind="partner",
            email=partner.email if partner else (row.email or ""),
            partner_user_id=row.partner_user_id,
            name=partner.name if partner else None,
        )
    return ContactOut(kind="email", email=row.email or "")


def _pending_roles(account: CustomerAccount, emails: set[str]) -> list[str]:
    policy = account.role_policy or {}
    return sorted(email for email in policy.get("assignments", {}) if email not in emails)


def connection_out(session: Session, conn: PbxConnection) -> ConnectionOut:
    synced = session.scalar(
        select(func.count())
        .select_from(CustomerUser)
        .where(CustomerUser.account_id == conn.account_id, CustomerUser.pbx_user_id.is_not(None))
    )
    return ConnectionOut(
        host=conn.host,
        template=conn.template,
        enabled=conn.enabled,
        auto_provision_sub_accounts=conn.auto_provision_sub_accounts,
        state=conn.state,
        users_synced=int(synced or 0),
        sub_accounts_monitored=len(conn.monitored_sub_accounts or []),
        monitoring_calls=conn.monitoring_calls,
        monitoring_agent_status=conn.monitoring_agent_status,
    )


def account_out(session: Session, account: CustomerAccount) -> CustomerOut:
    rows = session.execute(
        select(CustomerUser.email, CustomerUser.is_admin).where(
            CustomerUser.account_id == account.id
        )
    ).all()
    emails = {email.lower() for email, _ in rows}
    tenant, org = session.get(Tenant, account.id), session.get(MobileOrg, account.id)
    return CustomerOut(
        id=account.id,
        reseller=account.reseller_id,
        name=account.name,
        product_type=account.product_type,
        reference=account.reference,
        billing_reference=account.reference or account.id,
        country=account.country,
        locale=account.locale,
        calling_code=phonenumbers.country_code_for_region(account.country),
        notes=account.notes,
        state=account.state,
        created_by=account.created_by,
        trial=account.trial,
        trial_days=account.trial_days,
        trial_ends_at=trial_ends_at(account),
        trial_expired=account.trial_expired,
        internal_demo=account.internal_demo,
        users=len(rows),
        admins=sum(1 for _, is_admin in rows if is_admin),
        connection=connection_out(session, account.connection) if account.connection else None,
        support_contacts=[_contact_out(session, row) for row in account.contacts],
        roles_pending=_pending_roles(account, emails),
        created_at=account.created_at,
        tenant_id=tenant.id if tenant else None,
        service_state=tenant.service_state if tenant else None,
        esim_licences=org.licences_total if org else 0,
    )


def _new_account_id(session: Session, name: str) -> str:
    base = name_key(name)[:40].strip("-") or "customer"
    candidate, n = base, 1
    while (
        session.get(CustomerAccount, candidate) is not None
        or session.get(Tenant, candidate) is not None
    ):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _check_unique_name(
    session: Session, reseller_id: str, name: str, but: str | None = None
) -> str:
    key = name_key(name)
    if not key:
        raise InvalidInput("a customer name needs letters or digits")
    query = select(CustomerAccount).where(
        CustomerAccount.reseller_id == reseller_id, CustomerAccount.name_key == key
    )
    existing = session.scalars(query).first()
    if existing is not None and existing.id != but:
        raise ConflictError(
            f"a customer named '{existing.name}' already exists for reseller '{reseller_id}' "
            f"(account {existing.id})"
        )
    return key


def _check_demo(session: Session, reseller_id: str, but: str | None = None) -> None:
    demo = demo_of(session, reseller_id, but)
    if demo is not None:
        raise ConflictError(
            f"reseller '{reseller_id}' already has an internal demo system: {demo.name} "
            f"({demo.id}); each reseller may mark only one customer as internal/demo"
        )


def _contact_row(
    session: Session, reseller_id: str, contact: ContactIn, added_by: str
) -> SupportContactRow:
    if (contact.partner is None) == (contact.email is None):
        raise InvalidInput("a support contact is either a partner user id or an email address")
    if contact.partner is not None:
        partner = session.get(PartnerUser, contact.partner)
        if partner is None or partner.reseller_id != reseller_id:
            raise InvalidInput(
                f"partner user '{contact.partner}' not found at reseller '{reseller_id}'"
            )
        return SupportContactRow(partner_user_id=partner.id, added_by=added_by)
    assert contact.email is not None
    return SupportContactRow(email=check_email(contact.email), added_by=added_by)


def create_account(
    session: Session,
    reseller_id: str,
    spec: CustomerIn,
    now: datetime,
    *,
    created_by: str = "partner",
    state: str = "provisioning",
    account_id: str | None = None,
) -> CustomerAccount:
    get_reseller(session, reseller_id)
    key = _check_unique_name(session, reseller_id, spec.name)
    check_product_type(spec.product_type)
    country = check_country(spec.country)
    if spec.internal_demo:
        _check_demo(session, reseller_id)
    if not spec.support_contacts:
        raise InvalidInput("at least one support contact is required to create a customer account")
    contacts = [_contact_row(session, reseller_id, c, "partner") for c in spec.support_contacts]
    account = CustomerAccount(
        id=account_id or _new_account_id(session, spec.name),
        reseller_id=reseller_id,
        name=spec.name,
        name_key=key,
        product_type=spec.product_type,
        reference=spec.reference,
        country=country,
        locale=locale_for(country),
        notes=spec.notes,
        trial=spec.trial,
        trial_days=spec.trial_days,
        internal_demo=spec.internal_demo,
        state=state,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    account.contacts = _dedupe(session, contacts)
    session.flush()
    customer_tenants.open_tenant(session, account, spec.esim_licences, state, now)
    return account


def create_direct(session: Session, account_id: str, spec: DirectCustomerIn, now: datetime) -> Any:
    """Admin API: an account as if created long ago (no workflow), replacing one with this id."""
    existing = session.get(CustomerAccount, account_id)
    if existing is not None:
        session.delete(existing)
        session.flush()
    if (tenant := session.get(Tenant, account_id)) is not None:  # replaced whole, tenant too
        session.execute(delete(MobileOrg).where(MobileOrg.tenant_id == account_id))
        session.delete(tenant)
        session.flush()
    account = create_account(
        session,
        spec.reseller,
        spec,
        now,
        created_by=spec.created_by,
        state=spec.state,
        account_id=account_id,
    )
    session.flush()
    for admin in spec.admins:
        invite_admin(session, account, admin, now)
    return account


def _dedupe(session: Session, rows: list[SupportContactRow]) -> list[SupportContactRow]:
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = row.partner_user_id or (row.email or "").lower()
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def update_account(session: Session, account: CustomerAccount, patch: CustomerPatch) -> None:
    given = patch.model_dump(exclude_unset=True)
    if given.get("name") is not None:
        account.name_key = _check_unique_name(
            session, account.reseller_id, given["name"], but=account.id
        )
        account.name = given["name"]
    if (new_type := given.get("product_type")) is not None and new_type != account.product_type:
        check_product_type(new_type)
        current = check_product_type(account.product_type)
        if current.immutable:
            raise ConflictError(
                f"product type '{current.id}' of account '{account.id}' cannot be changed once "
                "assigned"
            )
        account.product_type = new_type
    if given.get("reference") is not None:
        account.reference = given["reference"]
    if given.get("notes") is not None:
        account.notes = given["notes"]
    if given.get("country") is not None:
        account.country = check_country(given["country"])
        account.locale = locale_for(account.country)
    if given.get("internal_demo") is True and not account.internal_demo:
        _check_demo(session, account.reseller_id, but=account.id)
    if given.get("internal_demo") is not None:
        account.internal_demo = given["internal_demo"]
    trial_changed = False
    if given.get("trial") is not None and given["trial"] != account.trial:
        account.trial, trial_changed = given["trial"], True
    if given.get("trial_days") is not None and given["trial_days"] != account.trial_days:
        account.trial_days, trial_changed = given["trial_days"], True
    if trial_changed:
        # A new or longer trial starts afresh; a trial switched off is simply over.
        account.trial_expired = False


def delete_provisioning_account(session: Session, account_id: str) -> dict[str, Any]:
    account = session.get(CustomerAccount, account_id)
    if account is None:
        return {"deleted": False, "account_id": account_id}
    if account.state != "provisioning":
        raise ConflictError(
            f"account '{account_id}' is {account.state}; only an account still being "
            "provisioned can be removed this way"
        )
    session.delete(account)
    customer_tenants.drop_tenant(session, account_id)
    return {"deleted": True, "account_id": account_id}


def expire_trial(account: CustomerAccount) -> None:
    if not account.trial:
        raise ConflictError(f"account '{account.id}' is not in trial")
    account.trial_expired = True


# --- Admin users and invitations ---------------------------------------------------------------


def _user_by_email(session: Session, account_id: str, email: str) -> CustomerUser | None:
    return session.scalars(
        select(CustomerUser).where(
            CustomerUser.account_id == account_id, func.lower(CustomerUser.email) == email.lower()
        )
    ).first()


def invite_admin(
    session: Session, account: CustomerAccount, spec: AdminIn, now: datetime
) -> InvitationOut:
    """Make the person an Admin and give them an invitation (the same one while it is pending)."""
    email = check_email(spec.email)
    user = _user_by_email(session, account.id, email)
    if user is None:
        admins = session.scalar(
            select(func.count())
            .select_from(CustomerUser)
            .where(CustomerUser.account_id == account.id, CustomerUser.is_admin.is_(True))
        )
        user = CustomerUser(
            account_id=account.id, id=f"a{int(admins or 0) + 1}", name=spec.name, email=email
        )
        session.add(user)
    user.is_admin = True
    if "Admin" not in (user.roles or []):
        user.roles = ["Admin", *(user.roles or [])]
    if user.invitation_token is None:
        user.invitation_token = secrets.token_urlsafe(18)
        user.invited_at = now
    customer_tenants.sync_people(session, account, now)
    return InvitationOut(
        user_id=user.id, email=user.email, invitation_url=INVITE_BASE + user.invitation_token
    )


def users_page(
    session: Session, account_id: str, cursor: str | None, limit: int
) -> Page[CustomerUserOut]:
    base = select(CustomerUser).where(CustomerUser.account_id == account_id)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    query = base.order_by(CustomerUser.id).limit(limit)
    if cursor:
        query = query.where(CustomerUser.id > cursor)
    rows = session.scalars(query).all()
    items, next_cursor = _page(rows, int(total or 0), limit)
    return Page[CustomerUserOut](
        items=[
            CustomerUserOut(
                id=u.id,
                name=u.name,
                email=u.email,
                roles=list(u.roles or []),
                is_admin=u.is_admin,
                invited=u.invitation_token is not None,
                pbx_user_id=u.pbx_user_id,
                extension=u.extension,
                phone_e164=u.phone_e164,
                sub_account=u.sub_account,
            )
            for u in items
        ],
        next_cursor=next_cursor,
        total=int(total or 0),
    )


# --- PBX connection ----------------------------------------------------------------------------


def _connection(account: CustomerAccount) -> PbxConnection:
    if account.connection is None:
        raise ConflictError(f"account '{account.id}' has no PBX connection")
    return account.connection


def configure_pbx(account: CustomerAccount, spec: PbxIn) -> PbxConnection:
    conn = account.connection
    if conn is None:
        conn = PbxConnection(account_id=account.id)
        account.connection = conn
    elif conn.state not in ("disabled", "pending"):
        raise ConflictError(
            f"the PBX connection of account '{account.id}' is {conn.state}; it cannot be "
            "reconfigured"
        )
    conn.host = spec.host.lower()
    conn.template = spec.template
    conn.enabled = spec.enabled
    conn.auto_provision_sub_accounts = spec.auto_provision_sub_accounts
    conn.state = "pending" if spec.enabled else "disabled"
    conn.monitored_sub_accounts = []
    return conn


def enable_pbx(account: CustomerAccount) -> PbxConnection:
    conn = _connection(account)
    if not conn.enabled:
        conn.enabled = True
        conn.state = "pending"
    return conn


def _customer_pbx(session: Session, host: str) -> CustomerPbx:
    pbx = session.get(CustomerPbx, host)
    if pbx is None:
        raise InvalidInput(f"could not connect to the PBX at '{host}': no PBX answers at that host")
    if not pbx.reachable:
        raise PbxUnavailable(f"the PBX at '{host}' does not answer; try again later")
    return pbx


def _connected(session: Session, account: CustomerAccount) -> tuple[PbxConnection, CustomerPbx]:
    conn = _connection(account)
    if not conn.enabled:
        raise ConflictError(
            f"the PBX connection of account '{account.id}' is disabled: enable it first"
        )
    if conn.state == "pending":
        raise ConflictError(f"the PBX connection of account '{account.id}' is not connected yet")
    return conn, _customer_pbx(session, conn.host)


def _users_query(host: str, include_sub_accounts: bool) -> Any:
    query = select(CustomerPbxUser).where(CustomerPbxUser.host == host)
    if not include_sub_accounts:
        query = query.where(CustomerPbxUser.sub_account.is_(None))
    return query


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def connect_pbx(session: Session, account: CustomerAccount, now: datetime) -> DiscoveryOut:
    conn = _connection(account)
    if not conn.enabled:
        raise ConflictError(
            f"the PBX connection of account '{account.id}' is disabled: enable it first"
        )
    pbx = _customer_pbx(session, conn.host)
    if pbx.connect_error:
        raise InvalidInput(f"could not connect to the PBX at '{conn.host}': {pbx.connect_error}")
    if conn.state == "pending":
        conn.state = "connected"
        conn.connected_at = now
    subs = session.scalar(
        select(func.count())
        .select_from(CustomerPbxSubAccount)
        .where(CustomerPbxSubAccount.host == conn.host)
    )
    return DiscoveryOut(
        host=conn.host,
        model=pbx.model,
        users_total=_count(session, _users_query(conn.host, conn.auto_provision_sub_accounts)),
        sub_accounts_total=int(subs or 0),
    )


def discovered_users(
    session: Session, account: CustomerAccount, cursor: str | None, limit: int, subs: bool
) -> Page[DiscoveredUserOut]:
    conn, _pbx = _connected(session, account)
    base = _users_query(conn.host, subs)
    total = _count(session, base)
    query = base.order_by(CustomerPbxUser.id).limit(limit)
    if cursor:
        query = query.where(CustomerPbxUser.id > cursor)
    rows = session.scalars(query).all()
    items, next_cursor = _page(rows, total, limit)
    return Page[DiscoveredUserOut](
        items=[
            DiscoveredUserOut(
                id=u.id,
                name=u.name,
                email=u.email,
                extension=u.extension,
                phone=u.phone,
                sub_account=u.sub_account,
            )
            for u in items
        ],
        next_cursor=next_cursor,
        total=total,
    )


def discovered_sub_accounts(
    session: Session, account: CustomerAccount, cursor: str | None, limit: int
) -> Page[SubAccountOut]:
    conn, _pbx = _connected(session, account)
    base = select(CustomerPbxSubAccount).where(CustomerPbxSubAccount.host == conn.host)
    total = _count(session, base)
    query = base.order_by(CustomerPbxSubAccount.id).limit(limit)
    if cursor:
        query = query.where(CustomerPbxSubAccount.id > cursor)
    rows = session.scalars(query).all()
    items, next_cursor = _page(rows, total, limit)
    return Page[SubAccountOut](
        items=[SubAccountOut(id=s.id, name=s.name) for s in items],
        next_cursor=next_cursor,
        total=total,
    )


def _roles_for(account: CustomerAccount, email: str, is_admin: bool) -> list[str]:
    policy = account.role_policy
    if policy is None:
        return ["Admin"] if is_admin else []
    roles = list(policy.get("assignments", {}).get(email.lower(), policy.get("default_roles", [])))
    if is_admin and "Admin" not in roles:
        roles.insert(0, "Admin")
    return roles


def import_users(session: Session, account: CustomerAccount, body: ImportIn) -> ImportOut:
    """Upsert users read from the PBX: by PBX id, else the Admin with the same email."""
    conn, _pbx = _connected(session, account)
    existing = session.scalars(
        select(CustomerUser).where(CustomerUser.account_id == account.id)
    ).all()
    by_pbx = {u.pbx_user_id: u for u in existing if u.pbx_user_id}
    by_email = {u.email.lower(): u for u in existing}
    for spec in body.users:
        user = by_pbx.get(spec.pbx_user_id) or by_email.get(spec.email.lower())
        if user is None:
            user = CustomerUser(
                account_id=account.id, id=f"p-{spec.pbx_user_id}", name=spec.name, email=spec.email
            )
            user.roles = _roles_for(account, spec.email, False)
            session.add(user)
            by_email[spec.email.lower()] = user
        user.pbx_user_id = spec.pbx_user_id
        user.extension = spec.extension
        user.phone_e164 = spec.phone_e164
        user.sub_account = spec.sub_account
        if not user.is_admin:
            user.name = spec.name
        by_pbx[spec.pbx_user_id] = user
    conn.state = "monitoring" if conn.state == "monitoring" else "syncing"
    customer_tenants.sync_people(session, account, utcnow())
    total = session.scalar(
        select(func.count()).select_from(CustomerUser).where(CustomerUser.account_id == account.id)
    )
    return ImportOut(imported=len(body.users), account_users=int(total or 0))


def provision_sub_accounts(session: Session, account: CustomerAccount, ids: list[str]) -> int:
    conn, _pbx = _connected(session, account)
    known = set(
        session.scalars(
            select(CustomerPbxSubAccount.id).where(CustomerPbxSubAccount.host == conn.host)
        ).all()
    )
    if unknown := [i for i in ids if i not in known]:
        raise InvalidInput(f"unknown sub-account(s) on '{conn.host}': {', '.join(unknown[:5])}")
    conn.monitored_sub_accounts = sorted({*(conn.monitored_sub_accounts or []), *ids})
    return len(conn.monitored_sub_accounts)


def start_monitoring(session: Session, account: CustomerAccount) -> PbxConnection:
    conn, _pbx = _connected(session, account)
    conn.monitoring_calls = True
    conn.monitoring_agent_status = True
    conn.state = "monitoring"
    return conn


def remove_pbx(session: Session, account: CustomerAccount, keep_disabled: bool) -> None:
    """Undo the connection: synced users go (Admins stay, unlinked), monitoring stops."""
    session.execute(
        delete(CustomerUser).where(
            CustomerUser.account_id == account.id,
            CustomerUser.pbx_user_id.is_not(None),
            CustomerUser.is_admin.is_(False),
        )
    )
    for user in session.scalars(
        select(CustomerUser).where(CustomerUser.account_id == account.id)
    ).all():
        user.pbx_user_id = user.extension = user.phone_e164 = user.sub_account = None
    session.expire(account, ["users"])
    customer_tenants.sync_people(session, account, utcnow())
    conn = account.connection
    if conn is None:
        return
    if keep_disabled:
        conn.enabled = False
        conn.state = "disabled"
        conn.monitoring_calls = conn.monitoring_agent_status = False
        conn.monitored_sub_accounts = []
        conn.connected_at = None
    else:
        account.connection = None


# --- roles -------------------------------------------------------------------------------------


def assign_roles(session: Session, account: CustomerAccount, body: RolesIn) -> RolesOut:
    check_roles(body.default_roles)
    assignments: dict[str, list[str]] = {}
    for item in body.assignments:
        assignments[check_email(item.user).lower()] = check_roles(item.roles)
    account.role_policy = {"default_roles": list(body.default_roles), "assignments": assignments}
    users = session.scalars(select(CustomerUser).where(CustomerUser.account_id == account.id)).all()
    for user in users:
        user.roles = _roles_for(account, user.email, user.is_admin)
    emails = {u.email.lower() for u in users}
    customer_tenants.sync_people(session, account, utcnow())
    return RolesOut(applied=len(users), pending=_pending_roles(account, emails))


# --- support contacts --------------------------------------------------------------------------


def _check_actor(
    session: Session, account: CustomerAccount, acting_as: str, acting_user: str | None
) -> str:
    """The source's rules: who may change an account's support contacts."""
    if account.created_by != "partner":
        if acting_as == "admin":
            raise Forbidden(
                f"an administrative user may change support contacts only on accounts created "
                f"by a partner; account '{account.id}' was created by the {account.created_by}"
            )
        raise Forbidden(
            f"account '{account.id}' was created by the {account.created_by}, not by a partner: "
            "no partner manages its support contacts"
        )
    if acting_as == "partner":
        if acting_user is not None:
            partner = session.get(PartnerUser, acting_user)
            if partner is None or partner.reseller_id != account.reseller_id:
                raise Forbidden(
                    f"partner user '{acting_user}' does not belong to reseller "
                    f"'{account.reseller_id}', which manages account '{account.id}'"
                )
        return f"partner:{acting_user or account.reseller_id}"
    if acting_user is not None:
        user = _user_by_email(session, account.id, check_email(acting_user))
        if user is None or not user.is_admin:
            raise Forbidden(f"'{acting_user}' is not an Admin user of account '{account.id}'")
    return f"admin:{acting_user or '?'}"


def _contact_key(row: SupportContactRow) -> str:
    return row.partner_user_id or (row.email or "").lower()


def change_contacts(
    session: Session,
    account: CustomerAccount,
    action: str,
    contact: ContactIn,
    acting_as: str,
    acting_user: str | None,
) -> ContactsOut:
    actor = _check_actor(session, account, acting_as, acting_user)
    if action == "add":
        if contact.partner is not None and acting_as == "admin":
            raise Forbidden(
                "an administrative user adds support contacts by email address; partner users "
                "are added by a partner"
            )
        row = _contact_row(session, account.reseller_id, contact, actor)
        if any(_contact_key(r) == _contact_key(row) for r in account.contacts):
            changed = False
        else:
            account.contacts.append(row)
            changed = True
    else:
        key = contact.partner or check_email(contact.email or "").lower()
        found = [r for r in account.contacts if _contact_key(r) == key]
        if not found:
            changed = False
        else:
            if len(account.contacts) <= 1:
                raise ConflictError(
                    f"account '{account.id}' must keep at least one support contact; add "
                    "another before removing this one"
                )
            for row in found:
                account.contacts.remove(row)
            changed = True
    session.flush()
    return ContactsOut(
        account_id=account.id,
        changed=changed,
        contacts=[_contact_out(session, r) for r in account.contacts],
    )


def contacts_out(session: Session, account: CustomerAccount) -> list[ContactOut]:
    return [_contact_out(session, r) for r in account.contacts]


# --- problem reports ---------------------------------------------------------------------------


def put_report(
    session: Session, account: CustomerAccount, report_id: str, body: ProblemReportIn, now: datetime
) -> ProblemReportOut:
    report = session.get(ProblemReport, (account.id, report_id))
    if report is None:
        report = ProblemReport(
            account_id=account.id,
            id=report_id,
            application=body.application,
            description=body.description,
            reported_by=check_email(body.reported_by) if body.reported_by else None,
            created_at=now,
        )
        session.add(report)
    return ProblemReportOut(
        report_id=report.id,
        account_id=account.id,
        customer_name=account.name,
        application=report.application,
        description=report.description,
        reported_by=report.reported_by,
        created_at=report.created_at,
        contacts=contacts_out(session, account),
        state=report.state or "open",
        resolution=report.resolution,
        closed_at=report.closed_at,
    )


def reports(session: Session, account: CustomerAccount) -> list[ProblemReportOut]:
    rows = session.scalars(
        select(ProblemReport)
        .where(ProblemReport.account_id == account.id)
        .order_by(ProblemReport.created_at)
    ).all()
    return [
        ProblemReportOut(
            report_id=r.id,
            account_id=account.id,
            customer_name=account.name,
            application=r.application,
            description=r.description,
            reported_by=r.reported_by,
            created_at=r.created_at,
            contacts=[],
            state=r.state or "open",
            resolution=r.resolution,
            closed_at=r.closed_at,
        )
        for r in rows
    ]


# --- billing -----------------------------------------------------------------------------------


def billing(session: Session, month: str, reseller_id: str | None) -> BillingOut:
    match = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"'{month}' is not a month (YYYY-MM, e.g. 2026-11)")
    year, mon = int(match.group(1)), int(match.group(2))
    month_end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    prices = {p.id: p.monthly_price_per_user for p in PRODUCT_TYPES}
    rows = []
    for account in list_accounts(session, reseller_id):
        if account.state != "active" or account.created_at >= month_end:
            continue
        users = session.scalar(
            select(func.count())
            .select_from(CustomerUser)
            .where(CustomerUser.account_id == account.id)
        )
        unit = prices.get(account.product_type, 0.0)
        note = ""
        if account.internal_demo:
            note = "internal demo: not billed"
        elif account.trial:
            note = "trial expired: not billed" if account.trial_expired else "trial: not billed"
        amount = 0.0 if note else round(unit * int(users or 0), 2)
        rows.append(
            BillingRow(
                reseller=account.reseller_id,
                account_id=account.id,
                customer=account.name,
                reference=account.reference or account.id,
                product_type=account.product_type,
                users=int(users or 0),
                unit_price=unit,
                amount=amount,
                note=note,
            )
        )
    return BillingOut(month=month, currency="EUR", rows=rows)


# --- the customers' PBXs (admin API) -----------------------------------------------------------


def _phone(country: str, n: int) -> str | None:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
    if example is None:
        return None
    digits = str(example.national_number)
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(digits[:-4] + f"{n % 10000:04d}"),
        italian_leading_zero=example.italian_leading_zero,
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def put_customer_pbx(session: Session, host: str, spec: CustomerPbxIn) -> CustomerPbx:
    host = host.lower()
    existing = session.get(CustomerPbx, host)
    if existing is not None:
        session.execute(delete(CustomerPbxUser).where(CustomerPbxUser.host == host))
        session.execute(delete(CustomerPbxSubAccount).where(CustomerPbxSubAccount.host == host))
        session.delete(existing)
        session.flush()
    country = check_country(spec.country)
    pbx = CustomerPbx(
        host=host,
        model=spec.model,
        country=country,
        connect_error=spec.connect_error,
        reachable=spec.reachable,
    )
    session.add(pbx)
    domain = host.split(".", 1)[1] if "." in host else host
    rows: list[dict[str, Any]] = [{**person.model_dump(), "host": host} for person in spec.people]
    for n in range(1, spec.users + 1):
        rows.append(
            {
                "host": host,
                "id": f"{n:05d}",
                "name": f"User {n:05d}",
                "email": f"user{n:05d}@{domain}",
                "extension": str(10000 + n),
                "phone": _phone(country, n),
                "sub_account": None,
            }
        )
    for sub in spec.sub_accounts:
        session.add(CustomerPbxSubAccount(host=host, id=sub.id, name=sub.name))
        for n in range(1, sub.users + 1):
            rows.append(
                {
                    "host": host,
                    "id": f"{sub.id}-{n:04d}",
                    "name": f"{sub.name} user {n:04d}",
                    "email": f"{sub.id}.user{n:04d}@{domain}",
                    "extension": f"{sub.id[:3]}{n:04d}",
                    "phone": _phone(country, n),
                    "sub_account": sub.id,
                }
            )
    session.flush()
    if rows:
        session.execute(table(CustomerPbxUser).insert(), rows)
    return pbx


def customer_pbx_out(session: Session, pbx: CustomerPbx) -> CustomerPbxOut:
    users = session.scalar(
        select(func.count()).select_from(CustomerPbxUser).where(CustomerPbxUser.host == pbx.host)
    )
    subs = session.scalar(
        select(func.count())
        .select_from(CustomerPbxSubAccount)
        .where(CustomerPbxSubAccount.host == pbx.host)
    )
    return CustomerPbxOut(
        host=pbx.host,
        model=pbx.model,
        country=pbx.country,
        users=int(users or 0),
        sub_accounts=int(subs or 0),
        connect_error=pbx.connect_error,
        reachable=pbx.reachable,
    )


def get_customer_pbx(session: Session, host: str) -> CustomerPbx:
    pbx = session.get(CustomerPbx, host.lower())
    if pbx is None:
        raise NotFoundError(f"no customer PBX at '{host}'")
    return pbx
