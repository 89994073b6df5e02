"""Checks before a procedure on a tenant starts: bad input must start nothing and change nothing.

Only early, friendly refusals: the service's state is checked against contracts/lifecycle.py's
table here so that a wrong request fails before anything starts, but what is authoritative is
elsewhere: the platform refuses a job its state does not allow, and the tenant's service workflow
(workflows/service_lifecycle.py) refuses a second lifecycle procedure atomically on the server.
"""

from typing import Any

from pbxops.cli.errors import OperatorError
from pbxops.cli.platform import PlatformApi, check_tenant_id
from pbxops.cli.procedures import Procedures
from pbxops.contracts.lifecycle import LIFECYCLE_ACTIONS, TRANSIENT, Action, refusal
from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import connect


async def tenant_ready_for(
    settings: Settings, tenant_id: str, action: Action
) -> tuple[dict[str, Any], Procedures]:
    """The tenant exists and its service's state allows the action."""
    check_tenant_id(tenant_id)
    async with PlatformApi(settings) as platform:
        tenant = await platform.tenant(tenant_id)
    state = tenant["service"]["state"]
    lifecycle_moving = action in LIFECYCLE_ACTIONS and state in TRANSIENT
    if not lifecycle_moving and (refused := refusal(tenant_id, state, action)) is not None:
        raise OperatorError(refused)
    return tenant, Procedures(await connect(settings), settings)
