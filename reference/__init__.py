"""The reference node: the ledger's and the replica's rules written again for speed, beside the spec.

* `chain`: the genesis, checked, with its keys parsed once;
* `static_checks`: the header and each transaction on its own, signatures verified
  once per distinct transaction;
* `ledger`: the block transition, journalled in place, with `expiry` (the heap of
  deadlines) and `state_tree` (the state root, kept between blocks);
* `replica`: the PBFT replica, sans-I/O, changed in place by each input, with `views`
  (view-change validity and the NEW-VIEW computation, pure functions);
* `boundary`: each received frame decoded and authenticated once, before the replica;
* `adapter`: `python -m reference.adapter`, the node behind the conformance protocol;
* `variants`: deliberate single-bug variants, the negative controls.

Of `spec` it imports the wire layer (types, encodings, signatures, the state root's
definitions), the constants and codes, and the refusal names (`spec.refusals`, which
imports nothing of the spec, so that nodes report refusals under the same names):
an import contract in pyproject.toml holds it to that (see ../shared/ARCHITECTURE.md
and the site).
"""
