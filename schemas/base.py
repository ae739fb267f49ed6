"""Base classes of every wire model: frozen, closed to unknown fields, versioned, signable."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import Signature
from intentcast.schemas.reasons import ReasonCode

__all__ = ["SUPPORTED_VERSIONS", "Message", "SignedModel", "WireModel"]

SUPPORTED_VERSIONS: Final = frozenset({1})
"""Schema versions this code decodes; a new major version adds to it and removes nothing."""

_VERSIONS_JSON: Final[list[JsonValue]] = [*sorted(SUPPORTED_VERSIONS)]


class WireModel(BaseModel):
    """Frozen and ``extra="forbid"``: a message cannot change after signing or smuggle fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=False,
        validate_default=True,
    )


class Message(WireModel):
    """A top-level message: says what it is (``kind``) and which contract it follows."""

    kind: str = Field(max_length=32)
    schema_version: int = Field(
        default=1,
        description="Wire contract version; 1 today.",
        json_schema_extra={"enum": _VERSIONS_JSON},
    )

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        # Raised as our own error (pydantic lets it through) so callers see the precise reason.
        if value not in SUPPORTED_VERSIONS:
            raise SchemaError(
                ReasonCode.UNKNOWN_SCHEMA_VERSION,
                f"schema_version {value} not in {sorted(SUPPORTED_VERSIONS)}",
            )
        return value


class SignedModel(Message):
    """A message that carries a detached Ed25519 ``signature`` over its signing bytes."""

    signature: Signature = ""
