"""A business-rule refusal: the message is well-formed but breaks a rule of the flow."""

from __future__ import annotations

from intentcast.schemas.errors import Rejected


class Refused(Rejected):
    """Raised by the checks of `broker.validation`; a separate class from `SchemaError` so a
    test can tell a rule of the flow from a rule of the wire contract."""
