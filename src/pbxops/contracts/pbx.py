"""The PBX platform as activities see it: service states, requests and events."""

from enum import StrEnum

from pydantic import BaseModel


class ServiceState(StrEnum):
    # A customer account whose provisioning has not completed yet (one tenant model).
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    DEACTIVATING = "deactivating"
    DEACTIVATED = "deactivated"
    REACTIVATING = "reactivating"
    DELETING = "deleting"
    DELETED = "deleted"


class TransitionKind(StrEnum):
    """An asynchronous service state change the platform runs as a job."""

    DEACTIVATION = "deactivation"
    REACTIVATION = "reactivation"
    DELETION = "deletion"

    @property
    def from_state(self) -> ServiceState:
        return _FROM[self]

    @property
    def target_state(self) -> ServiceState:
        return _TARGET[self]

    @property
    def transient_state(self) -> ServiceState:
        return _TRANSIENT[self]


_FROM = {
    TransitionKind.DEACTIVATION: ServiceState.ACTIVE,
    TransitionKind.REACTIVATION: ServiceState.DEACTIVATED,
    TransitionKind.DELETION: ServiceState.ACTIVE,  # or deactivated: the platform checks
}
_TARGET = {
    TransitionKind.DEACTIVATION: ServiceState.DEACTIVATED,
    TransitionKind.REACTIVATION: ServiceState.ACTIVE,
    TransitionKind.DELETION: ServiceState.DELETED,
}
_TRANSIENT = {
    TransitionKind.DEACTIVATION: ServiceState.DEACTIVATING,
    TransitionKind.REACTIVATION: ServiceState.REACTIVATING,
    TransitionKind.DELETION: ServiceState.DELETING,
}


class TenantRef(BaseModel):
    tenant_id: str


class ServiceSnapshot(BaseModel):
    """The facts about a tenant's service that procedures check before and after a change."""

    tenant_id: str
    tenant_name: str
    state: ServiceState
    billing_active: bool
    extensions_total: int
    extensions_registered: int
    access_visible: bool
    usage_minutes: int = 0
    users_total: int = 0
    recordings_total: int = 0
    # What else a deletion erases: live eSIM lines, numbers not released, support
    # contacts and problem reports of the tenant's customer account.
    mobile_lines_total: int = 0
    numbers_total: int = 0
    support_contacts_total: int = 0
    problem_reports_total: int = 0
    """Problem reports still open: a deleted tenant's are closed ("service deleted")."""


class TransitionRequest(BaseModel):
    tenant_id: str
    kind: TransitionKind


class TransitionAccepted(BaseModel):
    """The platform took the job; ``before`` is the service as it was when the job started."""

    job_id: str
    before: ServiceSnapshot


class PlatformEvent(BaseModel):
    """Delivered by the platform's callback (via the worker's receiver) as a Signal."""

    job_id: str
    kind: str
    tenant_id: str
    state: ServiceState


PLATFORM_EVENT_SIGNAL = "platform_event"


class ActivityNames:
    """Activity type names: workflows call them by name so they never import activity code."""

    PBX_REQUEST_TRANSITION = "pbx.request_transition"
    PBX_GET_SERVICE = "pbx.get_service"
    HELPDESK_OPEN_TICKET = "helpdesk.open_ticket"
    HELPDESK_COMMENT = "helpdesk.comment"
    HELPDESK_RESOLVE = "helpdesk.resolve"
    MAIL_SEND = "mail.send"
