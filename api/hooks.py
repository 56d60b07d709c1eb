"""Session hooks: what a feature does inside the transaction of another feature's write, switched on per app.

A feature that reacts to other features' writes (search's free-slot index, recommendation attribution, the
serving caches) offers an `install_hooks(app)` that calls `install` here, and `create_app` calls those in one
place. The listeners are registered on the app's session once per process, however many apps are built, and
each one works only inside an app that installed it (`active`): an app built without a hook runs none of it.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context

from api.extensions import db

_INSTALLED = "mentorhub.hooks"  # app.extensions key: the names of the hooks this app installed


def install(app: Flask, name: str, listeners: dict[str, Callable]) -> None:
    """Switch the hook `name` on for `app`; its session listeners (event name -> function) are registered once."""
    app.extensions.setdefault(_INSTALLED, set()).add(name)
    for event, listener in listeners.items():
        if not sa.event.contains(db.session, event, listener):
            sa.event.listen(db.session, event, listener)


def active(name: str) -> bool:
    """Whether the app the running code belongs to installed the hook `name`."""
    return has_app_context() and name in current_app.extensions.get(_INSTALLED, ())


def installed(app: Flask) -> frozenset[str]:
    """The names of the hooks `app` installed."""
    return frozenset(app.extensions.get(_INSTALLED, ()))
