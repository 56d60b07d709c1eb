"""`mentorhub screenshots OUT_DIR`: full-page screenshots of the main pages, for every role, at two widths.

Seeds a small demo world into a temporary var dir (or uses `--var-dir` of an existing one), serves the
app on a free port in a thread, signs in as each role in Debian's Chromium through Playwright (the
admin through the real two-factor step) and saves `role-page-width.png` for every page of `PAGES`.
"""
from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from itertools import groupby
from pathlib import Path

import click
import pyotp
import sqlalchemy as sa
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from api import create_app
from api.auth import twofactor
from api.benchmarks.harness import harness_settings
from api.cli import DEMO_LOGINS, DEMO_PASSWORD
from api.demo.world import WorldSpec, generate_world
from api.extensions import db
from api.settings import get_settings
from api.tables import Booking, BookingStatus, Payment, User

WIDTHS = (1280, 390)
ROLES = ("anonymous", "learner", "mentor", "admin")
# role -> [(page name, path)]; "{mentor}", "{learner_booking}"... are filled from the world by `_ids`
PAGES = {
    "anonymous": [
        ("home", "/"), ("search", "/mentors"), ("mentor-profile", "/mentors/{mentor}"),
        ("mentor-preview", "/mentors/{mentor}/preview"), ("login", "/login"), ("signup", "/signup"),
        ("forgot-password", "/password/forgot"),
    ],
    "learner": [
        ("home", "/"), ("search", "/mentors"), ("recommendations", "/recommendations"),
        ("mentor-profile", "/mentors/{mentor}"), ("book", "/bookings/mentors/{mentor}/book"),
        ("my-sessions", "/bookings/"), ("session", "/bookings/{learner_booking}"),
        ("review", "/bookings/{learner_completed}/review"), ("receipts", "/payments/receipts"),
        ("receipt", "/payments/receipts/{learner_payment}"), ("chat", "/chat/"),
        ("chat-room", "/chat/rooms/general"), ("chat-direct", "/chat/with/{mentor}"),
        ("profile", "/profile"), ("account", "/account"), ("verify", "/verify"),
        ("become-a-mentor", "/become-a-mentor"),
    ],
    "mentor": [
        ("home", "/"), ("my-sessions", "/bookings/"), ("session", "/bookings/{mentor_booking}"),
        ("mentor-profile-form", "/mentor/profile"), ("public-profile", "/mentors/{mentor}"),
        ("earnings", "/payments/earnings"), ("reviews", "/reviews/received"), ("chat", "/chat/"),
        ("account", "/account"),
    ],
    "admin": [
        ("dashboard", "/admin/"), ("mentor-queue", "/admin/mentors"), ("mentors", "/admin/mentors/all"),
        ("mentor-detail", "/admin/mentors/{mentor}"), ("analytics", "/admin/analytics"),
        ("revenue", "/admin/revenue"), ("experiments", "/admin/experiments"),
        ("new-experiment", "/admin/experiments/new"), ("models", "/admin/models"),
        ("monitoring", "/admin/monitoring"), ("moderation", "/admin/moderation"), ("audit", "/admin/audit"),
        ("chat-reports", "/chat/admin"),
    ],
}


def _settings(var_dir: Path, seeded_here: bool):
    overrides = {"var_dir": var_dir, "socketio_async_mode": "threading", "log_level": "WARNING"}
    if seeded_here:  # nothing of the machine's own databases, queues or tracking
        overrides.update(database_url="", redis_url="", mlflow_tracking_uri=f"sqlite:///{var_dir / 'mlflow.db'}")
    return get_settings().model_copy(update=overrides)


def _seed(app, learners: int, mentors: int, days: int) -> None:
    with app.app_context():
        upgrade()
        generate_world(WorldSpec(learners=learners, mentors=mentors, days=days), demo_password=DEMO_PASSWORD,
                       demo_logins=DEMO_LOGINS)


def _ids(app) -> dict[str, int]:
    """The demo people's ids and some of their bookings and payments, to fill the page paths."""
    with app.app_context():
        people = {role: db.session.scalar(sa.select(User.id).where(User.email == email))
                  for role, email in DEMO_LOGINS.items()}
        if None in people.values():
            raise click.ClickException("the database has no demo logins: seed it with `mentorhub seed`")

        def booking(column, user_id, *statuses):
            query = sa.select(Booking.id).where(column == user_id).order_by(Booking.starts_at.desc())
            if statuses:
                query = query.where(Booking.status.in_(statuses))
            return db.session.scalar(query.limit(1)) or 0

        learner, mentor = people["learner"], people["mentor"]
        payment = db.session.scalar(sa.select(Payment.id).join(Booking, Booking.id == Payment.booking_id)
                                    .where(Booking.learner_id == learner).order_by(Payment.id.desc()).limit(1))
        return {
            "learner": learner, "mentor": mentor, "admin": people["admin"],
            "learner_booking": booking(Booking.learner_id, learner, BookingStatus.ACCEPTED, BookingStatus.REQUESTED)
            or booking(Booking.learner_id, learner),
            "learner_completed": booking(Booking.learner_id, learner, BookingStatus.COMPLETED)
            or booking(Booking.learner_id, learner),
            "mentor_booking": booking(Booking.mentor_id, mentor, BookingStatus.REQUESTED)
            or booking(Booking.mentor_id, mentor),
            "learner_payment": payment or 0,
        }


class _Server:
    """The app on 127.0.0.1 and a free port, served by Werkzeug in a thread (threading mode, no eventlet)."""

    def __init__(self, make_app):
        holder = {}
        self.server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start),
                                  threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.app = holder["app"] = make_app(self.url)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


def _log_in(page, base: str, role: str, app) -> None:
    """The log-in form; for the admin, then the two-factor step with a code from the setup key."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", DEMO_LOGINS[role])
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("load")
    if role != "admin":
        if "/login" in page.url:
            raise click.ClickException(f"could not log in as the demo {role}")
        return
    if "/admin/2fa" not in page.url:
        raise click.ClickException(f"the admin's log-in did not lead to the two-factor step ({page.url})")
    key = page.locator("#totp-secret")
    if key.count():
        secret = re.sub(r"\s+", "", key.inner_text())
    else:  # enrolled before (an existing var dir): the secret this process can read from the database
        with app.app_context():
            secret = twofactor._secret(twofactor.totp_row(_ids(app)["admin"]))
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("form button[type=submit]")
    page.wait_for_load_state("load")
    if "/admin/2fa" in page.url or "/login" in page.url:
        raise click.ClickException("the admin's two-factor code was refused")


def _log_to_file(path: Path) -> list:
    """The served app's log (request lines, tracebacks) into a file, not between the progress lines;
    returns the handlers it replaced."""
    handler = logging.FileHandler(path, encoding="utf-8")
    root = logging.getLogger()
    saved = list(root.handlers)
    if saved:
        handler.setFormatter(saved[0].formatter)
    root.handlers[:] = [handler]
    return saved


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def take(out_dir: Path, *, var_dir: Path | None = None, roles=ROLES, pages=None, widths=WIDTHS,
         learners: int = 40, mentors: int = 10, days: int = 30, echo=click.echo) -> list[Path]:
    """Seed (or open) a world, serve it, and screenshot each role's pages; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = None
    if var_dir is None:
        temporary = var_dir = Path(tempfile.mkdtemp(prefix="mentorhub-screenshots-"))
    settings = _settings(var_dir, seeded_here=temporary is not None)
    chromium_path = harness_settings().chromium_path
    if not Path(chromium_path).exists():
        raise click.ClickException(f"Chromium not found at {chromium_path} (apt-get install chromium)")

    def make_app(url: str):
        return create_app(settings=settings.model_copy(update={"public_base_url": url,
                                                               "cors_allowed_origins": [url]}))

    saved_handlers = None
    try:
        with _Server(make_app) as server:
            saved_handlers = _log_to_file(out_dir / "server.log")
            echo(f"the server's log (tracebacks of any 500) goes to {out_dir / 'server.log'}")
            if temporary is not None:
                started = time.perf_counter()
                echo(f"seeding a demo world ({learners} learners, {mentors} mentors, {days} days) in {var_dir}")
                _seed(server.app, learners, mentors, days)
                echo(f"seeded in {time.perf_counter() - started:.1f}s; serving on {server.url}")
            ids = _ids(server.app)
            shots = [(role, name, path.format(**ids), width) for role in roles for name, path in PAGES[role]
                     if not pages or name in pages for width in widths]
            return _shoot(server, shots, out_dir, chromium_path, echo)
    finally:
        if saved_handlers is not None:
            _restore_log(saved_handlers)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _shoot(server: _Server, shots: list[tuple], out_dir: Path, chromium_path: str, echo) -> list[Path]:
    """Each (role, page name, path, width) in a browser context of its role, signed in; the files written."""
    written = []
    numbered = list(enumerate(shots, start=1))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            for role, group in groupby(numbered, key=lambda item: item[1][0]):
                group = list(group)
                context = browser.new_context(viewport={"width": group[0][1][3], "height": 900},
                                              locale="en-GB", timezone_id="Europe/London")
                page = context.new_page()
                if role != "anonymous":
                    _log_in(page, server.url, role, server.app)
                for number, (_, name, path, width) in group:
                    target = out_dir / f"{role}-{name}-{width}.png"
                    line = _screenshot(page, server.url, path, width, target)
                    written.append(target)
                    echo(f"[{number:>3}/{len(shots)}] {line}")
                context.close()
        finally:
            browser.close()
    return written


def _screenshot(page, base: str, path: str, width: int, target: Path) -> str:
    """Open the page at this width and save it whole; the progress line: file, status, size, time, and a note
    when it scrolls sideways or ended on another page."""
    page.set_viewport_size({"width": width, "height": 900 if width > 600 else 844})
    started = time.perf_counter()
    response = page.goto(base + path, wait_until="load")
    page.wait_for_timeout(250)  # web fonts, charts and the chat's first messages
    page.screenshot(path=str(target), full_page=True)
    size = _png_size(target)
    status = response.status if response is not None else "-"
    note = "  <- wider than the viewport: scrolls sideways" if size[0] > width else ""
    landed = page.url.removeprefix(base)
    if landed != path:
        note += f"  -> ended on {landed}"
    return (f"{target.name:<42} {status} {path:<34} {size[0]}x{size[1]} {time.perf_counter() - started:.1f}s"
            f"{note}")


def _restore_log(saved_handlers: list) -> None:
    for handler in logging.getLogger().handlers:
        handler.close()
    logging.getLogger().handlers[:] = saved_handlers


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--var-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Use this existing, seeded var dir (its database and uploads) instead of seeding a new one.")
@click.option("--roles", default=",".join(ROLES), show_default=True, help="Comma-separated roles.")
@click.option("--pages", default=None, help="Comma-separated page names (default: every page of each role).")
@click.option("--widths", default=",".join(map(str, WIDTHS)), show_default=True, help="Viewport widths in px.")
@click.option("--learners", default=40, show_default=True, type=click.IntRange(1))
@click.option("--mentors", default=10, show_default=True, type=click.IntRange(1))
@click.option("--days", default=30, show_default=True, type=click.IntRange(1))
def screenshots(out_dir: Path, var_dir: Path | None, roles: str, pages: str | None, widths: str, learners: int,
                mentors: int, days: int) -> None:
    """Full-page screenshots of every main page for each role, at 1280 and 390 px, as role-page-width.png."""
    chosen = _csv(roles) or list(ROLES)
    unknown = sorted(set(chosen) - set(ROLES))
    if unknown:
        raise click.BadParameter(f"unknown roles: {', '.join(unknown)}", param_hint="--roles")
    names = _csv(pages)
    known = {name for role in chosen for name, _ in PAGES[role]}
    if names and not set(names) & known:
        raise click.BadParameter(f"none of these pages exists for {', '.join(chosen)}; pages: "
                                 f"{', '.join(sorted(known))}", param_hint="--pages")
    started = time.perf_counter()
    written = take(out_dir, var_dir=var_dir, roles=chosen, pages=names,
                   widths=[int(w) for w in _csv(widths)], learners=learners, mentors=mentors, days=days)
    click.echo(f"{len(written)} screenshots in {out_dir} ({time.perf_counter() - started:.0f}s)")
