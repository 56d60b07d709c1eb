"""The serving caches: free-slot windows computed once (or in the background), worker warm-up, card cache."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import numpy as np

from api.extensions import db
from api.recommendations import caches, snapshot
from api.search import availability
from api.tables import User
from tests.api.search.discovery_helpers import build_world, next_weekday

UTC = timezone.utc


def _counting(monkeypatch, delay: float = 0.0) -> list:
    """Count (and slow down) the free-slot computations the engine makes."""
    calls: list = []
    real = snapshot.free_mentors

    def counted(bundle, window, now):
        calls.append(window)
        time.sleep(delay)
        return real(bundle, window, now)

    monkeypatch.setattr(caches, "free_mentors", counted)
    return calls


def test_a_filter_window_is_computed_once_however_many_requests_ask_at_once(app, monkeypatch):
    with app.app_context():
        world = build_world()
        bundle = caches.catalogue()
    calls = _counting(monkeypatch, delay=0.3)
    saturday = next_weekday(5, "Europe/Berlin")
    window = caches.default_window("Europe/Berlin", saturday, days=1)
    now = datetime.now(UTC)
    masks: list = []

    def ask():
        with app.app_context():
            masks.append(caches.free_in_window(bundle, window, now))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(masks) == 4
    cat = bundle.catalogue
    free = {int(m) for m in cat.mentor_ids[masks[0]]}
    assert world.ben in free  # free on Saturday afternoon in Berlin
    assert all(np.array_equal(mask, masks[0]) for mask in masks)


def test_the_free_this_week_signal_never_waits_and_is_ready_for_the_next_request(app, monkeypatch):
    with app.app_context():
        build_world()
        bundle = caches.catalogue()
        calls = _counting(monkeypatch, delay=0.3)
        now = datetime.now(UTC)
        window = caches.soon_window("Asia/Tokyo", now)
        started = time.monotonic()
        first = caches.free_in_window(bundle, window, now, wait=False)
        assert time.monotonic() - started < 0.2 and not first.any()  # nobody marked free yet, no waiting
        deadline = time.monotonic() + 10
        while window not in caches.state().windows and time.monotonic() < deadline:
            time.sleep(0.05)
        caches.free_in_window(bundle, window, now, wait=False)  # asked again meanwhile: still one computation
        later = caches.free_in_window(bundle, window, now, wait=False)
        assert len(calls) == 1
        # the precomputed free-slot index answers as the slot engine does, mentor by mentor
        expected = availability.mentors_with_free_slot(
            {int(m): bundle.zones[i] for i, m in enumerate(bundle.catalogue.mentor_ids.tolist())}, window, now)
        assert {int(m) for m in bundle.catalogue.mentor_ids[later]} == expected and expected


def test_warm_up_prepares_catalogue_windows_and_cards_for_every_learner(app):
    with app.app_context():
        world = build_world()
        learner = db.session.get(User, world.learner)
        learner.timezone, learner.currency = "Asia/Kolkata", "INR"
        db.session.commit()
    assert caches.warm_up(app, timeout=0) is False  # no registry here: popularity until a model is registered
    with app.app_context():
        st = caches.state()
        bundle = st.snapshot.value
        now = datetime.now(UTC)
        assert {caches.soon_window(zone, now) for zone in ("UTC", "Asia/Kolkata")} <= set(st.windows)
        assert set(bundle.cards) >= {"USD", "INR"}
        assert {world.ada, world.ben, world.carla, world.dan} <= set(bundle.cards["INR"])
        assert bundle.cards["INR"][world.ada].display_currency == "INR"
        # loaded once and converted: the same cards as loading each currency on its own
        from api.search import query
        from api.search.currency import supported_currencies

        SUPPORTED_CURRENCIES = supported_currencies()

        ids = bundle.catalogue.mentor_ids.tolist()
        every = snapshot.all_cards(bundle.catalogue, SUPPORTED_CURRENCIES)
        assert list(every) == list(SUPPORTED_CURRENCIES)
        for currency in SUPPORTED_CURRENCIES:
            assert every[currency] == {card.id: card for card in query.load_cards(ids, currency, now)}


def test_cards_follow_the_catalogue_and_load_what_is_missing(app):
    with app.app_context():
        world = build_world()
        caches.invalidate()
        found = caches.cards([world.ada, world.ben], "GBP")
        assert set(found) == {world.ada, world.ben}
        assert found[world.ben].display_currency == "GBP" and found[world.ben].currency == "EUR"
        assert set(caches.catalogue().cards["GBP"]) == {world.ada, world.ben}
