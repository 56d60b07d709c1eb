"""Uploads: size limits, type by magic bytes (never the name), server-generated names, stored outside static.

Pictures are re-encoded by Pillow (which drops metadata and anything hidden in the file) and resized.
"""
from __future__ import annotations

import io
import logging
import secrets
from functools import wraps
from pathlib import Path

from flask import request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import error_response
from api.extensions import db
from api.images import TooManyPixels, check_pixels
from api.settings import current_settings
from api.tables import Upload

logger = logging.getLogger("mentorhub.uploads")

PICTURE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
VIDEO_TYPES = {"video/mp4", "video/webm", "video/quicktime"}
DOCUMENT_TYPES = {"application/pdf", "image/jpeg", "image/png"}
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
              "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "application/pdf": ".pdf"}
KIND_LABELS = {"picture": "picture", "video": "video", "document": "document"}


class UploadError(ValueError):
    """A file that is not what it must be; the message names what is accepted."""


def sniff(head: bytes) -> str | None:
    """The content type from the first bytes of a file, or None when it is none we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def limit_for(kind: str) -> int:
    settings = current_settings()
    return {"picture": settings.max_picture_bytes, "video": settings.max_video_bytes,
            "document": settings.max_document_bytes}[kind]


def upload_limit(kind: str):
    """Cap this request's body at the kind's limit (413 with the limit in the message)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            limit = limit_for(kind)
            request.max_content_length = limit
            try:
                return view(*args, **kwargs)
            except RequestEntityTooLarge:
                return too_large(kind)

        return wrapper

    return decorator


def too_large(kind: str):
    limit_mb = limit_for(kind) / (1024 * 1024)
    return error_response(413, f"The {KIND_LABELS[kind]} is too large; the limit is {limit_mb:g} MB.",
                          {"file": f"larger than {limit_mb:g} MB"})


def upload_path(stored_name: str) -> Path:
    return current_settings().upload_dir / stored_name


def _new_name(content_type: str) -> str:
    return secrets.token_urlsafe(18) + EXTENSIONS[content_type]


def _read(file: FileStorage | None, kind: str) -> bytes:
    if file is None or not file.filename and not file.content_length:
        raise UploadError(f"Choose a {KIND_LABELS[kind]} file to upload.")
    data = file.read(limit_for(kind) + 1)
    if len(data) > limit_for(kind):
        raise RequestEntityTooLarge()
    if not data:
        raise UploadError("The file is empty.")
    return data


def _record(owner_id: int, kind: str, content_type: str, data: bytes) -> Upload:
    directory = current_settings().upload_dir
    directory.mkdir(parents=True, exist_ok=True)
    name = _new_name(content_type)
    (directory / name).write_bytes(data)
    upload = Upload(owner_id=owner_id, kind=kind, stored_name=name, content_type=content_type, size_bytes=len(data))
    db.session.add(upload)
    return upload


def _reencode_image(data: bytes, max_side: int, *, keep_png: bool = False) -> tuple[str, bytes]:
    from PIL import Image, ImageOps

    max_pixels = current_settings().max_image_pixels
    try:
        check_pixels(io.BytesIO(data), max_pixels)
    except TooManyPixels as error:
        raise UploadError(str(error)) from None
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, (255, 255, 255))
                image.paste(rgba, mask=rgba.getchannel("A"))
            else:
                image = image.convert("RGB")
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if keep_png:
                image.save(out, format="PNG", optimize=True)
                return "image/png", out.getvalue()
            image.save(out, format="JPEG", quality=85, optimize=True, progressive=True)
            return "image/jpeg", out.getvalue()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(str(TooManyPixels(max_pixels))) from None
    except (OSError, SyntaxError, ValueError):
        raise UploadError("The picture could not be read; upload a JPEG, PNG, GIF or WebP image.") from None


def save_picture(owner_id: int, file: FileStorage | None) -> Upload:
    """A profile picture, re-encoded as JPEG and fitted into picture_max_side pixels."""
    data = _read(file, "picture")
    if sniff(data[:16]) not in PICTURE_TYPES:
        raise UploadError("The picture must be a JPEG, PNG, GIF or WebP image.")
    content_type, encoded = _reencode_image(data, current_settings().picture_max_side)
    return _record(owner_id, "picture", content_type, encoded)


def save_video(owner_id: int, file: FileStorage | None) -> Upload:
    data = _read(file, "video")
    content_type = sniff(data[:16])
    if content_type not in VIDEO_TYPES:
        raise UploadError("The video must be an MP4, WebM or QuickTime file.")
    return _record(owner_id, "video", content_type, data)


def save_document(owner_id: int, file: FileStorage | None) -> Upload:
    """A certification document: a PDF (kept as is) or a scan (re-encoded)."""
    data = _read(file, "document")
    content_type = sniff(data[:16])
    if content_type not in DOCUMENT_TYPES:
        raise UploadError("The document must be a PDF, JPEG or PNG file.")
    if content_type != "application/pdf":
        content_type, data = _reencode_image(data, 2000)
    return _record(owner_id, "document", content_type, data)


def delete_upload(stored_name: str | None) -> None:
    """Remove a replaced file and its record (the caller commits)."""
    if not stored_name:
        return
    upload = db.session.query(Upload).filter_by(stored_name=stored_name).one_or_none()
    if upload is not None:
        db.session.delete(upload)
    try:
        upload_path(stored_name).unlink(missing_ok=True)
    except OSError:
        logger.warning("could not delete a replaced upload")
