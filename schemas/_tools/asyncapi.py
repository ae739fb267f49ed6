"""The AsyncAPI 3.0 document, built from the same TopicSpecs and models the code runs on."""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from intentcast.schemas.base import WireModel
from intentcast.schemas.json_schema import CanonicalJsonSchema
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.topics import CORE_TOPICS, TEMPLATE_TOPICS, TopicSpec

__all__ = ["asyncapi_document"]

_REF: Final = "#/components/schemas/{model}"
_KAFKA_BINDING: Final = "0.5.0"
_PRINCIPAL_TITLE: Final = {
    "customer": "Customer agent (principal customer)",
    "processors": "Broker processors (principal processors)",
    "vendor-{vendor_id}": "Vendor agent (principal vendor-{vendor_id})",
    "vendor-*": "Every vendor agent (principal vendor-{vendor_id})",
    "monitor": "Monitor (principal monitor)",
    "auditor": "Auditor (principal auditor)",
    "admin": "Operator (principal admin)",
}
_PARAMETERS: Final = {
    "market": "Market slug, e.g. `baby-gear` (lower-case letters, digits, hyphens).",
    "vendor_id": "Vendor slug, e.g. `pram-palace`.",
}


def _channel_id(spec: TopicSpec) -> str:
    """``intentcast.offers.submitted`` -> ``offersSubmitted``; templates drop the placeholder."""
    bare = re.sub(r"\{\w+\}", "", spec.name.removeprefix("intentcast."))
    words = [w for w in re.split(r"[._]+", bare) if w]
    return words[0] + "".join(w.title() for w in words[1:])


def _principal_id(principal: str) -> str:
    """``vendor-{vendor_id}`` and ``vendor-*`` -> ``vendor``; the others are their own id."""
    return principal.split("-")[0]


def _key_description(spec: TopicSpec) -> str:
    if spec.partitioned_by_intent:
        return (
            f"{spec.key}: the UTF-8 bytes of its 32 hex characters. Partition = Kafka's "
            "default partitioner, (murmur2(key) & 0x7fffffff) % partitions."
        )
    return f"{spec.key} (UTF-8); the topic has one partition."


def _channel(spec: TopicSpec, partitions: int) -> dict[str, Any]:
    topic_config: dict[str, Any] = {
        "cleanup.policy": ["compact"] if spec.compacted else ["delete"],
        "retention.ms": -1 if spec.retention_ms is None else spec.retention_ms,
    }
    channel: dict[str, Any] = {
        "address": spec.name,
        "title": spec.name,
        "description": spec.description,
        "messages": {
            _message_id(spec.value): {"$ref": f"#/components/messages/{spec.value.__name__}"}
        },
        "bindings": {
            "kafka": {
                "partitions": spec.partition_count(partitions),
                "replicas": 1,
                "topicConfiguration": topic_config,
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }
    params = re.findall(r"\{(\w+)\}", spec.name)
    if params:
        channel["parameters"] = {p: {"description": _PARAMETERS[p]} for p in params}
    return channel


def _message_id(model: type[WireModel]) -> str:
    name = model.__name__
    return name[0].lower() + name[1:]


def _message(model: type[WireModel], spec: TopicSpec) -> dict[str, Any]:
    doc = (model.__doc__ or model.__name__).strip()
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": doc.split("\n")[0],
        "contentType": "application/json",
        "payload": {"$ref": _REF.format(model=model.__name__)},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": _key_description(spec)},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def asyncapi_document(partitions: int = 6) -> dict[str, Any]:
    """A complete AsyncAPI 3.0.0 document for the Intentcast topic layout.

    ``partitions`` is INTENTCAST_PARTITIONS (6 by default): the count of every intent-keyed
    topic; the others have one partition (:meth:`TopicSpec.partition_count`).
    """
    specs = (*CORE_TOPICS, *TEMPLATE_TOPICS)
    models = sorted({spec.value for spec in specs}, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template=_REF, schema_generator=CanonicalJsonSchema
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in specs:
        cid = _channel_id(spec)
        channels[cid] = _channel(spec, partitions)
        messages.setdefault(spec.value.__name__, _message(spec.value, spec))
        msg_ref = {"$ref": f"#/channels/{cid}/messages/{_message_id(spec.value)}"}
        for action, principals in (("send", spec.producers), ("receive", spec.consumers)):
            for principal in principals:
                op_id = f"{_principal_id(principal)}{action.title()}{cid[0].upper()}{cid[1:]}"
                operations[op_id] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{cid}"},
                    "summary": f"{_PRINCIPAL_TITLE[principal]} {action}s on {spec.name}",
                    "messages": [msg_ref],
                }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Intentcast",
            "version": "1.0.0",
            "description": "Intent-casting on Apache Kafka: customers broadcast anonymous "
            "intents on their own MyTerms terms, vendors answer with signed offers sealed to "
            "the customer, and agreements go to a hash-chained audit log. Encoding, signing "
            "and versioning rules: docs/protocol.md. Reason codes: "
            + ", ".join(code.value for code in ReasonCode)
            + ".",
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The single-node Kafka the intentcast CLI starts for development.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": defs["$defs"], "messages": messages},
    }
