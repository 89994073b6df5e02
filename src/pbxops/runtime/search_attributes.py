"""Registering pbxops' search attributes on a cluster that was not started with them."""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from pbxops.contracts import search_attributes as sa

_KINDS = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


def _wanted() -> dict[str, "IndexedValueType.ValueType"]:
    return {key.name: _KINDS[key.indexed_value_type.name] for key in sa.ALL}


async def add_all(client: Client) -> None:
    """Add every attribute without listing first (the time-skipping test server cannot list)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=client.namespace, search_attributes=_wanted())
    )


async def register_search_attributes(client: Client) -> tuple[list[str], list[str]]:
    """Add the missing ones; returns (added, already present)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    wanted = _wanted()
    present = set(existing.custom_attributes)
    missing = {name: kind for name, kind in wanted.items() if name not in present}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing), sorted(set(wanted) & present)
