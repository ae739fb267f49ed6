"""JSON Schemas of the canonical form: what is on the wire, not what a lenient decoder takes.

pydantic's schemas describe what its validator accepts, which is looser than the contract in
three ways this generator closes: a field with a default is optional (but the canonical form
always holds it, so here it is ``required``); an optional field allows ``null`` (never in the
canonical form); a map with constrained keys lists them as ``patternProperties`` but lets
any other key through (here ``additionalProperties`` is false).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, NoDefault
from pydantic_core import core_schema, to_jsonable_python

__all__ = ["CanonicalJsonSchema"]


class CanonicalJsonSchema(GenerateJsonSchema):
    """``model_json_schema(schema_generator=CanonicalJsonSchema)``: the canonical form."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        """Required unless its default is null: canonical bytes omit only null fields."""
        schema = field["schema"]
        if schema["type"] != "default":
            return True
        return "default_factory" in schema or schema.get("default") is not None

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """Just the inner schema: a null field is omitted, never written as ``null``."""
        return self.generate_inner(schema["schema"])

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        """The default, from a factory too (``attributes: {}``); none shown for null."""
        if "default_factory" in schema and not schema.get("default_factory_takes_data"):
            return to_jsonable_python(schema["default_factory"]())  # type: ignore[call-arg]
        default = schema.get("default", NoDefault)
        return NoDefault if default is None else default

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """A map whose keys have a pattern admits no other key."""
        json_schema = super().dict_schema(schema)
        if "patternProperties" in json_schema:
            json_schema["additionalProperties"] = False
        return json_schema
