"""Micro-benchmarks of the wire contract: encode, decode, sign, verify, seal and open per message.

Run ``python bench/bench_schemas.py [-n N] [--json out.json]`` from the repository root; not a
test. Each figure is the median over repeats of the mean time per call, in microseconds.
``agreement``'s verify column is ``Agreement.verify()`` (id, three signatures, hashes).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from intentcast.schemas import (
    MESSAGE_MODELS,
    Agreement,
    DeliveredOffer,
    Offer,
    SignedModel,
    SigningKey,
    decode,
    encode,
    open_offer,
    seal_offer,
    sign_model,
    verify_model,
)
from intentcast.schemas._tools.samples import sample, sample_keys, sample_messages

REPEATS = 7
COLUMNS = ("encode", "decode", "sign", "verify")


def measure(fn: Callable[[], object], number: int, repeats: int = REPEATS) -> float:
    """Median over ``repeats`` of the mean microseconds per call of ``fn``."""
    fn()  # warm up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter_ns() - start) / number / 1000)
    return statistics.median(samples)


def _signer_for(kind: str) -> SigningKey | None:
    keys = sample_keys()
    return {
        "intent": keys.intent_signing,
        "acceptance": keys.intent_signing,
        "cancel": keys.intent_signing,
        "offer": keys.vendor_signing,
        "vendor_profile": keys.vendor_signing,
    }.get(kind)


def run(number: int) -> dict[str, dict[str, float]]:
    """Timings per message kind (µs); sign/verify only for signed kinds."""
    results: dict[str, dict[str, float]] = {}
    for kind, message in sample_messages().items():
        model = MESSAGE_MODELS[kind]
        raw = encode(message)
        row = {
            "bytes": float(len(raw)),
            "encode": measure(functools.partial(encode, message), number),
            "decode": measure(functools.partial(decode, model, raw), number),
        }
        key = _signer_for(kind)
        if key is not None and isinstance(message, SignedModel):
            row["sign"] = measure(functools.partial(sign_model, message, key), number)
            verify = functools.partial(verify_model, message, key.public_key)
            row["verify"] = measure(verify, number)
        results[kind] = row
    keys = sample_keys()
    offer = sample(Offer)
    delivered: DeliveredOffer = seal_offer(offer, keys.intent_sealing.public_key)
    results["offer"]["seal"] = measure(
        lambda: seal_offer(offer, keys.intent_sealing.public_key), number
    )
    results["offer"]["open"] = measure(lambda: open_offer(delivered, keys.intent_sealing), number)
    results["agreement"]["verify"] = measure(sample(Agreement).verify, number)
    return results


def render(results: dict[str, dict[str, float]], number: int) -> Table:
    """A rich table, one row per message kind."""
    table = Table(title=f"schemas micro-benchmarks (µs per call, median of {REPEATS} x {number})")
    table.add_column("message")
    table.add_column("bytes", justify="right")
    for column in (*COLUMNS, "seal", "open"):
        table.add_column(column, justify="right")
    for kind, row in results.items():
        cells = [f"{row[c]:.1f}" if c in row else "" for c in (*COLUMNS, "seal", "open")]
        table.add_row(kind, f"{row['bytes']:.0f}", *cells)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="calls per repeat (default 500)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    results = run(args.n)
    Console().print(render(results, args.n))
    if args.json:
        report: dict[str, Any] = {
            "unit": "microseconds",
            "number": args.n,
            "repeats": REPEATS,
            "python": platform.python_version(),
            "results": results,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
