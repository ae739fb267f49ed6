"""The session's processors, once they can take intents: the kit sends its intents at once."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.processes import Processors
from tests.conftest import wait_for


@pytest.fixture(scope="module")
async def ready_processors(kafka_bootstrap: str, processors: Processors) -> Processors:
    """Until the processors created their intent table's changelog: an intent taken in before
    that would be the table's first write to a topic their producer does not know yet."""
    changelog = f"{processors.env['INTENTCAST_APP_ID']}-intents-changelog"
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:

        async def created() -> bool:
            assert processors.alive(), f"the processors exited; see {processors.log}"
            return changelog in await client.list_topics()

        await wait_for(created, timeout=120, interval=0.5, what=f"{changelog} to exist")
    finally:
        await client.close()
    return processors
