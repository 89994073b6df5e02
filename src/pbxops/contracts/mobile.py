"""Mobile lines (eSIM): devices, activation codes and phone events (docs/procedures.md#mobile-line).

One long-running workflow per mobile-line device (``mobile-line/<device id>``) owns the device's
activation state for its whole life. The activation code itself never appears here: it stays at
the platform (its SM-DP+ side makes the matching id), and the workflow keeps only its id and an
HMAC of it. The email with the code and its QR is built and sent inside the activity that asked
the platform for the code, and when the organisation suppresses emails the operator's CLI reads
the code from the platform with the operator's own credentials.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from pbxops.contracts.procedures import AuditEntry, ProcedureStatus
from pbxops.contracts.text import SingleLine

# Fixed by the provider's document: "the one-time activation code expires after 90 days".
DEFAULT_CODE_VALIDITY = timedelta(days=90)
# Beyond the source: a run hands over to a fresh one (continue-as-new) past this many history
# events, so a device that lives for years keeps a small history. Temporal's own suggestion
# (``is_continue_as_new_suggested``) also triggers it.
DEFAULT_MAX_HISTORY_EVENTS = 2_000
# How many recent phone events the status keeps (older ones are in the platform's records).
RECENT_EVENTS_KEPT = 5

DEVICE_EVENT_SIGNAL = "device_event"


class MobileActivityNames:
    """Activity type names of the mobile-line procedure (workflows call them by name)."""

    PROVISION = "mobile.provision"
    ISSUE_CODE = "mobile.issue_code"
    EXPIRE_CODE = "mobile.expire_code"
    GET_DEVICE = "mobile.get_device"
    DELETE_DEVICE = "mobile.delete_device"


class DeviceStatus(StrEnum):
    """The device statuses the platform shows, with their colour in the portal."""

    PENDING_ACTIVATION = "pending_activation"
    ONLINE = "online"
    OFFLINE = "offline"
    DELETED = "deleted"

    @property
    def colour(self) -> str:
        return _COLOURS[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


_COLOURS = {
    DeviceStatus.PENDING_ACTIVATION: "grey",
    DeviceStatus.ONLINE: "green",
    DeviceStatus.OFFLINE: "red",
    DeviceStatus.DELETED: "none",
}


class CodeState(StrEnum):
    """An activation code's life at the platform. Only ``current`` can be used, once."""

    CURRENT = "current"
    USED = "used"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    REVOKED = "revoked"


class CodeReason(StrEnum):
    """Why a code is issued: the platform enforces which device statuses allow it."""

    PROVISION = "provision"
    NEW_CODE = "new-code"
    LOST_STOLEN = "lost-stolen"


class Delivery(StrEnum):
    EMAIL = "email"
    """Emailed to the user with the QR inline and the activation instructions."""
    OPERATOR = "operator"
    """Not emailed (the organisation suppresses emails, or the mail was refused): the operator
    reads it from the platform (``pbxops mobile code``) and hands it over."""


class PhoneEventKind(StrEnum):
    """What a phone does to its line; the platform reports each one to the workflow."""

    ACTIVATED = "activated"
    REMOVED = "removed"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"


# --- activity inputs and outputs -------------------------------------------------------------


class DeviceRef(BaseModel):
    device_id: str


class DeviceSnapshot(BaseModel):
    """The device as the platform shows it (no secret)."""

    device_id: str
    tenant_id: str
    user_id: str
    number: str
    status: DeviceStatus
    event_seq: int = 0
    """How many phone events the platform recorded; orders events and snapshots."""
    current_code_id: str | None = None
    current_code_state: CodeState | None = None
    licences_available: int | None = None


class ProvisionLine(BaseModel):
    """Assign a licence from the organisation's pool to the user, then issue the first code."""

    device_id: str
    tenant_id: str
    user_id: str
    validity: timedelta = DEFAULT_CODE_VALIDITY


class IssueCode(BaseModel):
    device_id: str
    reason: CodeReason
    validity: timedelta = DEFAULT_CODE_VALIDITY


class CodeIssued(BaseModel):
    """A code was issued and delivered. The code is not here: only its id and its HMAC."""

    code_id: str
    digest: str
    """HMAC-SHA256 of the code, keyed by the worker's ``PBXOPS_CODE_SECRET``."""
    smdp_address: str
    platform_expires_at: datetime
    delivery: Delivery
    delivery_note: str = ""
    device: DeviceSnapshot


class ExpireCode(BaseModel):
    device_id: str
    code_id: str


class DeviceDeleted(BaseModel):
    device: DeviceSnapshot
    licences_available: int
    user_notified: bool
    note: str = ""


class DeviceEvent(BaseModel):
    """A phone event, delivered by the platform's callback (via the worker's receiver) as a
    Signal; the simulator's platform (driven by ``pbxsim phone``) sends them the same way."""

    device_id: str
    seq: int = Field(ge=1)
    kind: PhoneEventKind
    status: DeviceStatus
    at: datetime
    code_id: str | None = None


# --- the workflow ------------------------------------------------------------------------------


class CodeInfo(BaseModel):
    """What the workflow knows about the device's latest code."""

    code_id: str
    digest: str
    reason: CodeReason
    issued_at: datetime
    expires_at: datetime
    state: CodeState = CodeState.CURRENT
    delivery: Delivery
    delivery_note: str = ""


class LastEvent(BaseModel):
    kind: str
    at: datetime
    detail: str = ""


class MobileLineState(BaseModel):
    """Everything carried from one run to the next by continue-as-new (kept small)."""

    number: str = ""
    status: DeviceStatus = DeviceStatus.PENDING_ACTIVATION
    provisioned: bool = False
    line_started_at: datetime | None = None
    code: CodeInfo | None = None
    codes_issued: int = 0
    event_seq: int = 0
    events_seen: int = 0
    recent_events: list[LastEvent] = Field(default_factory=list)
    runs: int = 1
    # Who provisioned the line (the start's memo) and who changed it since, in order: carried
    # so that a fresh run still shows them. Absent from states carried before they were.
    started_by: str | None = None
    audit: list[AuditEntry] = Field(default_factory=list)


class MobileLineInput(BaseModel):
    device_id: str
    tenant_id: str
    user_id: str
    code_validity: timedelta = DEFAULT_CODE_VALIDITY
    max_history_events: int = Field(default=DEFAULT_MAX_HISTORY_EVENTS, ge=100)
    carried: MobileLineState | None = None
    """Set only by continue-as-new."""

    @model_validator(mode="after")
    def _positive(self) -> "MobileLineInput":
        if self.code_validity <= timedelta(0):
            raise ValueError("the activation code validity must be a positive duration")
        return self


class CodeRequest(BaseModel):
    """Input of the ``new_code`` and ``lost_stolen`` updates.

    ``requested_by``: who asks (--by or PBXOPS_OPERATOR); the validator refuses an Update without
    it. None only in Updates accepted before it was required."""

    requested_by: SingleLine | None = Field(default=None, max_length=200)


class DeleteRequest(BaseModel):
    """Input of the ``delete`` update; ``requested_by`` as in ``CodeRequest``."""

    requested_by: SingleLine | None = Field(default=None, max_length=200)


class CodeOutcome(BaseModel):
    """What the operator's command learns: where the code went, never the code."""

    device_id: str
    code_id: str
    status: DeviceStatus
    delivery: Delivery
    delivery_note: str = ""
    issued_at: datetime
    expires_at: datetime
    # Who asked for this code (None from a worker older than the field).
    issued_by: str | None = None


class MobileLineResult(BaseModel):
    device_id: str
    status: DeviceStatus
    licences_available: int
    user_notified: bool
    codes_issued: int
    # Who provisioned the line, who deleted it (or whose service deletion ended it), and every
    # change in between: None/empty in results from before they were recorded.
    provisioned_by: str | None = None
    deleted_by: str | None = None
    audit: list[AuditEntry] = Field(default_factory=list)


class MobileLineStatus(ProcedureStatus):
    """The ``status`` query: the generic procedure status plus the device's own facts."""

    device_id: str
    user_id: str
    number: str = ""
    device_status: DeviceStatus
    colour: str
    code: CodeInfo | None = None
    codes_issued: int = 0
    last_event: LastEvent | None = None
    recent_events: list[LastEvent] = Field(default_factory=list)
    runs: int = 1


# --- what the user (or the operator) is given ------------------------------------------------


def lpa_string(smdp_address: str, matching_id: str) -> str:
    """The SGP.22 activation code ``LPA:1$<SM-DP+ address>$<matching id>`` a QR code holds."""
    return f"LPA:1${smdp_address}${matching_id}"


def activation_instructions(
    *, smdp_address: str, matching_id: str, number: str, expires_at: datetime
) -> str:
    """How to add the line to a phone: the same words in the email and on the operator's screen."""
    lpa = lpa_string(smdp_address, matching_id)
    return (
        f"Your business mobile line {number} is ready to be added to your phone as an eSIM.\n"
        f"The activation code can be used once and expires on "
        f"{expires_at:%Y-%m-%d %H:%M} UTC.\n\n"
        "iPhone: Settings > Mobile Service > Add eSIM > Use QR Code, and scan the QR code; or\n"
        "choose 'Enter Details Manually' and type:\n"
        f"  SM-DP+ address:   {smdp_address}\n"
        f"  Activation code:  {matching_id}\n\n"
        "Android: Settings > Network & internet > SIMs > Add eSIM ('Download a SIM instead'),\n"
        "and scan the QR code; or enter the network provider code:\n"
        f"  {lpa}\n\n"
        "If the code does not work, has expired or was lost, ask your administrator for a new\n"
        "one: a new code replaces every earlier code.\n"
    )
