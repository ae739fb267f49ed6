"""The Node.js vendor reproduces the test vectors byte for byte, and its messages decode here."""

from __future__ import annotations

import json

import pytest

from intentcast.schemas import Offer, SignatureError, VendorProfile, decode, verify_model
from intentcast.schemas._tools.vectors import build_vectors
from tests.interop.node import VECTORS, node, vendor_args


def test_node_matches_every_vector_byte_for_byte() -> None:
    done = node("vectors", str(VECTORS))
    report = json.loads(done.stdout)
    assert report["failures"] == [] and report["ok"], report
    assert done.returncode == 0
    assert report["checked"] >= 60


def test_node_profile_and_offer_verify_with_the_python_reference() -> None:
    profile_line = node("profile", *vendor_args("--markets", "bikes", "--roster", str(VECTORS)))
    key, value = profile_line.stdout.rstrip(b"\n").split(b"\t")
    profile = decode(VendorProfile, value)
    assert key == b"node-bikes"
    profile.verify()
    intent = next(m for m in build_vectors()["messages"] if m["kind"] == "intent")["canonical"]
    offer_line = node("offer", *vendor_args("--price", "120.50"), stdin=intent.encode())
    key, value = offer_line.stdout.rstrip(b"\n").split(b"\t")
    offer = decode(Offer, value)
    assert key.decode() == offer.intent_id and str(offer.price) == "120.5"
    verify_model(offer, profile.signing_key)
    tampered = node("offer", *vendor_args("--price", "99", "--tamper"), stdin=intent.encode())
    bad = decode(Offer, tampered.stdout.rstrip(b"\n").split(b"\t")[1])
    with pytest.raises(SignatureError):
        verify_model(bad, profile.signing_key)
