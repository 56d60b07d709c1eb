"""The one settings object: read from the environment and `.env`, nothing else reads os.environ."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    """Every switch of MentorHub; each field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    profile: Literal["development", "testing", "production"] = Field(
        "development", validation_alias="MENTORHUB_PROFILE"
    )
    # empty (or a well-known placeholder, api.secret_key.BUILT_IN_KEYS): development and testing make a random key once and keep it in
    # var_dir/secret_key; production refuses to start without a strong one (api.secret_key)
    secret_key: str = ""
    var_dir: Path = DEFAULT_VAR_DIR
    database_url: str = ""
    redis_url: str = ""
    mlflow_tracking_uri: str = ""
    prefect_api_url: str = ""
    feast_online_store: Literal["sqlite", "redis"] = "sqlite"
    socketio_async_mode: Literal["eventlet", "threading"] = "eventlet"
    # where the app is reached (api/addresses.py); unset, both follow the address the app is served on
    cors_allowed_origins: list[str] = []  # origins that may open a chat socket; empty: the page's own origin only
    public_base_url: str = ""  # base of links in e-mails and feeds; empty: the request's own, else `serve --host/--port`
    forwarded_proxies: int = Field(0, ge=0)  # reverse proxies in front whose X-Forwarded-For/Proto/Host/Port are trusted
    log_level: str = "INFO"
    log_json: bool = False
    max_upload_bytes: int = 25 * 1024 * 1024
    # the product's one clock (package `clock`): empty follows the system clock; an ISO 8601 instant (UTC unless
    # it says otherwise; a bare date is its midnight) fixes "now" for the whole process, as `mentorhub --now` does
    clock_now: str = ""

    # e-mail / SMS: an outbox file under var/ unless an SMTP host is set
    mail_server: str = ""
    mail_port: int = 25
    mail_username: str = ""
    mail_password: str = ""
    mail_use_tls: bool = False
    mail_default_sender: str = "MentorHub <no-reply@mentorhub.example>"
    mail_timeout_seconds: float = 10.0
    # SMS: "outbox" (the embedded default) or "package.module:ClassName" of an SmsSender
    sms_sender: str = "outbox"

    # password hashing: argon2id; the defaults are argon2-cffi's (RFC 9106 low-memory), never go lower in production
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_cost_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)

    # accounts: verification, password reset, throttling (limits are Flask-Limiter strings)
    email_token_max_age_seconds: int = 48 * 3600
    password_reset_max_age_seconds: int = 3600
    otp_ttl_seconds: int = 600
    otp_max_attempts: int = 5
    verification_requires_phone: bool = True
    login_limit_per_account: str = "10 per 15 minutes"  # failed log-ins of one account from one IP
    login_limit_per_account_all_ips: str = "100 per hour"  # ... from every IP (then only the mailed link helps)
    login_limit_per_ip: str = "50 per 15 minutes"
    signup_limit_per_ip: str = "20 per hour"
    password_reset_limit: str = "5 per hour"
    otp_send_limit: str = "5 per hour"  # text messages per account, whatever the number
    otp_check_limit: str = "10 per hour"  # phone-code guesses per account, over every code sent
    email_send_limit: str = "5 per hour"  # verification and address-change mails per account
    sign_in_link_max_age_seconds: int = 3600  # the one-time link mailed to the owner of a locked account

    # uploads: per-kind limits (bytes); max_upload_bytes above is the request-wide cap
    max_picture_bytes: int = 5 * 1024 * 1024
    max_document_bytes: int = 10 * 1024 * 1024
    max_video_bytes: int = 25 * 1024 * 1024
    picture_max_side: int = 512
    max_image_pixels: int = 40_000_000  # larger pictures are refused from their header, before decoding

    # payments: the sandbox gateway unless keys are set
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    razorpay_key_id: str = ""
    razorpay_key_secret: str = ""
    razorpay_webhook_secret: str = ""
    razorpay_api_base: str = ""
    platform_fee_percent: float = 15.0  # admin-overridable: ModelSetting "payments.platform_fee_percent"
    payments_required: bool = True  # a mentor can accept only a request whose payment is verified (tests of other features turn it off)
    payments_gateway: Literal["auto", "sandbox", "stripe", "razorpay"] = "auto"  # auto: Razorpay for INR, Stripe otherwise, sandbox without keys
    stripe_publishable_key: str = ""
    payments_http_timeout_seconds: float = 20.0  # each call to a provider; a timed-out call is retried with the same idempotency key
    payments_unpaid_request_minutes: int = 30  # a request whose payment is not verified by then is cancelled (reconcile job)
    payments_stuck_operation_seconds: int = 60  # reconcile retries a capture/release/refund pending this long
    # prices shown (and charged) in the learner's currency: units of each currency per 1 USD; ModelSetting "payments.fx_rates" overrides
    payments_fx_rates: dict[str, float] = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "INR": 83.0, "JPY": 150.0,
                                           "CAD": 1.36, "AUD": 1.52}

    # OAuth / calendar
    google_client_id: str = ""
    google_client_secret: str = ""
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    facebook_client_id: str = ""
    facebook_client_secret: str = ""
    facebook_authorize_url: str = "https://www.facebook.com/v19.0/dialog/oauth"
    facebook_token_url: str = "https://graph.facebook.com/v19.0/oauth/access_token"
    facebook_userinfo_url: str = "https://graph.facebook.com/v19.0/me?fields=id,name,email"

    # bookings: defaults of each mentor's booking policy (a mentor_booking_policies row overrides the first four)
    booking_buffer_minutes: int = 0  # free time kept around each session; 0 allows back-to-back sessions
    booking_min_notice_minutes: int = 4 * 60  # a slot must start at least this long after the request
    booking_horizon_days: int = 60  # how far ahead learners can book
    booking_slot_step_minutes: int = 0  # distance between offered start times; 0: the session length
    booking_answer_hours: int = 48  # a request not answered in this time (or by its start) expires
    booking_cancel_cutoff_hours: int = 24  # later learner cancellations are "late" (see the policy)
    booking_late_cancel_refund_percent: int = 50  # refund, in percent, for a late learner cancellation; ModelSetting "payments.refund_policy" overrides
    booking_reminder_minutes: list[int] = [24 * 60, 60]  # reminders this long before an accepted session
    booking_complete_after_hours: int = 24  # an accepted session is marked completed this long after its end
    # periodic jobs (api/scheduler.py): the served process runs them this often, one server at a time (a database
    # lease); 0: the servers run none and a dedicated `mentorhub jobs --loop` (or cron `mentorhub jobs`) does
    jobs_interval_seconds: float = Field(60.0, ge=0)
    booking_video_link_template: str = "https://meet.jit.si/mentorhub-{token}"
    google_oauth_authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_oauth_token_url: str = "https://oauth2.googleapis.com/token"

    # chat: messages, flood control, files and voice messages (stored under var_dir/chat)
    chat_message_max_chars: int = 4000
    chat_history_page_size: int = 50
    chat_sync_max_messages: int = 500  # a reconnecting client gets at most this many missed messages
    chat_flood_messages: int = 8  # at most this many messages per user...
    chat_flood_seconds: float = 10.0  # ...in this many seconds (all workers together, counted in Redis)
    chat_max_file_bytes: int = 10 * 1024 * 1024
    chat_max_voice_seconds: int = 120
    chat_max_voice_bytes: int = 2 * 1024 * 1024
    chat_offline_email_minutes: int = 30  # at most one "new message" e-mail per room and recipient in this time
    chat_queue_channel: str = "mentorhub-chat"  # the Redis channel (and key prefix) shared by the chat workers

    # discovery (search) and reviews
    search_page_size: int = 12  # mentors per result page (the API's per_page may ask up to the max)
    search_max_page_size: int = 50
    search_bayes_prior_weight: float = 10.0  # Bayesian average: this many "virtual" ratings at the prior mean
    search_bayes_prior_mean: float = 4.0  # the prior mean while no mentor has ratings yet
    search_popularity_days: int = 90  # popularity: completed sessions in this many days
    search_max_availability_days: int = 31  # the widest availability date range a search may ask
    search_next_slots: int = 6  # free slots shown on a profile preview
    search_next_slots_days: int = 14  # ... looked for this many days ahead
    search_reviews_page_size: int = 5
    search_personal_blend_weight: float = 0.5  # relevance: weight of the serving layer's personal score (0: off)
    # serving (recommendations): registry polling, caches, re-ranking inputs, attribution, A/B checks
    serving_poll_seconds: float = 30.0  # look for moved aliases at most this often (no restart needed)
    serving_first_load_wait_seconds: float = 5.0  # the first request waits this long for the first load
    serving_default_k: int = 10
    serving_max_k: int = 50
    serving_section_k: int = 6  # "Recommended for you" on the learner's home
    serving_page_k: int = 12  # the "For you" page
    serving_catalogue_seconds: float = 60.0  # candidate catalogue cache (refreshed in the background)
    serving_availability_cache_seconds: float = 60.0  # free-slot sets per availability window
    serving_settings_cache_seconds: float = 10.0  # re-ranking weights and the running experiment
    serving_new_mentor_days: int = 30  # approved this recently and ...
    serving_new_mentor_sessions: int = 3  # ... fewer completed sessions than this: the fair-exposure boost
    serving_attribution_days: int = 7  # a click or booking this long after an exposure is attributed to it
    serving_ab_check_seconds: float = 300.0  # guardrails and auto-promotion at most this often (0: off)
    review_edit_days: int = 14  # a learner may edit a review this long after writing it
    review_text_max_chars: int = 2000

    # admin panel: TOTP two-factor sign-in, "retrain now", links and report defaults
    admin_totp_issuer: str = "MentorHub"  # the name authenticator apps show
    admin_totp_valid_window: int = Field(1, ge=0, le=2)  # accept codes this many 30 s steps early or late
    admin_totp_max_attempts: int = Field(5, ge=1)  # wrong codes per account (on the server) before the step locks
    admin_totp_pending_seconds: int = Field(300, ge=30)  # time between the password and the code steps
    admin_totp_lock_seconds: int = Field(900, ge=60)  # max_attempts wrong codes per account lock the code step this long
    admin_retrain_command: list[str] = []  # "retrain now"; empty: `<python> -m api.cli --verbose pipeline all`
    admin_report_days: int = Field(90, ge=1)  # the default date range of the analytics and revenue pages
    mlflow_ui_url: str = "http://127.0.0.1:5001"  # `make mlflow-ui`

    @field_validator("var_dir")
    @classmethod
    def _absolute_var_dir(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value)

    @property
    def sqlalchemy_database_uri(self) -> str:
        """DATABASE_URL when set, else a SQLite file under var/."""
        if self.database_url:
            url = self.database_url
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):  # psycopg2: psycogreen makes it cooperative under eventlet
                    url = "postgresql+psycopg2://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.var_dir / 'mentorhub.db'}"

    @property
    def mlflow_uri(self) -> str:
        """MLFLOW_TRACKING_URI when set, else a SQLite store under var/."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.var_dir / 'mlflow.db'}"

    @property
    def outbox_path(self) -> Path:
        return self.var_dir / "outbox.jsonl"

    @property
    def upload_dir(self) -> Path:
        return self.var_dir / "uploads"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (commands and the app factory; a request asks `current_settings`)."""
    return Settings()


def current_settings() -> Settings:
    """The settings of the app serving this request or command (`create_app` puts them in its config)."""
    from flask import current_app  # lazy: commands read the settings at start-up without loading Flask

    return current_app.config["MENTORHUB_SETTINGS"]
