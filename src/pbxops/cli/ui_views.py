"""The delivery team's lists in the Temporal Web UI: their visibility queries and ready links.

The UI (2.54, in the `temporal` dev-server binary) lets a deployment do three things for its
workflow list, all per browser (it keeps them in the browser's local storage): open a list
filtered by a `query=` link, keep such a list as a *saved view* (a link with `savedQuery=<name>`
adds it when opened), and choose the list's columns (Configure Columns). `pbxops list` prints the
links of the lists that matter; `pbxops ui-views` prints the one-time set-up. docs/ui.md.
"""

from dataclasses import dataclass

from pbxops.contracts import search_attributes as sa
from pbxops.contracts.procedures import Procedure
from pbxops.runtime.links import workflows_url
from pbxops.runtime.settings import Settings

# The columns to add once, in the order the team reads them.
COLUMNS = tuple(key.name for key in sa.ALL)
RUNNING = 'ExecutionStatus = "Running"'


@dataclass(frozen=True)
class View:
    name: str  # also the saved view's name: letters, digits, spaces, '-', '_', '.' only
    query: str


def escalated_and_running() -> View:
    return View("Escalated and running", f"{sa.ESCALATED.name} = true AND {RUNNING}")


def running_procedures() -> View:
    names = ", ".join(f'"{p.value}"' for p in Procedure)
    return View("Running procedures", f"{sa.PROCEDURE_NAME.name} IN ({names}) AND {RUNNING}")


def running_for_tenant(tenant_id: str) -> View:
    """``tenant_id`` as the CLI checked it (letters, digits, '.', '_', '-'): safe in a query."""
    return View(f"Running for {tenant_id}", f'{sa.TENANT_ID.name} = "{tenant_id}" AND {RUNNING}')


def url(settings: Settings, view: View, save: bool = False) -> str:
    return workflows_url(
        settings.ui_url, settings.temporal_namespace, view.query, view.name if save else None
    )
