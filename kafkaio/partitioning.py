"""The partitioner every producer of the protocol uses, re-exported from the wire contract.

It stays defined in `schemas.partitioning`: the contract documents cite it, and a producer in
another language reads it there. Kafka clients of this project import it from here, beside
the other connection plumbing.
"""

from intentcast.schemas.partitioning import key_partition, record_key

__all__ = ["key_partition", "record_key"]
