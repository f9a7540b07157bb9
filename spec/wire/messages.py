"""Consensus messages and certificates, and the other inputs of a replica, exactly as they travel.

These are the values PBFT replicas exchange (`spec.pbft` holds what a replica does
with them) and that a node's boundary hands to its logic once it has checked their
signatures (`spec.wire.envelope`). Their canonical bytes are in `spec.wire.encoding`.
A certificate carries signer sets; on the wire each signer's signature travels
beside it.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from spec.wire.types import AnyTransaction, Block

ReplicaId = int
"""A replica is its index in the genesis platform list: 0 .. N-1."""

Digest = str
"""A block's identity in consensus: its block hash (64 hex digits)."""

# --- messages -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PrePrepare:
    """The primary of `view` proposes `block` for `height`. It also counts as the
    primary's own prepare."""

    view: int
    height: int
    digest: Digest
    block: Block = field(compare=False, repr=False)
    """Equal digests mean equal blocks, so the block takes no part in equality."""
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class Prepare:
    """`sender` accepted the pre-prepare for `digest` at `height` in `view`."""

    view: int
    height: int
    digest: Digest
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class Commit:
    """`sender` prepared `digest` at `height` in `view` (saw a prepare quorum)."""

    view: int
    height: int
    digest: Digest
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """`sender` has executed through `height` and its state root is `state_root`."""

    height: int
    state_root: str
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class PreparedCertificate:
    """A pre-prepare and the replicas whose prepares matched it, the primary
    included: proof that a quorum prepared `digest` at `height` in `view`."""

    pre_prepare: PrePrepare
    prepares: frozenset[ReplicaId]


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """A quorum of matching commits: proof that the block is committed."""

    view: int
    height: int
    digest: Digest
    commits: frozenset[ReplicaId]


@dataclass(frozen=True, slots=True)
class CheckpointCertificate:
    """A quorum of matching checkpoint votes: a stable checkpoint. The genesis
    checkpoint (height 0) needs no votes."""

    height: int
    state_root: str
    signers: frozenset[ReplicaId]


@dataclass(frozen=True, slots=True)
class ViewChange:
    """`sender` moves to `new_view`, carrying its stable checkpoint and a prepared
    certificate for every height above it that it prepared."""

    new_view: int
    checkpoint: CheckpointCertificate
    prepared: tuple[PreparedCertificate, ...]
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class NewView:
    """The primary of `view` starts it from a quorum of view changes. `checkpoint`
    and `proposals` are what `new_view_proposals` computes from them; every
    replica recomputes and compares."""

    view: int
    view_changes: tuple[ViewChange, ...]
    checkpoint: CheckpointCertificate
    proposals: tuple[PrePrepare, ...]
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """A lagging replica asks for the block at `height`."""

    height: int
    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class BlockResponse:
    """A committed block and its commit certificate, for `requester` only."""

    block: Block = field(compare=False, repr=False)
    certificate: CommitCertificate
    requester: ReplicaId
    sender: ReplicaId


Message = PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | BlockRequest | BlockResponse


# --- the other inputs --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClientRequest:
    """One unit a client submits: a single transaction, or a FEDERATION_TASK and its LOCK."""

    transactions: tuple[AnyTransaction, ...]


class Timer(StrEnum):
    VIEW_CHANGE = "VIEW_CHANGE"
    """Requests are waiting and the view made no progress: move to the next view."""
    FETCH = "FETCH"
    """The replica knows it is behind (checkpoints showed a higher height): ask the
    others for the next block."""


@dataclass(frozen=True, slots=True)
class TimerFired:
    """One of the replica's timers went off. When is the shell's business: the
    protocol is safe whenever timers fire."""

    timer: Timer
    now_ms: int
    """The replica's local clock when the timer fired. Only used to bound the
    timestamps of proposals; never part of consensus."""


Input = ClientRequest | TimerFired | Message
