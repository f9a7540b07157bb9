"""The adapter protocol: how the runner talks to a node under test.

A node under test is a program. The runner starts it, writes requests to its
standard input and reads answers from its standard output, one JSON object per
line (newline-delimited JSON, as Maelstrom does); the node logs to standard error.
Every request carries `type` and `msg_id`; every answer carries `type` and
`in_reply_to`, the `msg_id` it answers. The contract, numbered, is on the site's
Conformance pages (docs/conformance/adapter.md); this module holds its names and
the one place where inputs, outputs and receipts take their protocol form.

What travels is bytes where the network carries bytes: a block, a transaction and
a consensus message are the hex of their canonical encoding, a delivered message
the hex of its signed envelope (`spec.wire.envelope`). A node decodes and
authenticates them itself, as it would off a socket; the genesis is its JSON form.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from spec.wire.encoding import transaction_bytes
from spec.wire.envelope import envelope_bytes, sign_envelope
from spec.wire.json_form import to_json
from spec.wire.message_encoding import consensus_signing_message
from spec.wire.messages import ClientRequest, Input, Message, ReplicaId, TimerFired
from spec.wire.records import BlockReceipt

PROTOCOL_VERSION = "fedspec-adapter/1"
"""Sent in `init`; a node that speaks another version answers with error 10."""

VECTOR_FORMAT = "fedspec-conformance/1"
"""The format every case manifest and the index name."""

# --- how long the runner waits, in seconds -----------------------------------------------------
# A node that does not answer in time gets the verdict `timeout` for the case it was
# running, is killed, and a fresh process takes the next case. The limits are generous
# on purpose: they tell a hung node from a slow one on a loaded 2-core machine.
START_TIMEOUT_S = 30.0
"""From starting the process to its `init_ok`: an interpreter or a JIT may start slowly."""
REQUEST_TIMEOUT_S = 30.0
"""From one request to its answer, a batch of steps included."""
SHUTDOWN_TIMEOUT_S = 5.0
"""From `shutdown` to the process's exit, before the runner kills it."""
MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""The longest answer line the runner reads: a NEW-VIEW of 13 replicas fits many
times over; a node that prints more is answering outside the protocol."""


class RequestType(StrEnum):
    INIT = "init"
    APPLY_BLOCKS = "apply_blocks"
    STEP = "step"
    STEPS = "steps"
    STATE = "state"
    SHUTDOWN = "shutdown"
    ENCODE = "encode"
    DECODE = "decode"
    STATE_ROOT = "state_root"


ANSWER_TYPES: dict[RequestType, str] = {kind: kind.value + "_ok" for kind in RequestType}
"""The answer each request expects; any request may also be answered by `error`."""


class ErrorCode(IntEnum):
    """A node's error answers, as Maelstrom numbers them: below 1000 reserved for the
    protocol. Each is definite (the request certainly had no effect) or not."""

    TIMEOUT = 0
    """The runner's own verdict for a node that did not answer in time (indefinite)."""
    NOT_SUPPORTED = 10
    """The node does not implement this request type or protocol version (definite)."""
    TEMPORARILY_UNAVAILABLE = 11
    """The node could not serve the request now (definite)."""
    MALFORMED_REQUEST = 12
    """The request is not valid under this protocol (definite)."""
    CRASH = 13
    """The node failed while handling the request (indefinite: it may be half applied)."""
    NOT_INITIALISED = 14
    """A request other than `init` came before `init` (definite)."""


DEFINITE_ERRORS = frozenset({
    ErrorCode.NOT_SUPPORTED, ErrorCode.TEMPORARILY_UNAVAILABLE, ErrorCode.MALFORMED_REQUEST, ErrorCode.NOT_INITIALISED,
})


def error_answer(in_reply_to: object, code: ErrorCode, text: str) -> dict[str, Any]:
    return {
        "type": "error", "in_reply_to": in_reply_to, "code": int(code), "definite": code in DEFINITE_ERRORS,
        "text": text,
    }


# --- inputs and outputs in their protocol form -------------------------------------------------------
def message_hex(chain_id: str, message: Message) -> str:
    """A consensus message as a node sends it: its canonical bytes (the signing
    message: domain tag, chain id, fields), in hex. The runner seals it for delivery."""
    return consensus_signing_message(chain_id, message).hex()


def sealed_hex(chain_id: str, seeds_by_replica: dict[ReplicaId, bytes], message: Message) -> str:
    """A consensus message in its signed envelope, as a replica receives it, in hex."""
    return envelope_bytes(chain_id, sign_envelope(seeds_by_replica, chain_id, message)).hex()


def input_form(chain_id: str, seeds_by_replica: dict[ReplicaId, bytes], event: Input) -> dict[str, Any]:
    """The protocol form of one replica input: a client request's transactions in
    canonical bytes, a timer with the clock reading it brings, a message sealed."""
    if isinstance(event, ClientRequest):
        return {"kind": "client_request", "transactions": [transaction_bytes(tx).hex() for tx in event.transactions]}
    if isinstance(event, TimerFired):
        return {"kind": "timer", "timer": event.timer.value, "now_ms": event.now_ms}
    return {"kind": "message", "envelope": sealed_hex(chain_id, seeds_by_replica, event)}


def receipt_form(receipt: BlockReceipt) -> dict[str, Any]:
    """A block receipt as a node reports it: its one JSON form."""
    form: dict[str, Any] = to_json(receipt)
    return form


@dataclass(frozen=True)
class ConsensusSettings:
    """What `init` tells a replica beyond the genesis. N is the genesis's platform
    count; f and the quorum follow from N by the rule a node must implement
    (`spec.pbft.fault_tolerance`, `spec.pbft.quorum_size`), so they are not sent."""

    checkpoint_interval: int
    watermark_window: int
    max_block_transactions: int

    def form(self) -> dict[str, int]:
        return {
            "checkpoint_interval": self.checkpoint_interval,
            "watermark_window": self.watermark_window,
            "max_block_transactions": self.max_block_transactions,
        }


class LedgerView(Protocol):
    """What a summary reads of a ledger: the spec's `LedgerState`, or a node's own."""

    @property
    def height(self) -> int: ...
    @property
    def last_block_hash(self) -> str: ...
    @property
    def accounts(self) -> Mapping[str, Any]: ...
    @property
    def transfers(self) -> Mapping[str, Any]: ...
    @property
    def tasks(self) -> Mapping[str, Any]: ...
    @property
    def reputations(self) -> Mapping[str, int]: ...


def ledger_summary(state: LedgerView) -> dict[str, Any]:
    """The readable post-state a node reports beside its state root: every account's
    total and locked ATP, every transfer's and task's status, every platform's
    reputation. A diff of two summaries says in a line what two roots only say differ."""
    return {
        "height": state.height,
        "last_block_hash": state.last_block_hash,
        "accounts": {agent: {"total": account.total, "locked": account.locked}
                     for agent, account in sorted(state.accounts.items())},
        "transfers": {transfer_id: transfer.status.value for transfer_id, transfer in sorted(state.transfers.items())},
        "tasks": {task_id: task.status.value for task_id, task in sorted(state.tasks.items())},
        "reputations": dict(sorted(state.reputations.items())),
    }
