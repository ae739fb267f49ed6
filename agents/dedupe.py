"""A bounded memory of recently seen ids, because Kafka delivers at least once."""

from __future__ import annotations

from collections import OrderedDict

from intentcast.agents.errors import SettingsError

__all__ = ["RecentIds"]


class RecentIds:
    """The last ``maxsize`` ids seen, least recently seen forgotten first (an LRU set).

    A redelivered intent (after a rebalance or restart) is usually recent, so a bounded set
    catches the duplicates that matter without growing forever.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise SettingsError(f"RecentIds needs maxsize of at least 1, not {maxsize}")
        self.maxsize = maxsize
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, item: str) -> bool:
        """Record ``item``; return whether it was already there (refreshing its age)."""
        if item in self._ids:
            self._ids.move_to_end(item)
            return True
        self._ids[item] = None
        if len(self._ids) > self.maxsize:
            self._ids.popitem(last=False)
        return False

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)
