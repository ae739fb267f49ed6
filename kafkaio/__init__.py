"""The Kafka plumbing both the SDK (`agents`) and the processors (`broker`) stand on.

One place for how a client connects (`KafkaConnection.kafka_kwargs`, one SASL check), which
partition a key lands on (the contract's partitioner, re-exported) and how a consumer loop
polls, hands a batch over, commits and stops (`consume`, `stop_task`). It imports only the
wire contract (`schemas`) and aiokafka, never `agents` or `broker`.
"""

from intentcast.kafkaio.connection import ConnectionSettingsError, KafkaConnection
from intentcast.kafkaio.consume import (
    POLL_MS,
    Batch,
    BatchHandler,
    commit_batch,
    consume,
    records_of,
    stop_task,
)
from intentcast.kafkaio.partitioning import key_partition, record_key

__all__ = [
    "POLL_MS",
    "Batch",
    "BatchHandler",
    "ConnectionSettingsError",
    "KafkaConnection",
    "commit_batch",
    "consume",
    "key_partition",
    "record_key",
    "records_of",
    "stop_task",
]
