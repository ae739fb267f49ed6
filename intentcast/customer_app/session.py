"""What the customer app does for the person: publish, follow, accept, verify, keep, forget.

One session per `intentcast customer` process. It owns the customer client (so every Kafka
connection is this process's, and each intent still gets its own short-lived clients), the
wallet (keys and receipts never leave it) and the history file. The web server only turns
HTTP requests into calls on this class and its answers into JSON.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from intentcast.agents import (
    AgreementError,
    ClientError,
    ClientSettings,
    CustomerClient,
    IntentHandle,
    IntentRejectedError,
    Receipt,
    Wallet,
)
from intentcast.agents.intent_handle import CLOSED
from intentcast.customer_app.forms import FormError, parse_draft
from intentcast.customer_app.promises import roster_view
from intentcast.customer_app.records import History, IntentRecord, history_path_for
from intentcast.customer_app.views import intent_view, receipt_check
from intentcast.intent_cmd import next_step
from intentcast.schemas.errors import IntentcastError, SchemaError
from intentcast.schemas.timeutil import format_utc, utcnow

__all__ = ["AppError", "CustomerSession"]

EXPORT_VERSION: Final = 1


class AppError(Exception):
    """A request the app cannot do; ``message`` is one plain sentence for the page."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def plain(exc: IntentcastError) -> str:
    """A client error as a person reads it: what happened, then what to do next."""
    if isinstance(exc, IntentRejectedError | AgreementError) and exc.reason is not None:
        verb = "refused the intent" if isinstance(exc, IntentRejectedError) else "made no deal"
        return f"The broker {verb}: {exc.reason.description}"
    hint = next_step(exc)
    return f"{exc}. {hint}" if hint else str(exc)


class CustomerSession:
    """The customer's side of every intent this app published, live or kept on disk."""

    def __init__(
        self,
        settings: ClientSettings,
        wallet: Wallet,
        *,
        intake_timeout: float = 30.0,
        accept_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self.wallet = wallet
        self.history = History(history_path_for(wallet.path))
        self.client = CustomerClient(settings=settings, wallet=wallet)
        self.handles: dict[str, IntentHandle] = {}
        self.intake_timeout, self.accept_timeout = intake_timeout, accept_timeout

    async def close(self) -> None:
        await self.client.close()

    def roster(self) -> list[dict[str, Any]]:
        return roster_view()

    def _receipts(self) -> dict[str, Receipt]:
        return {r.agreement.intent.intent_id: r for r in self.wallet.receipts()}

    def sync(self) -> None:
        """Copy what live intents received into the history (kept across restarts)."""
        for intent_id, handle in self.handles.items():
            self.history.update(intent_id, handle.received, handle.statuses)

    def _record(self, intent_id: str) -> IntentRecord:
        self.sync()
        record = self.history.records.get(intent_id)
        if record is None:
            raise AppError(404, "There is no such intent in your history.")
        return record

    def views(self) -> list[dict[str, Any]]:
        """Every intent, newest first, with its offers, refusals, agreement and promises."""
        self.sync()
        receipts, now = self._receipts(), utcnow()
        records = sorted(self.history.records.values(), key=lambda r: r.intent.created_at)
        return [
            intent_view(r, receipts.get(r.intent.intent_id), r.intent.intent_id in self.handles,
                        self.wallet.keys(r.intent.intent_id) is not None, now)
            for r in reversed(records)
        ]  # fmt: skip

    def view(self, intent_id: str) -> dict[str, Any]:
        record = self._record(intent_id)
        return intent_view(
            record, self._receipts().get(intent_id), intent_id in self.handles,
            self.wallet.keys(intent_id) is not None, utcnow(),
        )  # fmt: skip

    async def publish(self, form: dict[str, Any]) -> dict[str, Any]:
        """Check the form, sign and send the intent; its view once intake took it."""
        try:
            draft = parse_draft(form, utcnow())
        except FormError as exc:
            raise AppError(422, "Some fields need another look.", exc.fields) from None
        try:
            handle = await self.client.publish(
                **draft.publish_kwargs(), intake_timeout=self.intake_timeout
            )
        except IntentRejectedError as exc:
            self.wallet.forget(exc.intent_id)  # refused at intake: nothing can follow
            raise AppError(422, plain(exc)) from None
        except SchemaError as exc:
            raise AppError(422, f"The intent does not fit the protocol: {exc.detail}.") from None
        except IntentcastError as exc:
            raise AppError(503, plain(exc)) from None
        self.handles[handle.intent_id] = handle
        self.history.add(handle.intent)
        return self.view(handle.intent_id)

    def _live(self, intent_id: str) -> IntentHandle:
        handle = self.handles.get(intent_id)
        if handle is None:
            self._record(intent_id)
            raise AppError(
                409, "This intent was published by an earlier run of the app; it can no "
                "longer take offers here. Publish a new one."
            )  # fmt: skip
        return handle

    async def accept(self, intent_id: str, offer_id: str) -> dict[str, Any]:
        """Accept one delivered offer; the intent's view with the verified agreement."""
        handle = self._live(intent_id)
        offer = next((o for o in handle.received if o.offer_id == offer_id), None)
        if offer is None:
            raise AppError(404, "That offer was not delivered to this intent.")
        try:
            await handle.accept(offer, timeout=self.accept_timeout)
        except IntentcastError as exc:
            raise AppError(409 if isinstance(exc, ClientError) else 503, plain(exc)) from None
        return self.view(intent_id)

    async def cancel(self, intent_id: str) -> dict[str, Any]:
        handle = self._live(intent_id)
        try:
            await handle.cancel(timeout=self.accept_timeout)
        except IntentcastError as exc:
            raise AppError(503, plain(exc)) from None
        return self.view(intent_id)

    def verify(self, agreement_id: str) -> dict[str, Any]:
        """Check a kept agreement and its receipt offline, from the wallet alone."""
        stored = self.wallet.stored_receipt(agreement_id)
        if stored is None:
            raise AppError(404, "There is no such agreement in your wallet.")
        return receipt_check(stored, self.wallet)

    def _closed(self, record: IntentRecord) -> bool:
        statuses = record.statuses
        handle = self.handles.get(record.intent.intent_id)
        if handle is not None:
            statuses = list(handle.statuses)
        return record.intent.expires_at <= utcnow() or any(s.status in CLOSED for s in statuses)

    async def delete(self, intent_id: str) -> None:
        """Forget a closed intent: its keys, receipt and records, from this machine."""
        record = self._record(intent_id)
        if not self._closed(record):
            raise AppError(
                409, "This intent is still open: cancel it, or wait until it expires "
                f"({format_utc(record.intent.expires_at)}), then delete it."
            )  # fmt: skip
        handle = self.handles.pop(intent_id, None)
        if handle is not None:
            with contextlib.suppress(IntentcastError):
                await handle.close()
        self.wallet.forget(intent_id)
        self.history.forget(intent_id)

    def export(self, include_keys: bool) -> dict[str, Any]:
        """Everything this app holds for the customer, as one JSON document."""
        views = self.views()
        out: dict[str, Any] = {
            "kind": "intentcast_customer_export",
            "version": EXPORT_VERSION,
            "exported_at": format_utc(utcnow()),
            "wallet": str(self.wallet.path),
            "intents": views,
            "records": {k: r.to_json() for k, r in self.history.records.items()},
            "receipts": [r.to_json() for r in self.wallet.receipts()],
        }
        if include_keys:
            out["keys"] = {
                i: keys.to_json()
                for i in self.wallet.intent_ids()
                if (keys := self.wallet.keys(i)) is not None
            }
        return out
