"""Cluster ids for `kafka-storage format`.

Kafka's own ``Uuid.randomUuid()`` redraws any id whose base64 form starts with ``-``,
because the storage tool's argument parser reads such a value as an option and the
format fails (``argument --cluster-id/-t: expected one argument``). One draw in 64
starts with ``-``, so we follow the same rule instead of leaving it to chance.
"""

from __future__ import annotations

import base64
import uuid


def new_cluster_id() -> str:
    """A random 22-character url-safe id that the storage tool accepts as a value."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid
