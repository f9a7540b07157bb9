"""Ed25519 signatures (PyNaCl) over the canonical, domain-tagged signing messages."""


from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from spec.wire.encoding import sha256, signing_message
from spec.wire.message_encoding import consensus_signing_message
from spec.wire.messages import Message
from spec.wire.types import AnyTransaction

KEY_SEED_DOMAIN = b"fedspec/v1/KEY_SEED\x00"


def seed_from_text(text: str) -> bytes:
    """A 32-byte Ed25519 seed derived from a text, for scenarios and tests only.

    seed = SHA-256("fedspec/v1/KEY_SEED" || 0x00 || UTF-8(text)). A text seed is as
    secret as the text: never use one for a real key."""
    return sha256(KEY_SEED_DOMAIN + text.encode("utf-8"))


def signing_key(seed: bytes) -> SigningKey:
    return SigningKey(seed)


def public_key_hex(seed: bytes) -> str:
    return bytes(SigningKey(seed).verify_key).hex()


def sign_message(seed: bytes, message: bytes) -> str:
    return SigningKey(seed).sign(message).signature.hex()


def verify_message(public_key: str, message: bytes, signature: str) -> bool:
    """True iff `signature` (hex) is a valid Ed25519 signature of `message`."""
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(message, bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        return False
    return True


def sign_transaction(seed: bytes, chain_id: str, unsigned: AnyTransaction) -> str:
    """Sign a transaction whose signature field is a placeholder; return the signature."""
    return sign_message(seed, signing_message(chain_id, unsigned))


def signed_copy(seed: bytes, chain_id: str, unsigned: AnyTransaction) -> AnyTransaction:
    """A copy of `unsigned` carrying its signature under `seed`."""
    return unsigned.model_copy(update={"signature": sign_transaction(seed, chain_id, unsigned)})


def verify_transaction(public_key: str, chain_id: str, tx: AnyTransaction) -> bool:
    return verify_message(public_key, signing_message(chain_id, tx), tx.signature)


# --- consensus messages -------------------------------------------------------------
# A replica signs every message it sends with the key of its platform in the genesis
# (replica i is platform i). Certificates carry no signatures of their own: the
# signed envelope of the message carries one per signer, over the signing message of
# the vote it stands for. spec.wire.envelope lists them (signature_obligations) and
# checks them all (verify_envelope) before spec.pbft sees the signer set.


def sign_consensus_message(seed: bytes, chain_id: str, message: Message) -> str:
    """The sender's signature (hex) of a consensus message on chain `chain_id`."""
    return sign_message(seed, consensus_signing_message(chain_id, message))


def verify_consensus_message(public_key: str, chain_id: str, message: Message, signature: str) -> bool:
    """True iff `signature` is `public_key`'s signature of `message` on chain `chain_id`.

    The domain tag of the message's kind is part of what is signed, so a signature
    of a PREPARE never verifies as the COMMIT with the same fields."""
    return verify_message(public_key, consensus_signing_message(chain_id, message), signature)
