"""What the customer app does for the person: publish, follow, accept, verify, keep, forget.

One session per `intentcast customer` process. It owns the customer client (so every Kafka
connection is this process's, and each intent still gets its own short-lived clients), the
wallet (keys and receipts never leave it) and the history file. The web server only turns
HTTP requests into calls on this class and its answers into JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

from intentcast.agents import (
    AgreementError,
    ClientError,
    ClientSettings,
    CustomerClient,
    DisclosureError,
    IntentHandle,
    IntentRejectedError,
    Wallet,
)
from intentcast.agents.intent_handle import CLOSED
from intentcast.customer_app.disclosure_form import parse_disclosure
from intentcast.customer_app.forms import FormError, parse_draft
from intentcast.customer_app.promises import roster_view
from intentcast.customer_app.records import History, IntentRecord, history_path_for
from intentcast.customer_app.views import Kept, intent_view, receipt_check
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
    refused = (
        (IntentRejectedError, "refused the intent"), (AgreementError, "made no deal"),
        (DisclosureError, "refused the disclosure"),
    )  # fmt: skip
    for kind, verb in refused:
        if isinstance(exc, kind) and exc.reason is not None:
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
        self.retention_error = ""
        self.retention_checked: str | None = None

    async def close(self) -> None:
        await self.client.close()

    def roster(self) -> list[dict[str, Any]]:
        return roster_view()

    def _kept(self) -> Callable[[str], Kept]:
        """What the wallet holds, by intent id (read once per view)."""
        receipts = {r.agreement.intent.intent_id: r for r in self.wallet.receipts()}
        disclosed: dict[str, list[dict[str, Any]]] = {}
        for item in self.wallet.disclosures():
            disclosed.setdefault(item["intent_id"], []).append(item)
        retention = {row.intent_id: row for row in self.wallet.retention()}
        dropped = {d.intent_id: d for d in self.wallet.dropped()}
        held = set(self.wallet.intent_ids())

        def of(intent_id: str) -> Kept:
            return Kept(
                receipt=receipts.get(intent_id), retention=retention.get(intent_id),
                has_keys=intent_id in held, keep_keys=self.wallet.keeps(intent_id),
                dropped=dropped.get(intent_id), disclosures=tuple(disclosed.get(intent_id, ())),
            )  # fmt: skip

        return of

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
        kept, now = self._kept(), utcnow()
        records = sorted(self.history.records.values(), key=lambda r: r.intent.created_at)
        return [
            intent_view(r, kept(r.intent.intent_id), r.intent.intent_id in self.handles, now)
            for r in reversed(records)
        ]

    def view(self, intent_id: str) -> dict[str, Any]:
        record = self._record(intent_id)
        return intent_view(record, self._kept()(intent_id), intent_id in self.handles, utcnow())

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

    async def disclose(self, intent_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """Seal what the customer chose to the vendor of this intent's agreement, and send it."""
        self._record(intent_id)
        receipt = self._kept()(intent_id).receipt
        if receipt is None:
            raise AppError(409, "There is no agreement to disclose to yet: accept an offer first.")
        try:
            values = parse_disclosure(form)
        except FormError as exc:
            raise AppError(422, "Some fields need another look.", exc.fields) from None
        try:
            await self.client.disclose(receipt, values, timeout=self.accept_timeout)
        except SchemaError as exc:
            raise AppError(
                422, f"The disclosure does not fit the protocol: {exc.detail}."
            ) from None
        except IntentcastError as exc:
            raise AppError(409 if isinstance(exc, ClientError) else 503, plain(exc)) from None
        return self.view(intent_id)

    async def refresh_retention(self) -> dict[str, Any]:
        """Read the log for deletion attestations, then drop the keys nothing needs any more
        (closed without an agreement, or past the retention end), unless the customer keeps
        them. Attestations are fetched first: the keys are what opens them."""
        try:
            await self.client.sync_retention()
        except IntentcastError as exc:
            self.retention_error = plain(exc)
            raise AppError(503, self.retention_error) from None
        self.retention_error = ""
        dropped = [d for d in self.client.drop_due_keys() if d.intent_id not in self.handles]
        self.retention_checked = format_utc(utcnow())
        return {
            "checked_at": self.retention_checked,
            "dropped": [{"intent_id": d.intent_id, "reason": d.reason} for d in dropped],
        }

    async def watch_retention(self, interval: float) -> None:
        """Refresh retention every ``interval`` seconds while the app runs."""
        while True:
            with contextlib.suppress(AppError):  # told on the page via retention_error
                await self.refresh_retention()
            await asyncio.sleep(interval)

    def status(self) -> dict[str, Any]:
        """The app's own state the page shows beside the intents."""
        return {"retention": {"checked_at": self.retention_checked, "error": self.retention_error}}

    def keep_keys(self, intent_id: str, keep: bool) -> dict[str, Any]:
        """The customer's choice to keep an intent's keys past the point they would go."""
        self._record(intent_id)
        if self.wallet.keys(intent_id) is None:
            raise AppError(409, "This intent's keys are already gone; there is nothing to keep.")
        self.wallet.keep_keys(intent_id, keep)
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
