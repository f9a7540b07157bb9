"""The executable specification of the fedspec federation ledger.

Read in this order: `constants`, `types`, `encoding`, `crypto`, `codes`, `state`,
`ledger`, `invariants`. Nothing here imports another part of fedspec.
"""
