"""Links into the Temporal Web UI, so tickets and CLI output lead straight to the workflow."""

from urllib.parse import quote


def workflow_url(ui_url: str, namespace: str, workflow_id: str, run_id: str | None = None) -> str:
    base = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/"
    base += quote(workflow_id, safe="")
    return f"{base}/{run_id}/history" if run_id else base
