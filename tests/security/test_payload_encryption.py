"""Payload encryption end to end: a worker and a CLI with ``PBXOPS_PAYLOAD_KEY`` set.

They share the session stack's dev server and simulator but use their own task queue (and
callback receiver), so the plain worker of the other tests never sees an encrypted task. Checked:
the procedure works; every payload in history (inputs, results, summaries, the UI's metadata) is
ciphertext with no tenant id inside; failure messages are encoded too; the replayer replays the
history with the codec (and cannot without it); the codec server decodes for the ``temporal`` CLI
with the token and for nobody without it.
"""

import asyncio
import base64
import dataclasses
import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Replayer

from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.runtime.codec import ENCODING, KEY_ID, codec_from_settings, data_converter, keygen
from pbxops.runtime.devserver import temporal_binary
from pbxops.runtime.sandbox import workflow_runner
from pbxops.runtime.settings import Settings
from pbxops.workflows.registry import ALL_WORKFLOWS
from tests.processes import BIN, Process, free_port, wait_until
from tests.security.evidence import payloads_in
from tests.stack import Stack

pytestmark = pytest.mark.e2e

KEY = keygen()
CODEC_TOKEN = "codec-e2e-token"


@pytest.fixture(scope="module")
def encrypted(stack: Stack) -> Iterator[Stack]:
    """The session stack, seen through a worker (and CLI) that encrypt payloads."""
    own = dataclasses.replace(
        stack,
        workdir=stack.workdir / "encrypted",  # its own worker.log
        task_queue="pbxops-encrypted",
        callback_port=free_port(),
        metrics_port=free_port(),
        processes={name: p for name, p in stack.processes.items() if name != "worker"},
    )
    own.start_worker(PBXOPS_PAYLOAD_KEY=KEY, PBXOPS_SECRETS_DIR=str(stack.workdir / "secrets"))
    try:
        yield own
    finally:
        own.processes["worker"].stop()


def settings(stack: Stack, **overrides: object) -> Settings:
    return Settings(_env_file=None, temporal_address=stack.temporal_address, **overrides)


async def raw_history(stack: Stack, workflow_id: str) -> dict:
    """History as the server stores it, read without the key."""
    client = await Client.connect(stack.temporal_address)
    return (await client.get_workflow_handle(workflow_id).fetch_history()).to_json_dict()


def test_history_payloads_are_ciphertext_and_the_procedure_still_completes(encrypted: Stack):
    tenant = "sec-enc-tenant"
    encrypted.put_tenant(tenant)

    done = encrypted.cli("deactivate", "--tenant", tenant, "--wait", "--notify", "ops@x.example")

    assert done.code == 0, done.stderr
    assert f"the service of {tenant} is deactivated" in done.stdout
    with encrypted.api() as api:
        assert api.get(f"/pbx/tenants/{tenant}").json()["service"]["state"] == "deactivated"
    history = asyncio.run(raw_history(encrypted, f"pbx-deactivation/{tenant}"))
    # A workflow.patched() marker's "patch-data" is written by the SDK's core, not through the
    # codec: it holds only the patch's id (e.g. emails-from-templates), checked below.
    patches = [p for path, p in payloads_in(history) if "patch-data" in path]
    assert all(
        json.loads(base64.b64decode(p["data"])).keys() <= {"id", "patch_id", "deprecated"}
        for p in patches
    )
    payloads = [
        (path, p)
        for path, p in payloads_in(history)
        if "searchAttributes" not in path and "patch-data" not in path
    ]
    kinds = {part for path, _ in payloads for part in path}
    assert {"input", "result", "summary", "details"} <= kinds  # inputs, results, UI metadata
    codec = codec_from_settings(settings(encrypted, payload_key=KEY))
    assert codec is not None
    for path, payload in payloads:
        assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING, path
        assert base64.b64decode(payload["metadata"][KEY_ID]).decode() == codec.key_id
        assert tenant.encode() not in base64.b64decode(payload["data"]), path
    # Search attributes are indexed by the server, never encrypted: ids and states only.
    indexed = [p for path, p in payloads_in(history) if "searchAttributes" in path]
    assert indexed and all(b"ops@x.example" not in base64.b64decode(p["data"]) for p in indexed)


def test_the_replayer_replays_encrypted_histories_with_the_codec_only(encrypted: Stack):
    tenant = "sec-enc-replay"
    encrypted.put_tenant(tenant)
    assert encrypted.cli("deactivate", "--tenant", tenant, "--wait").code == 0

    async def replay() -> tuple[object, object]:
        client = await Client.connect(encrypted.temporal_address)
        history = await client.get_workflow_handle(f"pbx-deactivation/{tenant}").fetch_history()
        with_codec = Replayer(
            workflows=ALL_WORKFLOWS,
            data_converter=data_converter(settings(encrypted, payload_key=KEY)),
            workflow_runner=workflow_runner(),
        )
        without = Replayer(
            workflows=ALL_WORKFLOWS,
            data_converter=data_converter(settings(encrypted)),
            workflow_runner=workflow_runner(),
        )
        good = await with_codec.replay_workflow(history, raise_on_replay_failure=False)
        bad = await without.replay_workflow(history, raise_on_replay_failure=False)
        return good.replay_failure, bad.replay_failure

    with_key, without_key = asyncio.run(replay())

    assert with_key is None
    assert without_key is not None  # the codec is really needed: payloads are not readable


def test_failure_messages_are_encoded_in_history_and_clear_to_key_holders(encrypted: Stack):
    tenant = "sec-enc-ghost"  # not on the platform: the workflow fails with the platform's sentence

    async def run() -> tuple[str, dict]:
        client = await Client.connect(
            encrypted.temporal_address,
            data_converter=data_converter(settings(encrypted, payload_key=KEY)),
        )
        handle = await client.start_workflow(
            "ServiceDeactivation",
            ServiceTransitionInput(tenant_id=tenant),
            id=f"pbx-deactivation/{tenant}",
            task_queue=encrypted.task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        cause = failed.value.cause
        return str(getattr(cause, "message", cause)), await raw_history(encrypted, handle.id)

    message, history = asyncio.run(run())

    assert message == f"tenant '{tenant}' not found"
    failures = [
        e["workflowExecutionFailedEventAttributes"]["failure"]
        for e in history["events"]
        if "workflowExecutionFailedEventAttributes" in e
    ]
    assert failures and failures[0]["message"] == "Encoded failure"
    assert tenant not in json.dumps(failures)


def test_the_codec_server_decodes_for_the_token_only(encrypted: Stack, tmp_path):
    tenant = "sec-enc-codec"
    encrypted.put_tenant(tenant)
    assert encrypted.cli("deactivate", "--tenant", tenant, "--wait").code == 0
    port = free_port()
    server = Process(
        "codec-server",
        [str(BIN / "python"), "-m", "pbxops.runtime.codec_server"],
        tmp_path,
        {
            "PBXOPS_DEV_MODE": "1",  # the session's dev stack: its dev platform token passes
            "PBXOPS_PAYLOAD_KEY": KEY,
            "PBXOPS_CODEC_SERVER_TOKEN": CODEC_TOKEN,
            "PBXOPS_CODEC_SERVER_BIND": f"127.0.0.1:{port}",
            "PBXOPS_LOG_FORMAT": "json",
        },
    ).start()
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").is_success, 20, "codec server"
        )

        def show(*codec_args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [temporal_binary(), "workflow", "show", "-o", "json", "--address",
                 encrypted.temporal_address, "-w", f"pbx-deactivation/{tenant}", *codec_args],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip

        endpoint = ["--codec-endpoint", f"http://127.0.0.1:{port}"]
        decoded = show(*endpoint, "--codec-auth", f"Bearer {CODEC_TOKEN}")
        refused = show(*endpoint, "--codec-auth", "Bearer wrong-token", "--command-timeout", "5s")
        undecoded = show()
    finally:
        server.stop()

    assert decoded.returncode == 0, decoded.stderr
    texts = [base64.b64decode(p["data"]) for _, p in payloads_in(json.loads(decoded.stdout))]
    assert any(tenant.encode() in text for text in texts)
    assert refused.returncode != 0
    assert tenant.encode() not in b"".join(
        base64.b64decode(p["data"])
        for path, p in payloads_in(json.loads(undecoded.stdout))
        if "searchAttributes" not in path
    )
    assert CODEC_TOKEN not in server.log_path.read_text()
    assert KEY not in server.log_path.read_text()
