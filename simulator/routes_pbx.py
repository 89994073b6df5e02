"""The PBX platform's API: tenants, their users and extensions, and service transition jobs."""

from fastapi import APIRouter, Depends, Query

from simulator.clock import utcnow
from simulator.db import Database
from simulator.deletion import purge_step
from simulator.deps import get_db, require_token
from simulator.schemas import (
    ExtensionOut,
    JobAccepted,
    JobOut,
    PurgeAllOut,
    PurgeIn,
    PurgeOut,
    TenantOut,
    TransitionIn,
    UserOut,
)
from simulator.tenants import extension_out, get_tenant, list_tenants, tenant_out, user_out
from simulator.transitions import get_job, job_out, start_transition

router = APIRouter(prefix="/pbx", tags=["pbx"], dependencies=[Depends(require_token)])


@router.get("/tenants")
def tenants(db: Database = Depends(get_db)) -> list[TenantOut]:
    with db.reading() as session:
        return [tenant_out(tenant) for tenant in list_tenants(session)]


@router.get("/tenants/{tenant_id}")
def tenant(tenant_id: str, db: Database = Depends(get_db)) -> TenantOut:
    with db.reading() as session:
        return tenant_out(get_tenant(session, tenant_id))


@router.get("/tenants/{tenant_id}/users")
def users(
    tenant_id: str,
    role: str | None = Query(default=None, description="only users with this role"),
    db: Database = Depends(get_db),
) -> list[UserOut]:
    with db.reading() as session:
        found = get_tenant(session, tenant_id).users
        return [user_out(u) for u in found if role is None or role in u.roles]


@router.get("/tenants/{tenant_id}/extensions")
def extensions(tenant_id: str, db: Database = Depends(get_db)) -> list[ExtensionOut]:
    with db.reading() as session:
        return [extension_out(ext) for ext in get_tenant(session, tenant_id).extensions]


def _start(tenant_id: str, kind: str, body: TransitionIn | None, db: Database) -> JobAccepted:
    callback_url = body.callback_url if body else None
    with db.transaction() as session:
        return start_transition(session, tenant_id, kind, callback_url, utcnow())


@router.post("/tenants/{tenant_id}/deactivation", status_code=202)
def deactivate(
    tenant_id: str, body: TransitionIn | None = None, db: Database = Depends(get_db)
) -> JobAccepted:
    return _start(tenant_id, "deactivation", body, db)


@router.post("/tenants/{tenant_id}/reactivation", status_code=202)
def reactivate(
    tenant_id: str, body: TransitionIn | None = None, db: Database = Depends(get_db)
) -> JobAccepted:
    return _start(tenant_id, "reactivation", body, db)


@router.post("/tenants/{tenant_id}/deletion", status_code=202)
def delete_service(
    tenant_id: str, body: TransitionIn | None = None, db: Database = Depends(get_db)
) -> JobAccepted:
    """The delivery team takes the deletion: the service shows `deleting` at once."""
    return _start(tenant_id, "deletion", body, db)


@router.post("/tenants/{tenant_id}/purge/{step}")
def purge(tenant_id: str, step: str, db: Database = Depends(get_db)) -> PurgeOut:
    """One purge step of a deleting service; running it again removes nothing more."""
    with db.transaction() as session:
        removed = purge_step(session, get_tenant(session, tenant_id), step)
        return PurgeOut(tenant_id=tenant_id, step=step, removed=removed)


@router.post("/tenants/{tenant_id}/purge")
def purge_all(tenant_id: str, body: PurgeIn, db: Database = Depends(get_db)) -> PurgeAllOut:
    """Several purge steps in one request and one transaction, in the order given."""
    with db.transaction() as session:
        tenant = get_tenant(session, tenant_id)
        done = [
            PurgeOut(tenant_id=tenant_id, step=step, removed=purge_step(session, tenant, step))
            for step in body.steps
        ]
        return PurgeAllOut(tenant_id=tenant_id, steps=done)


@router.get("/jobs/{job_id}")
def job(job_id: str, db: Database = Depends(get_db)) -> JobOut:
    with db.reading() as session:
        return job_out(get_job(session, job_id))
