"""Idempotency keys: the same step of the same workflow run always sends the same key.

Workflows give every mutating activity an explicit ``activity_id`` naming its step, so the key
``<workflow id>/<run id>/<step>`` is stable across retries, worker crashes and replays, and readable
in the platform's logs. The run id keeps a later procedure with the same workflow id (a second
deactivation after a reactivation) from colliding with the first.
"""

import hashlib

from temporalio import activity


def workflow_of_activity() -> tuple[str, str, str]:
    """(namespace, workflow id, run id) of the workflow that scheduled the current activity."""
    info = activity.info()
    if info.workflow_id is None or info.workflow_run_id is None:
        raise RuntimeError("pbxops activities run only on behalf of a workflow")
    return info.workflow_namespace or info.namespace, info.workflow_id, info.workflow_run_id


def idempotency_key() -> str:
    _, workflow_id, run_id = workflow_of_activity()
    return f"{workflow_id}/{run_id}/{activity.info().activity_id}"


def message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the idempotency key: mail stores drop a resent duplicate."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
