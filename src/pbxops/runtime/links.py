"""Links into the Temporal Web UI, so tickets and CLI output lead straight to the workflow.

A workflow id is reused (a second deactivation of a tenant after its reactivation, a deletion
requested again after an expired code), and the UI opens the *latest* run of an id given alone.
So every link that stands for one procedure carries its run id: a ticket opened last month still
opens the run that opened it.
"""

from urllib.parse import quote, urlencode


def workflow_url(ui_url: str, namespace: str, workflow_id: str, run_id: str | None = None) -> str:
    """``<ui>/namespaces/<ns>/workflows/<id>/<run id>/history``; without a run id (nothing known
    about it yet) the id's latest run."""
    base = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/"
    base += quote(workflow_id, safe="")
    return f"{base}/{quote(run_id, safe='')}/history" if run_id else base


def workflows_url(ui_url: str, namespace: str, query: str, save_as: str | None = None) -> str:
    """The UI's workflow list filtered by a visibility ``query``
    (``<ui>/namespaces/<ns>/workflows?query=…``), every character of it percent-encoded.

    With ``save_as``, opening the link once also keeps the list as a *saved view* of that name in
    the browser (the UI's own "share view" links carry ``savedQuery``; UI 2.54). Each opening
    adds one, so such links are for setting up a browser, not for everyday output."""
    base = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows"
    params = {"query": query} | ({"savedQuery": save_as} if save_as else {})
    return f"{base}?{urlencode(params, quote_via=quote, safe='')}"
