"""Structured logging: one line per record, JSON in production, with the request id."""
from __future__ import annotations

import json
import logging
import os
import time

from flask import Flask, g, request

from api.settings import Settings

_configured = False


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "user_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class KeyValueFormatter(logging.Formatter):
    """A log record as `time level logger message key=value ...` for reading in a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = [
            f"{key}={getattr(record, key)}"
            for key in ("request_id", "method", "path", "status", "duration_ms")
            if hasattr(record, key)
        ]
        if extras:
            line += " " + " ".join(extras)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(settings: Settings) -> None:
    """Set up the root logger once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_json or settings.profile == "production" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _configured = True


def register_request_logging(app: Flask) -> None:
    """Log every request with its id, status and duration."""
    logger = logging.getLogger("mentorhub.request")

    @app.before_request
    def _start_timer() -> None:
        g.request_id = request.headers.get("X-Request-ID") or os.urandom(8).hex()
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        duration_ms = round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if logger.isEnabledFor(logging.INFO):
            logger.info("request", extra={"request_id": g.get("request_id"), "method": request.method,
                                          "path": request.path, "status": response.status_code,
                                          "duration_ms": duration_ms})
        return response
