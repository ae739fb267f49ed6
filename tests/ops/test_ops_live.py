"""Ops on a live flow: the dashboard in headless Chromium, `/metrics` scraped, `monitor --once`.

These tests live beside the flow tests because they need the session's `processors` and
`vendors` fixtures (one processor group per session: a second copy would process every intent
twice). The helpers they drive are in tests/ops/.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from intentcast.agents import ClientSettings, CustomerClient, Vendor
from intentcast.broker.kafka_local.node import free_port
from intentcast.dashboard.server import DashboardServer
from intentcast.processes import Processors
from tests.conftest import REPO_ROOT, wait_for
from tests.ops.browser import chromium_page
from tests.ops.traffic import one_round, refused_round

pytestmark = pytest.mark.kafka
ARTIFACTS = REPO_ROOT / "artifacts"


def scrape(text: str) -> dict[str, float]:
    """Every sample of a /metrics page, as name{labels} -> value (parsed by prometheus_client)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


async def traffic(bootstrap: str, rounds: int) -> None:
    async with CustomerClient(ClientSettings(bootstrap=bootstrap)) as client:
        for i in range(rounds):
            await one_round(client, i)
        await refused_round(client)


async def test_dashboard_page_metrics_and_monitor_follow_a_live_flow(
    kafka_bootstrap: str, processors: Processors, vendors: dict[str, Vendor]
) -> None:
    server = DashboardServer(
        {"bootstrap_servers": kafka_bootstrap}, port=free_port(), lookback=600, refresh=0.5
    )
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:

            async def metrics() -> dict[str, float]:
                async with http.get(server.url + "metrics") as response:
                    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    return scrape(await response.text())

            async with chromium_page() as page:
                await page.goto(server.url)
                await page.wait_for_selector("#conn.live", timeout=20_000)
                before = await metrics()
                shown = int((await page.inner_text("#kpi-intents .value")).replace(",", ""))
                await traffic(kafka_bootstrap, rounds=3)

                received = "intentcast_intents_received_total"
                after: dict[str, float] = {}

                async def grown() -> bool:
                    after.update(await metrics())
                    return (
                        after.get(received, 0) >= before.get(received, 0) + 4
                        and after.get("intentcast_agreements_recorded_total", 0)
                        >= before.get("intentcast_agreements_recorded_total", 0) + 3
                    )

                await wait_for(grown, timeout=40, interval=0.5, what="/metrics to count the flow")
                refused = "intentcast_intents_rejected_total{reason=market_unknown}"
                assert after[refused] >= before.get(refused, 0) + 1
                assert after["intentcast_market_intents_total{market=bikes}"] >= 3
                assert after["intentcast_sources_live"] >= 1
                assert any(k.startswith("intentcast_latency_milliseconds{") for k in after)

                async def page_moved() -> bool:
                    text = await page.inner_text("#kpi-intents .value")
                    return int(text.replace(",", "")) >= shown + 4

                await wait_for(page_moved, timeout=20, interval=0.25, what="the page to update")
                assert await page.locator("#chart-flows path.series").count() == 3
                reasons = await page.inner_text("#table-reasons")
                assert "market_unknown" in reasons
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            async with http.get(server.url + "api/snapshot") as response:
                snapshot = await response.json()
            assert snapshot["totals"]["agreements"] >= 3 and snapshot["history"]
    finally:
        await server.stop()

    once = await asyncio.to_thread(run_monitor_once, kafka_bootstrap)
    assert once["totals"]["intents"] >= 4
    assert once["rejections"]["intents"]["market_unknown"] >= 1
    assert once["statuses"]["agreed"] >= 3


def run_monitor_once(bootstrap: str) -> dict[str, Any]:
    """`intentcast monitor --once --json` as a user runs it, in a child process."""
    env = {**os.environ, "INTENTCAST_BOOTSTRAP": bootstrap}
    done = subprocess.run(
        [sys.executable, "-m", "intentcast", "monitor", "--once", "--json", "--lookback", "600"],
        env=env, capture_output=True, text=True, timeout=60, cwd=Path(REPO_ROOT),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
