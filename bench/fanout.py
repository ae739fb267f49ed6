"""How many output records a like-for-like passthrough writes for each input it reads.

The pipeline writes about four records per input (markets, statuses, sealed offers, feedback,
agreements, the table's changelog, metrics); a ceiling that writes one per input measures
less I/O than the pipeline does. The ratio is measured from the pipeline in the same run
(`bench.output_count`), and spread over the inputs so that after n inputs exactly
floor(n * ratio) outputs were written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Fanout:
    ratio: float = 1.0
    _seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.ratio) or self.ratio < 0:
            raise ValueError(f"an output ratio must be a finite number >= 0, not {self.ratio}")

    def next(self) -> int:
        """Outputs for the next input."""
        before = math.floor(self._seen * self.ratio + 1e-9)
        self._seen += 1
        return math.floor(self._seen * self.ratio + 1e-9) - before

    def total(self, inputs: int) -> int:
        """Outputs for `inputs` inputs, from a fresh schedule."""
        return math.floor(inputs * self.ratio + 1e-9)
