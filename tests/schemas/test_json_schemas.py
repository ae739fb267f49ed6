"""The published JSON Schemas describe the canonical form, no looser and no stricter.

`jsonschema` is not a dependency of the project, so the schemas are checked with the small
validator below, which implements the draft 2020-12 keywords our generator emits (and fails
on any other, so a new keyword cannot slip by unchecked); when `jsonschema` is installed the
same checks run with it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from intentcast.schemas import MESSAGE_MODELS, encode
from intentcast.schemas._tools.generate import PACKAGE_DIR
from intentcast.schemas._tools.samples import sample_messages

SCHEMAS = {
    kind: json.loads((PACKAGE_DIR / "json" / f"{model.__name__}.json").read_text())
    for kind, model in MESSAGE_MODELS.items()
}
VECTORS = json.loads((PACKAGE_DIR / "vectors" / "vectors.json").read_text())
NEGATIVE = json.loads((PACKAGE_DIR / "vectors" / "negative.json").read_text())

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}
_ANNOTATIONS = {"title", "description", "default", "format", "$schema"}


def errors(schema: dict[str, Any], value: Any, root: dict[str, Any], at: str = "") -> Iterator[str]:
    """Every way ``value`` breaks ``schema`` (draft 2020-12, the keywords we generate)."""
    for keyword, arg in schema.items():
        if keyword in _ANNOTATIONS or keyword in {"$defs", "then", "else"}:
            continue
        if keyword == "$ref":
            target: Any = root
            for part in arg.removeprefix("#/").split("/"):
                target = target[part]
            yield from errors(target, value, root, at)
        elif keyword == "type":
            if not _TYPES[arg](value):
                yield f"{at}: not {arg}"
        elif keyword == "enum":
            if value not in arg:
                yield f"{at}: not in enum"
        elif keyword == "const":
            if value != arg:
                yield f"{at}: not {arg!r}"
        elif keyword == "pattern":
            if isinstance(value, str) and re.search(arg, value, re.ASCII) is None:
                yield f"{at}: does not match {arg}"
        elif keyword in {"minLength", "maxLength", "minItems", "maxItems", "maxProperties"}:
            if isinstance(value, str | list | dict):
                size, bound = len(value), arg
                if (size < bound) if keyword.startswith("min") else (size > bound):
                    yield f"{at}: {keyword} {arg}"
        elif keyword in {"minimum", "maximum"}:
            if _TYPES["number"](value) and (value < arg if keyword == "minimum" else value > arg):
                yield f"{at}: {keyword} {arg}"
        elif keyword == "required":
            if isinstance(value, dict):
                yield from (f"{at}: {name} missing" for name in arg if name not in value)
        elif keyword == "properties":
            if isinstance(value, dict):
                for name, sub in arg.items():
                    if name in value:
                        yield from errors(sub, value[name], root, f"{at}.{name}")
        elif keyword == "patternProperties":
            if isinstance(value, dict):
                for pattern, sub in arg.items():
                    for name, item in value.items():
                        if re.search(pattern, name, re.ASCII):
                            yield from errors(sub, item, root, f"{at}.{name}")
        elif keyword == "additionalProperties":
            if isinstance(value, dict):
                known = set(schema.get("properties", {}))
                patterns = list(schema.get("patternProperties", {}))
                for name, item in value.items():
                    if name in known or any(re.search(p, name, re.ASCII) for p in patterns):
                        continue
                    if arg is False:
                        yield f"{at}: unknown key {name!r}"
                    elif isinstance(arg, dict):
                        yield from errors(arg, item, root, f"{at}.{name}")
        elif keyword == "propertyNames":
            if isinstance(value, dict):
                for name in value:
                    yield from errors(arg, name, root, f"{at}[key]")
        elif keyword == "items":
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield from errors(arg, item, root, f"{at}[{i}]")
        elif keyword == "anyOf":
            if all(list(errors(sub, value, root, at)) for sub in arg):
                yield f"{at}: matches no anyOf branch"
        elif keyword == "allOf":
            for sub in arg:
                yield from errors(sub, value, root, at)
        elif keyword == "if":
            if not list(errors(arg, value, root, at)) and "then" in schema:
                yield from errors(schema["then"], value, root, at)
        else:
            raise AssertionError(f"the test validator does not know {keyword!r}: extend it")


def problems(kind: str, value: Any) -> list[str]:
    return list(errors(SCHEMAS[kind], value, SCHEMAS[kind]))


# what the schema cannot say: rules across fields or list items (the decoder checks them)
CROSS_FIELD = {
    "valid_until_before_created",
    "expires_before_created",
    "markets_repeated",
    "terms_repeated",
}


def _canonical_messages() -> list[tuple[str, str, Any]]:
    out = [(f"sample {kind}", kind, json.loads(encode(m))) for kind, m in sample_messages().items()]
    out += [
        (f"vector {c['name']}", c["kind"], json.loads(c["canonical"])) for c in VECTORS["messages"]
    ]
    return out


@pytest.mark.parametrize(("name", "kind", "value"), _canonical_messages(), ids=lambda x: x)
def test_every_canonical_message_validates(name: str, kind: str, value: Any) -> None:
    assert problems(kind, value) == [], name


def _schema_invalid_cases() -> list[dict[str, Any]]:
    cases = []
    for case in NEGATIVE["cases"]:
        if case["stage"] != "decode" or case["reason"] in {"malformed_json", "message_too_large"}:
            continue
        cases.append(case)
    return cases


@pytest.mark.parametrize("case", _schema_invalid_cases(), ids=lambda c: c["name"])
def test_what_the_decoder_refuses_the_schema_refuses_too(case: dict[str, Any]) -> None:
    found = problems(case["kind"], json.loads(case["text"]))
    if case["name"] in CROSS_FIELD:
        assert found == [], "the schema now catches it: take it off CROSS_FIELD"
    else:
        assert found, f"{case['name']} validates against the JSON Schema"


def test_non_canonical_spellings_do_not_validate() -> None:
    """The schemas are of the canonical form: lenient input is checked after canonicalising."""
    lenient = next(c for c in VECTORS["messages"] if c["name"] == "intent_lenient_forms")
    found = problems("intent", {**lenient["input"], "signature": lenient["signature"]})
    assert any("max_price" in p for p in found) and any("created_at" in p for p in found)
    omitted = next(c for c in VECTORS["messages"] if c["name"] == "offer_defaults_omitted")
    assert {"kind missing", "schema_version missing", "description missing"} <= {
        p.split(": ", 1)[1] for p in problems("offer", omitted["input"])
    }
    explicit_null = json.loads(encode(sample_messages()["intent"]))
    explicit_null["needed_by"] = None
    assert problems("intent", explicit_null)


def test_constrained_maps_admit_no_other_key() -> None:
    def maps(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if "patternProperties" in node:
                yield node
            for value in node.values():
                yield from maps(value)
        elif isinstance(node, list):
            for value in node:
                yield from maps(value)

    found = [m for schema in SCHEMAS.values() for m in maps(schema)]
    assert found and all(m["additionalProperties"] is False for m in found)
    intent = json.loads(encode(sample_messages()["intent"]))
    intent["want"]["attributes"] = {"Fold": "compact"}
    assert problems("intent", intent)


def test_kind_schema_version_and_every_defaulted_field_are_required() -> None:
    for kind, schema in SCHEMAS.items():
        assert {"kind", "schema_version"} <= set(schema["required"]), kind
        for name, prop in schema["properties"].items():
            if "default" in prop:
                assert name in schema["required"], (kind, name)
    want = SCHEMAS["intent"]["$defs"]["Want"]
    assert want["properties"]["attributes"]["default"] == {}
    assert set(want["required"]) == {"item", "quantity", "attributes"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("", True),
        ("Zg", True),  # b"f"
        ("Zh", False),  # b"f" with a unused bit set
        ("Zm8", True),
        ("Zm9", False),
        ("Zm9v", True),
        ("Zm9vY", False),  # 5 characters: never canonical
        ("Zm9v==", False),
        ("Zm+v", False),
    ],
)
def test_the_base64url_pattern_is_canonical_base64url(value: str, ok: bool) -> None:
    from intentcast.schemas.crypto import b64d
    from intentcast.schemas.fields import B64URL_PATTERN

    assert (re.fullmatch(B64URL_PATTERN, value) is not None) is ok
    try:
        b64d(value)
    except Exception:
        assert not ok
    else:
        assert ok


def test_with_the_jsonschema_library_when_it_is_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")  # not a dependency: skipped without it
    for _, kind, value in _canonical_messages():
        jsonschema.Draft202012Validator(SCHEMAS[kind]).validate(value)
    for case in _schema_invalid_cases():
        validator = jsonschema.Draft202012Validator(SCHEMAS[case["kind"]])
        assert validator.is_valid(json.loads(case["text"])) is (case["name"] in CROSS_FIELD)
