"""Links into the Temporal Web UI, so tickets and CLI output lead straight to the workflow.

A workflow id is reused (a second deactivation of a tenant after its reactivation, a deletion
requested again after an expired code), and the UI opens the *latest* run of an id given alone.
So every link that stands for one procedure carries its run id: a ticket opened last month still
opens the run that opened it (issue 19.7).
"""

from urllib.parse import quote


def workflow_url(ui_url: str, namespace: str, workflow_id: str, run_id: str | None = None) -> str:
    """``<ui>/namespaces/<ns>/workflows/<id>/<run id>/history``; without a run id (nothing known
    about it yet) the id's latest run."""
    base = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/"
    base += quote(workflow_id, safe="")
    return f"{base}/{quote(run_id, safe='')}/history" if run_id else base
