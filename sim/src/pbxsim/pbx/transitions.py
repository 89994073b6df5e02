"""The platform's asynchronous service transitions, run as durable jobs.

A transition is a table entry: the state it starts from, the state it shows while running, the
state it ends in, the tenant setting that says how long it takes, and what it does to the
tenant's resources on completion. Later procedures (deletion with purge steps) are new entries.
"""

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from pbxops.contracts.lifecycle import Action, states_allowing
from pbxsim.errors import ConflictError, NotFoundError
from pbxsim.models import table
from pbxsim.pbx.deletion import complete_deletion, record_request
from pbxsim.pbx.models import Extension, Job, Tenant
from pbxsim.pbx.schemas import CallbackOut, JobAccepted, JobOut, ServiceState, TenantSettings
from pbxsim.pbx.tenants import get_tenant, tenant_not_found

RUNNING, DONE, CANCELLED = "running", "done", "cancelled"
# A callback waits for its job to end, is pending until delivered, and fails after the last try.
CALLBACK_WAITING, CALLBACK_PENDING = "waiting", "pending"
CALLBACK_DELIVERED, CALLBACK_FAILED = "delivered", "failed"

# Starting and completing jobs run plain statements, built once: they are the platform's busiest
# writes, and the ORM's bookkeeping (loads, unit of work) cost more than the statements.
_T, _E, _J = table(Tenant), table(Extension), table(Job)


def _registering(registered: bool) -> Callable[[Connection, str, datetime], None]:
    statement = (
        update(_E).where(_E.c.tenant_id == bindparam("tenant")).values(registered=registered)
    )

    def set_all(connection: Connection, tenant_id: str, now: datetime) -> None:
        connection.execute(statement, {"tenant": tenant_id})

    return set_all


# Deactivation stops calls but keeps the configuration: extensions stay, unregistered, and
# billing is deliberately left alone (that is the customer's contract, not the service's).
_deregister_extensions = _registering(False)
_register_extensions = _registering(True)


@dataclass(frozen=True)
class Transition:
    kind: str
    from_states: tuple[ServiceState, ...]
    transient_state: ServiceState
    target_state: ServiceState
    duration_setting: str
    # Completes "only <...>" in a 409's sentence.
    requirement: str
    # (connection, tenant id, now): the tenant's resources on completion.
    on_complete: Callable[[Connection, str, datetime], None]
    # (connection, tenant id, job id, now)
    on_start: Callable[[Connection, str, str, datetime], None] | None = None


def _from(action: Action) -> tuple[ServiceState, ...]:
    """The states a job may start from: contracts/lifecycle.py's table, the one place saying it."""
    return tuple(ServiceState(state.value) for state in states_allowing(action))


TRANSITIONS: dict[str, Transition] = {
    t.kind: t
    for t in (
        Transition(
            kind="deactivation",
            from_states=_from(Action.DEACTIVATE),
            transient_state=ServiceState.DEACTIVATING,
            target_state=ServiceState.DEACTIVATED,
            duration_setting="deactivation_seconds",
            requirement="an active service can be deactivated",
            on_complete=_deregister_extensions,
        ),
        Transition(
            kind="reactivation",
            from_states=_from(Action.REACTIVATE),
            transient_state=ServiceState.REACTIVATING,
            target_state=ServiceState.ACTIVE,
            duration_setting="reactivation_seconds",
            requirement="a deactivated service can be reactivated",
            on_complete=_register_extensions,
        ),
        Transition(
            kind="deletion",
            # Billing only stops with a deletion, so a deactivated service can be deleted too.
            from_states=_from(Action.DELETE),
            transient_state=ServiceState.DELETING,
            target_state=ServiceState.DELETED,
            duration_setting="deletion_seconds",
            requirement="an active or deactivated service can be deleted",
            on_complete=complete_deletion,
            on_start=record_request,
        ),
    )
}

_NOW = bindparam("now", type_=_T.c.updated_at.type)
_TENANT = select(_T.c.service_state, _T.c.settings).where(_T.c.id == bindparam("tenant"))
# A conditional update, so two concurrent requests can never both start a job.
_START = {
    t.kind: update(_T)
    .where(_T.c.id == bindparam("tenant"), _T.c.service_state.in_([s.value for s in t.from_states]))
    .values(service_state=t.transient_state.value, updated_at=_NOW)
    for t in TRANSITIONS.values()
}
_FINISH = {
    t.kind: update(_T)
    .where(_T.c.id == bindparam("tenant"))
    .values(service_state=t.target_state.value, updated_at=_NOW)
    for t in TRANSITIONS.values()
}
_NEW_JOB = insert(_J)
_JOB_DONE = (
    update(_J)
    .where(_J.c.id == bindparam("job"))
    .values(status=DONE, finished_at=bindparam("now", type_=_J.c.finished_at.type))
)
_JOB_DONE_CALLBACK = _JOB_DONE.values(
    callback_state=CALLBACK_PENDING,
    callback_next_at=bindparam("now", type_=_J.c.callback_next_at.type),
)
_DUE = (
    select(_J.c.id, _J.c.kind, _J.c.tenant_id, _J.c.callback_url)
    .where(
        _J.c.status == RUNNING,
        _J.c.due_at.is_not(None),
        _J.c.due_at <= bindparam("now", type_=_J.c.due_at.type),
    )
    .order_by(_J.c.due_at)
)
_ANY_DUE = _DUE.with_only_columns(_J.c.id).limit(1)


def start_transition(
    connection: Connection, tenant_id: str, kind: str, callback_url: str | None, now: datetime
) -> JobAccepted:
    transition = TRANSITIONS[kind]
    tenant = connection.execute(_TENANT, {"tenant": tenant_id}).first()
    if tenant is None:
        raise tenant_not_found(tenant_id)
    if connection.execute(_START[kind], {"tenant": tenant_id, "now": now}).rowcount != 1:
        # Read again: the state that refused the update, not the one read before it.
        state = connection.execute(_TENANT, {"tenant": tenant_id}).one().service_state
        raise ConflictError(
            f"service of tenant '{tenant_id}' is {state}; only {transition.requirement}"
        )
    settings = TenantSettings.model_validate(tenant.settings or {})
    seconds = getattr(settings, transition.duration_setting)
    job_id = f"job-{secrets.token_hex(8)}"
    due_at = None if seconds is None else now + timedelta(seconds=seconds)
    connection.execute(
        _NEW_JOB,
        {
            "id": job_id,
            "kind": kind,
            "tenant_id": tenant_id,
            "status": RUNNING,
            "created_at": now,
            "due_at": due_at,
            "callback_url": callback_url,
            "callback_state": CALLBACK_WAITING if callback_url else None,
        },
    )
    if transition.on_start is not None:
        transition.on_start(connection, tenant_id, job_id, now)
    return JobAccepted(
        job_id=job_id,
        kind=kind,
        tenant_id=tenant_id,
        state=transition.transient_state,
        due_at=due_at,
    )


class RunningJob(Protocol):
    """What completing a job needs of it: a ``Job`` or a row of its columns."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def callback_url(self) -> str | None: ...


def complete_job(connection: Connection, job: RunningJob, now: datetime) -> None:
    """Finish a running job: the tenant reaches the target state and a callback is queued."""
    transition = TRANSITIONS[job.kind]
    connection.execute(
        _JOB_DONE_CALLBACK if job.callback_url else _JOB_DONE, {"job": job.id, "now": now}
    )
    moved = connection.execute(_FINISH[job.kind], {"tenant": job.tenant_id, "now": now})
    if moved.rowcount:  # the tenant may be gone
        transition.on_complete(connection, job.tenant_id, now)


def any_due_job(connection: Connection, now: datetime) -> bool:
    return connection.execute(_ANY_DUE, {"now": now}).first() is not None


def complete_due_jobs(connection: Connection, now: datetime) -> list[str]:
    due = connection.execute(_DUE, {"now": now}).all()
    for job in due:
        complete_job(connection, job, now)
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
        complete_job(session.connection(), job, now)
    # The statements changed rows behind the session's back: reload what is read next.
    session.expire_all()
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


def callback_payload(job: Any) -> dict[str, str]:
    """The body of a job's callback; ``job`` is a ``Job`` or a row with its columns."""
    if job.kind not in TRANSITIONS:
        # Events of other platform areas (mobile-line phone events) carry their own body.
        return dict(job.payload or {})
    return {
        "job_id": job.id,
        "kind": job.kind,
        "tenant_id": job.tenant_id,
        "state": TRANSITIONS[job.kind].target_state.value,
    }
