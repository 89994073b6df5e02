"""Calling the provider's HTTP APIs with one error policy for every activity.

- 4xx: the platform refused the request for a reason a retry cannot change (unknown tenant, wrong
  state, bad input): a non-retryable ``ApplicationError`` carrying the platform's own sentence.
- 408/425/429, 5xx, timeouts, connection errors: transient; raised as retryable errors and the
  activity's retry policy takes over.
"""

from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

_RETRYABLE_4XX = {408, 425, 429}


class PlatformRejected(ApplicationError):
    pass


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return str(body)[:300]


async def request(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> Any:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    try:
        response = await client.request(method, path, json=json, params=params, headers=headers)
    except httpx.TransportError as err:
        # Retryable: the activity's retry policy decides how long we keep trying.
        raise ApplicationError(
            f"{method} {path}: {type(err).__name__}: {err}", type="PlatformUnavailable"
        ) from err
    if response.is_success:
        return response.json() if response.content else None
    detail = _detail(response)
    if 400 <= response.status_code < 500 and response.status_code not in _RETRYABLE_4XX:
        raise PlatformRejected(
            detail, type=f"PlatformRejected{response.status_code}", non_retryable=True
        )
    raise ApplicationError(
        f"{method} {path} answered {response.status_code}: {detail}", type="PlatformUnavailable"
    )
