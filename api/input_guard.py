"""Input that no view can use is refused before any view runs, with a 400 naming the field: NUL bytes and lone
surrogates in the path, the query string, form fields and JSON strings; NaN and Infinity in JSON. Ids beyond a
64-bit integer match no route (404), so the database never sees them."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from api.errors import error_response

MAX_ID = 2**63 - 1  # PostgreSQL's bigint and SQLite's integer


class FieldRejected(BadRequest):
    """A 400 that names the request field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches only ids a database column can hold."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def unusable_text(value: str) -> str | None:
    """Why `value` cannot be stored or shown, or None: a NUL byte or a lone surrogate (not valid UTF-8)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (a lone surrogate was sent)"
    return None


class _NotANumber:
    """Stands in for NaN or Infinity while a JSON object is parsed, so the key can be named."""

    def __init__(self, text: str):
        self.text = text


def _check_json_value(field: str, value: Any) -> None:
    if isinstance(value, _NotANumber):
        raise FieldRejected(field, f"{value.text} is not a number")
    if isinstance(value, str) and (reason := unusable_text(value)):
        raise FieldRejected(field, reason)
    if isinstance(value, list):
        for item in value:
            _check_json_value(field, item)


def _checked_object(pairs: list[tuple[str, Any]]) -> dict:
    for key, value in pairs:
        _check_json_value(key, key)
        _check_json_value(key, value)
    return dict(pairs)


def _check_json_body() -> None:
    """JSON as RFC 8259 has it: no NaN or Infinity, no NUL or lone surrogates in strings (malformed JSON is left
    to the view's own parser, which names it)."""
    try:
        value = json.loads(request.get_data(cache=True), parse_constant=_NotANumber, object_pairs_hook=_checked_object)
    except ValueError:
        return
    _check_json_value("body", value)


def _check_request() -> None:
    if reason := unusable_text(request.path):
        raise FieldRejected("path", reason)
    for name, value in request.args.items(multi=True):
        if reason := unusable_text(name) or unusable_text(value):
            raise FieldRejected(name, reason)
    if request.is_json:
        _check_json_body()
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if reason := unusable_text(name) or unusable_text(value):
                raise FieldRejected(name, reason)


def register(app: Flask) -> None:
    """Before the blueprints: their `<int:...>` rules are compiled with the bounded converter."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_check_request)

    @app.errorhandler(FieldRejected)
    def _rejected(error: FieldRejected):
        return error_response(400, error.description, {error.field: error.message})
