"""Bounded memos for the checker's hot paths.

Worlds of one breadth-first level share most of their parts (a network, a
replica's state), so a result computed for one world is often asked for again a
few worlds later. These memos keep such results, keyed by the parts they depend
on. Each only saves work: forgetting an entry costs a recomputation, never a
different answer. So a memo that grows past its bound is simply emptied, which
keeps the memory of a multi-million-world search flat.
"""

from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")

MEMO_LIMIT = 1 << 18
"""Entries a memo holds before it is emptied (a level of n4f1 touches fewer)."""


class Memo(Generic[Key, Value]):
    """A dictionary that forgets everything when it reaches `limit` entries."""

    __slots__ = ("entries", "limit")

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self.entries: dict[Key, Value] = {}
        self.limit = limit

    def get(self, key: Key) -> Value | None:
        return self.entries.get(key)

    def put(self, key: Key, value: Value) -> Value:
        if len(self.entries) >= self.limit:
            self.entries.clear()
        self.entries[key] = value
        return value

    def __len__(self) -> int:
        return len(self.entries)


Item = TypeVar("Item")


class Interner:
    """One object for each value. Equal replica states and messages reached along
    different paths are different objects; interned, they are one, so comparing
    them (in every dictionary and set the checker keeps) stops at identity instead
    of walking every field. Never emptied: it holds only what the step memos hold
    anyway."""

    __slots__ = ("table",)

    def __init__(self) -> None:
        self.table: dict[object, object] = {}

    def __call__(self, value: Item) -> Item:
        found = self.table.setdefault(value, value)
        assert type(found) is type(value)
        return found  # type: ignore[return-value]
