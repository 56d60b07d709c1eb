"""Rooms, membership rules and messages: the chat's service layer used by routes and socket events."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import and_, delete, func, or_, select, update

from api.activity import log_event
from api.auth.accounts import is_verified
from api.chat.formatting import handle_of, mention_handles, render_body
from api.extensions import db
from api.settings import current_settings
from api.tables import Booking, ChatMember, ChatRoom, EventType, Message, MentorProfile, MentorStatus, Topic, User
from api.tables import utcnow
from api.tables.chat import ModerationAction, topic_room_slug

logger = logging.getLogger("mentorhub.chat")

GENERAL_SLUG = "general"


class ChatError(Exception):
    """A refused chat action; `code` is the HTTP-like status, the message is shown to the user."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def ensure_public_rooms() -> list[ChatRoom]:
    """The general room and one room per topic (found by its topic), created on first use; general first, then by name.

    Duplicate rooms of a topic (rooms a seeder made under other names) are merged first.
    """
    public = list(db.session.scalars(select(ChatRoom).where(ChatRoom.kind == "public")))
    topic_ids = [room.topic_id for room in public if room.topic_id is not None]
    if len(topic_ids) != len(set(topic_ids)):
        merge_duplicate_topic_rooms()
        public = list(db.session.scalars(select(ChatRoom).where(ChatRoom.kind == "public")))
    rooms = {room.slug: room for room in public}
    by_topic = {room.topic_id for room in public if room.topic_id is not None}
    created = False
    if GENERAL_SLUG not in rooms:
        rooms[GENERAL_SLUG] = ChatRoom(kind="public", slug=GENERAL_SLUG, name="General")
        db.session.add(rooms[GENERAL_SLUG])
        created = True
    for topic in db.session.scalars(select(Topic)):
        slug = topic_room_slug(topic.slug)
        if topic.id not in by_topic and slug not in rooms:
            rooms[slug] = ChatRoom(kind="public", slug=slug, name=topic.name, topic_id=topic.id)
            db.session.add(rooms[slug])
            created = True
    if created:
        try:
            db.session.commit()
        except Exception:  # another worker created them at the same moment
            db.session.rollback()
            return ensure_public_rooms()
    general = rooms.pop(GENERAL_SLUG)
    return [general, *sorted(rooms.values(), key=lambda r: r.name.lower())]


def merge_duplicate_topic_rooms() -> int:
    """One public room per topic: move the messages, moderation history, mutes and bans of a topic's other rooms
    into the one named topic_room_slug() (else its oldest, renamed so), then delete them. Idempotent; the number of
    rooms merged away."""
    public = db.session.scalars(select(ChatRoom).where(ChatRoom.kind == "public", ChatRoom.topic_id.is_not(None))
                                .order_by(ChatRoom.id)).all()
    groups: dict[int, list[ChatRoom]] = {}
    for room in public:
        groups.setdefault(room.topic_id, []).append(room)
    groups = {topic_id: rooms for topic_id, rooms in groups.items() if len(rooms) > 1}
    if not groups:
        return 0
    topic_slugs = dict(db.session.execute(select(Topic.id, Topic.slug).where(Topic.id.in_(groups))).all())
    gone_slugs: list[str] = []
    try:
        for topic_id, rooms in groups.items():
            canonical = topic_room_slug(topic_slugs[topic_id])
            keeper = next((room for room in rooms if room.slug == canonical), rooms[0])
            others = [room for room in rooms if room is not keeper]
            other_ids = [room.id for room in others]
            db.session.execute(update(Message).where(Message.room_id.in_(other_ids)).values(room_id=keeper.id))
            db.session.execute(update(ModerationAction).where(ModerationAction.room_id.in_(other_ids))
                               .values(room_id=keeper.id))
            _merge_members(keeper.id, other_ids)
            gone_slugs += [room.slug for room in others]
            for room in others:
                db.session.expunge(room)
            db.session.execute(delete(ChatMember).where(ChatMember.room_id.in_(other_ids)))
            db.session.execute(delete(ChatRoom).where(ChatRoom.id.in_(other_ids)))
            if keeper.slug != canonical:
                keeper.slug = canonical
        db.session.commit()
    except Exception:  # another worker merged them at the same moment
        db.session.rollback()
        logger.warning("merging duplicate topic rooms failed (merged elsewhere meanwhile?)", exc_info=True)
        return 0
    cache = current_app.extensions.get("chat_room_refs", {})
    for slug in gone_slugs:
        cache.pop(slug, None)
    logger.info("merged %d duplicate topic rooms", len(gone_slugs))
    return len(gone_slugs)


def _merge_members(keeper_id: int, other_ids: list[int]) -> None:
    """Mutes, bans and read markers of the other rooms onto the keeper (the stricter or later of two)."""
    kept = {m.user_id: m for m in db.session.scalars(select(ChatMember).where(ChatMember.room_id == keeper_id))}
    for member in db.session.scalars(select(ChatMember).where(ChatMember.room_id.in_(other_ids))
                                     .order_by(ChatMember.id)).all():
        mine = kept.get(member.user_id)
        if mine is None:
            kept[member.user_id] = mine = ChatMember(room_id=keeper_id, user_id=member.user_id)
            db.session.add(mine)
        mine.banned = bool(mine.banned or member.banned)
        mine.muted_until = max(filter(None, (mine.muted_until, member.muted_until)), default=None)
        mine.last_read_message_id = max(filter(None, (mine.last_read_message_id, member.last_read_message_id)),
                                        default=None)
    db.session.flush()


def legacy_topic_room(slug: str) -> ChatRoom | None:
    """The room of a topic addressed by an older name (the bare topic slug of earlier demo worlds)."""
    if not isinstance(slug, str) or len(slug) > 120:
        return None
    topic_id = db.session.scalar(select(Topic.id).where(Topic.slug == slug))
    if topic_id is None:
        return None
    return db.session.scalar(select(ChatRoom).where(ChatRoom.kind == "public", ChatRoom.topic_id == topic_id))


def room_by_slug(slug: str) -> ChatRoom | None:
    if not isinstance(slug, str) or len(slug) > 120:
        return None
    room = db.session.scalar(select(ChatRoom).where(ChatRoom.slug == slug))
    if room is None and slug == GENERAL_SLUG:
        ensure_public_rooms()
        room = db.session.scalar(select(ChatRoom).where(ChatRoom.slug == slug))
    return room


@dataclass(frozen=True)
class RoomRef:
    """What never changes about a room (its participants included, for a one-on-one room): cached per app."""

    id: int
    kind: str
    slug: str
    name: str
    member_ids: tuple[int, ...]


def room_ref(slug) -> RoomRef | None:
    """The room of a slug without a query once seen (socket events are frequent; rooms are immutable)."""
    cache = current_app.extensions.setdefault("chat_room_refs", {})
    ref = cache.get(slug) if isinstance(slug, str) else None
    if ref is None:
        room = room_by_slug(slug)
        if room is None:
            return None
        ref = RoomRef(room.id, room.kind, room.slug, room.name,
                      tuple(m.user_id for m in room.members) if room.kind == "direct" else ())
        if len(cache) < 100_000:
            cache[slug] = ref
    return ref


def member_ids(room) -> list[int]:
    if isinstance(room, RoomRef):
        return list(room.member_ids)
    return [m.user_id for m in room.members] if room.kind == "direct" else []


def membership(room, user_id: int) -> ChatMember | None:
    return db.session.scalar(select(ChatMember).where(ChatMember.room_id == room.id, ChatMember.user_id == user_id))


def read_refusal(room, member) -> ChatError | None:
    """Why the holder of `member` (None: no membership) may not read the room; None when they may.

    A one-on-one room one is not part of answers 404, as if it did not exist.
    """
    if room is None or (room.kind == "direct" and member is None):
        return ChatError("No such room.", 404)
    if member is not None and member.banned:
        return ChatError("You have been banned from this room.", 403)
    return None


def send_refusal(room, member, verified: bool) -> ChatError | None:
    """Why the holder of `member` may not post in the room now (unverified, muted, banned); None when they may."""
    refusal = read_refusal(room, member)
    if refusal is not None:
        return refusal
    if not verified:
        return ChatError("Verify your e-mail address and phone number before sending messages.", 403)
    if member is not None and member.muted_until is not None and member.muted_until > utcnow():
        return ChatError(f"You are muted in this room until {member.muted_until:%Y-%m-%d %H:%M} UTC.", 403)
    return None


def check_can_read(room, user: User) -> ChatMember | None:
    """The user's membership (None in a public room without one) when `user` may read the room; else ChatError."""
    member = membership(room, user.id) if room is not None else None
    refusal = read_refusal(room, member)
    if refusal is not None:
        raise refusal
    return member


def check_can_send(room, user: User) -> ChatMember | None:
    """The user's membership when `user` may post in the room now; ChatError otherwise (unverified, muted, banned)."""
    member = membership(room, user.id) if room is not None else None
    refusal = send_refusal(room, member, is_verified(user))
    if refusal is not None:
        raise refusal
    return member


def sender_refusals(new: list["NewMessage"]) -> list[ChatError | None]:
    """For each message about to be stored, why its sender may not send it (None: may), in one query for all.

    The sender's account must be active and on the session version the socket logged in with (a log-out
    elsewhere ends it), verified, and neither banned nor muted in the room. Fills in each sender's name.
    """
    room_ids = {item.room.id for item in new}
    rows = db.session.execute(
        select(User.id, User.full_name, User.session_version, User.is_active_account, User.email_verified_at,
               User.phone_verified_at, ChatMember.room_id, ChatMember.banned, ChatMember.muted_until)
        .outerjoin(ChatMember, and_(ChatMember.user_id == User.id, ChatMember.room_id.in_(room_ids)))
        .where(User.id.in_({item.sender_id for item in new}))).all()
    users = {row.id: row for row in rows}
    members = {(row.room_id, row.id): row for row in rows if row.room_id is not None}
    refusals: list[ChatError | None] = []
    for item in new:
        user = users.get(item.sender_id)
        if user is None or not user.is_active_account or user.session_version != item.session_version:
            refusals.append(ChatError("Log in again.", 401))
            continue
        item.sender_name = user.full_name
        refusals.append(send_refusal(item.room, members.get((item.room.id, item.sender_id)), is_verified(user)))
    return refusals


# -- one-on-one rooms ---------------------------------------------------------------------------


def direct_slug(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"dm-{low}-{high}"


def may_start_direct(user: User, other: User) -> bool:
    """A learner and a mentor may talk once a booking request exists, or before it if the mentor accepts questions."""
    if user.id == other.id:
        return False
    booked = db.session.scalar(
        select(Booking.id).where(or_(and_(Booking.learner_id == user.id, Booking.mentor_id == other.id),
                                     and_(Booking.learner_id == other.id, Booking.mentor_id == user.id))).limit(1)
    )
    if booked is not None:
        return True
    profile = db.session.get(MentorProfile, other.id)
    return bool(profile and profile.accepts_questions and profile.status == MentorStatus.APPROVED)


def open_direct_room(user: User, other: User) -> ChatRoom:
    """The one-on-one room of the two (created when allowed); ChatError 403 when they may not talk yet."""
    slug = direct_slug(user.id, other.id)
    room = db.session.scalar(select(ChatRoom).where(ChatRoom.slug == slug))
    if room is not None and membership(room, user.id) is not None:
        return room
    if not may_start_direct(user, other):
        raise ChatError("You can message a mentor once you have requested a booking, "
                        "or if the mentor accepts questions before booking.", 403)
    if room is None:
        room = ChatRoom(kind="direct", slug=slug, name=f"{user.full_name} & {other.full_name}"[:120])
        room.members = [ChatMember(user_id=user.id), ChatMember(user_id=other.id)]
        db.session.add(room)
        try:
            db.session.commit()
        except Exception:  # created concurrently by the other participant
            db.session.rollback()
            room = db.session.scalar(select(ChatRoom).where(ChatRoom.slug == slug))
    return room


def other_member_id(room, user_id: int) -> int | None:
    for member_id in member_ids(room):
        if member_id != user_id:
            return member_id
    return None


def room_title(room, viewer: User) -> str:
    if room.kind != "direct":
        return room.name
    other = db.session.get(User, other_member_id(room, viewer.id) or 0)
    return other.full_name if other else room.name


# -- messages -----------------------------------------------------------------------------------


def serialize_message(message: Message, names: dict[int, str] | None = None, room=None) -> dict:
    """The JSON shape of a message for clients: its text only as escaped, formatted HTML."""
    if names is None or message.sender_id not in names:
        sender = db.session.get(User, message.sender_id)
        name = sender.full_name if sender else "Former member"
    else:
        name = names[message.sender_id]
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "room_id": message.room_id,
        "room": room.slug if room is not None else None,
        "sender": {"id": message.sender_id, "name": name},
        "html": "" if deleted else str(render_body(message.body)),
        "created_at": message.created_at.isoformat(),
        "deleted": deleted,
        "attachments": [] if deleted else [_attachment_json(a) for a in message.attachments],
    }


def _attachment_json(attachment) -> dict:
    return {
        "id": attachment.id,
        "kind": attachment.kind,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size_bytes,
        "duration": attachment.duration_seconds,
        "url": url_for("chat.download", attachment_id=attachment.id),
    }


def serialize_many(messages: list[Message], room) -> list[dict]:
    ids = {m.sender_id for m in messages}
    names = dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}
    return [serialize_message(m, names, room) for m in messages]


def history(room, *, before_id: int | None = None, after_id: int | None = None,
            limit: int | None = None) -> tuple[list[Message], bool]:
    """Messages oldest first: the latest page, the page before `before_id`, or those after `after_id` (with the few
    stored just before it that may have committed after it: `sync_start`).

    The flag says whether more exist in that direction.
    """
    settings = current_settings()
    query = select(Message).where(Message.room_id == room.id)
    if after_id is not None:
        limit = min(limit or settings.chat_sync_max_messages, settings.chat_sync_max_messages)
        start = sync_start(room.id, after_id)
        rows = list(db.session.scalars(query.where(Message.id > start).order_by(Message.id).limit(limit + 1)))
        return rows[:limit], len(rows) > limit
    limit = min(limit or settings.chat_history_page_size, 200)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = list(db.session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more


# ids are taken when a message is inserted but seen when its transaction commits: on PostgreSQL, with several
# workers, a message can become visible after one with a higher id. A client that asks for what came after its
# newest message also gets those stored shortly before it (at most SYNC_OVERLAP, within SYNC_GRACE), and shows
# each id once.
SYNC_GRACE = timedelta(seconds=10)
SYNC_OVERLAP = 100


def sync_start(room_id: int, after_id: int) -> int:
    """The id after which a client that has `after_id` may still miss messages: those stored up to SYNC_GRACE
    before it (whose transactions may have committed after its) are sent again."""
    rows = db.session.execute(
        select(Message.id, Message.created_at).where(Message.room_id == room_id, Message.id <= after_id)
        .order_by(Message.id.desc()).limit(SYNC_OVERLAP + 1)).all()
    if not rows or rows[0].id != after_id:
        return after_id
    since, start = rows[0].created_at - SYNC_GRACE, after_id
    for message_id, created_at in rows[1:]:
        if created_at < since:
            break
        start = message_id - 1
    return start


def clean_body(body) -> str:
    if not isinstance(body, str):
        raise ChatError("A message needs text.")
    body = body.replace("\x00", "").strip()
    if len(body) > current_settings().chat_message_max_chars:
        raise ChatError(f"Messages are limited to {current_settings().chat_message_max_chars} characters.")
    return body


@dataclass(frozen=True)
class Sender:
    """Who sent a message, where the User row is not needed (notifications after a send)."""

    id: int
    full_name: str


@dataclass
class NewMessage:
    """A message to store: its room, its sender (id and name) and its checked text and files."""

    room: object  # a RoomRef or a ChatRoom
    sender_id: int
    sender_name: str
    body: str
    attachments: list = field(default_factory=list)
    member: ChatMember | None = None  # the sender's membership in this session, when already loaded
    session_version: int | None = None  # the sender's session, for `sender_refusals`


def message_body(body, attachments: list | None = None) -> str:
    """The cleaned text of a message about to be sent; ChatError when it is too long or there is nothing to send."""
    body = clean_body(body)
    if not body and not attachments:
        raise ChatError("A message needs text or a file.")
    return body


def post_messages(new: list[NewMessage]) -> list[tuple[Message, dict]]:
    """Store messages (with their attachments) and their MESSAGE_SENT events in one transaction.

    Returns each message and its client payload, made before the commit so that nothing is loaded again.
    """
    messages = []
    for item in new:
        message = Message(room_id=item.room.id, sender_id=item.sender_id, body=item.body, created_at=utcnow(),
                          reported_count=0)
        message.attachments = list(item.attachments)
        messages.append(message)
    db.session.add_all(messages)
    db.session.flush()
    for item, message in zip(new, messages):
        _sent(item, message)
    payloads = [serialize_message(message, {item.sender_id: item.sender_name}, item.room)
                for item, message in zip(new, messages)]
    db.session.commit()
    return list(zip(messages, payloads))


def _sent(item: NewMessage, message: Message) -> None:
    """The MESSAGE_SENT event of a stored message (never its content) and, one-on-one, the sender's read marker."""
    room = item.room
    other_id = other_member_id(room, item.sender_id) if room.kind == "direct" else None
    mentor_id = None
    if other_id is not None:
        if db.session.get(MentorProfile, other_id) is not None:
            mentor_id = other_id
        elif db.session.get(MentorProfile, item.sender_id) is not None:
            mentor_id = item.sender_id
    log_event(EventType.MESSAGE_SENT, user_id=item.sender_id, mentor_id=mentor_id,
              room_id=room.id, room_kind=room.kind, message_id=message.id, recipient_id=other_id,
              attachment_kinds=sorted({a.kind for a in message.attachments}), length=len(item.body))
    if room.kind == "direct":
        member = item.member if item.member is not None else membership(room, item.sender_id)
        if member is not None:  # one's own message is read
            member.last_read_message_id = max(member.last_read_message_id or 0, message.id)


def post_message(room, sender: User, body: str, attachments: list | None = None,
                 member: ChatMember | None = None) -> tuple[Message, dict]:
    """Store one message (see `post_messages`); ChatError when it has neither text nor files."""
    body = message_body(body, attachments)
    [stored] = post_messages([NewMessage(room, sender.id, sender.full_name, body, list(attachments or []), member)])
    return stored


def mentioned_user_ids(room, body: str, sender_id: int) -> list[int]:
    """Users named by @handle in the message (in a direct room, only the other participant)."""
    handles = list(mention_handles(body))[:10]
    if not handles:
        return []
    compact = func.lower(func.replace(User.full_name, " ", ""))
    query = select(User.id, User.full_name).where(compact.in_(handles), User.id != sender_id)
    if room.kind == "direct":
        query = query.where(User.id.in_(member_ids(room)))
    return [uid for uid, name in db.session.execute(query.limit(20)) if handle_of(name) in handles]


# -- read receipts and unread counts ------------------------------------------------------------


def mark_read(room, user: User, message_id: int) -> int | None:
    """Move the user's read marker forward (never back); the new marker, or None when unchanged."""
    member = membership(room, user.id)
    if member is None or not isinstance(message_id, int):
        return None
    latest = db.session.scalar(select(func.max(Message.id)).where(Message.room_id == room.id)) or 0
    message_id = min(message_id, latest)
    if message_id <= (member.last_read_message_id or 0):
        return None
    member.last_read_message_id = message_id
    db.session.commit()
    return message_id


def _unread_query(user_id: int):
    return (
        select(Message.room_id, func.count(Message.id))
        .join(ChatMember, and_(ChatMember.room_id == Message.room_id, ChatMember.user_id == user_id))
        .join(ChatRoom, ChatRoom.id == Message.room_id)
        .where(ChatRoom.kind == "direct", Message.sender_id != user_id, Message.deleted_at.is_(None),
               Message.id > func.coalesce(ChatMember.last_read_message_id, 0))
        .group_by(Message.room_id)
    )


def unread_by_room(user_id: int) -> dict[int, int]:
    return dict(db.session.execute(_unread_query(user_id)).all())


def unread_total(user_id: int) -> int:
    return sum(unread_by_room(user_id).values())


@dataclass
class DirectRoomSummary:
    room: ChatRoom
    other: User | None
    unread: int
    last_at: datetime | None


def direct_rooms(user: User) -> list[DirectRoomSummary]:
    rooms = list(db.session.scalars(
        select(ChatRoom).join(ChatMember, ChatMember.room_id == ChatRoom.id)
        .where(ChatRoom.kind == "direct", ChatMember.user_id == user.id, ChatMember.banned.is_(False))
    ))
    unread = unread_by_room(user.id)
    last = dict(db.session.execute(
        select(Message.room_id, func.max(Message.created_at)).where(Message.room_id.in_([r.id for r in rooms]))
        .group_by(Message.room_id)
    ).all()) if rooms else {}
    summaries = [DirectRoomSummary(r, db.session.get(User, other_member_id(r, user.id) or 0), unread.get(r.id, 0),
                                   last.get(r.id)) for r in rooms]
    return sorted(summaries, key=lambda s: s.last_at or s.room.created_at, reverse=True)


def read_markers(room) -> dict[int, int]:
    """user id -> last read message id, for the read receipts of a direct room."""
    if room.kind != "direct":
        return {}
    rows = db.session.execute(select(ChatMember.user_id, ChatMember.last_read_message_id)
                              .where(ChatMember.room_id == room.id)).all()
    return {user_id: last or 0 for user_id, last in rows}
