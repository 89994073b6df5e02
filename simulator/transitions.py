"""The platform's asynchronous service transitions, run as durable jobs.

A transition is a table entry: the state it starts from, the state it shows while running, the
state it ends in, the tenant setting that says how long it takes, and what it does to the
tenant's resources on completion. Later procedures (deletion with purge steps) are new entries.
"""

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from simulator.deletion import complete_deletion, record_request
from simulator.errors import ConflictError, NotFoundError
from simulator.models import Job, Tenant
from simulator.schemas import CallbackOut, JobAccepted, JobOut, ServiceState
from simulator.tenants import get_tenant, tenant_settings

RUNNING, DONE, CANCELLED = "running", "done", "cancelled"
# A callback waits for its job to end, is pending until delivered, and fails after the last try.
CALLBACK_WAITING, CALLBACK_PENDING = "waiting", "pending"
CALLBACK_DELIVERED, CALLBACK_FAILED = "delivered", "failed"


def _deregister_extensions(session: Session, tenant: Tenant, now: datetime) -> None:
    # Deactivation stops calls but keeps the configuration: extensions stay, unregistered, and
    # billing is deliberately left alone (that is the customer's contract, not the service's).
    for ext in tenant.extensions:
        ext.registered = False


def _register_extensions(session: Session, tenant: Tenant, now: datetime) -> None:
    for ext in tenant.extensions:
        ext.registered = True


def _record_deletion(session: Session, tenant: Tenant, job: Job, now: datetime) -> None:
    record_request(session, tenant, job.id, now)


@dataclass(frozen=True)
class Transition:
    kind: str
    from_states: tuple[ServiceState, ...]
    transient_state: ServiceState
    target_state: ServiceState
    duration_setting: str
    # Completes "only <...>" in a 409's sentence.
    requirement: str
    on_complete: Callable[[Session, Tenant, datetime], None]
    on_start: Callable[[Session, Tenant, Job, datetime], None] | None = None


TRANSITIONS: dict[str, Transition] = {
    t.kind: t
    for t in (
        Transition(
            kind="deactivation",
            from_states=(ServiceState.ACTIVE,),
            transient_state=ServiceState.DEACTIVATING,
            target_state=ServiceState.DEACTIVATED,
            duration_setting="deactivation_seconds",
            requirement="an active service can be deactivated",
            on_complete=_deregister_extensions,
        ),
        Transition(
            kind="reactivation",
            from_states=(ServiceState.DEACTIVATED,),
            transient_state=ServiceState.REACTIVATING,
            target_state=ServiceState.ACTIVE,
            duration_setting="reactivation_seconds",
            requirement="a deactivated service can be reactivated",
            on_complete=_register_extensions,
        ),
        Transition(
            kind="deletion",
            # Billing only stops with a deletion, so a deactivated service can be deleted too.
            from_states=(ServiceState.ACTIVE, ServiceState.DEACTIVATED),
            transient_state=ServiceState.DELETING,
            target_state=ServiceState.DELETED,
            duration_setting="deletion_seconds",
            requirement="an active or deactivated service can be deleted",
            on_complete=complete_deletion,
            on_start=_record_deletion,
        ),
    )
}


def start_transition(
    session: Session, tenant_id: str, kind: str, callback_url: str | None, now: datetime
) -> JobAccepted:
    transition = TRANSITIONS[kind]
    tenant = get_tenant(session, tenant_id)
    # A conditional update, so two concurrent requests can never both start a job.
    moved = session.execute(
        update(Tenant)
        .where(
            Tenant.id == tenant_id,
            Tenant.service_state.in_([state.value for state in transition.from_states]),
        )
        .values(service_state=transition.transient_state.value, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(tenant)
        raise ConflictError(
            f"service of tenant '{tenant_id}' is {tenant.service_state}; "
            f"only {transition.requirement}"
        )
    seconds = getattr(tenant_settings(tenant), transition.duration_setting)
    job = Job(
        id=f"job-{secrets.token_hex(8)}",
        kind=kind,
        tenant_id=tenant_id,
        status=RUNNING,
        created_at=now,
        due_at=None if seconds is None else now + timedelta(seconds=seconds),
        callback_url=callback_url,
        callback_state=CALLBACK_WAITING if callback_url else None,
    )
    session.add(job)
    if transition.on_start is not None:
        transition.on_start(session, tenant, job, now)
    return JobAccepted(
        job_id=job.id,
        kind=kind,
        tenant_id=tenant_id,
        state=transition.transient_state,
        due_at=job.due_at,
    )


def complete_job(session: Session, job: Job, now: datetime) -> None:
    """Finish a running job: the tenant reaches the target state and a callback is queued."""
    transition = TRANSITIONS[job.kind]
    job.status = DONE
    job.finished_at = now
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        tenant.service_state = transition.target_state.value
        tenant.updated_at = now
        transition.on_complete(session, tenant, now)
    if job.callback_url:
        job.callback_state = CALLBACK_PENDING
        job.callback_next_at = now


def complete_due_jobs(session: Session, now: datetime) -> list[str]:
    due = session.scalars(
        select(Job)
        .where(Job.status == RUNNING, Job.due_at.is_not(None), Job.due_at <= now)
        .order_by(Job.due_at)
    ).all()
    for job in due:
        complete_job(session, job, now)
    return [job.id for job in due]


def running_jobs(session: Session, tenant_id: str) -> Sequence[Job]:
    return session.scalars(
        select(Job)
        .where(Job.tenant_id == tenant_id, Job.status == RUNNING)
        .order_by(Job.created_at)
    ).all()


def complete_tenant_jobs(session: Session, tenant_id: str, now: datetime) -> list[Job]:
    """Complete a tenant's running jobs now, due or not (un-sticks a stuck platform)."""
    get_tenant(session, tenant_id)
    jobs = list(running_jobs(session, tenant_id))
    for job in jobs:
        complete_job(session, job, now)
    return jobs


def cancel_tenant_jobs(session: Session, tenant_id: str, now: datetime) -> None:
    """A replaced tenant's running jobs must not later overwrite the state it was given."""
    for job in running_jobs(session, tenant_id):
        job.status = CANCELLED
        job.finished_at = now
        job.callback_state = None


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"job '{job_id}' not found")
    return job


def job_out(job: Job) -> JobOut:
    callback = (
        CallbackOut(state=job.callback_state, attempts=job.callback_attempts)
        if job.callback_state
        else None
    )
    return JobOut(
        job_id=job.id,
        kind=job.kind,
        tenant_id=job.tenant_id,
        status=job.status,
        created_at=job.created_at,
        due_at=job.due_at,
        finished_at=job.finished_at,
        callback=callback,
    )


def callback_payload(job: Job) -> dict[str, str]:
    if job.kind not in TRANSITIONS:
        # Events of other platform areas (mobile-line phone events) carry their own body.
        return dict(job.payload or {})
    return {
        "job_id": job.id,
        "kind": job.kind,
        "tenant_id": job.tenant_id,
        "state": TRANSITIONS[job.kind].target_state.value,
    }
