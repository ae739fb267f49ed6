"""The customer app in headless Chromium on the session's real broker, with the example vendors.

One person's whole flow: a refused intent told in plain words, then compose, publish, offers
arriving live, accept the cheapest, the receipt, verify offline, what the vendor promised
and until when, a disclosure to that vendor only, export, delete. Screenshots go to
artifacts/ (CI keeps them).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from intentcast.agents import Vendor, Wallet
from intentcast.customer_app.records import History, history_path_for
from intentcast.processes import Processors
from tests.conftest import REPO_ROOT
from tests.customer_app.conftest import serving
from tests.ops.browser import chromium_page

pytestmark = pytest.mark.kafka
ARTIFACTS = REPO_ROOT / "artifacts"
STEP = 90_000  # ms for a step that waits on the broker: a loaded machine is slow


async def test_whole_customer_flow_in_the_browser(
    kafka_bootstrap: str,
    ready_processors: Processors,
    vendors: dict[str, Vendor],
    tmp_path: Path,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    wallet_path = tmp_path / "wallet.json"
    async with (
        serving(kafka_bootstrap, wallet_path, intake_timeout=90, accept_timeout=90) as server,
        chromium_page(1400, 1000) as page,
    ):
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("dialog", lambda dialog: dialog.accept())
        await page.goto(server.url)
        assert page.url == server.origin + "/", "the token moved from the address to a cookie"

        # the roster, with SD-BASE and #NoStalking chosen and their promises in words
        await page.get_by_test_id("term-P2B1").wait_for()
        assert await page.get_by_test_id("term-SD-BASE").is_checked()
        assert await page.get_by_test_id("term-P2B1").is_checked()
        assert not await page.get_by_test_id("term-PDC-AI").is_checked()
        terms_text = await page.get_by_test_id("terms").inner_text()
        assert "Deleted right after the transaction completes" in terms_text
        assert "Shares your data with no third party." in terms_text

        # a field that does not fit: one sentence beside it, nothing sent
        await page.fill("#max_price", "cheap")
        await page.get_by_test_id("publish").click()
        error = page.locator('[data-error-for="max_price"]')
        await error.filter(has_text="as a number above zero").wait_for()
        await page.fill("#item", "")
        await page.screenshot(path=str(ARTIFACTS / "customer-app-form-errors.png"), full_page=True)

        # personal data in an intent: intake refuses it, the page says why in plain words
        await page.fill("#item", "city bike, mail me at jane.doe@example.org")
        await page.fill("#max_price", "200")
        await page.fill("#city", "Berlin")
        await page.get_by_test_id("publish").click()
        refused = page.get_by_test_id("compose-error")
        await refused.filter(has_text="personal data").wait_for(timeout=STEP)
        assert "Traceback" not in await refused.inner_text()

        # a good intent: offers arrive live, sealed to this intent and opened here
        await page.fill("#item", "city bike")
        await page.fill("#attributes", "colour=green")
        await page.get_by_test_id("publish").click()
        card = page.get_by_test_id("intent").first
        await card.wait_for(timeout=STEP)
        assert await card.get_by_test_id("state").inner_text() == "open"
        rows = card.locator("[data-testid=offers] tbody tr")
        await rows.nth(1).wait_for(timeout=STEP)  # acme and careful both accept these terms
        vendors_seen = [await rows.nth(i).get_attribute("data-vendor") for i in range(2)]
        assert vendors_seen == ["acme-bikes", "careful-cycles"], "cheapest first"
        assert "180 EUR" in await rows.first.inner_text()
        await page.screenshot(path=str(ARTIFACTS / "customer-app-offers.png"), full_page=True)

        # accept the cheapest: the agreement and its receipt, then the offline check
        await rows.first.get_by_test_id("accept").click()
        agreement = card.get_by_test_id("agreement")
        await agreement.wait_for(timeout=STEP)
        receipt = json.loads(await card.get_by_test_id("receipt").inner_text())
        assert receipt["version"] == "KI-CR-v1.1.0"
        assert receipt["piiControllers"][0]["piiController"] == "acme-bikes"
        promises = await card.get_by_test_id("promises").inner_text()
        assert "What acme-bikes agreed to do with your data, and until when" in promises
        assert "Deleted right after the transaction completes" in promises
        assert await card.get_by_test_id("state").inner_text() == "agreed"
        retention = card.get_by_test_id("retention")
        assert await retention.get_attribute("data-retention-state") == "running"
        assert "acme-bikes must delete your data by" in await retention.inner_text()
        assert "not a proof of deletion" in await retention.inner_text()
        await page.get_by_test_id("refresh-retention").click()  # reads the log for statements
        await (
            page.get_by_test_id("retention-status")
            .filter(has_text="log checked")
            .wait_for(timeout=STEP)
        )
        await card.get_by_test_id("verify").click()
        verdict = card.get_by_test_id("verify-result")
        await verdict.filter(has_text="Valid").wait_for()
        assert "✗" not in await verdict.inner_text()
        await page.screenshot(path=str(ARTIFACTS / "customer-app-receipt.png"), full_page=True)

        # disclose a name and a delivery address to the chosen vendor only
        disclosed_before = vendors["acme-bikes"].stats.disclosures_received
        form = card.get_by_test_id("disclose-form")
        await form.get_by_test_id("disclose-pick-name").check()
        await form.get_by_test_id("disclose-pick-delivery_address").check()
        await form.get_by_test_id("disclose-name").fill("Ada Lovelace")
        await form.get_by_test_id("disclose-address_lines").fill("12 Example Street\nFlat 3")
        await form.get_by_test_id("disclose-address_city").fill("Berlin")
        await form.get_by_test_id("disclose-address_postal_code").fill("10115")
        await form.get_by_test_id("disclose-address_country").fill("Germany")
        await form.get_by_test_id("disclose").click()
        await card.get_by_text("Use a two-letter ISO 3166 country code").wait_for()
        form = card.get_by_test_id("disclose-form")
        assert await form.get_by_test_id("disclose-name").input_value() == "Ada Lovelace"
        await form.get_by_test_id("disclose-address_country").fill("DE")
        await form.get_by_test_id("disclose").click()
        told = card.get_by_test_id("disclosed")
        await told.wait_for(timeout=STEP)
        assert "Told acme-bikes" in await told.inner_text()
        assert "delivery address, name" in await told.inner_text()
        assert vendors["acme-bikes"].stats.disclosures_received == disclosed_before + 1
        await page.screenshot(path=str(ARTIFACTS / "customer-app-disclosure.png"), full_page=True)

        # export everything: the intent, both offers, the receipt; no keys unless asked
        async with page.expect_download() as download_info:
            await page.get_by_test_id("export").click()
        download = await download_info.value
        exported = json.loads(await asyncio.to_thread(Path(await download.path()).read_text))
        intent_id = exported["intents"][0]["intent_id"]
        assert len(exported["intents"][0]["offers"]) == 2
        assert exported["receipts"][0]["intent_id"] == intent_id
        [kept] = exported["intents"][0]["agreement"]["disclosures"]
        assert kept["values"]["name"] == "Ada Lovelace"
        assert "keys" not in exported

        # delete the closed intent: its keys, receipt and records leave this machine
        await card.get_by_test_id("delete").click()
        await page.get_by_test_id("intents").filter(has_text="Nothing yet").wait_for()
        await page.screenshot(path=str(ARTIFACTS / "customer-app-deleted.png"), full_page=True)

        # the page asked nothing of anyone but this process
        outside = [url for url in requested if not url.startswith(server.origin)]
        assert not [url for url in outside if not url.startswith("blob:")], outside

    wallet = Wallet(wallet_path)
    assert wallet.keys(intent_id) is None
    assert wallet.receipts() == []
    assert intent_id not in History(history_path_for(wallet_path)).records
