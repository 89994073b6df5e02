"""The PBX platform's API: tenants, their users and extensions, and service transition jobs."""

from fastapi import APIRouter, Depends, Query

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.deps import get_db, require_token
from pbxsim.pbx.deletion import purge as run_purge
from pbxsim.pbx.schemas import (
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
from pbxsim.pbx.tenants import read_extensions, read_tenant, read_tenants, read_users
from pbxsim.pbx.transitions import get_job, job_out, start_transition

router = APIRouter(prefix="/pbx", tags=["pbx"], dependencies=[Depends(require_token)])


@router.get("/tenants")
def tenants(db: Database = Depends(get_db)) -> list[TenantOut]:
    with db.reading_connection() as connection:
        return read_tenants(connection)


@router.get("/tenants/{tenant_id}")
def tenant(tenant_id: str, db: Database = Depends(get_db)) -> TenantOut:
    with db.reading_connection() as connection:
        return read_tenant(connection, tenant_id)


@router.get("/tenants/{tenant_id}/users")
def users(
    tenant_id: str,
    role: str | None = Query(default=None, description="only users with this role"),
    db: Database = Depends(get_db),
) -> list[UserOut]:
    with db.reading_connection() as connection:
        return read_users(connection, tenant_id, role)


@router.get("/tenants/{tenant_id}/extensions")
def extensions(tenant_id: str, db: Database = Depends(get_db)) -> list[ExtensionOut]:
    with db.reading_connection() as connection:
        return read_extensions(connection, tenant_id)


def _start(tenant_id: str, kind: str, body: TransitionIn | None, db: Database) -> JobAccepted:
    callback_url = body.callback_url if body else None
    with db.connection() as connection:
        return start_transition(connection, tenant_id, kind, callback_url, utcnow())


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
    with db.connection() as connection:
        [removed] = run_purge(connection, tenant_id, [step])
    return PurgeOut(tenant_id=tenant_id, step=step, removed=removed)


@router.post("/tenants/{tenant_id}/purge")
def purge_all(tenant_id: str, body: PurgeIn, db: Database = Depends(get_db)) -> PurgeAllOut:
    """Several purge steps in one request and one transaction, in the order given."""
    with db.connection() as connection:
        removed = run_purge(connection, tenant_id, body.steps)
    done = [
        PurgeOut(tenant_id=tenant_id, step=step, removed=count)
        for step, count in zip(body.steps, removed, strict=True)
    ]
    return PurgeAllOut(tenant_id=tenant_id, steps=done)


@router.get("/jobs/{job_id}")
def job(job_id: str, db: Database = Depends(get_db)) -> JobOut:
    with db.reading() as session:
        return job_out(get_job(session, job_id))
