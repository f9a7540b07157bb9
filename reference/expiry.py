"""The expiry index: which locks fall due in a block, without scanning every transfer.

The rule (docs/ledger.md, "Expiry and the deadline tie"): the first thing a block
does is expire every LOCKED transfer whose expires_at_ms is strictly earlier than
the block's timestamp, in order of (expires_at_ms, transfer_id). A lock whose
deadline equals the timestamp is still open in that block.

The index is a heap of (expires_at_ms, transfer_id), one entry per lock ever made;
a block pops the entries that fall due. A lock settled before its deadline keeps
its entry (finding it in the heap would cost a scan): when the entry pops, the
ledger sees the transfer is no longer LOCKED and skips it. So a block costs
O(log n) per entry it pops, and each entry pops once in the ledger's life.
"""

import heapq

Entry = tuple[int, str]
"""(expires_at_ms, transfer_id): tuples order as the rule orders expiries."""


class ExpiryIndex:
    def __init__(self) -> None:
        self.heap: list[Entry] = []

    def __len__(self) -> int:
        return len(self.heap)

    def add(self, expires_at_ms: int, transfer_id: str) -> None:
        heapq.heappush(self.heap, (expires_at_ms, transfer_id))

    def is_due(self, expires_at_ms: int, now: int) -> bool:
        """Strictly earlier: a lock is open through its deadline."""
        return expires_at_ms < now

    def pop_due(self, now: int) -> list[Entry]:
        """Remove and return every entry due at `now`, in expiry order."""
        due: list[Entry] = []
        heap = self.heap
        while heap and self.is_due(heap[0][0], now):
            due.append(heapq.heappop(heap))
        return due

    def restore(self, entries: list[Entry]) -> None:
        """Put back entries popped by a block that did not commit."""
        for entry in entries:
            heapq.heappush(self.heap, entry)
