"""The wire layer: everything that travels, is signed or is hashed, and nothing that decides.

* `types`: transactions, blocks and the genesis (pydantic models);
* `messages`: consensus messages, certificates and the other replica inputs;
* `encoding`, `message_encoding`: their canonical bytes; `decoding`: the strict
  decoder back to typed objects, with a named failure for every malformed input;
* `signing`: Ed25519 under domain tags; `envelope`: signed envelopes and their
  verification at a node's boundary (`authenticated_message`);
* `records`: the ledger's records and receipts; `state_root`: the sparse Merkle
  state root over them;
* `json_form`: the one JSON form of every object.

It imports no logic (neither `spec.ledger` nor `spec.pbft`); an import contract in
`pyproject.toml` keeps it so, and a node shares this layer without the spec's logic.
"""
