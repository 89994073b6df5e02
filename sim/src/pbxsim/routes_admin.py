"""Controls for tests and demos: shape tenants, un-stick jobs, inject faults, reset everything."""

from typing import Any

from fastapi import APIRouter, Depends, Request

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.deps import get_db, require_admin
from pbxsim.faults import FaultStore
from pbxsim.pbx.schemas import SettingsPatch, TenantIn, TenantOut
from pbxsim.pbx.tenants import get_tenant, put_tenant, tenant_out, tenant_settings
from pbxsim.pbx.transitions import cancel_tenant_jobs, complete_tenant_jobs, job_out
from pbxsim.schemas import FaultRuleIn, FaultRuleOut

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def get_faults(request: Request) -> FaultStore:
    store: FaultStore = request.app.state.faults
    return store


@router.put("/tenants/{tenant_id}")
def put(tenant_id: str, body: TenantIn, db: Database = Depends(get_db)) -> TenantOut:
    now = utcnow()
    with db.transaction() as session:
        # The tenant is being given a new state: a job still running for the old one must not
        # overwrite it later.
        cancel_tenant_jobs(session, tenant_id, now)
        return tenant_out(put_tenant(session, tenant_id, body, now))


@router.patch("/tenants/{tenant_id}/settings")
def patch_settings(
    tenant_id: str, body: SettingsPatch, db: Database = Depends(get_db)
) -> TenantOut:
    """Applies to jobs started afterwards; a running job keeps its due time."""
    with db.transaction() as session:
        tenant = get_tenant(session, tenant_id)
        merged = tenant_settings(tenant).model_copy(update=body.model_dump(exclude_unset=True))
        tenant.settings = merged.model_dump()
        tenant.updated_at = utcnow()
        return tenant_out(tenant)


@router.post("/tenants/{tenant_id}/complete-jobs")
def complete_jobs(tenant_id: str, db: Database = Depends(get_db)) -> dict[str, Any]:
    with db.transaction() as session:
        jobs = complete_tenant_jobs(session, tenant_id, utcnow())
        return {"completed": [job_out(job).model_dump(mode="json") for job in jobs]}


@router.post("/reset")
def reset(db: Database = Depends(get_db), faults: FaultStore = Depends(get_faults)) -> dict:
    db.reset()
    faults.forget()
    return {"status": "reset"}


@router.put("/faults")
def put_fault(body: FaultRuleIn, faults: FaultStore = Depends(get_faults)) -> FaultRuleOut:
    return faults.put(body)


@router.get("/faults")
def list_faults(faults: FaultStore = Depends(get_faults)) -> list[FaultRuleOut]:
    return list(faults.list())


@router.delete("/faults")
def clear_faults(faults: FaultStore = Depends(get_faults)) -> dict[str, str]:
    faults.clear()
    return {"status": "cleared"}
