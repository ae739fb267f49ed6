"""Headless Chromium from Debian (/usr/bin/chromium) driven by Playwright, for page tests.

The Playwright wheel ships its own driver; no `playwright install` is run and no browser is
downloaded. Without /usr/bin/chromium (apt-get install chromium) the test is skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@asynccontextmanager
async def chromium_page(width: int = 1440, height: int = 900) -> AsyncIterator[Any]:
    """A fresh page in a fresh headless Chromium; closed again on exit."""
    if not shutil.which(CHROMIUM):
        pytest.skip("no chromium: apt-get install chromium (CI installs it in .ci/run)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            await browser.close()
