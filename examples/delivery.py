"""What the example shops do when a customer discloses where to deliver.

A real shop hands the address to its courier and deletes it once delivered (the terms the
examples accept say so); the demo logs which fields came, never their values.
"""

from __future__ import annotations

import logging

from intentcast.agents import ReceivedDisclosure

log = logging.getLogger(__name__)


async def deliver(disclosure: ReceivedDisclosure) -> None:
    """Log the agreement and the names of the fields disclosed for it."""
    log.info(
        "%s: agreement %s, the customer disclosed %s for delivery",
        disclosure.agreement.offer.vendor_id, disclosure.agreement_id[:12],
        ", ".join(disclosure.names),
    )  # fmt: skip
