"""Fault injection: make chosen routes slow or failing, to exercise callers' retry policies.

Rules are stored in the database (they survive a restart) and cached in memory (the middleware
consults them on every request without touching the database).
"""

import asyncio
import json
import random
from collections.abc import Sequence

from sqlalchemy import delete, select
from starlette.types import ASGIApp, Receive, Scope, Send

from pbxsim.db import Database
from pbxsim.models import FaultRule
from pbxsim.schemas import FaultRuleIn, FaultRuleOut

# Never faulted: the controls themselves, the probes, and what people read in a browser.
EXEMPT_PREFIXES = ("/admin", "/healthz", "/api/v1", "/inbox", "/docs", "/redoc", "/openapi.json")
EXEMPT_PATHS = frozenset({"/helpdesk", "/"})


def exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or any(
        path == prefix or path.startswith(prefix + "/") for prefix in EXEMPT_PREFIXES
    )


class FaultStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Replaced wholesale on every change, so readers in other threads never see it half-made.
        self._rules: dict[str, FaultRuleOut] = {}

    def load(self) -> None:
        with self._db.transaction() as session:
            rows = session.scalars(select(FaultRule)).all()
            self._rules = {row.route_prefix: _out(row) for row in rows}

    def put(self, rule: FaultRuleIn) -> FaultRuleOut:
        with self._db.transaction() as session:
            row = session.get(FaultRule, rule.route_prefix) or FaultRule(
                route_prefix=rule.route_prefix
            )
            row.error_rate = rule.error_rate
            row.latency_ms = rule.latency_ms
            row.latency_rate = rule.latency_rate
            session.add(row)
        self._rules = {**self._rules, rule.route_prefix: FaultRuleOut(**rule.model_dump())}
        return self._rules[rule.route_prefix]

    def clear(self) -> None:
        with self._db.transaction() as session:
            session.execute(delete(FaultRule))
        self._rules = {}

    def forget(self) -> None:
        """After a database reset, which already emptied the table."""
        self._rules = {}

    def list(self) -> Sequence[FaultRuleOut]:
        return sorted(self._rules.values(), key=lambda rule: rule.route_prefix)

    def match(self, path: str) -> FaultRuleOut | None:
        """The most specific rule whose prefix the path starts with."""
        if exempt(path):
            return None
        matching = [rule for prefix, rule in self._rules.items() if path.startswith(prefix)]
        return max(matching, key=lambda rule: len(rule.route_prefix), default=None)


def _out(row: FaultRule) -> FaultRuleOut:
    return FaultRuleOut(
        route_prefix=row.route_prefix,
        error_rate=row.error_rate,
        latency_ms=row.latency_ms,
        latency_rate=row.latency_rate,
    )


class FaultInjectionMiddleware:
    def __init__(self, app: ASGIApp, store: FaultStore, rng: random.Random | None = None) -> None:
        self.app = app
        self._store = store
        self._rng = rng or random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._store.match(scope["path"]) if scope["type"] == "http" else None
        if rule is not None:
            if rule.latency_ms and self._rng.random() < rule.latency_rate:
                await asyncio.sleep(rule.latency_ms / 1000)
            if self._rng.random() < rule.error_rate:
                # Before anything runs: the request had no effect, as a crashed front end.
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                body = json.dumps({"detail": "injected fault"}).encode()
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
