"""The app's history, offline verify, export and delete, from records made locally (no broker)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from intentcast.agents import IntentKeys, Receipt, Wallet
from intentcast.customer_app.disclosure_form import DISCLOSURE_HINTS
from intentcast.customer_app.records import History, history_path_for
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.events import IntentStatus, StatusKind
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.retention import RetentionAttestation, agreement_retention_end
from intentcast.schemas.timeutil import format_utc, utcnow
from tests.agents.helpers import make_agreement, make_intent
from tests.customer_app.conftest import serving, signed_in
from tests.customer_app.test_app_server import unreachable_kafka


def agreed_status(intent_id: str, agreement_id: str) -> IntentStatus:
    return IntentStatus(
        intent_id=intent_id, status=StatusKind.AGREED, agreement_id=agreement_id, at=utcnow()
    )


def keep_an_agreement(wallet_path: Path) -> tuple[str, str]:
    """A wallet and history as the app leaves them after an agreement: (intent id, agreement id)."""
    agreement = make_agreement()
    wallet = Wallet(wallet_path)
    wallet.add_receipt(Receipt.of(agreement))
    history = History(history_path_for(wallet_path))
    intent_id = agreement.intent.intent_id
    history.add(agreement.intent)
    history.update(
        intent_id, (agreement.offer,), (agreed_status(intent_id, agreement.agreement_id),)
    )
    return intent_id, agreement.agreement_id


def tamper(wallet_path: Path, agreement_id: str, change: dict[str, object]) -> None:
    data = orjson.loads(wallet_path.read_bytes())
    stored = data["receipts"][agreement_id]
    for key, value in change.items():
        if key == "receipt":
            stored["receipt"] = {**stored["receipt"], **value}  # type: ignore[dict-item]
        else:
            stored[key] = value
    wallet_path.write_bytes(orjson.dumps(data))


async def test_history_survives_a_restart_and_shows_what_was_promised(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    intent_id, agreement_id = keep_an_agreement(wallet_path)
    assert oct(history_path_for(wallet_path).stat().st_mode & 0o777) == "0o600"
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        views = await (await http.get(server.origin + "/api/intents")).json()
    [view] = views
    assert view["intent_id"] == intent_id and view["state"] == "agreed" and view["closed"]
    assert not view["live"], "an intent of an earlier run takes no more offers"
    assert view["agreement"]["agreement_id"] == agreement_id
    promised = {term["id"]: term["promises"] for term in view["agreement"]["promises"]}
    assert promised["P2B1"]["retention_text"].startswith("Deleted right after the transaction")
    assert promised["SD-BASE"]["retention"] == "agreement"


async def test_a_refusal_the_customer_may_know_is_shown_with_its_meaning(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    agreement = make_agreement()
    history = History(history_path_for(wallet_path))
    intent = agreement.intent
    history.add(intent)
    refused = IntentStatus(
        intent_id=intent.intent_id, status=StatusKind.REJECTED,
        reason=ReasonCode.OFFER_EXPIRED, offer_id=agreement.offer.offer_id, at=utcnow(),
    )  # fmt: skip
    history.update(intent.intent_id, (agreement.offer,), (refused,))
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        [view] = await (await http.get(server.origin + "/api/intents")).json()
    assert view["state"] == "open"
    assert view["refusals"] == [{
        "reason": "offer_expired", "meaning": ReasonCode.OFFER_EXPIRED.description,
        "detail": "", "offer_id": agreement.offer.offer_id, "vendor_id": "acme-bikes",
        "at": view["refusals"][0]["at"],
    }]  # fmt: skip


async def test_retention_end_and_the_vendors_deletion_statement_are_shown(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    vendor_key = SigningKey.generate()
    agreement = make_agreement(vendor_key=vendor_key)
    keys = IntentKeys.generate()
    wallet = Wallet(wallet_path)
    wallet.add_keys(agreement.intent.intent_id, keys)
    wallet.add_receipt(Receipt.of(agreement))
    History(history_path_for(wallet_path)).add(agreement.intent)
    end = agreement_retention_end(agreement)
    assert end is not None, "SD-BASE and P2B1 both set an end"
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        [running] = await (await http.get(server.origin + "/api/intents")).json()
        kept = await http.post(
            f"{server.origin}/api/intents/{agreement.intent.intent_id}/keep", json={"keep": True}
        )
        assert (await kept.json())["keys"] == {"held": True, "keep": True, "dropped": None}
        attestation = sign_model(
            RetentionAttestation(
                agreement_id=agreement.agreement_id, intent_id=agreement.intent.intent_id,
                vendor_id="acme-bikes", retention_end=end, deleted_at=utcnow(),
            ),
            vendor_key,
        )  # fmt: skip
        Wallet(wallet_path).add_attestation(
            attestation, agreement_id=agreement.agreement_id, entry_id="ab" * 32
        )
        server.session.wallet = Wallet(wallet_path)  # as the log sync leaves it
        [attested] = await (await http.get(server.origin + "/api/intents")).json()
    retention = running["agreement"]["retention"]
    assert retention["end"] == format_utc(end) and retention["state"] == "running"
    assert "not a proof of deletion" in retention["note"]
    after = attested["agreement"]["retention"]
    assert after["state"] == "attested" and after["attested"]
    assert after["attestation"]["vendor_id"] == "acme-bikes"
    assert after["attestation"]["statement"] == attestation.statement


async def test_verify_offline_says_valid_and_names_what_breaks(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    _, agreement_id = keep_an_agreement(wallet_path)
    url = f"/api/agreements/{agreement_id}/verify"
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        good = await (await http.get(server.origin + url)).json()
    assert good["valid"] and all(c["ok"] for c in good["checks"])

    tamper(wallet_path, agreement_id, {"receipt": {"jurisdiction": "FR"}})
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        edited = await (await http.get(server.origin + url)).json()
    assert not edited["valid"]
    assert [c["check"] for c in edited["checks"] if not c["ok"]] == ["consent receipt"]

    stored = orjson.loads(wallet_path.read_bytes())["receipts"][agreement_id]["agreement"]
    tamper(wallet_path, agreement_id, {"agreement": stored.replace('"150"', '"15"')})
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        forged = await (await http.get(server.origin + url)).json()
        listing = await http.get(server.origin + "/api/intents")
        assert listing.status == 500
        assert "does not verify" in (await listing.json())["error"]
    assert not forged["valid"]
    assert "does not verify" in forged["checks"][0]["detail"]


async def test_export_leaves_keys_out_unless_asked(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    intent_id, agreement_id = keep_an_agreement(wallet_path)
    Wallet(wallet_path).add_keys(intent_id, IntentKeys.generate())
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        plain = await (await http.get(server.origin + "/api/export")).json()
        resp = await http.get(server.origin + "/api/export?keys=1")
        assert "attachment" in resp.headers["Content-Disposition"]
        with_keys = await resp.json()
    assert plain["kind"] == "intentcast_customer_export" and "keys" not in plain
    assert plain["receipts"][0]["agreement_id"] == agreement_id
    assert plain["records"][intent_id]["offers"], "the signed offer, as canonical JSON"
    assert set(with_keys["keys"]) == {intent_id}


async def test_delete_waits_until_the_intent_is_closed(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    closed_id, _ = keep_an_agreement(wallet_path)
    keys = IntentKeys.generate()
    open_intent = make_intent(keys=keys)
    Wallet(wallet_path).add_keys(open_intent.intent_id, keys)
    History(history_path_for(wallet_path)).add(open_intent)
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        resp = await http.delete(f"{server.origin}/api/intents/{open_intent.intent_id}")
        assert resp.status == 409
        assert "still open" in (await resp.json())["error"]
        resp = await http.delete(f"{server.origin}/api/intents/{closed_id}")
        assert resp.status == 200
    wallet = Wallet(wallet_path)
    assert wallet.receipts() == []
    assert wallet.keys(open_intent.intent_id) is not None
    assert set(History(history_path_for(wallet_path)).records) == {open_intent.intent_id}


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({"fields": []}, ["fields"]),
        ({"fields": ["email"], "email": "not an address"}, ["email"]),
        ({"fields": ["phone"], "phone": "call me"}, ["phone"]),
        ({"fields": ["name"], "name": ""}, ["name"]),
        (
            {"fields": ["delivery_address"], "address_lines": "", "address_country": "Germany"},
            ["address_lines", "address_city", "address_country"],
        ),
    ],
)
async def test_a_disclosure_that_does_not_fit_is_told_field_by_field(
    tmp_path: Path, form: dict[str, object], fields: list[str]
) -> None:
    wallet_path = tmp_path / "wallet.json"
    intent_id, _ = keep_an_agreement(wallet_path)
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        resp = await http.post(f"{server.origin}/api/intents/{intent_id}/disclose", json=form)
        assert resp.status == 422
        body = await resp.json()
    assert sorted(body["fields"]) == sorted(fields)
    assert all(body["fields"][f] == DISCLOSURE_HINTS[f] for f in fields)
    assert Wallet(wallet_path).disclosures() == [], "nothing was sealed or sent"


async def test_no_disclosure_before_an_agreement(tmp_path: Path) -> None:
    wallet_path = tmp_path / "wallet.json"
    open_intent = make_intent()
    History(history_path_for(wallet_path)).add(open_intent)
    async with serving(unreachable_kafka(), wallet_path) as server, signed_in(server) as http:
        resp = await http.post(
            f"{server.origin}/api/intents/{open_intent.intent_id}/disclose",
            json={"fields": ["name"], "name": "Ada"},
        )
        assert resp.status == 409
        assert "accept an offer first" in (await resp.json())["error"]
