"""Readiness probe: a node is ready when a real client can fetch cluster metadata."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient


async def _describe(bootstrap: str, timeout: float, client_kwargs: dict[str, Any]) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **client_kwargs
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def metadata_ready(
    bootstrap: str, timeout: float = 3.0, client_kwargs: dict[str, Any] | None = None
) -> bool:
    """Blocking check usable from sync code, even inside a running event loop.

    `client_kwargs` carries security settings (SASL_SSL) for a secure node.
    """
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    probe = _describe(bootstrap, timeout, client_kwargs or {})
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe).result()
