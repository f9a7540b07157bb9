"""Every bound and parameter of the ledger, in one place, with its unit.

Nothing in the specification uses a float. Amounts are integers in ATP units
(the smallest unit), times are integers in milliseconds of consensus time, and
ratios are integers in basis points (1/10000).
"""

from typing import Final

SPEC_VERSION: Final = "fedspec/v1"

# --- amounts (ATP units) -------------------------------------------------------
UNITS_PER_ATP: Final = 1_000_000
"""1 ATP = 1,000,000 units. Every amount on the wire and in state is in units."""

MAX_SUPPLY: Final = 10**18
"""Upper bound on the sum of all account totals, in units (10^12 ATP).

Because the supply only changes through BALANCE_SET, and BALANCE_SET refuses to
push it past this bound, no single balance or lock can exceed it and no credit can
overflow a 64-bit unsigned integer (10^18 < 2^63)."""

MAX_AMOUNT: Final = MAX_SUPPLY
"""Largest amount a single lock or task may carry, in units."""

# --- ratios (basis points) -----------------------------------------------------
BASIS_POINTS: Final = 10_000
"""1.0 expressed in basis points: quality 0.85 is 8500."""

MAX_QUALITY_BP: Final = BASIS_POINTS
MAX_THRESHOLD_BP: Final = BASIS_POINTS
MAX_REPUTATION_BP: Final = BASIS_POINTS

INITIAL_REPUTATION_BP: Final = 5_000
"""Reputation of a platform whose genesis entry names none (0.5)."""

REPUTATION_WEIGHT_BP: Final = 1_000
"""Weight of the newest settlement in the reputation average (0.1)."""

EXPIRED_TASK_QUALITY_BP: Final = 0
"""Quality credited to the executing platform for a task that expired unproven."""

# --- time (milliseconds of consensus time) -------------------------------------
MAX_TIMEOUT_MS: Final = 30 * 24 * 60 * 60 * 1000
"""Longest timeout a lock or task may ask for: 30 days."""

MAX_EXECUTION_TIME_MS: Final = MAX_TIMEOUT_MS
"""Largest execution time a proof may report (informational, never settles)."""

MAX_TIMESTAMP_MS: Final = 2**63 - 1 - MAX_TIMEOUT_MS
"""Largest block timestamp, so that timestamp + timeout fits in a signed 64-bit integer."""

# --- sizes ------------------------------------------------------------------------
MAX_ID_LENGTH: Final = 64
"""Transfer, task, balance-set and reputation-update ids: 1..64 characters of [A-Za-z0-9._:-]."""

MAX_PLATFORM_NAME_LENGTH: Final = 32
"""Platform names: 1..32 characters of [A-Za-z0-9_-]."""

MAX_AGENT_NAME_LENGTH: Final = 48
"""The NAME in lct:web4:agent:NAME: 1..48 characters of [a-z0-9_-]."""

MAX_CHAIN_ID_LENGTH: Final = 64

MAX_BLOCK_TRANSACTIONS: Final = 1_000
"""Most transactions one block may carry."""

MAX_UINT64: Final = 2**64 - 1
"""Every integer field on the wire is an unsigned 64-bit integer."""

MAX_UINT16: Final = 2**16 - 1
"""Replica ids in consensus messages are unsigned 16-bit integers (at most 65,536 replicas)."""
# --- decoding bounds (spec.wire.decoding) -------------------------------------------
# A decoder reads counts and lengths from bytes an attacker chose. Each is checked
# against its bound before anything it counts is read, so no input makes a
# replica allocate or loop more than these allow.
MAX_WIRE_STRING_BYTES: Final = 64
"""Longest string on the wire, in bytes: ids and chain ids (64), agent ids
(15 + 48 = 63), platform names (32). A longer string matches no pattern."""

MAX_REPLICAS: Final = 256
"""Largest consensus group, in replicas. Replica ids on the wire are u16, but an
id must be below this, and a signer set or a NEW_VIEW's list of view changes
holds at most this many (one per replica). PBFT's all-to-all votes grow as N^2,
so no practical group comes near it."""

MAX_VIEW_CHANGES_PER_NEW_VIEW: Final = MAX_REPLICAS
"""Most view changes a NEW_VIEW carries: at most one per replica."""

MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE: Final = 10_000
"""Most prepared certificates a VIEW_CHANGE carries: one per height in the
watermark window, which no configuration sets wider than this (the model
checker's configurations allow at most 10 000; the default is WATERMARK_WINDOW)."""

MAX_PROPOSALS_PER_NEW_VIEW: Final = MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE
"""Most pre-prepares a NEW_VIEW re-proposes: one per height in the watermark
window above its checkpoint, the same bound as a view change's certificates."""

MAX_ENVELOPE_SIGNATURES: Final = 1_000_000
"""Most signatures one envelope may carry, checked before any is read: a million
64-byte signatures are MAX_MESSAGE_BYTES (64 MiB), the most a decoder reads."""

MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
"""Longest input a decoder reads, in bytes (64 MiB): a transaction, a block, or a
consensus message with everything it embeds. A full block is under half a
megabyte (MAX_BLOCK_TRANSACTIONS transactions of under 500 bytes each); the
largest messages are NEW_VIEWs, whose view changes each carry blocks."""

# --- identifiers -----------------------------------------------------------------
ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"
PLATFORM_PATTERN: Final = r"^[A-Za-z0-9_-]{1,32}$"
AGENT_PREFIX: Final = "lct:web4:agent:"
AGENT_PATTERN: Final = r"^lct:web4:agent:[a-z0-9_-]{1,48}$"
CHAIN_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"
HASH_PATTERN: Final = r"^[0-9a-f]{64}$"
"""32-byte hashes on the wire: 64 lowercase hex digits."""
SIGNATURE_PATTERN: Final = r"^[0-9a-f]{128}$"
"""64-byte Ed25519 signatures on the wire: 128 lowercase hex digits."""
SIGNATURE_BYTES: Final = 64
"""An Ed25519 signature (RFC 8032) in raw bytes: the size of each signature a
signed envelope carries (spec.wire.envelope)."""
PUBLIC_KEY_PATTERN: Final = HASH_PATTERN
"""32-byte Ed25519 public keys on the wire: 64 lowercase hex digits."""

ZERO_HASH: Final = "0" * 64
"""Previous-block hash of the first block."""

# --- consensus (PBFT) ---------------------------------------------------------------
MAX_CLOCK_SKEW_MS: Final = 5_000
"""How far ahead of a replica's own clock a proposed block timestamp may be, in ms.

A replica prepares a block only if `previous timestamp < timestamp <= clock + skew`:
the lower bound is the ledger's monotonic rule; the upper bound stops a faulty
primary from pushing consensus time (and so every expiry) into the future."""

CHECKPOINT_INTERVAL: Final = 2
"""Blocks between checkpoints: a replica announces its state root at every
height that is a multiple of this."""

WATERMARK_WINDOW: Final = 2 * CHECKPOINT_INTERVAL
"""A replica accepts a pre-prepare only for a height at most low + window, where the
low watermark `low` is its latest stable checkpoint. (Heights at or below `low` are
already executed: a replica only ever prepares the height after its last block.)"""
