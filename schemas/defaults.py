"""The fields a producer may leave out, and the value a decoder puts in their place.

A message's signature and hash are over its canonical form, and the canonical form always
holds these fields (a default is not ``null``, so it is not omitted): a verifier that gets a
message without ``quantity`` must sign-check it *with* ``"quantity":1``. So the table is part
of the contract, published in docs/protocol.md and in the test vectors, built from the models.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

__all__ = ["field_defaults"]


def _nested_models(annotation: Any) -> Iterator[tuple[type[BaseModel], bool]]:
    """Models inside a field's type, each with whether it sits in a list (``tuple[M, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
        return
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _nested_models(arg)
    elif origin in (tuple, list):
        for arg in get_args(annotation):
            for model, _ in _nested_models(arg):
                yield model, True
    elif origin is not None and hasattr(annotation, "__origin__") and get_args(annotation):
        yield from _nested_models(get_args(annotation)[0])  # Annotated[X, ...]


def _default_of(field: Any) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return None if field.default is PydanticUndefined else field.default


def field_defaults(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """``{"want.quantity": 1, "kind": "intent", ...}``: every field with a non-null default,
    by dotted path (``[]`` marks each element of a list), with the default's JSON value."""
    table: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        default = _default_of(field)
        if default is not None:
            table[prefix + name] = to_jsonable_python(default)
        for nested, in_list in _nested_models(field.annotation):
            table.update(field_defaults(nested, f"{prefix}{name}{'[]' if in_list else ''}."))
    return dict(sorted(table.items()))
