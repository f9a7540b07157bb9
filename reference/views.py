"""View changes, written again from docs/consensus.md ("View change"): what makes a
VIEW-CHANGE and a NEW-VIEW valid, and what a NEW-VIEW must carry.

These are pure functions of the group and the messages, as the replica's other
decisions are not (those read and write the replica in place, `reference.replica`):
the primary computes a NEW-VIEW with `new_view_content`, and every backup recomputes
it with the same function and compares.
"""

from collections.abc import Callable
from dataclasses import dataclass

from reference.chain import Chain
from spec.wire.encoding import block_hash
from spec.wire.messages import (
    CheckpointCertificate,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ReplicaId,
    ViewChange,
)


def fault_tolerance(n: int) -> int:
    """f: the faulty replicas a group of n tolerates."""
    return (n - 1) // 3


def quorum_size(n: int, f: int) -> int:
    """ceil((n + f + 1) / 2): two quorums then share at least f + 1 replicas."""
    return (n + f + 2) // 2


def primary_of(view: int, n: int) -> ReplicaId:
    return view % n


@dataclass(frozen=True)
class Group:
    """What every replica of the group agrees on before it starts."""

    chain: Chain
    platforms: tuple[str, ...]
    """Replica i is platform `platforms[i]`, the genesis order."""
    f: int
    quorum: int
    checkpoint_interval: int
    watermark_window: int
    max_block_transactions: int
    genesis_checkpoint: CheckpointCertificate
    """Height 0 and the genesis state root, signed by nobody."""

    @property
    def n(self) -> int:
        return len(self.platforms)


# --- certificates ---------------------------------------------------------------------------------------
def all_in_group(group: Group, replicas: frozenset[ReplicaId]) -> bool:
    n = group.n
    for replica in replicas:
        if replica < 0 or replica >= n:
            return False
    return True


def checkpoint_certificate_is_valid(group: Group, certificate: CheckpointCertificate) -> bool:
    if certificate.height == 0:
        return certificate == group.genesis_checkpoint
    if certificate.height % group.checkpoint_interval != 0:
        return False
    return len(certificate.signers) >= group.quorum and all_in_group(group, certificate.signers)


def prepared_certificate_is_valid(group: Group, certificate: PreparedCertificate, before_view: int) -> bool:
    """A quorum prepared a well-formed proposal of its view's primary, in a view
    before the one the view change is for."""
    proposal = certificate.pre_prepare
    if proposal.view >= before_view or proposal.sender != primary_of(proposal.view, group.n):
        return False
    if proposal.block.header.height != proposal.height or block_hash(proposal.block.header) != proposal.digest:
        return False
    if proposal.sender not in certificate.prepares:
        return False
    return len(certificate.prepares) >= group.quorum and all_in_group(group, certificate.prepares)


def view_change_is_valid(group: Group, message: ViewChange) -> bool:
    """A valid checkpoint, then prepared certificates at rising heights above it."""
    if not checkpoint_certificate_is_valid(group, message.checkpoint):
        return False
    previous = message.checkpoint.height
    for certificate in message.prepared:
        height = certificate.pre_prepare.height
        if height <= previous or not prepared_certificate_is_valid(group, certificate, message.new_view):
            return False
        previous = height
    return True


# --- the NEW-VIEW ------------------------------------------------------------------------------------------
def certificate_rank(certificate: PreparedCertificate) -> tuple[int, str]:
    """The highest view wins; the digest breaks ties valid certificates cannot make."""
    return certificate.pre_prepare.view, certificate.pre_prepare.digest


def best_certificates(view_changes: tuple[ViewChange, ...]) -> dict[int, PreparedCertificate]:
    """For each height any view change prepared, its certificate of highest rank."""
    best: dict[int, PreparedCertificate] = {}
    for message in view_changes:
        for certificate in message.prepared:
            height = certificate.pre_prepare.height
            current = best.get(height)
            if current is None or certificate_rank(certificate) > certificate_rank(current):
                best[height] = certificate
    return best


def new_view_content(
    group: Group, view: int, view_changes: tuple[ViewChange, ...]
) -> tuple[CheckpointCertificate, tuple[PrePrepare, ...]]:
    """The checkpoint and re-proposals a NEW-VIEW for `view` carries: the highest
    checkpoint of its view changes (the first that reaches that height), and from the
    height above it, each height's best prepared block, unchanged, up to the first
    height no certificate covers."""
    checkpoint = group.genesis_checkpoint
    for message in view_changes:
        if message.checkpoint.height > checkpoint.height:
            checkpoint = message.checkpoint
    best = best_certificates(view_changes)
    primary = primary_of(view, group.n)
    proposals: list[PrePrepare] = []
    height = checkpoint.height + 1
    while height in best:
        chosen = best[height].pre_prepare
        proposals.append(PrePrepare(view, height, chosen.digest, chosen.block, primary))
        height += 1
    return checkpoint, tuple(proposals)


def same_checkpoint(first: CheckpointCertificate, second: CheckpointCertificate) -> bool:
    """Height and root say which checkpoint; which quorum signed it does not."""
    return first.height == second.height and first.state_root == second.state_root


def view_change_quorum_is_valid(group: Group, message: NewView) -> bool:
    """A quorum of distinct replicas' valid view changes, all for the NEW-VIEW's view."""
    senders: set[ReplicaId] = set()
    for view_change in message.view_changes:
        if view_change.new_view != message.view or view_change.sender in senders:
            return False
        if not view_change_is_valid(group, view_change):
            return False
        senders.add(view_change.sender)
    return len(senders) >= group.quorum


NewViewContent = Callable[[Group, int, tuple[ViewChange, ...]], tuple[CheckpointCertificate, tuple[PrePrepare, ...]]]


def new_view_is_valid(group: Group, message: NewView, content: NewViewContent = new_view_content) -> bool:
    """From the view's primary, on a valid quorum of view changes, carrying exactly the
    checkpoint and the proposals (blocks included) they determine (by `content`, the
    computation the replica uses for its own NEW-VIEWs)."""
    if message.sender != primary_of(message.view, group.n):
        return False
    if not view_change_quorum_is_valid(group, message):
        return False
    checkpoint, proposals = content(group, message.view, message.view_changes)
    if not same_checkpoint(checkpoint, message.checkpoint) or proposals != message.proposals:
        return False
    if not checkpoint_certificate_is_valid(group, message.checkpoint):
        return False
    for ours, theirs in zip(proposals, message.proposals, strict=True):
        if ours.block != theirs.block:
            return False  # equal digests, but a block that does not hash to it
    return True
