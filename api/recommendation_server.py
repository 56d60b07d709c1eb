"""The recommendation tier's server (app shell, beside `api.server` for the full app): `GET /api/v1/recommendations` (and click tracking) in processes of their own.

nginx sends the recommendation endpoint, the busiest request of the product, to its own server processes
(granian with deploy/recommendations.env, entry point `serve`). They run `create_app(tier="recommendations")`:
the same blueprint and views as the full app, without what those views never use, and the signed-in user read
as a `SessionPrincipal` (api.recommendations.principal). The embedded default (`mentorhub serve`, `make run`)
serves the same routes from the full app.
"""
from __future__ import annotations

from flask import Flask

from api import create_app
from api.extensions import db
from api.process import tune_garbage_collector
from api.recommendations import caches, exposures


def serve(warm_up_seconds: float = 60.0) -> Flask:
    """The tier's server entry (granian's factory, called in each worker process): the app, warmed up before
    it takes a request, and writing whatever exposures it still queues when the worker stops."""
    app = create_app(tier="recommendations")
    with app.app_context():  # loads every account's session facts while the catalogue is built (PostgreSQL)
        caches.directory_for(db.engine)
    caches.warm_up(app, timeout=warm_up_seconds)
    exposures.flush_when_worker_stops()
    tune_garbage_collector()
    return app
