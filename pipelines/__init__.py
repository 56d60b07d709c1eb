"""Prefect flows, one module per flow: ingest, train, evaluate, promote, monitor, and `all` chaining them."""
