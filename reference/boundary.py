"""The node's boundary: bytes off the network in, an authenticated message out.

Every frame a replica receives is checked here once, before `Replica.step`: the
wire layer decodes the envelope, refuses one for another chain, and verifies every
signature it must carry (the sender's, and each vote a certificate counts:
`spec.wire.decoding.authenticated_message_from_bytes`). Inside the replica a
message's sender and a certificate's signer set are then facts, and no signature
is checked again. What cannot be authenticated is refused by the name the wire
layer gives it: a `DecodeFailure` or an `EnvelopeRefusal`.
"""

from collections.abc import Callable

from spec.wire.decoding import DecodeError, authenticated_message_from_bytes
from spec.wire.envelope import AuthenticationError
from spec.wire.messages import Message

Authenticate = Callable[[str, tuple[str, ...], bytes], Message]
"""(chain id, the group's public keys in replica order, frame) -> the message, or an
exception naming the refusal."""


def authenticated(chain_id: str, platform_keys: tuple[str, ...], frame: bytes,
                  authenticate: Authenticate = authenticated_message_from_bytes) -> Message | str:
    """The message of `frame`, authenticated; or the name of why the boundary refuses it."""
    try:
        return authenticate(chain_id, platform_keys, frame)
    except DecodeError as error:
        return error.reason.value
    except AuthenticationError as error:
        return error.failure.refusal.value
