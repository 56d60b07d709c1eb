"""Chat files and voice messages: checked by their bytes (never the name or the browser's type), size-limited,
stored under var_dir/chat with server-made names, outside the static folder.
"""
from __future__ import annotations

import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from api.chat.rooms import ChatError, membership, post_message
from api.extensions import db
from api.images import TooManyPixels, check_pixels
from api.tables import Attachment, ChatMember, ChatRoom, Message, User

IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp"}
TEXT_EXTENSIONS = {
    "txt", "md", "markdown", "rst", "log", "csv", "tsv", "json", "yaml", "yml", "toml", "ini", "cfg", "sql",
    "py", "ipynb", "js", "mjs", "ts", "tsx", "jsx", "css", "scss", "java", "kt", "scala", "c", "h", "cc", "cpp",
    "hpp", "cs", "go", "rs", "rb", "php", "swift", "r", "m", "sh", "bash", "ps1", "lua", "pl", "hs", "ex", "exs",
    "dart", "vue", "svelte", "xml", "tex",
}
# detected family -> (content type, kind, extensions the file name may have)
FAMILIES = {
    "png": ("image/png", "image", IMAGE_EXTENSIONS),
    "jpeg": ("image/jpeg", "image", IMAGE_EXTENSIONS),
    "gif": ("image/gif", "image", IMAGE_EXTENSIONS),
    "webp": ("image/webp", "image", IMAGE_EXTENSIONS),
    "pdf": ("application/pdf", "file", {"pdf"}),
    "webm": ("audio/webm", "file", {"webm", "weba"}),
    "ogg": ("audio/ogg", "file", {"ogg", "oga", "opus"}),
    "mp3": ("audio/mpeg", "file", {"mp3"}),
    "text": ("text/plain; charset=utf-8", "file", TEXT_EXTENSIONS),
}
VOICE_FAMILIES = {"webm", "ogg"}


def sniff(head: bytes) -> str | None:
    """The file family from its first bytes, or None (text is decided by `_is_text` on the whole file)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "webm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                    and head[1] & 0x06 != 0):
        return "mp3"
    return None


def _is_text(path: Path) -> bool:
    data = path.read_bytes()
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def ogg_opus_seconds(path: Path) -> float | None:
    """The length of an Ogg Opus stream from the granule position of its last page (48 kHz)."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        tail = handle.read()
        handle.seek(0)
        head = handle.read(64)
    at = tail.rfind(b"OggS")
    if at < 0 or len(tail) < at + 14 or b"OpusHead" not in head:
        return None
    (granule,) = struct.unpack("<q", tail[at + 6:at + 14])
    return max(0.0, granule / 48000.0) if granule >= 0 else None


@dataclass
class StoredFile:
    stored_name: str
    path: Path
    original_name: str
    content_type: str
    kind: str  # image | file | voice
    size_bytes: int
    duration_seconds: float | None


def chat_dir(settings) -> Path:
    directory = Path(settings.var_dir) / "chat"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _safe_original_name(name: str | None) -> str:
    name = (name or "file").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    return (name or "file")[-200:]


def receive(settings, stream: BinaryIO, filename: str | None, *, voice: bool = False,
            duration: float | None = None) -> StoredFile:
    """Copy an upload to var_dir/chat under a new name after checking size and content; no file stays on refusal.

    The caller moves nothing: the file is final here, and the caller removes it (`discard`) if it
    cannot store the message.
    """
    limit = settings.chat_max_voice_bytes if voice else settings.chat_max_file_bytes
    original = _safe_original_name(filename or ("voice-message.webm" if voice else "file"))
    extension = original.rsplit(".", 1)[-1].lower() if "." in original else ""
    stored_name = secrets.token_hex(16)
    path = chat_dir(settings) / stored_name
    try:
        size = _copy_limited(stream, path, limit, voice)
        family = _family_of(path)
        content_type, kind, extensions = FAMILIES[family]
        if voice:
            kind = "voice"
            duration = _voice_seconds(path, family, duration, settings.chat_max_voice_seconds)
        else:
            duration = None
            if extension not in extensions:
                raise ChatError("The file's name does not match its content "
                                f"(it looks like {content_type.split(';')[0]}).", 415)
        if kind == "image":
            _check_image(path, settings.max_image_pixels)
        return StoredFile(stored_name, path, original, content_type, kind, size, duration)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _copy_limited(stream: BinaryIO, path: Path, limit: int, voice: bool) -> int:
    """Copy the stream into a new file at `path` in chunks; its size, or ChatError when empty or over `limit`."""
    size = 0
    with path.open("xb") as out:
        while chunk := stream.read(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ChatError(f"The file is too large; the limit is {limit // (1024 * 1024) or 1} MB"
                                if not voice else "The voice message is too long.", 413)
            out.write(chunk)
    if size == 0:
        raise ChatError("The file is empty.")
    return size


def _family_of(path: Path) -> str:
    """The stored file's family (a key of FAMILIES); ChatError 415 when it is none that may be shared."""
    with path.open("rb") as handle:
        family = sniff(handle.read(64))
    if family is None and _is_text(path):
        family = "text"
    if family is None:
        raise ChatError("Only images, PDF, text or code files and audio can be shared.", 415)
    return family


def _voice_seconds(path: Path, family: str, claimed: float | None, max_seconds: int) -> float:
    """A voice message's length: measured for Ogg Opus, else as the browser says; ChatError when out of bounds."""
    if family not in VOICE_FAMILIES:
        raise ChatError("A voice message must be WebM/Opus or Ogg audio.", 415)
    measured = ogg_opus_seconds(path) if family == "ogg" else None
    seconds = measured if measured is not None else claimed
    if seconds is None or not (0 < float(seconds) <= max_seconds):
        raise ChatError(f"Voice messages are limited to {max_seconds} seconds.", 413)
    return round(float(seconds), 1)


def _check_image(path: Path, max_pixels: int) -> None:
    from PIL import Image

    try:
        check_pixels(str(path), max_pixels)
    except TooManyPixels as error:
        raise ChatError(str(error), 413) from None
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception:  # Pillow raises many kinds on broken images
        raise ChatError("The image could not be read.", 415) from None


def share(room, sender: User, member: ChatMember | None, stored: StoredFile, body: str) -> tuple[Message, dict]:
    """Store the message carrying a received file in one transaction (see `rooms.post_message`); when it cannot be
    stored, nothing is saved and the file is removed."""
    attachment = Attachment(kind=stored.kind, stored_name=stored.stored_name, original_name=stored.original_name,
                            content_type=stored.content_type, size_bytes=stored.size_bytes,
                            duration_seconds=stored.duration_seconds)
    try:
        return post_message(room, sender, body, attachments=[attachment], member=member)
    except Exception:
        db.session.rollback()
        discard(stored)
        raise


def discard(stored: StoredFile) -> None:
    stored.path.unlink(missing_ok=True)


def path_of(settings, stored_name: str) -> Path:
    if not stored_name or not all(c in "0123456789abcdef" for c in stored_name):
        raise ChatError("No such file.", 404)
    return chat_dir(settings) / stored_name


def shared_file(settings, attachment_id: int, user_id: int) -> tuple[Attachment, Path] | None:
    """A shared file and its path, when the user takes part in its conversation (not banned) and the message and
    the file still exist; None otherwise."""
    attachment = db.session.get(Attachment, attachment_id)
    message = db.session.get(Message, attachment.message_id) if attachment else None
    if message is None or message.deleted_at is not None:
        return None
    room = db.session.get(ChatRoom, message.room_id)
    member = membership(room, user_id) if room else None
    if room is None or member is None or member.banned:
        return None
    try:
        path = path_of(settings, attachment.stored_name)
    except ChatError:
        return None
    return (attachment, path) if path.exists() else None
