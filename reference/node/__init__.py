"""The reference node on a real network (issue 14): the reference core driven by asyncio,
over TCP, stored in SQLite, served over HTTP.

* `handle`: `NodeHandle`, what the HTTP API asks of a running node;
* `api`: the HTTP API, `make_app(handle)` (FastAPI, served by uvicorn in the node process);
* `metrics`: the node's Prometheus metrics.
"""
