"""The customer app's server without a broker: the token, loopback only, plain-language errors."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from intentcast.broker.kafka_local.node import free_port
from intentcast.customer_app.forms import FIELD_HINTS
from intentcast.customer_app.server import HOST, TOKEN_COOKIE
from tests.customer_app.conftest import serving, signed_in

GOOD = {
    "market": "bikes", "item": "city bike", "quantity": "1", "max_price": "200",
    "currency": "EUR", "country": "DE", "city": "Berlin", "expires_in_minutes": "10",
    "terms": ["SD-BASE", "P2B1"],
}  # fmt: skip


def unreachable_kafka() -> str:
    return f"127.0.0.1:{free_port()}"  # nothing listens there


async def test_every_request_needs_this_runs_token(tmp_path: Path) -> None:
    async with serving(unreachable_kafka(), tmp_path / "wallet.json") as server:
        async with aiohttp.ClientSession() as anonymous:
            for path in ("/", "/api/roster", "/api/intents", "/api/export", "/api/events"):
                async with anonymous.get(server.origin + path) as response:
                    assert response.status == 403, path
                    assert "intentcast customer" in (await response.json())["error"]
            async with anonymous.get(server.origin + "/?token=not-this-run") as response:
                assert response.status == 403
                assert TOKEN_COOKIE not in response.cookies
        async with signed_in(server) as http:
            async with http.get(server.origin + "/") as response:
                assert response.status == 200
                page = await response.text()
                assert "default-src 'none'" in response.headers["Content-Security-Policy"]
                assert response.headers["Referrer-Policy"] == "no-referrer"
            # nothing on the page is loaded from anywhere else
            assert "<script src" not in page and "<link" not in page and "@import" not in page
            # a cookie alone does not change anything: a cross-site form cannot set the header
            async with http.post(
                server.origin + "/api/intents", json=GOOD, headers={"X-Intentcast-Token": "x"}
            ) as response:
                assert response.status == 403


async def test_binds_loopback_only_and_refuses_a_foreign_host_header(tmp_path: Path) -> None:
    async with serving(unreachable_kafka(), tmp_path / "wallet.json") as server:
        assert server.url.startswith(f"http://{HOST}:{server.port}/?token=")
        assert server.runner is not None
        assert [addr[0] for addr in server.runner.addresses] == [HOST]
        lan = socket.gethostbyname(socket.gethostname())
        if not lan.startswith("127."):  # another interface of this machine: nobody answers
            with (
                pytest.raises(ConnectionRefusedError),
                socket.create_connection((lan, server.port), timeout=2),
            ):
                pass
        async with (
            signed_in(server) as http,
            # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host
            http.get(server.origin + "/api/roster", headers={"Host": "evil.example"}) as response,
        ):
            assert response.status == 403


async def test_roster_preselects_service_delivery_and_no_stalking(tmp_path: Path) -> None:
    async with (
        serving(unreachable_kafka(), tmp_path / "wallet.json") as server,
        signed_in(server) as http,
    ):
        roster = await (await http.get(server.origin + "/api/roster")).json()
    chosen = {term["id"] for term in roster if term["default"]}
    assert chosen == {"SD-BASE", "P2B1"}
    p2b1 = next(term for term in roster if term["id"] == "P2B1")
    assert p2b1["promises"]["retention"] == "session"
    assert "third part" in p2b1["promises"]["third_parties"]
    assert p2b1["summary"].startswith("Don't track me")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item": ""}, "item"),
        ({"market": "Bikes & more"}, "market"),
        ({"max_price": "cheap"}, "max_price"),
        ({"max_price": "-3"}, "max_price"),
        ({"currency": "EURO"}, "currency"),
        ({"country": "Germany"}, "country"),
        ({"quantity": "0"}, "quantity"),
        ({"attributes": "no equals sign"}, "attributes"),
        ({"terms": []}, "terms"),
        ({"terms": ["NOT-A-TERM"]}, "terms"),
        ({"expires_in_minutes": "0"}, "expires_in_minutes"),
        ({"needed_by": "2001-01-01T00:00:00Z"}, "needed_by"),
    ],
)
async def test_bad_input_gets_one_plain_sentence_per_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    async with (
        serving(unreachable_kafka(), tmp_path / "wallet.json") as server,
        signed_in(server) as http,
    ):
        resp = await http.post(server.origin + "/api/intents", json=GOOD | change)
        assert resp.status == 422
        body = await resp.json()
    assert body["error"] == "Some fields need another look."
    assert list(body["fields"]) == [field]
    message = body["fields"][field]
    assert message in (FIELD_HINTS[field], "Please fill this in.")
    assert "pydantic" not in message and "Traceback" not in message
    assert not (tmp_path / "wallet.json").exists(), "nothing was signed or kept"


async def test_kafka_down_is_told_in_plain_words(tmp_path: Path) -> None:
    async with (
        serving(unreachable_kafka(), tmp_path / "wallet.json") as server,
        signed_in(server) as http,
    ):
        resp = await http.post(server.origin + "/api/intents", json=GOOD)
        assert resp.status == 503
        body = await resp.json()
        resp = await http.post(server.origin + "/api/intents", data=b"{not json")
        assert resp.status == 400
        assert "not JSON" in (await resp.json())["error"]
        resp = await http.get(server.origin + "/api/intents/" + "0" * 32)
        assert resp.status == 404
        assert (await resp.json())["error"] == "There is no such intent in your history."
    assert "Is Kafka running?" in body["error"]
    assert "Traceback" not in body["error"]
