"""Generated artefacts match the code; frozen samples still decode; vectors recompute."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from intentcast.schemas import (
    MESSAGE_MODELS,
    ReasonCode,
    SealingKey,
    SignedModel,
    SigningKey,
    decode,
    sign_model,
    verify_model,
)
from intentcast.schemas._tools.asyncapi import asyncapi_document
from intentcast.schemas._tools.generate import PACKAGE_DIR, REPO_DIR, drifted_files, main
from intentcast.schemas._tools.vectors import build_vectors
from intentcast.schemas.canonical import (
    canonical_bytes,
    canonical_json,
    format_float,
    sha256_hex,
    signing_bytes,
)
from intentcast.schemas.crypto import b64d, b64e
from intentcast.schemas.fields import format_money
from intentcast.schemas.reasons import Audience
from intentcast.schemas.timeutil import format_utc, parse_utc

VECTORS = json.loads((PACKAGE_DIR / "vectors" / "vectors.json").read_text())
SAMPLE_FILES = sorted((PACKAGE_DIR / "samples").glob("v*/*.json"))


def test_generated_files_have_not_drifted() -> None:
    assert drifted_files() == [], "run: python -m intentcast.schemas._tools.generate"
    assert main(["--check"]) == 0


def test_vectors_file_equals_rebuild() -> None:
    assert build_vectors() == VECTORS


def test_reasons_doc_lists_every_code() -> None:
    text = (REPO_DIR / "docs" / "reasons.md").read_text()
    for code in ReasonCode:
        told = ", ".join(who.value for who in Audience if who in code.audience)
        retriable = "yes" if code.retriable else "no"
        assert f"| `{code.value}` | {told} | {retriable} | {code.description} |" in text


def test_samples_exist_for_every_kind() -> None:
    kinds = {path.stem for path in SAMPLE_FILES if path.parent.name == "v1"}
    assert kinds == set(MESSAGE_MODELS)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sample_of_every_version_decodes(path: Path) -> None:
    raw = path.read_bytes()
    kind = json.loads(raw)["kind"]
    message = decode(MESSAGE_MODELS[kind], raw)
    if isinstance(message, SignedModel):
        key = (
            getattr(message, "signing_key", None) or VECTORS["keys"]["intent_signing"]["public_key"]
        )
        if kind in ("offer", "retention_attestation"):  # signed by the vendor
            key = VECTORS["keys"]["vendor_signing"]["public_key"]
        verify_model(message, key)


def test_message_vector_names_are_unique() -> None:
    names = [case["name"] for case in VECTORS["messages"]]
    assert len(names) == len(set(names))
    assert set(MESSAGE_MODELS) <= set(names)  # one plain case per kind, named after it


@pytest.mark.parametrize("case", VECTORS["messages"], ids=lambda c: c["name"])
def test_message_vectors_recompute(case: dict[str, Any]) -> None:
    model = MESSAGE_MODELS[case["kind"]]
    message = decode(model, json.dumps(case["input"]))
    if "signer_seed_hex" in case:
        key = SigningKey.from_seed(bytes.fromhex(case["signer_seed_hex"]))
        assert key.public_key == case["public_key"]
        assert signing_bytes(message).decode() == case["signing_bytes"]
        message = sign_model(message, key)
        assert message.signature == case["signature"]  # type: ignore[attr-defined]
    assert canonical_bytes(message).decode() == case["canonical"]
    assert sha256_hex(case["canonical"].encode()) == case["sha256"]
    if "agreement_id" in case:
        assert sha256_hex(case["agreement_id_bytes"].encode()) == case["agreement_id"]


def test_primitive_vectors_recompute() -> None:
    for case in VECTORS["numbers"]["integer"]:
        assert str(int(case["input"])) == case["canonical"]
    for case in VECTORS["numbers"]["float"]:
        assert format_float(float(case["input"])) == case["canonical"]
    for case in VECTORS["strings"]:
        assert canonical_json(json.loads(case["input"])).decode() == case["canonical"]
    for case in VECTORS["timestamps"]:
        assert format_utc(parse_utc(case["input"])) == case["canonical"]
    for case in VECTORS["money"]:
        assert format_money(Decimal(case["input"])) == case["canonical"]
    for case in VECTORS["base64url"]:
        assert b64e(bytes.fromhex(case["hex"])) == case["b64url"]
        assert b64d(case["b64url"]).hex() == case["hex"]


def test_sealed_box_vector_opens() -> None:
    case = VECTORS["sealed_box"]
    key = SealingKey.from_bytes(bytes.fromhex(case["recipient_private_key_hex"]))
    assert key.public_key == case["recipient_public_key"]
    assert key.open(case["sealed"]).decode() == case["plaintext"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_asyncapi_document_is_consistent() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    assert yaml.safe_load((REPO_DIR / "docs" / "asyncapi.yaml").read_text()) == doc
    for ref in _refs(doc):
        assert ref.startswith("#/")
        _resolve(doc, ref)  # raises KeyError if dangling
    for channel in doc["channels"].values():
        params = set(re.findall(r"\{(\w+)\}", channel["address"]))
        assert params == set(channel.get("parameters", {}))
        assert channel["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"]
    for op in doc["operations"].values():
        assert op["action"] in {"send", "receive"}
        channel_ref = op["channel"]["$ref"]
        for msg in op["messages"]:
            assert msg["$ref"].startswith(channel_ref + "/messages/")
    assert doc["channels"]["agreements"]["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["delete"],
        "retention.ms": -1,
    }
    for compacted in ("vendorProfile", "vendorsRegistry"):
        config = doc["channels"][compacted]["bindings"]["kafka"]["topicConfiguration"]
        assert config["cleanup.policy"] == ["compact"]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("doc", ["protocol.md"])
def test_doc_examples_run(doc: str) -> None:
    blocks = _python_blocks(REPO_DIR / "docs" / doc)
    assert blocks
    for block in blocks:
        exec(compile(block, doc, "exec"), {})  # our own documentation
