"""Worlds handed from one parallel worker to another, in few bytes.

A world is a handful of replica states and a network of messages, and the same
states, messages and networks turn up in thousands of worlds. So each worker
keeps, for each peer, a numbering of what it has already sent that peer: a
replica state, a message (or a timer input) or a network goes over once, as a
definition, and from then on as its number. A world then travels as a few
integers, and the receiver rebuilds it from its own table, with every state and
message interned into its model (`checker.memo.Interner`), so that the rebuilt
world shares its parts with the worlds the receiver made itself.

Definitions and worlds of one batch are pickled together, definitions first; a
peer's batches reach the receiver in the order they were made (the coordinator
forwards them as they come), so every number is defined before it is used.

Fields of `World` and `Action` other than the replicas, the network and the
inputs travel as they are, so a field added to either travels too.
"""

import pickle
from dataclasses import fields

from checker.memo import Interner
from checker.model import Action, World
from checker.symmetry import Renaming
from spec.pbft import ReplicaState
from spec.wire.messages import Input, Message

Fingerprint = int
Edge = tuple[Fingerprint, Action, Renaming]
"""How a world was first reached: its parent, the action, and the renaming that
made the successor canonical (identity when symmetry is off)."""

WORLD_FIELDS = tuple(field.name for field in fields(World) if field.name not in ("replicas", "messages"))
"""The fields of a world sent as they are."""
ACTION_FIELDS = tuple(field.name for field in fields(Action) if field.name != "inputs")
"""The fields of an action sent as they are."""

NO_STATE = -1
"""The number of a faulty replica's (absent) state."""

SentWorld = tuple[tuple[int, ...], int, tuple[object, ...]]
"""Replica state numbers, network number, the other fields."""
SentEdge = tuple[Fingerprint, tuple[object, ...], tuple[int, ...], Renaming]
"""Parent fingerprint, the action's other fields, its input numbers, the renaming."""
SentItem = tuple[Fingerprint, SentEdge, SentWorld]

OBJECT = 0
"""A definition that is the object itself (a replica state, a message, a timer input)."""
NETWORK = 1
"""A definition that is a network, as the numbers of its messages."""


class Sender:
    """What one worker hands one peer, numbered so that each part goes once."""

    def __init__(self) -> None:
        self.numbers: dict[object, int] = {}
        self.definitions: list[tuple[int, object]] = []
        self.items: list[SentItem] = []
        self.queued: set[Fingerprint] = set()
        """Worlds in the current batch: a world reached twice in a level goes once."""

    def number(self, value: object) -> int:
        """The number of a state, a message or a timer input; defined on first use."""
        found = self.numbers.get(value)
        if found is None:
            found = self.numbers[value] = len(self.numbers)
            self.definitions.append((OBJECT, value))
        return found

    def network_number(self, messages: frozenset[Message]) -> int:
        found = self.numbers.get(messages)
        if found is None:
            members = tuple(self.number(message) for message in messages)
            found = self.numbers[messages] = len(self.numbers)
            self.definitions.append((NETWORK, members))
        return found

    def add(self, fp: Fingerprint, edge: Edge, world: World) -> None:
        """Queue a world its peer owns, with the edge that reached it."""
        if fp in self.queued:
            return
        self.queued.add(fp)
        parent, action, renaming = edge
        sent_edge = (
            parent,
            tuple(getattr(action, name) for name in ACTION_FIELDS),
            tuple(self.number(event) for event in action.inputs),
            renaming,
        )
        states = tuple(NO_STATE if state is None else self.number(state) for state in world.replicas)
        sent_world = (states, self.network_number(world.messages), tuple(getattr(world, name) for name in WORLD_FIELDS))
        self.items.append((fp, sent_edge, sent_world))

    def batch(self) -> bytes:
        """Everything queued since the last batch, as bytes; empty when nothing is."""
        if not self.items and not self.definitions:
            return b""
        blob = pickle.dumps((self.definitions, self.items), protocol=pickle.HIGHEST_PROTOCOL)
        self.definitions = []
        self.items = []
        self.queued = set()
        return blob


class Receiver:
    """Rebuilds what one peer sends, from the definitions it sent before."""

    def __init__(self, interned: Interner) -> None:
        self.interned = interned
        self.table: list[object] = []

    def unpack(self, blob: bytes) -> list[SentItem]:
        """Learn a batch's definitions; return its worlds, still as numbers (most
        are already known to the receiver and are never rebuilt)."""
        definitions, items = pickle.loads(blob)
        for kind, payload in definitions:
            if kind == OBJECT:
                self.table.append(self.interned(payload))
            else:
                self.table.append(frozenset(self.table[number] for number in payload))
        items_list: list[SentItem] = items
        return items_list

    def edge(self, sent: SentEdge) -> Edge:
        parent, values, inputs, renaming = sent
        arguments: dict[str, object] = dict(zip(ACTION_FIELDS, values, strict=True))
        arguments["inputs"] = tuple(self.input(number) for number in inputs)
        return parent, Action(**arguments), renaming  # type: ignore[arg-type]

    def input(self, number: int) -> Input:
        found = self.table[number]
        assert not isinstance(found, frozenset)
        return found  # type: ignore[return-value]

    def world(self, sent: SentWorld) -> World:
        states, network, values = sent
        arguments: dict[str, object] = dict(zip(WORLD_FIELDS, values, strict=True))
        arguments["replicas"] = tuple(None if number == NO_STATE else self.state(number) for number in states)
        arguments["messages"] = self.table[network]
        return World(**arguments)  # type: ignore[arg-type]

    def state(self, number: int) -> ReplicaState:
        found = self.table[number]
        assert isinstance(found, ReplicaState)
        return found
