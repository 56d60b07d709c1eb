"""The crawl: every GET route and every same-site link, as every role, on a seeded world.

On a small demo world (plus a few things people make through the app itself: a profile picture,
files shared in one-on-one chats, calendar feeds, a recommendation exposure, password-reset and
e-mail links), each role (anonymous, learner, mentor, and the admin through the real two-factor
step) requests every GET rule of `app.url_map` with every value of `PARAMETER_VALUES` for its
arguments (own ids, other people's ids and a missing one), then follows the same-site links of
every HTML page reached, breadth first, a few URLs per path pattern. Nothing may answer 5xx, no
followed link or page resource may be missing (404), and no page shown to a non-admin may carry
another person's private data (e-mail address, phone number, booking note, one-on-one message).

A new route is covered without touching this file: its arguments are filled by name, and an
argument name that `CrawlWorld.values` cannot fill fails the test.
"""
from __future__ import annotations

import io
import itertools
import logging
import re
import time
import traceback
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from api.cli import DEMO_LOGINS, DEMO_PASSWORD
from api.demo.world import WorldSpec, generate_world

pytestmark = [pytest.mark.db, pytest.mark.slow]

SPEC = WorldSpec(learners=24, mentors=8, days=30, seed=5)  # until today: upcoming sessions are upcoming
ROLES = ("anonymous", "learner", "mentor", "admin")
MISSING_ID = 987654
PER_PATTERN = 3  # links followed per (rule, query keys) and role
MAX_REQUESTS_PER_ROLE = 2500  # a bound on the breadth-first walk; reaching it fails the test

# GET endpoints never requested directly, each with its reason (links to them are still followed)
SKIPPED_ENDPOINTS = {
    "static": "static files (CSS, JS, images), not pages; page resources pointing at them are checked",
}


# --- the world ------------------------------------------------------------------------------------

@dataclass
class CrawlWorld:
    """Who is who in the seeded world, what each URL argument can be, and what is private to whom."""

    people: dict[str, int]
    values: dict[str, list] = field(default_factory=dict)
    private: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # owner ids -> texts

    def own_private(self, user_id: int | None) -> set[str]:
        return {text for owner, texts in self.private.items() if user_id in owner for text in texts}

    def secrets_hidden_from(self, user_id: int | None) -> dict[str, str]:
        """Texts a non-admin viewer must never see: other people's private data -> whose it is."""
        return {text: f"user {owner}" for owner, texts in self.private.items() if user_id not in owner
                for text in texts}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _form_login(client, email: str) -> str:
    """The log-in form, the real way; returns the redirect target."""
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": _csrf(page)})
    assert response.status_code == 302, (email, response.status_code)
    return response.headers["Location"]


def _admin_login(client, email: str) -> None:
    """Password, then the two-factor step: enrol with the setup key the page shows and enter its code."""
    import pyotp

    assert _form_login(client, email) == "/admin/2fa"
    page = client.get("/admin/2fa").get_data(as_text=True)
    secret = "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", page))
    assert len(secret) == 32, "the enrolment page shows no setup key"
    response = client.post("/admin/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _csrf(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert client.get("/admin/").status_code == 200


def _api(client, method: str, url: str, **kwargs):
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    return getattr(client, method)(url, headers={"X-CSRFToken": token}, **kwargs)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def _share_file(client, other_id: int, body: str) -> tuple[str, int]:
    """Open the one-on-one chat with `other_id` and share a file with a message; (room slug, attachment id)."""
    opened = client.get(f"/chat/with/{other_id}")
    assert opened.status_code == 302, opened.get_data(as_text=True)[:300]
    slug = opened.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    response = _api(client, "post", f"/api/v1/chat/rooms/{slug}/attachments",
                    data={"file": (io.BytesIO(b"notes for our session\n"), "notes.txt"), "body": body},
                    content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    return slug, response.json["message"]["attachments"][0]["id"]


def _outbox_token(settings, kind: str, path_prefix: str) -> str:
    from api.notify import read_outbox

    bodies = [m["body"] for m in read_outbox(settings.outbox_path) if m.get("kind") == kind]
    assert bodies, f"no {kind} message in the outbox"
    return re.search(re.escape(path_prefix) + r"([^\s/?#]+)", bodies[-1]).group(1)


def build_world(app, settings) -> CrawlWorld:
    """Seed the demo world, let a few people act through the app, and collect ids and private texts."""
    from api.extensions import db
    from api.tables import Booking, ChatRoom, MentorProfile, MentorStatus, Payment, User

    with app.app_context():
        counts = generate_world(SPEC, demo_password=DEMO_PASSWORD, demo_logins=DEMO_LOGINS)
        world = counts.world
        users = {u.email: u for u in db.session.scalars(sa.select(User))}
        learner, mentor, admin = (users[DEMO_LOGINS[r]].id for r in ("learner", "mentor", "admin"))
        bookings = list(db.session.scalars(sa.select(Booking).order_by(Booking.id)))
        # every booking note becomes unique, so a note seen in a page tells whose booking it is
        for booking in bookings:
            booking.note = f"Private note {booking.id}: {booking.note or 'see you then'}"
        db.session.commit()
        unapproved = [p.user_id for p in db.session.scalars(
            sa.select(MentorProfile).where(MentorProfile.status != MentorStatus.APPROVED))]
        # another learner with a booking (so they may message that mentor), preferably of another mentor
        pairs = sorted({(b.mentor_id == mentor, b.learner_id, b.mentor_id) for b in bookings if b.learner_id != learner})
        _, other_learner, other_mentor = pairs[0]
        approved = [m for m in world.mentor_ids if m not in (mentor, other_mentor) and m not in unapproved]
        people = {"admin": admin, "learner": learner, "mentor": mentor, "other_learner": other_learner,
                  "other_mentor": other_mentor, "third_mentor": approved[0]}

    crawl = CrawlWorld(people=people)
    # people acting through the app: pictures, shared files, feeds, a recommendation, e-mailed links
    clients = {}
    for name in ("learner", "mentor", "other_learner"):
        clients[name] = app.test_client()
        with app.app_context():
            email = db.session.get(User, people[name]).email
        _form_login(clients[name], email)
    picture = _api(clients["mentor"], "post", "/api/v1/profile/picture?target=mentor",
                   data={"file": (io.BytesIO(_png()), "me.png")}, content_type="multipart/form-data")
    assert picture.status_code == 201, picture.get_data(as_text=True)[:300]
    own_slug, own_file = _share_file(clients["learner"], mentor, "Here are my notes for Tuesday.")
    secret_dm = "Just between us: my door code is 4711"
    other_slug, other_file = _share_file(clients["other_learner"], other_mentor, secret_dm)
    crawl.private[(other_learner, other_mentor)].add(secret_dm)
    feeds = []
    for name in ("learner", "other_learner"):
        response = _api(clients[name], "post", "/api/v1/bookings/calendar/feed-token")
        feeds.append(response.json["feed_url"].rsplit("/", 1)[1].removesuffix(".ics"))
    recommended = clients["learner"].get("/api/v1/recommendations")
    exposures = [recommended.json["exposure_id"]] if recommended.status_code == 200 and \
        recommended.json.get("exposure_id") else []
    with app.app_context():
        other_email = db.session.get(User, other_learner).email
    anonymous = app.test_client()
    anonymous.post("/password/forgot", data={"email": other_email,
                                             "csrf_token": _csrf(anonymous.get("/password/forgot").get_data(as_text=True))})
    reset_token = _outbox_token(settings, "password_reset", "/password/reset/")
    with app.app_context():
        from api.auth import tokens

        verify_token = tokens.make_email_token(db.session.get(User, other_learner))  # what sign-up e-mails

    with app.app_context():
        from api.admin import monitoring
        from api.tables import AbExperiment, Attachment, Event, Upload

        bookings = list(db.session.scalars(sa.select(Booking).order_by(Booking.id)))
        by_status = {}
        for b in bookings:  # the demo learner's and mentor's bookings in each status, then other people's
            for who in ("learner", "mentor"):
                if getattr(b, f"{who}_id") == people[who]:
                    by_status.setdefault((who, b.status), b.id)
        others = [b.id for b in bookings if people["learner"] != b.learner_id and people["mentor"] != b.mentor_id]
        payments = list(db.session.scalars(sa.select(Payment).order_by(Payment.id)))
        for user in db.session.scalars(sa.select(User)):
            crawl.private[(user.id,)].add(user.email)
            if user.phone:
                crawl.private[(user.id,)].add(user.phone)
        for b in bookings:
            crawl.private[(b.learner_id, b.mentor_id)].add(b.note)
        topic_room = db.session.scalar(sa.select(ChatRoom.slug).where(ChatRoom.kind == "public",
                                                                       ChatRoom.topic_id.is_not(None)).limit(1))
        crawl.values = {
            "booking_id": sorted(set(by_status.values())) + others[:2] + [MISSING_ID],
            "user_id": [admin, learner, mentor, other_learner, other_mentor, people["third_mentor"]] + unapproved[:2] + [MISSING_ID],
            "mentor_id": [mentor, other_mentor, people["third_mentor"], learner] + unapproved[:2] + [MISSING_ID],
            "payment_id": [p.id for p in payments if p.booking.learner_id == learner][:2]
                          + [p.id for p in payments if p.booking.learner_id != learner][:1] + [MISSING_ID],
            "attachment_id": [own_file, other_file, MISSING_ID],
            "slug": ["general", topic_room, own_slug, other_slug, "no-such-room"],
            "token": feeds + [reset_token, verify_token, "not-a-token"],
            "name": [u.stored_name for u in db.session.scalars(sa.select(Upload))][:3]
                    + [r["file"] for r in monitoring.reports() if r.get("file")] + ["no-such-file.png"],
            "provider": sorted(_providers(app)) + ["no-such-provider"],
            "experiment_id": list(db.session.scalars(sa.select(AbExperiment.id)))[:2] + [MISSING_ID],
            "exposure_id": exposures + list(db.session.scalars(
                sa.select(Event.exposure_id).where(Event.exposure_id.is_not(None)).limit(1))) + [MISSING_ID],
        }
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) >= 2
    return crawl


def _providers(app) -> set[str]:
    from api.auth import social

    return set(social.PROVIDER_LABELS)


# --- the crawl ------------------------------------------------------------------------------------

class _Links(HTMLParser):
    """<a href> links, and the resources a browser would fetch (stylesheets, icons, scripts, images)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.resources: list[str] = []
        self.has_icon = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "link" and attrs.get("href"):
            rel = (attrs.get("rel") or "").lower()
            if "icon" in rel:
                self.has_icon = True
            if rel in {"stylesheet", "icon", "shortcut icon", "apple-touch-icon", "manifest"}:
                self.resources.append(attrs["href"])
        elif tag in {"script", "img", "source", "audio", "video"} and attrs.get("src"):
            self.resources.append(attrs["src"])


@dataclass
class RoleReport:
    role: str
    requests: int = 0
    routes: int = 0
    pages: int = 0  # HTML pages answered 200
    links: int = 0  # distinct same-site links seen
    followed: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    own_seen: set = field(default_factory=set)  # the viewer's own private texts found in their pages



class _ErrorLog(logging.Handler):
    """The tracebacks the app logs while a request is answered (its 500 page hides them)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        self.records.append(self.format(record))


class Crawler:
    def __init__(self, app, client, role: str, world: CrawlWorld):
        self.app, self.client, self.role, self.world = app, client, role, world
        self.adapter = app.url_map.bind("localhost")
        viewer = world.people.get(role)
        self.secrets = {} if role == "admin" else world.secrets_hidden_from(viewer)
        self.own = world.own_private(viewer) if viewer else set()  # shown to them: proves the check can see
        self.hosts = {"", "localhost", urlsplit(app.config["MENTORHUB_SETTINGS"].public_base_url).netloc}
        self.report = RoleReport(role)
        self.seen_urls: set[str] = set()
        self.per_pattern: Counter = Counter()
        self.queue: deque = deque()
        self.errors = _ErrorLog()


    def route_urls(self) -> tuple[list[str], list[str]]:
        """Every GET rule with every combination of argument values; and the rules it cannot fill."""
        urls, unfillable = [], []
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.endpoint in SKIPPED_ENDPOINTS:
                continue
            names = sorted(rule.arguments - set(rule.defaults or {}))
            missing = [n for n in names if n not in self.world.values]
            if missing:
                unfillable.append(f"{rule.rule} ({rule.endpoint}): no values for {', '.join(missing)}")
                continue
            self.report.routes += 1
            for combo in itertools.islice(itertools.product(*(self.world.values[n] for n in names)), 40):
                try:
                    urls.append(self.adapter.build(rule.endpoint, dict(zip(names, combo)), method="GET"))
                except BuildError:  # a value the rule's converters refuse
                    continue
            if rule.arguments and not any(u for u in urls if self._rule_of(u) is rule):
                unfillable.append(f"{rule.rule} ({rule.endpoint}): no value fits its converters")
        return urls, unfillable

    def _rule_of(self, path: str):
        try:
            return self.adapter.match(urlsplit(path).path, method="GET", return_rule=True)[0]
        except HTTPException:  # no rule (404), another method (405) or a redirect to the slash form
            return None

    def _pattern(self, url: str) -> tuple:
        parts = urlsplit(url)
        rule = self._rule_of(url)
        keys = tuple(sorted({k.split("=")[0] for k in parts.query.split("&") if k}))
        return (rule.rule if rule is not None else parts.path, keys)

    def enqueue(self, url: str, source: str, kind: str, depth: int) -> None:
        """A same-site URL found on `source`; kind is "route", "link", "redirect" or "resource"."""
        parts = urlsplit(url)
        if parts.scheme not in ("", "http", "https") or parts.netloc not in self.hosts:
            return
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path in self.seen_urls or not parts.path:
            return
        if kind == "link":
            self.report.links += 1
            pattern = self._pattern(path)
            if self.per_pattern[pattern] >= PER_PATTERN:
                return
            self.per_pattern[pattern] += 1
        self.seen_urls.add(path)
        self.queue.append((path, source, kind, depth))

    def fail(self, key: tuple, message: str) -> None:
        self.report.failures.append(f"[{self.role}] {message}")

    def run(self) -> RoleReport:
        urls, self.unfillable = self.route_urls()
        for url in urls:
            self.enqueue(url, "app.url_map", "route", 0)
        logging.getLogger().addHandler(self.errors)
        try:
            while self.queue:
                assert self.report.requests < MAX_REQUESTS_PER_ROLE, f"[{self.role}] crawl did not end"
                path, source, kind, depth = self.queue.popleft()
                self.visit(path, source, kind, depth)
        finally:
            logging.getLogger().removeHandler(self.errors)
        return self.report

    def visit(self, path: str, source: str, kind: str, depth: int) -> None:
        self.report.requests += 1
        if kind != "route":
            self.report.followed += 1
        rule = self._rule_of(path)
        endpoint = rule.endpoint if rule is not None else None
        where = f"GET {path} ({kind} from {source})"
        self.errors.records.clear()
        try:
            response = self.client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        except Exception:  # noqa: BLE001  (any exception a view lets out is a 500 to report)
            self.fail((endpoint, 500), f"{where}: raised\n{traceback.format_exc(limit=-8)}")
            return
        status = response.status_code
        self.report.statuses[status] += 1
        if status >= 500:
            logged = "\n".join(self.errors.records)[-1500:] or response.get_data(as_text=True)[:800]
            self.fail((endpoint, status), f"{where}: {status}\n{logged}")
            return
        if status == 404 and kind != "route":
            self.fail((endpoint or path, 404), f"{where}: 404 (broken {kind})")
            return
        body = response.get_data().decode("utf-8", "replace")
        response.close()
        self.report.own_seen.update(text for text in self.own if text in body)
        for secret, owner in self.secrets.items():
            if secret in body:
                self.fail((endpoint, "leak"), f"{where}: shows private data of {owner}: {secret!r}")
        if status in (301, 302, 303, 307, 308):
            self.enqueue(urljoin("http://localhost" + path, response.headers["Location"]), path, "redirect", depth)
            return
        if status == 200 and response.mimetype == "text/html":
            self.report.pages += 1
            parser = _Links()
            parser.feed(body)
            base = "http://localhost" + path
            for href in parser.links:
                if href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
                    continue
                self.enqueue(urljoin(base, href.split("#")[0]), path, "link", depth + 1)
            for src in parser.resources + ([] if parser.has_icon else ["/favicon.ico"]):
                self.enqueue(urljoin(base, src), path, "resource", depth + 1)


# --- the test -------------------------------------------------------------------------------------

@pytest.fixture
def crawl_world(app, settings) -> CrawlWorld:
    return build_world(app, settings)


def _client_as(app, role: str, world: CrawlWorld):
    from api.extensions import db
    from api.tables import User

    client = app.test_client()
    if role == "anonymous":
        return client
    with app.app_context():
        email = db.session.get(User, world.people[role]).email
    if role == "admin":
        _admin_login(client, email)
    else:
        _form_login(client, email)
    return client


def test_every_page_and_link_works_for_every_role_and_shows_nobody_else_s_data(app, crawl_world, db_backend):
    started = time.perf_counter()
    reports, unfillable = [], set()
    for role in ROLES:
        client = _client_as(app, role, crawl_world)
        crawler = Crawler(app, client, role, crawl_world)
        reports.append(crawler.run())
        unfillable.update(crawler.unfillable)
        if role != "anonymous":  # the crawl never logged anyone out: the pages were seen as that role
            me = client.get("/api/v1/auth/me")
            assert me.status_code == 200 and me.json["id"] == crawl_world.people[role], role
    summary = "\n".join(
        f"  {r.role:<9} routes={r.routes} requests={r.requests} pages={r.pages} links={r.links} "
        f"followed={r.followed} statuses={dict(sorted(r.statuses.items()))}" for r in reports)
    print(f"\ncrawl on {db_backend} in {time.perf_counter() - started:.1f}s\n{summary}")
    assert not unfillable, "routes the crawl cannot fill (add the argument to build_world's values):\n" + \
        "\n".join(sorted(unfillable))
    failures = [f for r in reports for f in r.failures]
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures)
    assert all(r.pages > 5 for r in reports), summary
    for report in reports[1:3]:  # the learner and the mentor saw their own notes: the leak check looks at data
        assert any(text.startswith("Private note") for text in report.own_seen), report.role


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_a_new_route_is_crawled_and_an_argument_without_values_fails_loudly(app, db_backend):
    app.add_url_rule("/things/<int:booking_id>", "things", lambda booking_id: "ok")
    app.add_url_rule("/widgets/<widget_code>", "widgets", lambda widget_code: "ok")
    world = CrawlWorld(people={}, values={name: [1] for name in (
        "booking_id", "user_id", "mentor_id", "payment_id", "attachment_id", "slug", "token", "name", "provider",
        "experiment_id", "exposure_id")})
    urls, unfillable = Crawler(app, app.test_client(), "anonymous", world).route_urls()
    assert "/things/1" in urls
    assert unfillable == ["/widgets/<widget_code> (widgets): no values for widget_code"]
