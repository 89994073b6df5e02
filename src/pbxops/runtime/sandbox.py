"""The workflow sandbox as pbxops configures it, for the worker, tests and replays alike.

The sandbox re-imports a workflow's modules for every workflow instance, so that no module state
leaks from one workflow to another, and runs their code against restricted stand-ins of the
standard library, so that a call such as ``datetime.now()`` fails the workflow task. Both cost
memory for every cached workflow and CPU for every new one (docs/benchmarks.md).

Passed through instead (imported once per process, shared by all workflows):

- the contracts and their libraries: pure data code;
- the workflow helpers (``HELPERS``): stateless functions, constants and classes whose instances
  each workflow makes for itself; ``tests/workflows/test_sandbox.py`` fails if one gains module
  state. That saves memory for every cached workflow, which counts in a worker holding thousands
  of pending eSIM lines (measured: docs/benchmarks.md, section 3).

Passing the helpers through also takes them out of the sandbox's restrictions, so the workflow tests
run them inside the sandbox instead (``workflow_runner(strict=True)``), where a restricted call in
a helper fails its test.
"""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from pbxops.runtime import shared_code

LIBRARIES = ("pydantic", "pydantic_core", "email_validator", "idna", "dns", "pbxops.contracts")
HELPERS = (
    "pbxops.workflows.calls",
    "pbxops.workflows.sla",
    "pbxops.workflows.progress",
    "pbxops.workflows.platform_job",
    "pbxops.workflows.legacy_emails",
)


def workflow_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The worker's sandbox; ``strict`` re-imports the helpers in it too, for the tests."""
    # Every sandboxed re-import of a workflow module reuses one set of code objects
    # (pbxops/runtime/shared_code.py): less memory per cached workflow, less CPU per new one.
    shared_code.install(("pbxops.workflows",))
    passthrough = LIBRARIES if strict else LIBRARIES + HELPERS
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*passthrough)
    )
