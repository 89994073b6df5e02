"""`pbxops list` links to the delivery team's lists in the Temporal UI, and each link's query is
one the server answers with exactly that list (issue 19.8). The UI sends the `query=` of its URL
to the same ListWorkflowExecutions call; the screenshot of the real UI is in the issue's note."""

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from pbxops.contracts import search_attributes as sa
from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import connect
from tests.e2e.test_deactivation_cli import tickets
from tests.processes import wait_until
from tests.stack import Stack

pytestmark = pytest.mark.e2e

LINK = re.compile(r"^\s+(escalated and running|running for [\w.-]+): (\S+)$", re.MULTILINE)


def listed_by(stack: Stack, query: str) -> list[tuple[str, bool, str]]:
    async def run() -> list[tuple[str, bool, str]]:
        client = await connect(Settings(_env_file=None, temporal_address=stack.temporal_address))
        return [
            (w.id, bool(w.typed_search_attributes.get(sa.ESCALATED)), w.status.name)
            async for w in client.list_workflows(query)
        ]

    return asyncio.run(run())


def test_list_prints_ui_links_that_return_the_filtered_lists(stack: Stack):
    stack.put_tenant("e2e-ui-late", deactivation_seconds=None)
    stack.put_tenant("e2e-ui-calm", deactivation_seconds=None)
    late = stack.cli("deactivate", "--tenant", "e2e-ui-late", PBXOPS_DEACTIVATION_SLA="PT2S")
    calm = stack.cli("deactivate", "--tenant", "e2e-ui-calm")  # 15 minutes: not escalated
    assert late.code == 0 and calm.code == 0, late.stderr + calm.stderr
    wait_until(lambda: len(tickets(stack, "e2e-ui-late")) == 1, 30, "the SLA ticket")
    wait_until(
        lambda: (
            ("pbx-deactivation/e2e-ui-late", True, "RUNNING")
            in listed_by(stack, "Escalated = true")
        ),
        30,
        "the Escalated attribute",
    )

    shown = stack.cli("list", "--tenant", "e2e-ui-calm", PBXOPS_UI_URL="http://ui.example")
    assert shown.code == 0, shown.stderr
    links = dict(LINK.findall(shown.stdout))
    assert set(links) == {"escalated and running", "running for e2e-ui-calm"}, shown.stdout
    queries = {}
    for name, url in links.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", "ui.example")
        assert parts.path == "/namespaces/default/workflows"
        [queries[name]] = parse_qs(parts.query)["query"]

    escalated = listed_by(stack, queries["escalated and running"])
    assert ("pbx-deactivation/e2e-ui-late", True, "RUNNING") in escalated
    assert all(flag and status == "RUNNING" for _, flag, status in escalated)
    assert "pbx-deactivation/e2e-ui-calm" not in [wid for wid, _, _ in escalated]
    assert listed_by(stack, queries["running for e2e-ui-calm"]) == [
        ("pbx-deactivation/e2e-ui-calm", False, "RUNNING")
    ]
    with stack.api() as api:  # let both finish: the stack is shared with the other e2e tests
        for tenant in ("e2e-ui-late", "e2e-ui-calm"):
            api.post(f"/admin/tenants/{tenant}/complete-jobs").raise_for_status()
