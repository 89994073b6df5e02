"""Input and result of the service deactivation and reactivation procedures."""

from datetime import timedelta

from pydantic import BaseModel, EmailStr, model_validator

from pbxops.contracts.pbx import ServiceState
from pbxops.contracts.procedures import Identity

# Fixed by the provider's document: a deactivation "can take up to 15 minutes".
DEFAULT_SLA = timedelta(minutes=15)
# Beyond the source: past this the procedure stops waiting and fails loudly; the ticket stays open.
DEFAULT_HARD_CAP = timedelta(hours=24)


class ServiceTransitionInput(BaseModel):
    tenant_id: str
    # Where the completion email goes (--notify).
    requested_by: EmailStr | None = None
    # Who started it (--by or PBXOPS_OPERATOR): shown in the status, the UI and the result.
    started_by: Identity = ""
    sla: timedelta = DEFAULT_SLA
    hard_cap: timedelta = DEFAULT_HARD_CAP

    @model_validator(mode="after")
    def _cap_after_sla(self) -> "ServiceTransitionInput":
        if self.sla <= timedelta(0):
            raise ValueError("the SLA must be a positive duration")
        if self.hard_cap <= self.sla:
            raise ValueError("the hard cap must be longer than the SLA")
        return self


class ServiceTransitionResult(BaseModel):
    tenant_id: str
    state: ServiceState
    escalated: bool
    ticket_id: str | None = None
    took_seconds: float
    started_by: str | None = None
