"""Every workflow the worker registers.

Kept out of ``workflows/__init__.py`` on purpose: the sandbox re-imports a workflow's module, and
with it its package's ``__init__``, for every new workflow instance. An ``__init__`` that imported
all procedures made each start import all nine modules (about a third of the worker's CPU and
half its memory in the throughput benchmark, docs/benchmarks.md).
"""

from workflows.mobile_line import MobileLine
from workflows.number_removal import NumberPackageRemoval
from workflows.provisioning import (
    CustomerProvisioning,
    CustomerTrial,
    CustomerUpdate,
    PbxConnectionEnable,
)
from workflows.service_deletion import ServiceDeletion
from workflows.service_lifecycle import ServiceLifecycle
from workflows.service_transition import ServiceDeactivation, ServiceReactivation
from workflows.support import ProblemReport, SupportContactsChange

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
