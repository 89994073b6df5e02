"""The reseller portal's API (under ``/pbx``, so bearer token and Idempotency-Key apply) and its
test controls (under ``/admin``). See API.md, "Reseller portal"."""

from typing import Any

from fastapi import APIRouter, Depends, Query

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.deps import get_db, require_admin, require_token
from pbxsim.provisioning.customer_tenants import activate_tenant
from pbxsim.provisioning.models import CustomerAccount, Reseller
from pbxsim.provisioning.portal import (
    PRODUCT_TYPES,
    ROLES,
    account_out,
    assign_roles,
    billing,
    change_contacts,
    configure_pbx,
    connect_pbx,
    connection_out,
    contacts_out,
    create_account,
    create_direct,
    customer_pbx_out,
    delete_provisioning_account,
    discovered_sub_accounts,
    discovered_users,
    enable_pbx,
    expire_trial,
    get_account,
    get_customer_pbx,
    get_reseller,
    import_users,
    invite_admin,
    list_accounts,
    provision_sub_accounts,
    put_customer_pbx,
    put_report,
    put_reseller,
    remove_pbx,
    reports,
    reseller_out,
    start_monitoring,
    update_account,
    users_page,
)
from pbxsim.provisioning.schemas import (
    AdminIn,
    BillingOut,
    ConnectionOut,
    ContactChangeIn,
    ContactOut,
    ContactsOut,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    CustomerPbxIn,
    CustomerPbxOut,
    CustomerPbxPatch,
    CustomerUserOut,
    DirectCustomerIn,
    DiscoveredUserOut,
    DiscoveryOut,
    ImportIn,
    ImportOut,
    InvitationOut,
    Page,
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
    SubAccountsIn,
)

router = APIRouter(prefix="/pbx", tags=["reseller portal"], dependencies=[Depends(require_token)])
admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

Limit = Query(default=200, ge=1, le=1000)


@router.get("/product-types")
def product_types() -> list[ProductTypeOut]:
    return list(PRODUCT_TYPES)


@router.get("/roles")
def roles() -> list[RoleOut]:
    return list(ROLES)


@router.get("/resellers")
def resellers(db: Database = Depends(get_db)) -> list[ResellerOut]:
    with db.reading() as session:
        rows = session.query(Reseller).order_by(Reseller.id).all()
        return [reseller_out(session, r) for r in rows]


@router.get("/resellers/{reseller_id}")
def reseller(reseller_id: str, db: Database = Depends(get_db)) -> ResellerOut:
    with db.reading() as session:
        return reseller_out(session, get_reseller(session, reseller_id))


@router.post("/resellers/{reseller_id}/customers", status_code=201)
def create_customer(
    reseller_id: str, body: CustomerIn, db: Database = Depends(get_db)
) -> CustomerOut:
    with db.transaction() as session:
        account = create_account(session, reseller_id, body, utcnow())
        session.flush()
        return account_out(session, account)


@router.get("/customers")
def customers(
    reseller: str | None = Query(default=None), db: Database = Depends(get_db)
) -> list[CustomerOut]:
    with db.reading() as session:
        return [account_out(session, a) for a in list_accounts(session, reseller)]


@router.get("/customers/{account_id}")
def customer(account_id: str, db: Database = Depends(get_db)) -> CustomerOut:
    with db.reading() as session:
        return account_out(session, get_account(session, account_id))


@router.patch("/customers/{account_id}")
def patch_customer(
    account_id: str, body: CustomerPatch, db: Database = Depends(get_db)
) -> CustomerOut:
    with db.transaction() as session:
        account = get_account(session, account_id)
        update_account(session, account, body)
        account.updated_at = utcnow()
        session.flush()
        return account_out(session, account)


@router.delete("/customers/{account_id}")
def delete_customer(account_id: str, db: Database = Depends(get_db)) -> dict[str, Any]:
    """Removes an account still being provisioned (a saga undoing itself); 404-free."""
    with db.transaction() as session:
        return delete_provisioning_account(session, account_id)


@router.post("/customers/{account_id}/activate")
def activate(account_id: str, db: Database = Depends(get_db)) -> CustomerOut:
    with db.transaction() as session:
        account = get_account(session, account_id)
        account.state = "active"
        activate_tenant(session, account)  # one tenant model: its service is active now
        return account_out(session, account)


@router.post("/customers/{account_id}/trial/expire")
def trial_expire(account_id: str, db: Database = Depends(get_db)) -> CustomerOut:
    with db.transaction() as session:
        account = get_account(session, account_id)
        expire_trial(account)
        return account_out(session, account)


@router.post("/customers/{account_id}/admins", status_code=201)
def add_admin(account_id: str, body: AdminIn, db: Database = Depends(get_db)) -> InvitationOut:
    with db.transaction() as session:
        return invite_admin(session, get_account(session, account_id), body, utcnow())


@router.get("/customers/{account_id}/users")
def customer_users(
    account_id: str,
    cursor: str | None = None,
    limit: int = Limit,
    db: Database = Depends(get_db),
) -> Page[CustomerUserOut]:
    with db.reading() as session:
        get_account(session, account_id)
        return users_page(session, account_id, cursor, limit)


@router.post("/customers/{account_id}/users/import")
def import_customer_users(
    account_id: str, body: ImportIn, db: Database = Depends(get_db)
) -> ImportOut:
    with db.transaction() as session:
        return import_users(session, get_account(session, account_id), body)


@router.put("/customers/{account_id}/roles")
def put_roles(account_id: str, body: RolesIn, db: Database = Depends(get_db)) -> RolesOut:
    with db.transaction() as session:
        return assign_roles(session, get_account(session, account_id), body)


# --- PBX connection ----------------------------------------------------------------------------


@router.put("/customers/{account_id}/pbx")
def put_pbx(account_id: str, body: PbxIn, db: Database = Depends(get_db)) -> ConnectionOut:
    with db.transaction() as session:
        account = get_account(session, account_id)
        conn = configure_pbx(account, body)
        session.flush()
        return connection_out(session, conn)


@router.delete("/customers/{account_id}/pbx")
def delete_pbx(
    account_id: str,
    keep_disabled: bool = Query(default=False),
    db: Database = Depends(get_db),
) -> dict[str, Any]:
    """Undo a connection: synced users removed (Admins stay), monitoring stopped; the connection
    is deleted, or kept disabled with ``keep_disabled``. An unknown account is already undone."""
    with db.transaction() as session:
        account = session.get(CustomerAccount, account_id)
        if account is None:
            return {"removed": False, "keep_disabled": keep_disabled}
        remove_pbx(session, account, keep_disabled)
        return {"removed": True, "keep_disabled": keep_disabled}


@router.post("/customers/{account_id}/pbx/enable")
def pbx_enable(account_id: str, db: Database = Depends(get_db)) -> ConnectionOut:
    with db.transaction() as session:
        conn = enable_pbx(get_account(session, account_id))
        session.flush()
        return connection_out(session, conn)


@router.post("/customers/{account_id}/pbx/connect")
def pbx_connect(account_id: str, db: Database = Depends(get_db)) -> DiscoveryOut:
    with db.transaction() as session:
        return connect_pbx(session, get_account(session, account_id), utcnow())


@router.get("/customers/{account_id}/pbx/users")
def pbx_users(
    account_id: str,
    cursor: str | None = None,
    limit: int = Limit,
    sub_accounts: bool = False,
    db: Database = Depends(get_db),
) -> Page[DiscoveredUserOut]:
    with db.reading() as session:
        account = get_account(session, account_id)
        return discovered_users(session, account, cursor, limit, sub_accounts)


@router.get("/customers/{account_id}/pbx/sub-accounts")
def pbx_sub_accounts(
    account_id: str,
    cursor: str | None = None,
    limit: int = Limit,
    db: Database = Depends(get_db),
) -> Page[SubAccountOut]:
    with db.reading() as session:
        return discovered_sub_accounts(session, get_account(session, account_id), cursor, limit)


@router.post("/customers/{account_id}/pbx/sub-accounts")
def pbx_provision_sub_accounts(
    account_id: str, body: SubAccountsIn, db: Database = Depends(get_db)
) -> dict[str, int]:
    with db.transaction() as session:
        count = provision_sub_accounts(session, get_account(session, account_id), body.ids)
        return {"sub_accounts_monitored": count}


@router.post("/customers/{account_id}/pbx/monitoring")
def pbx_monitoring(account_id: str, db: Database = Depends(get_db)) -> ConnectionOut:
    with db.transaction() as session:
        conn = start_monitoring(session, get_account(session, account_id))
        session.flush()
        return connection_out(session, conn)


# --- support contacts and problem reports ------------------------------------------------------


@router.get("/customers/{account_id}/support-contacts")
def support_contacts(account_id: str, db: Database = Depends(get_db)) -> list[ContactOut]:
    with db.reading() as session:
        return contacts_out(session, get_account(session, account_id))


@router.post("/customers/{account_id}/support-contacts")
def add_contact(
    account_id: str, body: ContactChangeIn, db: Database = Depends(get_db)
) -> ContactsOut:
    with db.transaction() as session:
        account = get_account(session, account_id)
        return change_contacts(
            session, account, "add", body.contact, body.acting_as, body.acting_user
        )


@router.post("/customers/{account_id}/support-contacts/remove")
def remove_contact(
    account_id: str, body: ContactChangeIn, db: Database = Depends(get_db)
) -> ContactsOut:
    with db.transaction() as session:
        account = get_account(session, account_id)
        return change_contacts(
            session, account, "remove", body.contact, body.acting_as, body.acting_user
        )


@router.put("/customers/{account_id}/problem-reports/{report_id}")
def report_problem(
    account_id: str, report_id: str, body: ProblemReportIn, db: Database = Depends(get_db)
) -> ProblemReportOut:
    with db.transaction() as session:
        return put_report(session, get_account(session, account_id), report_id, body, utcnow())


@router.get("/customers/{account_id}/problem-reports")
def problem_reports(account_id: str, db: Database = Depends(get_db)) -> list[ProblemReportOut]:
    with db.reading() as session:
        return reports(session, get_account(session, account_id))


@router.get("/billing")
def billing_export(
    month: str = Query(description="YYYY-MM"),
    reseller: str | None = None,
    db: Database = Depends(get_db),
) -> BillingOut:
    with db.reading() as session:
        if reseller:
            get_reseller(session, reseller)
        return billing(session, month, reseller)


# --- admin: resellers, customer PBXs, accounts made without the workflow -----------------------


@admin.put("/resellers/{reseller_id}")
def admin_put_reseller(
    reseller_id: str, body: ResellerIn, db: Database = Depends(get_db)
) -> ResellerOut:
    with db.transaction() as session:
        found = put_reseller(session, reseller_id, body)
        session.flush()
        return reseller_out(session, found)


@admin.put("/customer-pbxs/{host}")
def admin_put_pbx(host: str, body: CustomerPbxIn, db: Database = Depends(get_db)) -> CustomerPbxOut:
    with db.transaction() as session:
        return customer_pbx_out(session, put_customer_pbx(session, host, body))


@admin.patch("/customer-pbxs/{host}")
def admin_patch_pbx(
    host: str, body: CustomerPbxPatch, db: Database = Depends(get_db)
) -> CustomerPbxOut:
    with db.transaction() as session:
        pbx = get_customer_pbx(session, host)
        for field, value in body.model_dump(exclude_unset=True).items():
            setattr(pbx, field, value)
        return customer_pbx_out(session, pbx)


@admin.put("/customers/{account_id}")
def admin_put_customer(
    account_id: str, body: DirectCustomerIn, db: Database = Depends(get_db)
) -> CustomerOut:
    with db.transaction() as session:
        account = create_direct(session, account_id, body, utcnow())
        session.flush()
        return account_out(session, account)
