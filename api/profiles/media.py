"""Who may see an uploaded file."""
from __future__ import annotations

from sqlalchemy import select

from api.extensions import db
from api.tables import Booking, MentorProfile, MentorStatus, Role, Upload


def viewable_upload(name: str, viewer) -> Upload | None:
    """The upload stored under `name` when the viewer may see it, else None."""
    upload = db.session.scalar(select(Upload).where(Upload.stored_name == name))
    return upload if upload is not None and can_view_upload(upload, viewer) else None


def can_view_upload(upload: Upload, viewer) -> bool:
    """Owners and admins see everything; everyone sees an approved mentor's picture and video;
    a mentor sees the picture of a learner who booked them; documents stay with owner and admins."""
    authenticated = bool(viewer and viewer.is_authenticated)
    if authenticated and (viewer.id == upload.owner_id or viewer.has_role(Role.ADMIN)):
        return True
    if upload.kind in ("picture", "video"):
        mentor = db.session.get(MentorProfile, upload.owner_id)
        if mentor is not None and mentor.status == MentorStatus.APPROVED and \
                upload.stored_name in (mentor.picture_path, mentor.video_path):
            return True
    if upload.kind == "picture" and authenticated:
        booked = db.session.scalar(select(Booking.id).where(
            Booking.learner_id == upload.owner_id, Booking.mentor_id == viewer.id).limit(1))
        return booked is not None
    return False
