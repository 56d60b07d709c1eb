"""The database tables of MentorHub (SQLAlchemy 2 typed models)."""
from api.tables.accounts import PhoneVerification, Upload
from api.tables.admin import AdminAuditEntry, AdminTotp
from api.tables.auth_counters import AuthCounter
from api.tables.bookings import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    LearnerRating,
    Payment,
    PaymentStatus,
    ProviderEvent,
    Refund,
    Review,
)
from api.tables.chat import Attachment, ChatMember, ChatRoom, Message
from api.tables.discovery import MentorFreeSlot, ReviewReport
from api.tables.payments_ledger import LedgerEntry, PaymentCheckout, PaymentOperation
from api.tables.events import Event, EventType
from api.tables.jobs import JobLease
from api.tables.profiles import (
    AvailabilityException,
    AvailabilityRule,
    Certification,
    LearnerProfile,
    MentorProfile,
    MentorStatus,
    Topic,
    learner_topics,
    mentor_topics,
)
from api.tables.settings import AbArm, AbExperiment, ModelSetting
from api.tables.scheduling import (
    BookingChange,
    BookingReminder,
    CalendarConnection,
    CalendarEventLink,
    CalendarFeed,
    MentorBookingPolicy,
    Notification,
)
from api.tables.types import UTCDateTime, utcnow
from api.tables.users import Role, SocialAccount, User, UserRole

__all__ = [
    "BookingChange",
    "BookingReminder",
    "CalendarConnection",
    "CalendarEventLink",
    "CalendarFeed",
    "MentorBookingPolicy",
    "MentorFreeSlot",
    "Notification",
    "ACTIVE_BOOKING_STATUSES",
    "AdminAuditEntry",
    "AdminTotp",
    "AuthCounter",
    "AbArm",
    "AbExperiment",
    "Attachment",
    "AvailabilityException",
    "AvailabilityRule",
    "Booking",
    "BookingStatus",
    "Certification",
    "ChatMember",
    "ChatRoom",
    "Event",
    "EventType",
    "LearnerProfile",
    "LearnerRating",
    "MentorProfile",
    "MentorStatus",
    "Message",
    "ModelSetting",
    "JobLease",
    "LedgerEntry",
    "Payment",
    "PaymentCheckout",
    "PaymentOperation",
    "PhoneVerification",
    "PaymentStatus",
    "ProviderEvent",
    "Refund",
    "Review",
    "ReviewReport",
    "Role",
    "SocialAccount",
    "Topic",
    "Upload",
    "User",
    "UserRole",
    "UTCDateTime",
    "learner_topics",
    "mentor_topics",
    "utcnow",
]
