"""Procedure names, workflow ids and the status model every procedure answers with."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from pbxops.contracts.text import SingleLine

# Who started, confirmed, withdrew or changed a procedure: an operator's email or name, as given
# with --requested-by/--by or PBXOPS_OPERATOR. Shown in the status, the UI and the result.
Identity = Annotated[SingleLine, StringConstraints(strip_whitespace=True, max_length=200)]


class Procedure(StrEnum):
    """A procedure pbxops runs; the value is the workflow type and the ProcedureName attribute."""

    DEACTIVATION = "ServiceDeactivation"
    REACTIVATION = "ServiceReactivation"
    DELETION = "ServiceDeletion"
    MOBILE_LINE = "MobileLine"
    NUMBER_REMOVAL = "NumberPackageRemoval"
    PROVISIONING = "CustomerProvisioning"
    PBX_CONNECTION = "PbxConnectionEnable"
    TRIAL = "CustomerTrial"
    CUSTOMER_UPDATE = "CustomerUpdate"
    SUPPORT_CONTACTS = "SupportContactsChange"
    PROBLEM_REPORT = "ProblemReport"

    @property
    def id_prefix(self) -> str:
        return _ID_PREFIXES[self]

    def workflow_id(self, business_key: str) -> str:
        """Workflow id ``<procedure>/<business key>``: one running procedure per key."""
        return f"{self.id_prefix}/{business_key}"

    @property
    def label(self) -> str:
        return _LABELS[self]


_ID_PREFIXES = {
    Procedure.DEACTIVATION: "pbx-deactivation",
    Procedure.REACTIVATION: "pbx-reactivation",
    Procedure.DELETION: "pbx-deletion",
    Procedure.MOBILE_LINE: "mobile-line",
    Procedure.NUMBER_REMOVAL: "number-removal",
    Procedure.PROVISIONING: "customer-provisioning",
    Procedure.PBX_CONNECTION: "pbx-connection",
    Procedure.TRIAL: "customer-trial",
    Procedure.CUSTOMER_UPDATE: "customer-update",
    Procedure.SUPPORT_CONTACTS: "support-contacts",
    Procedure.PROBLEM_REPORT: "problem-report",
}
_LABELS = {
    Procedure.DEACTIVATION: "service deactivation",
    Procedure.REACTIVATION: "service reactivation",
    Procedure.DELETION: "service deletion",
    Procedure.MOBILE_LINE: "mobile line",
    Procedure.NUMBER_REMOVAL: "number package removal",
    Procedure.PROVISIONING: "customer provisioning",
    Procedure.PBX_CONNECTION: "PBX connection",
    Procedure.TRIAL: "customer trial",
    Procedure.CUSTOMER_UPDATE: "customer update",
    Procedure.SUPPORT_CONTACTS: "support contacts change",
    Procedure.PROBLEM_REPORT: "problem report",
}


class Outcome(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class AuditEntry(BaseModel):
    """One thing a person did to a procedure: who, what, when (the workflow's clock)."""

    action: str
    by: str
    at: datetime


class ProcedureStatus(BaseModel):
    """What the ``status`` query answers: enough to tell what is happening and what is stuck."""

    procedure: Procedure
    workflow_id: str
    tenant_id: str
    step: str
    step_detail: str = ""
    outcome: Outcome = Outcome.RUNNING
    started_at: datetime
    finished_at: datetime | None = None
    sla_deadline: datetime | None = None
    escalated: bool = False
    ticket_id: str | None = None
    error: str | None = None
    # Who started it, and everyone who confirmed, withdrew or changed it since, in order.
    started_by: str | None = None
    audit: list[AuditEntry] = Field(default_factory=list)
