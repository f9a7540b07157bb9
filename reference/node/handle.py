"""What the HTTP API asks of a running node: the `NodeHandle` protocol.

The API (`reference.node.api`) is written against this protocol alone; the node
runtime implements it, and the API's tests implement it over a bare ledger. It is
exactly what the API serves, nothing more:

* `submit`: client requests in, one `SubmitOutcome` per request out, in order;
* the committed state: `account`, `transfer`, `task`, `block`, `receipt`, `state_root`;
* the replica: `status`;
* `metrics`: the Prometheus text exposition (`reference.node.metrics` renders it).

Every value returned is a wire-layer object or a frozen dataclass of them, so the API
writes it through the project's one JSON module (`spec.wire.json_form.to_json`).

A request is what a replica takes as one client request: one transaction, or a
FEDERATION_TASK and its lock. The outcome of a request:

* `accepted`: taken, waiting to be ordered (a resubmission while it waits is
  `accepted` again, and is not queued twice);
* `committed`: its first transaction is in a committed block: the receipts of the
  request's transactions there, with the block's height and hash (a resubmission of a
  committed request answers this again and changes nothing);
* `refused`: not taken, with the replica's refusal name (`spec.refusals`) and, when a
  transaction fails a static check, that transaction's index and its result code
  (`spec.codes`; `first_invalid_transaction` finds them). A resubmission is refused
  again for the same reason.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from reference.chain import Chain
from reference.static_checks import SignatureChecker, static_code
from spec.codes import ResultCode
from spec.refusals import Refusal
from spec.wire.records import Account, Task, TransactionReceipt, Transfer
from spec.wire.types import AnyTransaction, Block

Request = tuple[AnyTransaction, ...]
"""A client request: one transaction, or a FEDERATION_TASK and its lock."""


class NodeBusy(Exception):
    """Raised by `submit` when the node takes no more requests for now (its queue of pending requests is
    full, or it is shutting down): the API answers 503 with Retry-After, and nothing of the call is taken."""


class SubmitStatus(StrEnum):
    ACCEPTED = "accepted"
    COMMITTED = "committed"
    REFUSED = "refused"


@dataclass(frozen=True)
class SubmitOutcome:
    """What became of one submitted request. Fields that do not apply to the status are None / empty."""

    status: SubmitStatus
    refusal: Refusal | None = None
    """For `refused`: the replica's reason (`request_transaction_invalid`, `request_malformed`, ...)."""
    invalid_index: int | None = None
    """For `request_transaction_invalid`: the index in the request of the first transaction failing a static check."""
    invalid_code: ResultCode | None = None
    """For `request_transaction_invalid`: that transaction's result code (`signature_invalid`, ...)."""
    height: int | None = None
    """For `committed`: the height of the block holding the request."""
    block_hash: str | None = None
    receipts: tuple[TransactionReceipt, ...] = ()
    """For `committed`: the block receipts of the request's transactions, in request order."""


@dataclass(frozen=True)
class CommittedReceipt:
    """A committed transaction's receipt, with the block that holds it."""

    transaction_hash: str
    height: int
    block_hash: str
    receipt: TransactionReceipt


@dataclass(frozen=True)
class StateRootAt:
    """The state root after the block at `height` (0: the genesis state)."""

    height: int
    state_root: str


@dataclass(frozen=True)
class PeerStatus:
    replica: int
    connected: bool


@dataclass(frozen=True)
class NodeStatus:
    replica: int
    """This replica's id: its index in the genesis platforms."""
    platform: str
    view: int
    view_active: bool
    """False while the replica has sent VIEW-CHANGE for `view` and awaits its NEW-VIEW."""
    height: int
    """The height of the last executed (committed) block."""
    peers: tuple[PeerStatus, ...]


class NodeHandle(Protocol):
    """A running node as the HTTP API sees it. Reads answer from committed state only."""

    async def submit(self, requests: Sequence[Request]) -> list[SubmitOutcome]:
        """One outcome per request, in order. Idempotent: a request submitted again is answered
        as it stands (accepted, committed or refused), never ordered twice. Raises `NodeBusy`
        (before taking any of them) when the node takes no more requests for now."""
        ...

    def account(self, agent: str) -> Account | None: ...

    def transfer(self, transfer_id: str) -> Transfer | None: ...

    def task(self, task_id: str) -> Task | None: ...

    def block(self, height: int) -> Block | None:
        """The committed block at `height` (1 and up), or None above the committed height."""
        ...

    def receipt(self, transaction_hash: str) -> CommittedReceipt | None:
        """The receipt of the committed transaction with this hash (64 lowercase hex digits of
        `spec.wire.encoding.transaction_hash`), or None if no committed block holds it."""
        ...

    def state_root(self) -> StateRootAt: ...

    def status(self) -> NodeStatus: ...

    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4) of the node's metrics."""
        ...


def first_invalid_transaction(chain: Chain, signatures: SignatureChecker, request: Request) -> tuple[int, ResultCode] | None:
    """The index and static result code of the request's first transaction that no block could
    carry: what a `request_transaction_invalid` refusal names. None if every one passes."""
    for index, transaction in enumerate(request):
        following = request[index + 1] if index + 1 < len(request) else None
        code = static_code(chain, signatures, transaction, following)
        if code != ResultCode.OK:
            return index, code
    return None
