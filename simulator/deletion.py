"""Deleting a Cloud PBX service: the purge steps and the erasure job's completion.

The delivery team's work is a sequence of idempotent purge steps (each its own API call, so the
procedure can show them one by one) and a slow erasure job (recordings and stored data, whose
duration is a per-tenant setting, ``null`` = stuck). Whatever order they run in, the end state is
the same: nothing of the tenant remains but its id, its name and the deletion record; usage is
zero and billing is stopped.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from simulator.clock import utcnow
from simulator.deletion_models import DeletionRecord, Recording
from simulator.errors import ConflictError, NotFoundError
from simulator.models import Tenant
from simulator.numbers_models import NumberDevice
from simulator.schemas import ServiceState

Purger = Callable[[Session, Tenant], int]
"""Erases one kind of the tenant's data; returns how many items it removed."""


def _extensions(session: Session, tenant: Tenant) -> int:
    count = len(tenant.extensions)
    tenant.extensions = []
    return count


def _users(session: Session, tenant: Tenant) -> int:
    count = len(tenant.users)
    tenant.users = []
    return count


def _recordings(session: Session, tenant: Tenant) -> int:
    result = session.execute(delete(Recording).where(Recording.tenant_id == tenant.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _numbers(session: Session, tenant: Tenant) -> int:
    """Release the tenant's phone numbers: their devices go, as in a number removal."""
    devices = session.scalars(
        select(NumberDevice).where(
            NumberDevice.tenant_id == tenant.id, NumberDevice.deleted_at.is_(None)
        )
    ).all()
    now = utcnow()
    for device in devices:
        device.deleted_at = now
    return len(devices)


def _usage(session: Session, tenant: Tenant) -> int:
    minutes, tenant.usage_minutes = tenant.usage_minutes, 0
    return minutes


def _billing(session: Session, tenant: Tenant) -> int:
    was_active, tenant.billing_active = tenant.billing_active, False
    return int(was_active)


# In the order the delivery team runs them. Other areas of the platform that hold a tenant's
# data (mobile lines, say) add theirs with ``register_purger``.
PURGE_STEPS: dict[str, Purger] = {
    "extensions": _extensions,
    "users": _users,
    "recordings": _recordings,
    "numbers": _numbers,
    "usage": _usage,
    "billing": _billing,
}


def register_purger(step: str, purger: Purger) -> None:
    PURGE_STEPS[step] = purger


def recordings_count(session: Session, tenant_id: str) -> int:
    count = session.scalar(
        select(func.count()).select_from(Recording).where(Recording.tenant_id == tenant_id)
    )
    return int(count or 0)


def purge_step(session: Session, tenant: Tenant, step: str) -> int:
    purger = PURGE_STEPS.get(step)
    if purger is None:
        raise NotFoundError(f"unknown purge step '{step}'; steps: {', '.join(PURGE_STEPS)}")
    if tenant.service_state not in (ServiceState.DELETING, ServiceState.DELETED):
        raise ConflictError(
            f"service of tenant '{tenant.id}' is {tenant.service_state}; "
            "purge steps run only while it is deleting"
        )
    return purger(session, tenant)


def record_request(session: Session, tenant: Tenant, job_id: str, now: datetime) -> None:
    session.merge(DeletionRecord(tenant_id=tenant.id, requested_at=now, job_id=job_id))


def complete_deletion(session: Session, tenant: Tenant, now: datetime) -> None:
    """The erasure job ends: every remaining purge step runs, the record is closed."""
    for purger in PURGE_STEPS.values():
        purger(session, tenant)
    record = session.get(DeletionRecord, tenant.id)
    if record is None:
        record = DeletionRecord(tenant_id=tenant.id, requested_at=now)
        session.add(record)
    record.completed_at = now
