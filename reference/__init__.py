"""The reference node: the ledger's rules written again for speed, beside the spec.

* `chain`: the genesis, checked, with its keys parsed once;
* `static_checks`: the header and each transaction on its own, signatures verified
  once per distinct transaction;
* `ledger`: the block transition, journalled in place, with `expiry` (the heap of
  deadlines) and `state_tree` (the state root, kept between blocks);
* `adapter`: `python -m reference.adapter`, the node behind the conformance protocol;
* `variants`: deliberate single-bug variants, the negative controls.

Of `spec` it imports the wire layer (types, encodings, signatures, the state root's
definitions) and the constants and codes, nothing else: an import contract in
pyproject.toml holds it to that (see ../shared/ARCHITECTURE.md and the site).
"""
