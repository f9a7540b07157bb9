"""Spec variants: `spec/pbft.py` with one bug put back, for negative controls.

Each variant names the functions of `spec.pbft` it replaces. The model installs
them around every call of `spec.pbft.step` (and the symmetry audit around every
validity check), so the rest of the spec runs unchanged and calls the broken
function through the module, as it would if the bug were in the source. Nothing
is installed outside those calls: the checker's own invariants always apply the
real rules.

Each bug below was found by a review and fixed; its control configuration (under
`configs/controls/`) must find it again on the variant.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import spec.pbft as pbft
from spec.pbft import ConsensusConfig, ReplicaState, StepResult, Transition
from spec.wire.messages import BlockRequest, CheckpointCertificate, Message

REAL_ADOPT_STABLE_CHECKPOINT = pbft.adopt_stable_checkpoint
"""The fixed function, which the variant below calls for what it does not change."""


# --- finding 1: a prepared certificate at or below the stable checkpoint ---------------------------
def within_high_watermark_only(config: ConsensusConfig, state: ReplicaState, height: int) -> bool:
    """The old watermark check: no lower bound, so a replica may prepare a height
    that its stable checkpoint already covers."""
    return height <= state.stable.height + config.watermark_window


def adopt_stable_checkpoint_keeping_the_slot(state: ReplicaState, stable: CheckpointCertificate) -> ReplicaState:
    """The old adoption: an open slot at or below the new checkpoint stays open, and
    the prepares that complete it leave a certificate the replica's VIEW-CHANGEs
    then carry (and every correct replica rejects)."""
    if stable.height <= state.stable.height:
        return state
    slot = state.slot
    adopted = REAL_ADOPT_STABLE_CHECKPOINT(state, stable)
    return replace(adopted, slot=slot)


# --- finding 2: fetching only on checkpoint evidence ------------------------------------------------
def unasked(outputs: tuple[Message, ...]) -> tuple[Message, ...]:
    return tuple(message for message in outputs if not isinstance(message, BlockRequest))


def transition_without_block_requests(function: Callable[..., Transition]) -> Callable[..., Transition]:
    """`function` (which acts on an input already taken), its BLOCK-REQUESTs left unsent."""

    def unasking(*arguments: Any) -> Transition:
        state, outputs = function(*arguments)
        return state, unasked(outputs)

    return unasking


def handler_without_block_requests(handler: Callable[..., StepResult]) -> Callable[..., StepResult]:
    """`handler` (an input's whole step), its BLOCK-REQUESTs left unsent."""

    def unasking(*arguments: Any) -> StepResult:
        result = handler(*arguments)
        return result._replace(outputs=unasked(result.outputs))

    return unasking


# --- finding 3: a NEW-VIEW's validity depends on the order of its view changes ----------------------
def same_checkpoint_and_signers(first: CheckpointCertificate, second: CheckpointCertificate) -> bool:
    """The old comparison: the whole certificate, signers included. Which of several
    certificates of one checkpoint `new_view_proposals` picks depends on the order of
    the view changes, and renaming replicas reorders them."""
    return first == second


SPEC_VARIANTS: dict[str, dict[str, Callable[..., Any]]] = {
    "prepare_at_or_below_stable_checkpoint": {
        "within_watermarks": within_high_watermark_only,
        "adopt_stable_checkpoint": adopt_stable_checkpoint_keeping_the_slot,
    },
    # The old rule: a replica asks for blocks only when its FETCH timer fires after
    # checkpoint votes showed a higher height, so one that missed a height between
    # checkpoints of a group gone idle never learns of it.
    "fetch_on_checkpoint_evidence_only": {
        "start_view_change": transition_without_block_requests(pbft.start_view_change),
        "on_block_response": handler_without_block_requests(pbft.on_block_response),
    },
    "new_view_compares_checkpoint_signers": {"same_checkpoint": same_checkpoint_and_signers},
}
"""Variant name -> the `spec.pbft` functions it replaces."""


@contextmanager
def installed(patches: dict[str, Callable[..., Any]] | None) -> Iterator[None]:
    """Run the enclosed code against `spec.pbft` with `patches` in place (none: as is)."""
    if not patches:
        yield
        return
    saved = {name: getattr(pbft, name) for name in patches}
    for name, function in patches.items():
        setattr(pbft, name, function)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(pbft, name, function)
