"""The reference node on a real network: one replica per process (`python -m reference.node CONFIG`).

`config` reads a node's TOML file, `storage` keeps its blocks and vote journal in SQLite,
`signatures` keeps the votes' signatures it must forward, `transport` carries frames between
replicas over TCP, `runtime` drives the core (`reference.replica`) from all of them, `handle`
is what the HTTP API asks of a running node, `api` serves it (FastAPI, by uvicorn in the node
process), `metrics` renders its Prometheus metrics, and `cluster` lays out and starts a local
group of nodes.
"""
