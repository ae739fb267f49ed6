"""The intent table's changelog known to faust's producer before the first table write.

faust picks a table write's changelog partition synchronously, from its producer's cached
metadata (`Producer.key_partition` → aiokafka's partitioner). That cache holds a topic only
once the producer has been asked for it: right after a start, or after a metadata refresh that
asked only for the topics sent to since (the clock's ticks), the changelog may be missing, and
the first write fails with "TypeError: 'NoneType' object is not iterable". Asking the producer
for the topic's partitions once adds the topic to the set its client refreshes, so it stays
known.

The one private name here, faust's `Producer._ensure_producer` (the aiokafka producer behind
faust's), is pinned by `tests/broker/test_runtime_contract.py`; `partitions_for` is aiokafka's
public API.
"""

from __future__ import annotations

from typing import Any


async def learn_changelog(app: Any, table_name: str) -> int:
    """Wait until faust's producer knows the table's changelog; return its partition count."""
    topic = app.tables[table_name].changelog_topic.get_topic_name()
    producer = app.producer._ensure_producer()  # faust's own aiokafka producer
    return len(await producer.partitions_for(topic))
