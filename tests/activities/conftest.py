from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from tests.stack import ADMIN_HEADERS, TOKEN, Stack


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Only the simulator, as a real process (HTTP + SMTP)."""
    stack = Stack(tmp_path_factory.mktemp("simulator"))
    try:
        stack.start_simulator()
        yield stack
    finally:
        stack.stop()


@pytest_asyncio.fixture
async def http(simulator: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=simulator.platform_url,
        headers={"Authorization": f"Bearer {TOKEN}", **ADMIN_HEADERS},
    ) as client:
        yield client
