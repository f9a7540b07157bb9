"""The wire layer: everything that travels, is signed or is hashed, and nothing that decides.

Types of transactions, blocks and consensus messages, their canonical bytes, their
signatures under domain tags, and the state root. It imports no logic (neither
`spec.ledger` nor `spec.pbft`); an import contract in `pyproject.toml` keeps it so,
and a node shares this layer without the spec's logic.
"""
