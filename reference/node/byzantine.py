"""Byzantine replicas, for tests of safety only (config `byzantine = MODE`; never the default).

A Byzantine replica follows the protocol in everything but what it sends:

- `equivocate`: as the primary, it proposes one block to half its peers and a different valid
  block (the same transactions, one millisecond later) for the same view and height to the rest;
- `double_vote`: beside each PREPARE and COMMIT it sends, it signs and sends a second one for the
  same view and height with another digest;
- `silent`: it sends nothing at all.

With at most f such replicas among 3f + 1, the correct replicas must still agree (the audit checks).
"""

import hashlib
from collections.abc import Sequence

from reference.node.signatures import SignatureStore
from reference.node.transport import FRAME_ENVELOPE, frame
from spec.wire.encoding import block_hash
from spec.wire.envelope import envelope_bytes
from spec.wire.messages import Commit, Message, Prepare, PrePrepare

Send = tuple[int | None, bytes]
"""(destination replica, or None for every peer; frame)."""


def other_digest(digest: str) -> str:
    return hashlib.sha256(bytes.fromhex(digest)).hexdigest()


def conflicting_proposal(proposal: PrePrepare) -> PrePrepare:
    """Another valid block for the same slot: the same transactions, a later timestamp."""
    header = proposal.block.header.model_copy(update={"timestamp_ms": proposal.block.header.timestamp_ms + 1})
    block = proposal.block.model_copy(update={"header": header})
    return PrePrepare(proposal.view, proposal.height, block_hash(header), block, proposal.sender)


def sealed_frame(chain_id: str, signatures: SignatureStore, message: Message) -> bytes | None:
    envelope = signatures.seal(message)
    return None if envelope is None else frame(FRAME_ENVELOPE, envelope_bytes(chain_id, envelope))


def byzantine_sends(mode: str, chain_id: str, signatures: SignatureStore, peers: Sequence[int],
                    outputs: Sequence[Message], sends: list[Send]) -> list[Send]:
    """What a replica in `mode` sends in place of the correct `sends` of `outputs`."""
    if mode == "silent":
        return []
    forged_first: list[Send] = []
    extra: list[Send] = []
    for message in outputs:
        if mode == "double_vote" and isinstance(message, (Prepare, Commit)):
            # sent before the genuine vote: after it, the slot may have closed and the forgery go unseen
            forged = type(message)(message.view, message.height, other_digest(message.digest), message.sender)
            data = sealed_frame(chain_id, signatures, forged)
            forged_first += [] if data is None else [(None, data)]
        if mode == "equivocate" and isinstance(message, PrePrepare):
            data = sealed_frame(chain_id, signatures, conflicting_proposal(message))
            if data is None:
                continue
            genuine = sealed_frame(chain_id, signatures, message)
            half = list(peers)[len(peers) // 2:]
            sends = [send for send in sends if send[1] != genuine]  # the genuine one goes to the first half only
            extra += [(peer, genuine) for peer in list(peers)[:len(peers) // 2] if genuine is not None]
            extra += [(peer, data) for peer in half]
    return forged_first + sends + extra
