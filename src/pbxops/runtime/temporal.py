"""Connecting to Temporal the same way from the worker, the CLI, tests and benchmarks."""

import asyncio
import time
from functools import cache

from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from pbxops.runtime.codec import data_converter
from pbxops.runtime.settings import Settings, without_password


class TemporalUnreachable(Exception):
    """Raised with a one-line, human explanation when the server cannot be reached."""

    @classmethod
    def at(cls, address: str) -> "TemporalUnreachable":
        """The one sentence for a server that is not there, at the start or in the middle of a
        command (the server was stopped while ``--wait`` followed a procedure)."""
        shown = without_password(address)  # never a credential inside the address
        return cls(f"cannot reach the Temporal server at {shown} (is `make up` running?)")


def unreachable(err: BaseException) -> bool:
    """An RPC that failed because the server went away (the SDK's core has retried it)."""
    return isinstance(err, RPCError) and err.status == RPCStatusCode.UNAVAILABLE


@cache
def quiet_runtime() -> Runtime:
    """A runtime whose Rust core logs nothing: a command's errors are one sentence of ours, never
    the core's coloured retry warnings on the terminal (``temporalio_client::retry WARN``)."""
    return Runtime(telemetry=TelemetryConfig(logging=None))


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_profile_tls is not None:  # from the SDK's profile or TEMPORAL_TLS*
        return settings.temporal_profile_tls.to_connect_tls_config()
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        with (
            open(settings.temporal_tls_cert, "rb") as cert,
            open(settings.temporal_tls_key, "rb") as key,
        ):
            return TLSConfig(client_cert=cert.read(), client_private_key=key.read())
    # An API key (Temporal Cloud) always travels over TLS.
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(
    settings: Settings, runtime: Runtime | None = None, wait_seconds: float = 0
) -> Client:
    """Connect with pydantic payloads (encrypted when ``PBXOPS_PAYLOAD_KEY`` is set, see
    runtime/codec.py); ``wait_seconds`` lets a worker outlast server start-up."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    converter = data_converter(settings)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                api_key=api_key,
                tls=_tls(settings),
                data_converter=converter,
                runtime=runtime,
            )
        except RuntimeError as err:
            if time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
            raise TemporalUnreachable.at(settings.temporal_address) from err
