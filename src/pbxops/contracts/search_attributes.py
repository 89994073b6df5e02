"""Custom search attributes every procedure sets, typed.

They are registered by the dev server's ``--search-attribute`` flags (see the Procfile) and by
``pbxops setup`` on any other cluster. Search attributes are never encrypted: no secrets or personal
data here, only ids and states.
"""

from temporalio.common import SearchAttributeKey

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
# "Procedure" is a reserved word in list queries, hence the longer name.
PROCEDURE_NAME = SearchAttributeKey.for_keyword("ProcedureName")
STEP = SearchAttributeKey.for_keyword("Step")
SLA_DEADLINE = SearchAttributeKey.for_datetime("SlaDeadline")
ESCALATED = SearchAttributeKey.for_bool("Escalated")
TICKET_ID = SearchAttributeKey.for_keyword("TicketId")

ALL = (TENANT_ID, PROCEDURE_NAME, STEP, SLA_DEADLINE, ESCALATED, TICKET_ID)
