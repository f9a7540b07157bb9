"""Bounded memos for the checker's hot paths.

Worlds of one breadth-first level share most of their parts (a network, a
replica's state), so a result computed for one world is often asked for again a
few worlds later. These memos keep such results, keyed by the parts they depend
on. Each only saves work: forgetting an entry costs a recomputation, never a
different answer. So a memo that grows past its bound is simply emptied, which
keeps the memory of a multi-million-world search flat.
"""

from typing import TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")

MEMO_LIMIT = 1 << 18
"""Entries a memo holds before it is emptied (a level of n4f1 touches fewer)."""


class Memo(dict[Key, Value]):
    """A dictionary that forgets everything when it reaches `limit` entries. (A
    dictionary itself, so that looking up is the dictionary's own `get`.)

    A key may name a replica state by its identity (`id`), which is cheap to hash
    where the state's own hash is not; an entry keyed so keeps the state in its
    value, so that no other object can take that identity while the entry lives.
    Interning (`Interner`) makes equal states one object, so such keys rarely
    miss."""

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Key, value: Value) -> Value:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


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
