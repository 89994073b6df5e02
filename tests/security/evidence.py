"""Everything a person other than the intended recipient could read about a procedure.

Collected for the secrecy tests: every run's history as JSON with each payload's bytes decoded
(a payload's ``data`` is base64 in history JSON, so a plain text search would miss a code inside
it), the ``describe()`` of every run (search attributes, memo, static summary and details, pending
activities), the UI's current details, the ``status`` query, and the log files of every process.
"""

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import connect
from tests.stack import Stack

UPDATE_ACCEPTED = "workflowExecutionUpdateAcceptedEventAttributes"


def decode_payloads(node: Any) -> Any:
    """The history JSON with every payload's ``data`` (and metadata) decoded to text."""
    if isinstance(node, list):
        return [decode_payloads(item) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("metadata"), dict) and "data" in node:
        return {
            "metadata": {k: _text(v) for k, v in node["metadata"].items()},
            "data": _text(node["data"]),
        }
    return {key: decode_payloads(value) for key, value in node.items()}


def payloads_in(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    """Every payload of a history JSON, with the path that leads to it."""
    if isinstance(node, list):
        return [
            found for i, item in enumerate(node) for found in payloads_in(item, (*path, str(i)))
        ]
    if not isinstance(node, dict):
        return []
    if isinstance(node.get("metadata"), dict) and "data" in node:
        return [(path, node)]
    return [found for key, value in node.items() for found in payloads_in(value, (*path, key))]


def _text(value: Any) -> str:
    try:
        return base64.b64decode(value).decode("utf-8", errors="replace")
    except (ValueError, TypeError):
        return str(value)


@dataclass
class Evidence:
    workflow_id: str
    events: list[dict] = field(default_factory=list)  # every run, payloads decoded
    raw_history: str = ""  # every run as the server returns it (payload data in base64)
    described: list[str] = field(default_factory=list)  # describe(): SAs, memo, metadata, pending
    status: str = ""
    logs: dict[str, str] = field(default_factory=dict)

    def places(self, secret: str) -> list[str]:
        """Where ``secret`` shows, as readable labels (empty: nowhere)."""
        found = []
        for event in self.events:
            if secret in json.dumps(event):
                found.append(f"history event {event['eventId']} {event['eventType']}")
        found += [
            f"describe() of run {i}" for i, text in enumerate(self.described) if secret in text
        ]
        if secret in self.status:
            found.append("status query")
        found += [f"{name} log" for name, text in self.logs.items() if secret in text]
        return found

    def accepted_updates_with(self, secret: str) -> list[dict]:
        return [e for e in self.events if UPDATE_ACCEPTED in e and secret in json.dumps(e)]


async def collect(stack: Stack, workflow_id: str) -> Evidence:
    # The tests' clients connect like the worker and the CLI (runtime.temporal.connect): with
    # PBXOPS_PAYLOAD_KEY set they decrypt, so the search still reads every payload in clear.
    client = await connect(Settings(_env_file=None, temporal_address=stack.temporal_address))
    evidence = Evidence(workflow_id)
    runs = [
        execution.run_id
        async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'")
    ]
    assert runs, f"no run of {workflow_id} is visible"
    for run_id in runs:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history()
        as_json = history.to_json_dict()
        evidence.raw_history += json.dumps(as_json)
        evidence.events += decode_payloads(as_json)["events"]
        description = await handle.describe()
        memo = await description.memo()
        evidence.described.append(
            "\n".join(
                [
                    str(description.raw_description),  # SAs, memo, pending activities, all raw
                    json.dumps({k: str(v) for k, v in description.search_attributes.items()}),
                    json.dumps(memo, default=str),
                    str(await description.static_summary()),
                    str(await description.static_details()),
                ]
            )
        )
        metadata = await handle.query("__temporal_workflow_metadata")
        evidence.described.append(json.dumps(metadata, default=str))
    status = await client.get_workflow_handle(workflow_id).query("status")
    evidence.status = json.dumps(status, default=str)
    evidence.logs = {
        name: process.log_path.read_text(errors="replace")
        for name, process in stack.processes.items()
    }
    return evidence
