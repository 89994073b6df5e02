"""Options and helpers every command module shares."""

import asyncio
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id, e.g. `acme`.")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", "-w", help="Follow the procedure live until it ends.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def run_async(command: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Let typer call an async command body."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(command(*args, **kwargs))

    return wrapper


AccountArg = Annotated[str, typer.Argument(help="Customer account (tenant) id, e.g. `acme-srl`.")]
AccountOpt = Annotated[
    str, typer.Option("--account", "-a", help="Customer account (tenant) id, e.g. `acme-srl`.")
]
