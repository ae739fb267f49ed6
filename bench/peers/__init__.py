"""The same per-record work on the clients and frameworks a user might pick instead.

Each peer reads the same signed message mix from a source topic, does the same work per record
(`bench.passthrough.make_crypto_work`: decode with the contract's models, verify every
signature, seal every offer), writes the same number of records per input as the pipeline
(`bench.fanout`), and commits its input offsets only after those outputs are acknowledged:
the processors' discipline. Only the client or framework around the work differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
