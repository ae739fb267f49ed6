"""Which inputs build on which: after a restart a dependent waits for its upstream's replay.

An offer refers to an intent, an acceptance to an intent and an offer, a cancel to an intent,
a disclosure to the agreement an acceptance made, each on the same partition number. Right
after a restart every agent resumes from its own committed offset, so a dependent could see
an acceptance before intake replayed its intent (`broker.replay`). The batch loop waits for
these before it hands a batch to its handler, so handlers never reach into the replay
barrier themselves; the quarantine reads the same partitions alongside when it skips an
undecodable batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from intentcast.schemas import (
    ACCEPTANCES,
    ATTESTATIONS,
    CANCELS,
    DISCLOSURES,
    INTENTS_SUBMITTED,
    OFFERS_SUBMITTED,
)

UPSTREAM: Final[Mapping[str, tuple[str, ...]]] = {
    OFFERS_SUBMITTED: (INTENTS_SUBMITTED,),
    ACCEPTANCES: (INTENTS_SUBMITTED, OFFERS_SUBMITTED),
    CANCELS: (INTENTS_SUBMITTED,),
    # an attestation follows its agreement, which an acceptance appended to the log
    ATTESTATIONS: (ACCEPTANCES,),
    # a disclosure refers to the agreement an acceptance made
    DISCLOSURES: (INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES),
}
# upstream first: the order a skip hands re-read partitions to their agents
ORDER: Final = (
    INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES, CANCELS, ATTESTATIONS, DISCLOSURES,
)  # fmt: skip
