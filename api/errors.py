"""Error responses: JSON for the API (4xx naming the field), a page for the web client; no stack traces."""
from __future__ import annotations

import logging

from apiflask import HTTPError
from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger("mentorhub.errors")


class RefusedError(Exception):
    """A refused request of a feature's service: HTTP status, a message for people, the request field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    @property
    def fields(self) -> dict[str, str]:
        return {self.field: self.message} if self.field else {}


def wants_json() -> bool:
    """API paths, clients that ask for JSON and apps that serve only the API (API_ONLY) get JSON errors."""
    if request.path.startswith("/api/") or current_app.config.get("API_ONLY"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, message: str, fields: dict | None = None) -> Response:
    """The one shape of an error: {"error": {"status", "message", "fields"}}, or an HTML page."""
    if wants_json():
        body = {"error": {"status": status, "message": message, "fields": fields or {}}}
        response = jsonify(body)
    else:
        response = Response(render_template("error.html", status=status, message=message, fields=fields or {}))
    response.status_code = status
    return response


def _flatten_fields(detail) -> dict:
    """APIFlask validation detail {"json": {"email": ["..."]}} -> {"email": "..."}."""
    fields: dict[str, str] = {}
    if not isinstance(detail, dict):
        return fields
    for location in detail.values():
        if isinstance(location, dict):
            for name, messages in location.items():
                fields[name] = "; ".join(messages) if isinstance(messages, list) else str(messages)
    return fields


def register(app: Flask) -> None:
    @app.errorhandler(HTTPError)
    def _api_error(error: HTTPError):
        fields = _flatten_fields(error.detail)
        message = error.message
        if fields:
            message = "Invalid " + ", ".join(sorted(fields)) + ": " + "; ".join(f"{k}: {v}" for k, v in sorted(fields.items()))
        response = error_response(error.status_code, message, fields)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        return error_response(400, "The form expired or was not sent from this site; reload the page and try again.",
                              {"csrf_token": error.description})

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code == 413:
            limit_mb = app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
            return error_response(413, f"The upload is too large; the limit is {limit_mb:.0f} MB.", {"file": "too large"})
        return error_response(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http_error(error)
        logger.exception("unhandled error")
        return error_response(500, InternalServerError.description)
