"""Deleting a Cloud PBX service: the purge steps and the erasure job's completion.

The delivery team's work is a sequence of idempotent purge steps (each its own API call, so the
procedure can show them one by one) and a slow erasure job (recordings and stored data, whose
duration is a per-tenant setting, ``null`` = stuck). Whatever order they run in, the end state is
the same: nothing of the tenant remains but its id, its name and the deletion record; usage is
zero and billing is stopped.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from pbxsim.clock import utcnow
from pbxsim.errors import ConflictError, NotFoundError
from pbxsim.mobile.models import ActivationCode, MobileDevice, MobileOrg
from pbxsim.models import table
from pbxsim.numbers.models import NumberDevice
from pbxsim.pbx.deletion_models import DeletionRecord, Recording
from pbxsim.pbx.models import Extension, Tenant, User
from pbxsim.pbx.schemas import ServiceState
from pbxsim.pbx.tenants import tenant_not_found
from pbxsim.provisioning.models import CustomerUser, ProblemReport, SupportContactRow

Purger = Callable[[Connection, str], int]
"""Erases one kind of the tenant's data (by tenant id); returns how many items it removed."""

# Plain statements, built once: a purge runs every step, twice per deletion (the delivery team's
# request and the erasure job's completion), and the ORM's bookkeeping cost more than the work.
_T, _D, _N = table(Tenant), table(DeletionRecord), table(NumberDevice)


def _deleting_rows(rows: Table) -> Purger:
    statement = delete(rows).where(rows.c.tenant_id == bindparam("tenant"))

    def purge(connection: Connection, tenant_id: str) -> int:
        return int(connection.execute(statement, {"tenant": tenant_id}).rowcount or 0)

    return purge


_RELEASE_NUMBERS = (
    update(_N)
    .where(_N.c.tenant_id == bindparam("tenant"), _N.c.deleted_at.is_(None))
    .values(deleted_at=bindparam("now", type_=_N.c.deleted_at.type))
)


def _numbers(connection: Connection, tenant_id: str) -> int:
    """Release the tenant's phone numbers: their devices go, as in a number removal."""
    released = connection.execute(_RELEASE_NUMBERS, {"tenant": tenant_id, "now": utcnow()})
    return int(released.rowcount or 0)


def _zeroing(column: str, zero: Any) -> Purger:
    """Set one tenant column to ``zero``; returns what it was (as a number)."""
    current = select(_T.c[column]).where(_T.c.id == bindparam("tenant"))
    reset = update(_T).where(_T.c.id == bindparam("tenant")).values({column: zero})

    def purge(connection: Connection, tenant_id: str) -> int:
        value = connection.execute(current, {"tenant": tenant_id}).scalar()
        if value:  # nothing to change otherwise: the row (and its updated_at) stays as it is
            connection.execute(reset, {"tenant": tenant_id})
        return int(value or 0)

    return purge


_ML, _MC, _MO = table(MobileDevice), table(ActivationCode), table(MobileOrg)
_LIVE_LINES = select(_ML.c.id).where(
    _ML.c.tenant_id == bindparam("tenant"), _ML.c.status != "deleted"
)
_END_LINES = (
    update(_ML)
    .where(_ML.c.tenant_id == bindparam("tenant"), _ML.c.status != "deleted")
    .values(
        status="deleted",
        deleted_at=bindparam("now", type_=_ML.c.deleted_at.type),
        profile_code_id=None,
        calls_until=None,
    )
)
_REVOKE_CODES = (
    update(_MC)
    .where(_MC.c.device_id.in_(_LIVE_LINES.scalar_subquery()), _MC.c.state == "current")
    .values(state="revoked", closed_at=bindparam("now", type_=_MC.c.closed_at.type))
)
_RETURN_POOL = update(_MO).where(_MO.c.tenant_id == bindparam("tenant")).values(licences_total=0)


def _mobile_lines(connection: Connection, tenant_id: str) -> int:
    """End the lines the procedure has not ended yet (their workflows end them first, telling
    the users); the tenant's whole licence allocation goes back to its reseller's pool."""
    params = {"tenant": tenant_id, "now": utcnow()}
    connection.execute(_REVOKE_CODES, params)
    ended = int(connection.execute(_END_LINES, params).rowcount or 0)
    connection.execute(_RETURN_POOL, {"tenant": tenant_id})
    return ended


def _account_rows(rows: Table) -> Purger:
    """Rows of the tenant's customer account (one tenant model: the same id)."""
    statement = delete(rows).where(rows.c.account_id == bindparam("tenant"))

    def purge(connection: Connection, tenant_id: str) -> int:
        return int(connection.execute(statement, {"tenant": tenant_id}).rowcount or 0)

    return purge


_delete_users = _deleting_rows(table(User))
_delete_account_users = _account_rows(table(CustomerUser))


def _users(connection: Connection, tenant_id: str) -> int:
    """The tenant's users, and the same people as its customer account's users."""
    removed = _delete_users(connection, tenant_id)
    _delete_account_users(connection, tenant_id)
    return removed


_P = table(ProblemReport)
_CLOSE_REPORTS = (
    update(_P)
    .where(_P.c.account_id == bindparam("tenant"), _P.c.state == "open")
    .values(
        state="closed",
        resolution="service deleted",
        closed_at=bindparam("now", type_=_P.c.closed_at.type),
        description="",
        reported_by=None,
    )
)


def _close_problem_reports(connection: Connection, tenant_id: str) -> int:
    """Close every open problem report of the tenant as "service deleted"; how many it closed.

    A support agent who looks a report up after the deletion expects to find it closed, with the
    reason, not gone as if it had never been filed: the report stays in the reseller's list, but
    what it held of the tenant (the customer's description, the reporter's address) is erased
    with the rest of the tenant's data.
    """
    closed = connection.execute(_CLOSE_REPORTS, {"tenant": tenant_id, "now": utcnow()})
    return int(closed.rowcount or 0)


# In the order the delivery team runs them. Other areas of the platform that hold a tenant's
# data add theirs with ``register_purger``. The last three erase what deletions used to leave:
# eSIM lines and their licences, support contacts, and pending problem reports (closed as
# "service deleted", emptied of the tenant's data).
PURGE_STEPS: dict[str, Purger] = {
    "extensions": _deleting_rows(table(Extension)),
    "users": _users,
    "recordings": _deleting_rows(table(Recording)),
    "numbers": _numbers,
    "usage": _zeroing("usage_minutes", 0),
    "billing": _zeroing("billing_active", False),
    "mobile-lines": _mobile_lines,
    "contacts": _account_rows(table(SupportContactRow)),
    "problem-reports": _close_problem_reports,
}


def register_purger(step: str, purger: Purger) -> None:
    PURGE_STEPS[step] = purger


_STATE = select(_T.c.service_state).where(_T.c.id == bindparam("tenant"))


def purge(connection: Connection, tenant_id: str, steps: Sequence[str]) -> list[int]:
    """Run purge steps of a deleting service in the order given: how many items each removed."""
    state = connection.execute(_STATE, {"tenant": tenant_id}).scalar()
    if state is None:
        raise tenant_not_found(tenant_id)
    removed = []
    for step in steps:
        purger = PURGE_STEPS.get(step)
        if purger is None:
            raise NotFoundError(f"unknown purge step '{step}'; steps: {', '.join(PURGE_STEPS)}")
        if state not in (ServiceState.DELETING, ServiceState.DELETED):
            raise ConflictError(
                f"service of tenant '{tenant_id}' is {state}; "
                "purge steps run only while it is deleting"
            )
        removed.append(purger(connection, tenant_id))
    return removed


_NEW_RECORD = insert(_D)
_REQUESTED = (
    update(_D)
    .where(_D.c.tenant_id == bindparam("tenant"))
    .values(requested_at=bindparam("now", type_=_D.c.requested_at.type), job_id=bindparam("job"))
)
_COMPLETED = (
    update(_D)
    .where(_D.c.tenant_id == bindparam("tenant"))
    .values(completed_at=bindparam("now", type_=_D.c.completed_at.type))
)


def record_request(connection: Connection, tenant_id: str, job_id: str, now: datetime) -> None:
    params = {"tenant": tenant_id, "now": now, "job": job_id}
    if connection.execute(_REQUESTED, params).rowcount == 0:
        connection.execute(
            _NEW_RECORD, {"tenant_id": tenant_id, "requested_at": now, "job_id": job_id}
        )


def complete_deletion(connection: Connection, tenant_id: str, now: datetime) -> None:
    """The erasure job ends: every remaining purge step runs, the record is closed."""
    for purger in PURGE_STEPS.values():
        purger(connection, tenant_id)
    if connection.execute(_COMPLETED, {"tenant": tenant_id, "now": now}).rowcount == 0:
        connection.execute(
            _NEW_RECORD, {"tenant_id": tenant_id, "requested_at": now, "completed_at": now}
        )
