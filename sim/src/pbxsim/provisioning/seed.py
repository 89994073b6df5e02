"""Demo data of the reseller portal (see API.md, "Reseller portal", Seed).

Two resellers with partner users; three customer PBXs to provision against (2,000 users with
sub-accounts, a small one, and one whose credentials are refused, for the saga's undo); and two
existing accounts: Northwind's internal demo system (so a second one is refused) and an account
the provider created directly (on which an administrative user may not change contacts).
Idempotent: what exists is left as it is.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pbxsim.pbx.models import Tenant
from pbxsim.provisioning.models import (
    CustomerAccount,
    CustomerPbx,
    CustomerUser,
    SupportContactRow,
)
from pbxsim.provisioning.portal import (
    create_direct,
    locale_for,
    name_key,
    put_customer_pbx,
    put_reseller,
)
from pbxsim.provisioning.schemas import (
    AdminIn,
    ContactIn,
    CustomerPbxIn,
    DirectCustomerIn,
    NamedPbxUserIn,
    PartnerIn,
    ResellerIn,
    SubAccountIn,
)

# The provider's own sales channel: the demo tenants (acme, globex, initech) are its customers.
DEMO_RESELLER = "pbx-direct"
RESELLERS = {
    DEMO_RESELLER: ResellerIn(
        name="Cloud PBX Direct Sales",
        notification_email="sales@pbx-direct.example",
        partners=[PartnerIn(id="p-dora", name="Dora Sala", email="dora.sala@pbx-direct.example")],
        esim_licences=100,
    ),
    "northwind": ResellerIn(
        name="Northwind Telecom Partners",
        notification_email="provisioning@northwind.example",
        partners=[
            PartnerIn(id="p-anna", name="Anna Ferri", email="anna.ferri@northwind.example"),
            PartnerIn(id="p-bruno", name="Bruno Costa", email="bruno.costa@northwind.example"),
        ],
        esim_licences=20,
    ),
    "contoso": ResellerIn(
        name="Contoso Voice",
        notification_email="trials@contoso.example",
        partners=[PartnerIn(id="p-carla", name="Carla Neri", email="carla.neri@contoso.example")],
    ),
}

CUSTOMER_PBXS = {
    "pbx.bluebird.example": CustomerPbxIn(
        users=2000,
        people=[
            NamedPbxUserIn(
                id="00000-admin",
                name="Marta Gallo",
                email="marta.gallo@bluebird.example",
                extension="200",
                phone="02 8000 0200",
            )
        ],
        sub_accounts=[
            SubAccountIn(id="milano", name="Milano office", users=40),
            SubAccountIn(id="torino", name="Torino office", users=25),
            SubAccountIn(id="napoli", name="Napoli office", users=15),
        ],
    ),
    "pbx.small.example": CustomerPbxIn(users=25, country="FR", model="MiVoice MX-ONE"),
    "pbx.broken.example": CustomerPbxIn(
        users=10, connect_error="authentication failed (the PBX refused the API credentials)"
    ),
}

DEMO_CUSTOMERS = ("acme", "globex", "initech")
ACCOUNTS = {
    "northwind-lab": DirectCustomerIn(
        reseller="northwind",
        name="Northwind Lab",
        product_type="professional",
        country="IT",
        internal_demo=True,
        support_contacts=[ContactIn(partner="p-anna")],
        admins=[AdminIn(name="Anna Ferri", email="anna.ferri@northwind.example")],
    ),
    "legacy-telco": DirectCustomerIn(
        reseller="northwind",
        name="Legacy Telco S.p.A.",
        product_type="essentials",
        reference="LEG-0042",
        country="IT",
        created_by="provider",
        support_contacts=[ContactIn(email="support@legacy-telco.example")],
        admins=[AdminIn(name="Paolo Neri", email="paolo.neri@legacy-telco.example")],
    ),
}


def seed_provisioning(session: Session, now: datetime) -> None:
    for reseller_id, spec in RESELLERS.items():
        put_reseller(session, reseller_id, spec)
    session.flush()
    for host, pbx in CUSTOMER_PBXS.items():
        if session.get(CustomerPbx, host) is None:
            put_customer_pbx(session, host, pbx)
    for account_id, account in ACCOUNTS.items():
        if session.get(CustomerAccount, account_id) is None:
            create_direct(session, account_id, account, now)
    seed_demo_customers(session, now)


def seed_demo_customers(session: Session, now: datetime) -> None:
    """One tenant model: each demo tenant is an ordinary customer of the direct-sales reseller,
    its users the account's users (Admins as Admins). Adopts tenants that exist, once."""
    for tenant in session.scalars(select(Tenant).where(Tenant.id.in_(DEMO_CUSTOMERS))).all():
        if session.get(CustomerAccount, tenant.id) is not None:
            continue
        account = CustomerAccount(
            id=tenant.id,
            reseller_id=DEMO_RESELLER,
            name=tenant.name,
            name_key=name_key(tenant.name),
            product_type="professional",
            country=tenant.country,
            locale=locale_for(tenant.country),
            state="active",
            created_at=now,
            updated_at=now,
        )
        account.contacts = [
            SupportContactRow(email=f"support@{tenant.id}.example", added_by="seed")
        ]
        account.users = [
            CustomerUser(
                id=user.id,
                name=user.name,
                email=user.email,
                roles=list(user.roles),
                is_admin="Admin" in user.roles,
            )
            for user in tenant.users
        ]
        session.add(account)
