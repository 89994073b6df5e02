"""Every workflow the worker registers.

Kept out of ``workflows/__init__.py`` on purpose: the sandbox re-imports a workflow's module, and
with it its package's ``__init__``, for every new workflow instance. An ``__init__`` that imported
all procedures made each start import all nine modules (about a third of the worker's CPU and
half its memory in the throughput benchmark, docs/benchmarks.md).
"""

from pbxops.workflows.customer_trial import CustomerTrial
from pbxops.workflows.customer_update import CustomerUpdate
from pbxops.workflows.mobile_line import MobileLine
from pbxops.workflows.number_removal import NumberPackageRemoval
from pbxops.workflows.pbx_connection import PbxConnectionEnable
from pbxops.workflows.provisioning import CustomerProvisioning
from pbxops.workflows.service_deletion import ServiceDeletion
from pbxops.workflows.service_lifecycle import ServiceLifecycle
from pbxops.workflows.service_transition import ServiceDeactivation, ServiceReactivation
from pbxops.workflows.support import ProblemReport, SupportContactsChange

ALL_WORKFLOWS = [
    ServiceDeactivation,
    ServiceReactivation,
    ServiceDeletion,
    MobileLine,
    NumberPackageRemoval,
    CustomerProvisioning,
    PbxConnectionEnable,
    CustomerTrial,
    CustomerUpdate,
    SupportContactsChange,
    ProblemReport,
    ServiceLifecycle,
]
