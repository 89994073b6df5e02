"""Checks before a procedure on a tenant starts: bad input must start nothing and change nothing."""

from typing import Any

from runtime.settings import Settings
from runtime.temporal import connect
from starter.errors import OperatorError
from starter.platform import PlatformApi, check_tenant_id
from starter.procedures import Procedures


async def tenant_ready_for(
    settings: Settings, tenant_id: str, allowed_states: tuple[str, ...], action: str
) -> tuple[dict[str, Any], Procedures]:
    """The tenant exists, runs no other procedure, and its service is in an allowed state."""
    check_tenant_id(tenant_id)
    async with PlatformApi(settings) as platform:
        tenant = await platform.tenant(tenant_id)
    procedures = Procedures(await connect(settings), settings)
    # One procedure per service at a time; its link says where the running one is.
    if running := await procedures.running_for_tenant(tenant_id):
        raise OperatorError(
            f"tenant '{tenant_id}' already has a running {running[0].procedure}: {running[0].url}"
        )
    state = tenant["service"]["state"]
    if state in ("deleting", "deleted"):
        raise OperatorError(f"the service of tenant '{tenant_id}' is already {state}")
    if state not in allowed_states:
        raise OperatorError(
            f"the service of tenant '{tenant_id}' is {state}; a {action} needs it "
            f"{' or '.join(allowed_states)}"
        )
    return tenant, procedures
