"""The same per-record work on the clients and frameworks a user might pick instead.

Each peer reads the same signed message mix from a source topic, does the same work per record
(`bench.passthrough.make_crypto_work`: decode with the contract's models, verify every
signature, seal every offer), writes the same number of records per input as the pipeline
(`bench.fanout`), and commits its input offsets only after those outputs are acknowledged:
the processors' discipline. Only the client or framework around the work differs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intentcast.bench.fanout import Fanout

Work = Callable[[bytes], None]


@dataclass(frozen=True)
class PeerJob:
    """What every peer is given: the same topics, the same work, the same outputs per input."""

    bootstrap: str
    source: str
    sink: str
    partitions: int
    count: int  # inputs to handle
    work: Work
    fanout: Fanout = field(default_factory=Fanout)
    group_id: str | None = None  # None: no offsets committed (the older, bare ceilings)
    timeout_s: float = 300.0

    def group(self, peer: str) -> str:
        """The consumer group whose offsets the peer commits."""
        return self.group_id or f"bench-{peer}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class PeerRun:
    inputs: int
    outputs: int
    seconds: float  # from the first record read to the last commit

    def summary(self) -> dict[str, Any]:
        secs = max(self.seconds, 1e-9)
        return {
            "messages": self.inputs,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
            "messages_per_s": round(self.inputs / secs, 1),
        }
