"""Links to the delivery team's lists in the Temporal UI (issue 19.8): exact, fully encoded."""

from urllib.parse import parse_qs, urlsplit

from pbxops.cli import ui_views
from pbxops.runtime.links import workflows_url
from pbxops.runtime.settings import Settings

UI = "http://ui.example:8233/"


def test_a_list_link_carries_the_query_percent_encoded():
    url = workflows_url(UI, "prod ns", 'TenantId = "acme" AND ExecutionStatus = "Running"')
    assert url == (
        "http://ui.example:8233/namespaces/prod%20ns/workflows?query="
        "TenantId%20%3D%20%22acme%22%20AND%20ExecutionStatus%20%3D%20%22Running%22"
    )


def test_a_set_up_link_also_names_the_saved_view():
    url = workflows_url(UI, "default", "Escalated = true", save_as="Escalated and running")
    assert url.endswith("?query=Escalated%20%3D%20true&savedQuery=Escalated%20and%20running")


def test_the_views_query_the_pbxops_search_attributes():
    settings = Settings(_env_file=None, ui_url=UI, temporal_namespace="default")
    escalated = urlsplit(ui_views.url(settings, ui_views.escalated_and_running()))
    assert escalated.path == "/namespaces/default/workflows"
    assert parse_qs(escalated.query) == {
        "query": ['Escalated = true AND ExecutionStatus = "Running"']
    }
    tenant = urlsplit(ui_views.url(settings, ui_views.running_for_tenant("acme"), save=True))
    assert parse_qs(tenant.query) == {
        "query": ['TenantId = "acme" AND ExecutionStatus = "Running"'],
        "savedQuery": ["Running for acme"],
    }
    assert ui_views.COLUMNS == (
        "TenantId",
        "ProcedureName",
        "Step",
        "SlaDeadline",
        "Escalated",
        "TicketId",
    )
