"""Symmetry reduction: correct replicas that are never the primary within the bounds
are interchangeable, so worlds that differ only by a renaming of them are one.

A replica's identity matters to the protocol only through `primary_of` (which
views it leads) and through the faulty set; the ledger does not know consensus
identities (blocks name their proposer, and only primaries propose). So every
permutation of the correct replicas that lead no view up to `max_view` maps
runs to runs and invariants to invariants.

The canonical form sorts those replicas by a signature of their local state that
does not mention identities, and renames them in that order. Ties keep the
original order, so two worlds of one orbit may still get two forms: the
reduction is sound (every form is a real world of the orbit) and nearly, not
exactly, canonical.

Renaming is a pure function of what is renamed, and worlds share most of their
parts, so `Symmetry` remembers each renamed replica state and each renamed
network per renaming, and the signature of each state: a world is renamed by
looking its parts up, not by rebuilding them.
"""

from collections.abc import Callable
from dataclasses import replace

from checker.config import CheckerConfig
from checker.invariants import Finding, message_is_valid
from checker.memo import Interner, Memo
from checker.model import Action, World
from checker.mutants import SPEC_VARIANTS, installed
from spec.pbft import ReplicaState, Slot, primary_of
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    ClientRequest,
    Commit,
    CommitCertificate,
    Input,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    TimerFired,
    ViewChange,
)

Renaming = tuple[int, ...]
"""renaming[i] is the new id of replica i. The empty tuple is the identity."""


def interchangeable(config: CheckerConfig) -> tuple[int, ...]:
    primaries = {primary_of(view, config.n) for view in range(config.max_view + 1)}
    found = []
    for replica in config.correct:
        if replica not in primaries:
            found.append(replica)
    return tuple(found)


class Symmetry:
    def __init__(self, config: CheckerConfig, interned: Interner | None = None) -> None:
        self.n = config.n
        self.consensus = config.consensus
        self.members = interchangeable(config)
        # A mutant whose behaviour depends on identity breaks the symmetry.
        self.enabled = len(self.members) >= 2 and config.mutant != "nondeterministic_execution"
        self.spec_patches = SPEC_VARIANTS.get(config.mutant or "")
        self.commutes: dict[tuple[Message, Renaming], bool] = {}
        self.interned = interned if interned is not None else Interner()
        """The model's interner, when given: a renamed state equal to one the model
        made becomes that very object, so comparing them is cheap."""
        self.signatures: Memo[ReplicaState, Signature] = Memo()
        self.renamed_states: Memo[tuple[ReplicaState, Renaming], ReplicaState] = Memo()
        self.renamed_networks: Memo[tuple[frozenset[Message], Renaming], frozenset[Message]] = Memo()

    def audit(self, world: World, perm: Renaming) -> Finding | None:
        """The reduction's premise, checked on every world it renames: a renamed
        message is valid exactly when the message is. (That renaming commutes with
        every step is tested on sampled worlds: `tests/test_symmetry.py`.)"""
        if not perm:
            return None
        for message in world.messages:
            if not isinstance(message, (ViewChange, NewView, BlockResponse)):
                continue
            key = (message, perm)
            commutes = self.commutes.get(key)
            if commutes is None:
                renamed = rename_message(message, perm)
                assert isinstance(renamed, type(message))
                with installed(self.spec_patches):
                    commutes = message_is_valid(self.consensus, message) == message_is_valid(self.consensus, renamed)
                self.commutes[key] = commutes
            if not commutes:
                return Finding(
                    "symmetry",
                    f"renaming replicas by {perm} changes whether a {type(message).__name__} from "
                    f"{self.consensus.platforms[message.sender]} is valid: worlds the reduction merges are not alike",
                )
        return None

    def canonical(self, world: World) -> tuple[World, Renaming]:
        if not self.enabled:
            return world, ()
        order = sorted(self.members, key=lambda r: (r in world.crashed, self.signature(world.replicas[r])))
        if tuple(order) == self.members:
            return world, ()
        renaming = list(range(self.n))
        for target, source in zip(self.members, order, strict=True):
            renaming[source] = target
        perm = tuple(renaming)
        return rename_world(world, perm, self.rename_state, self.rename_network), perm

    def signature(self, state: ReplicaState | None) -> "Signature":
        """`signature`, once per state."""
        assert state is not None
        found = self.signatures.get(state)
        if found is None:
            found = self.signatures.put(state, signature(state))
        return found

    def rename_state(self, state: ReplicaState, perm: Renaming) -> ReplicaState:
        """`rename_state`, once per (state, renaming)."""
        key = (state, perm)
        found = self.renamed_states.get(key)
        if found is None:
            found = self.renamed_states.put(key, self.interned(rename_state(state, perm)))
        return found

    def rename_network(self, messages: frozenset[Message], perm: Renaming) -> frozenset[Message]:
        """`rename_network`, once per (network, renaming), each message interned."""
        key = (messages, perm)
        found = self.renamed_networks.get(key)
        if found is None:
            renamed = frozenset(self.interned(rename_message(message, perm)) for message in messages)
            found = self.renamed_networks.put(key, renamed)
        return found


Signature = tuple[object, ...]


def signature(state: ReplicaState | None) -> Signature:
    """What a replica's local state says, without the identities in it."""
    assert state is not None
    slot: tuple[object, ...] = ()
    if state.slot is not None:
        pre = state.slot.pre_prepare
        slot = (pre.view, pre.height, pre.digest, len(state.slot.prepares), len(state.slot.commits))
    return (
        state.view,
        state.active,
        state.executed,
        slot,
        tuple((c.pre_prepare.view, c.pre_prepare.height, c.pre_prepare.digest) for c in state.prepared),
        state.stable.height,
        len(state.checkpoint_votes),
        len(state.view_change_senders),
        len(state.pending),
        state.known_height,
    )


# --- renaming every value that names replicas ------------------------------------------------
def compose(second: Renaming, first: Renaming) -> Renaming:
    """Apply `first`, then `second`."""
    if not first:
        return second
    if not second:
        return first
    return tuple(second[first[i]] for i in range(len(first)))


def invert(renaming: Renaming) -> Renaming:
    if not renaming:
        return ()
    inverse = [0] * len(renaming)
    for source, target in enumerate(renaming):
        inverse[target] = source
    return tuple(inverse)


def ids(values: frozenset[int], perm: Renaming) -> frozenset[int]:
    return frozenset(perm[v] for v in values)


def rename_pre_prepare(message: PrePrepare, perm: Renaming) -> PrePrepare:
    return replace(message, sender=perm[message.sender])


def rename_prepared(certificate: PreparedCertificate, perm: Renaming) -> PreparedCertificate:
    return PreparedCertificate(rename_pre_prepare(certificate.pre_prepare, perm), ids(certificate.prepares, perm))


def rename_checkpoint_certificate(certificate: CheckpointCertificate, perm: Renaming) -> CheckpointCertificate:
    return replace(certificate, signers=ids(certificate.signers, perm))


def rename_commit_certificate(certificate: CommitCertificate, perm: Renaming) -> CommitCertificate:
    return replace(certificate, commits=ids(certificate.commits, perm))


def rename_view_change(message: ViewChange, perm: Renaming) -> ViewChange:
    return ViewChange(
        message.new_view,
        rename_checkpoint_certificate(message.checkpoint, perm),
        tuple(rename_prepared(c, perm) for c in message.prepared),
        perm[message.sender],
    )


def rename_message(message: Message, perm: Renaming) -> Message:
    if isinstance(message, PrePrepare):
        return rename_pre_prepare(message, perm)
    if isinstance(message, (Prepare, Commit, Checkpoint, BlockRequest)):
        return replace(message, sender=perm[message.sender])
    if isinstance(message, ViewChange):
        return rename_view_change(message, perm)
    if isinstance(message, NewView):
        changes = tuple(sorted((rename_view_change(v, perm) for v in message.view_changes), key=lambda v: v.sender))
        return NewView(
            message.view,
            changes,
            rename_checkpoint_certificate(message.checkpoint, perm),
            tuple(rename_pre_prepare(p, perm) for p in message.proposals),
            perm[message.sender],
        )
    assert isinstance(message, BlockResponse)
    return replace(
        message,
        certificate=rename_commit_certificate(message.certificate, perm),
        requester=perm[message.requester],
        sender=perm[message.sender],
    )


def rename_input(event: Input, perm: Renaming) -> Input:
    if isinstance(event, (ClientRequest, TimerFired)):
        return event
    return rename_message(event, perm)


def rename_state(state: ReplicaState, perm: Renaming) -> ReplicaState:
    slot = state.slot
    if slot is not None:
        slot = Slot(rename_pre_prepare(slot.pre_prepare, perm), ids(slot.prepares, perm), ids(slot.commits, perm))
    votes = tuple(
        sorted(
            (replace(v, sender=perm[v.sender]) for v in state.checkpoint_votes),
            key=lambda v: (v.height, v.state_root, v.sender),
        )
    )
    changes = tuple(
        sorted((rename_view_change(v, perm) for v in state.view_changes), key=lambda v: (v.new_view, v.sender))
    )
    return replace(
        state,
        replica=perm[state.replica],
        commit_certificates=tuple(rename_commit_certificate(c, perm) for c in state.commit_certificates),
        slot=slot,
        prepared=tuple(rename_prepared(c, perm) for c in state.prepared),
        stable=rename_checkpoint_certificate(state.stable, perm),
        checkpoint_votes=votes,
        view_changes=changes,
        view_change_senders=frozenset((view, perm[sender]) for view, sender in state.view_change_senders),
        view_proposals=tuple(rename_pre_prepare(p, perm) for p in state.view_proposals),
    )


def rename_network(messages: frozenset[Message], perm: Renaming) -> frozenset[Message]:
    return frozenset(rename_message(message, perm) for message in messages)


def rename_world(
    world: World,
    perm: Renaming,
    state_renamer: Callable[[ReplicaState, Renaming], ReplicaState] = rename_state,
    network_renamer: Callable[[frozenset[Message], Renaming], frozenset[Message]] = rename_network,
) -> World:
    """The world with every replica renamed by `perm`: states moved to their new
    index and every identity inside renamed. The renamers may be memoised ones
    (`Symmetry.rename_state`, `Symmetry.rename_network`)."""
    if not perm:
        return world
    replicas: list[ReplicaState | None] = [None] * len(world.replicas)
    for index, state in enumerate(world.replicas):
        replicas[perm[index]] = None if state is None else state_renamer(state, perm)
    messages = network_renamer(world.messages, perm)
    return World(tuple(replicas), messages, world.byzantine_sent, ids(world.crashed, perm))


def rename_action(action: Action, perm: Renaming) -> Action:
    if not perm:
        return action
    return Action(action.kind, perm[action.replica], tuple(rename_input(e, perm) for e in action.inputs))
