"""Price helpers shared by the example vendors: amounts the intent's currency can pay."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from intentcast.agents import minor_units

__all__ = ["round_down", "round_up"]


def _step(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_down(amount: Decimal, currency: str) -> Decimal:
    """``amount`` cut to the currency's minor unit (never above the original)."""
    return amount.quantize(_step(currency), rounding=ROUND_DOWN)


def round_up(amount: Decimal, currency: str) -> Decimal:
    """``amount`` raised to the currency's minor unit (never below the original)."""
    return amount.quantize(_step(currency), rounding=ROUND_UP)
