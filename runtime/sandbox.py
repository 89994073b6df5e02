"""The workflow sandbox as pbxops configures it, for the worker, tests and replays alike.

Contracts and their dependencies are pure data code: passing them through (instead of re-importing
them for every workflow run) saves memory and start-up time per workflow.
"""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from runtime import shared_code

PASSTHROUGH = ("pydantic", "pydantic_core", "email_validator", "idna", "dns", "contracts")


def workflow_runner() -> SandboxedWorkflowRunner:
    # Every sandboxed re-import of a workflow module reuses one set of code objects
    # (runtime/shared_code.py): less memory per cached workflow, less CPU per new one.
    shared_code.install(("workflows",))
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
