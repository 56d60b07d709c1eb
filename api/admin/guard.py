"""The admin panel's guard: the one admin guard of every feature (api.auth.decorators.admin_required), which
checks the admin role (403 for anyone else) and a session that passed TOTP (401 JSON, or the code step)."""
from __future__ import annotations

from api.auth.decorators import admin_required as admin_panel_required

__all__ = ["admin_panel_required"]
