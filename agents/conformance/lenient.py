"""An intent in a spelling the contract accepts but never produces, sent as those bytes.

Intake republishes intents to the market byte for byte (docs/protocol.md, "Accepted input and
the bytes that are verified"), so a vendor reads whatever spelling a customer's client chose:
keys in another order, spaces, `\\u` escapes, money with trailing zeros, times with an offset.
The customer client always sends the canonical form, so this case is built and sent here.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiokafka.errors import KafkaError

from intentcast.agents.conformance.plan import PlannedIntent
from intentcast.agents.errors import IntentRejectedError, ReplyTimeoutError
from intentcast.agents.kafka import (
    kafka_errors,
    make_consumer,
    make_producer,
    partition_count,
    random_client_id,
    send,
)
from intentcast.agents.partitions import partition_for
from intentcast.agents.replies import ReplyReader
from intentcast.agents.settings import ClientSettings
from intentcast.agents.wallet import IntentKeys
from intentcast.schemas.canonical import encode
from intentcast.schemas.crypto import sign_model
from intentcast.schemas.events import StatusKind
from intentcast.schemas.fields import new_id
from intentcast.schemas.intent import Intent, Place, Want
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import INTENTS_SUBMITTED, OFFERS_DELIVERED

__all__ = ["lenient_bytes", "lenient_intent", "submit_lenient"]

_OFFSET = timezone(timedelta(hours=2))


def lenient_intent(planned: PlannedIntent, market: str) -> tuple[Intent, IntentKeys]:
    """The planned intent, signed with fresh keys as a customer client would sign it."""
    keys = IntentKeys.generate()
    now = utcnow()
    intent = Intent(
        intent_id=new_id(), market=market,
        want=Want(item=planned.item, quantity=2, attributes=planned.attributes),
        max_price=planned.max_price, currency=planned.currency,
        place=Place(country="FR", city="Lyon"), expires_at=now + planned.expires_in,
        terms=planned.terms, signing_key=keys.signing.public_key,
        sealing_key=keys.sealing.public_key, created_at=now,
    )  # fmt: skip
    return sign_model(intent, keys.signing), keys


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [_reversed(v) for v in value]  # terms stay sorted: the decoder wants them so
    return value


def _offset_time(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.astimezone(_OFFSET).isoformat(timespec="microseconds")


def lenient_bytes(intent: Intent) -> bytes:
    """The intent with keys reversed, spaces, ASCII-only escapes, a trailing zero in its price,
    +02:00 times and its empty attributes left out."""
    data = json.loads(encode(intent))
    data["max_price"] = f"{data['max_price']}0" if "." in data["max_price"] else data["max_price"]
    for field in ("expires_at", "created_at"):
        data[field] = _offset_time(data[field])
    if not data["want"]["attributes"]:
        del data["want"]["attributes"]  # a defaulted field left out
    return json.dumps(_reversed(data), ensure_ascii=True, separators=(", ", ": ")).encode()


async def submit_lenient(
    settings: ClientSettings, intent: Intent, keys: IntentKeys, value: bytes, timeout: float
) -> None:
    """Send ``value`` for ``intent`` and wait for intake's verdict, as the client would."""
    client_id = random_client_id()
    producer = make_producer(settings, client_id)
    consumer = make_consumer(settings, client_id)
    replies = ReplyReader(consumer, intent, keys.sealing)
    try:
        with kafka_errors(f"connecting to Kafka at {settings.bootstrap}"):
            await producer.start()
            await consumer.start()
        partitions = await partition_count(producer, OFFERS_DELIVERED)
        await replies.start_at_end(partition_for(intent.intent_id, partitions))
        await send(producer, INTENTS_SUBMITTED, intent.intent_id, value)
        if not await replies.wait_until(lambda: bool(replies.statuses), timeout):
            raise ReplyTimeoutError("intake status", timeout)
        first = replies.statuses[0]
        if first.status is StatusKind.REJECTED:
            raise IntentRejectedError(intent.intent_id, first.reason, first.detail)
    finally:
        await replies.close()
        with contextlib.suppress(KafkaError):
            await consumer.stop()
        with contextlib.suppress(KafkaError):
            await producer.stop()
