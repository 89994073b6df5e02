"""Delivering job callbacks: POST the outcome to the caller's URL, retrying with back-off.

Delivery state lives on the job row, so a restart redelivers whatever was still pending (at least
once; receivers dedupe by job id). The URL is sent back exactly as the caller registered it: its
query carries the caller's per-job credential, which is why logs show the URL without its query.
Each delivery is its own asyncio task: a slow or dead receiver never delays the job runner,
another callback or the HTTP server.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import bindparam, select, update

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.models import table
from pbxsim.pbx.models import Job
from pbxsim.pbx.transitions import (
    CALLBACK_DELIVERED,
    CALLBACK_FAILED,
    CALLBACK_PENDING,
    callback_payload,
)

log = structlog.get_logger("simulator.callbacks")

# Plain statements, built once: every job runner tick reads the due callbacks.
_J = table(Job)
_DUE = select(
    _J.c.id, _J.c.kind, _J.c.tenant_id, _J.c.payload, _J.c.callback_url, _J.c.callback_attempts
).where(
    _J.c.callback_state == CALLBACK_PENDING,
    _J.c.callback_next_at <= bindparam("now", type_=_J.c.callback_next_at.type),
)
# "Still pending": a reset or a replaced tenant meanwhile leaves the job as it is.
_OUTCOME = update(_J).where(_J.c.id == bindparam("job"), _J.c.callback_state == CALLBACK_PENDING)

# A 4xx means the receiver will never accept this callback (e.g. 410: the workflow is gone),
# except these, which mean "later".
_RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True)
class Delivery:
    job_id: str
    url: str
    payload: dict[str, str]
    attempts: int


class CallbackDispatcher:
    def __init__(
        self,
        db: Database,
        client: httpx.AsyncClient,
        token: str,
        *,
        max_attempts: int,
        backoff_seconds: float,
    ) -> None:
        self._db = db
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff_seconds
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    async def dispatch_due(self, now: datetime) -> None:
        """Start a delivery task for every pending callback whose next attempt is due."""
        for delivery in await asyncio.to_thread(self._due, now):
            if delivery.job_id in self._in_flight:
                continue
            task = asyncio.create_task(self._deliver(delivery), name=f"callback {delivery.job_id}")
            self._in_flight[delivery.job_id] = task
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        for job_id, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[job_id]

    def _due(self, now: datetime) -> list[Delivery]:
        # A read: the outcome is stored only if the callback is still pending (_store_outcome).
        with self._db.reading_connection() as connection:
            jobs = connection.execute(_DUE, {"now": now}).all()
        return [
            Delivery(
                job_id=job.id,
                url=job.callback_url or "",
                payload=callback_payload(job),
                attempts=job.callback_attempts,
            )
            for job in jobs
        ]

    async def _deliver(self, delivery: Delivery) -> None:
        attempt = delivery.attempts + 1
        try:
            response = await self._client.post(
                delivery.url, json=delivery.payload, headers=self._headers
            )
        except httpx.HTTPError as err:
            await self._record(delivery, attempt, f"{type(err).__name__}: {err}", retry=True)
            return
        if response.is_success:
            await self._record(delivery, attempt, None, retry=False)
            return
        retry = response.status_code >= 500 or response.status_code in _RETRYABLE_4XX
        await self._record(delivery, attempt, f"answered {response.status_code}", retry=retry)

    async def _record(
        self, delivery: Delivery, attempt: int, error: str | None, *, retry: bool
    ) -> None:
        await asyncio.to_thread(self._store_outcome, delivery.job_id, attempt, error, retry)
        url = delivery.url.split("?", 1)[0]  # the query is the receiver's credential
        fields = {"job_id": delivery.job_id, "url": url, "attempt": attempt}
        if error is None:
            log.info("callback delivered", **fields)
        elif retry and attempt < self._max_attempts:
            log.warning("callback failed, will retry", error=error, **fields)
        else:
            log.error("callback abandoned", error=error, **fields)

    def _store_outcome(self, job_id: str, attempt: int, error: str | None, retry: bool) -> None:
        state, next_at = CALLBACK_FAILED, None
        if error is None:
            state = CALLBACK_DELIVERED
        elif retry and attempt < self._max_attempts:
            delay = self._backoff * 2 ** (attempt - 1)
            state, next_at = CALLBACK_PENDING, utcnow() + timedelta(seconds=delay)
        values = {
            "job": job_id,
            "callback_attempts": attempt,
            "callback_error": error,
            "callback_state": state,
            "callback_next_at": next_at,
        }
        with self._db.connection() as connection:
            connection.execute(_OUTCOME, values)

    async def aclose(self) -> None:
        """Stop in-flight deliveries; they stay pending in the database for the next start."""
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
