"""One customer's service, one life: what each state of a tenant's Cloud PBX service allows.

This table is the one place that says it. The platform (the simulator) refuses with
``refusal()``'s sentence where it is authoritative (starting a service job, creating an eSIM line,
deleting a number's device); the CLI asks it only to fail early with the same sentence.

Decided for eSIM lines (the source says a deactivated service has its access blocked, no data
deleted and billing continuing): a deactivation leaves the tenant's lines running, as it leaves
its extensions configured, but no new line can be provisioned and no number removed until the
service is active again. A deletion ends every line (see workflows/service_deletion.py).
"""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from pbxops.contracts.pbx import ServiceState
from pbxops.contracts.procedures import Procedure


class Action(StrEnum):
    """Something done to a tenant's service; the value completes "a … needs it …"."""

    DEACTIVATE = "deactivation"
    REACTIVATE = "reactivation"
    DELETE = "deletion"
    NEW_MOBILE_LINE = "new eSIM line"
    NUMBER_REMOVAL = "number removal"


# What each state of the service allows. A state missing an action refuses it.
ALLOWED: dict[ServiceState, frozenset[Action]] = {
    ServiceState.PROVISIONING: frozenset(),
    ServiceState.ACTIVE: frozenset(
        {Action.DEACTIVATE, Action.DELETE, Action.NEW_MOBILE_LINE, Action.NUMBER_REMOVAL}
    ),
    ServiceState.DEACTIVATING: frozenset(),
    # Billing only stops with a deletion, so a deactivated service can be deleted too.
    ServiceState.DEACTIVATED: frozenset({Action.REACTIVATE, Action.DELETE}),
    ServiceState.REACTIVATING: frozenset(),
    ServiceState.DELETING: frozenset(),
    ServiceState.DELETED: frozenset(),
}

# The three procedures that move the service from one state to another: one at a time per
# tenant (workflows/service_lifecycle.py enforces it on the Temporal server).
LIFECYCLE_ACTIONS = (Action.DEACTIVATE, Action.REACTIVATE, Action.DELETE)
# A lifecycle procedure is (or was, on a stuck platform) moving the service: which one, and
# whether another may start, is the service workflow's to say, not a guess from the state.
TRANSIENT = (ServiceState.DEACTIVATING, ServiceState.REACTIVATING)


def allows(state: ServiceState | str, action: Action) -> bool:
    return action in ALLOWED.get(ServiceState(state), frozenset())


def states_allowing(action: Action) -> list[ServiceState]:
    return [state for state, actions in ALLOWED.items() if action in actions]


def refusal(tenant_id: str, state: ServiceState | str, action: Action) -> str | None:
    """None if the state allows the action, else the one sentence that refuses it."""
    if allows(state, action):
        return None
    if ServiceState(state) in (ServiceState.DELETING, ServiceState.DELETED):
        return f"the service of tenant '{tenant_id}' is already {ServiceState(state).value}"
    needs = " or ".join(s.value for s in states_allowing(action))
    return (
        f"the service of tenant '{tenant_id}' is {ServiceState(state).value}; "
        f"a {action.value} needs it {needs}"
    )


# --- the per-tenant service workflow: one lifecycle procedure at a time ----------------------

SERVICE_WORKFLOW = "ServiceLifecycle"
SERVICE_ID_PREFIX = "pbx-service"
BEGIN_UPDATE = "begin"
BUSY_ERROR = "LifecycleBusy"


def service_workflow_id(tenant_id: str) -> str:
    """``pbx-service/<tenant>``: the one business key every lifecycle procedure starts through."""
    return f"{SERVICE_ID_PREFIX}/{tenant_id}"


class ServiceInput(BaseModel):
    tenant_id: str


class BeginProcedure(BaseModel):
    """Start one lifecycle procedure of the tenant's service, as a child of its service workflow
    under the procedure's own id (``pbx-deletion/<tenant>``…), unless another one is running."""

    procedure: Procedure
    tenant_id: str
    # The procedure's own input (ServiceTransitionInput, DeletionInput) as JSON.
    payload: dict[str, Any]
    summary: str
    details: str
    started_by: str = ""


class Begun(BaseModel):
    workflow_id: str
    run_id: str
