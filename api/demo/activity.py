"""The demo world's behaviour: searches, profile views, bookings and their outcomes, reviews, payments, chat."""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from api.demo import catalogue as cat
from api.demo.people import _Learner, _Mentor
from api.demo.spec import BOOKING_HORIZON_DAYS, DAY, HOUR, PAGE_SIZE, _dt, _sigmoid, _utc_offset
from api.demo.writing import _bar, _platform_fee_percent
from api.tables import BookingStatus, EventType, PaymentStatus
from api.tables.chat import topic_room_slug  # the app's own name for a topic's room: one room per topic


@dataclass
class _Booking:
    id: int
    learner: int
    mentor: int
    topic: int
    requested: int
    starts: int
    ends: int
    price_minor: int
    currency: str
    note: str
    source: str
    status: str = "requested"
    status_reason: str | None = None
    updated: int = 0
    accepted_at: int | None = None
    refund: tuple[int, int, str] | None = None  # (time, amount, reason)



class _ActivityMixin:
    """The part of `_Simulator` that simulates what people do, and turns it into rows."""

    # -- behaviour -----------------------------------------------------------------------------

    def _sessions(self) -> list[tuple[int, int]]:
        """(time, learner index) of every visit, in time order."""
        rng = self.rng
        hours = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 3, 3, 3, 4, 4, 3, 3, 3, 4, 6, 8, 9, 8, 5, 2.5])
        hour_cdf = np.cumsum(hours) / hours.sum()
        sessions = []
        for learner in self.learners:
            active_from = max(self.start, learner.joined)
            span_days = (self.now - active_from) / DAY
            n = int(rng.poisson(learner.rate * span_days))
            if n == 0:
                continue
            day_offsets = rng.uniform(0, span_days, n)
            local_hours = np.searchsorted(hour_cdf, rng.random(n))
            seconds = rng.integers(0, 3600, n)
            first_ordinal = _dt(active_from).date().toordinal()
            for off, hour, sec in zip(day_offsets.tolist(), local_hours.tolist(), seconds.tolist()):
                ordinal = first_ordinal + int(off)
                midnight = (ordinal - 719_163) * DAY  # date.fromordinal(719163) is 1970-01-01
                when = midnight - _utc_offset(learner.zone, ordinal) + int(hour) * HOUR + int(sec)
                if active_from <= when < self.now - 15 * 60:
                    sessions.append((when, learner.index))
        sessions.sort()
        return sessions

    def _behaviour(self) -> None:
        rng = self.rng
        M = len(self.mentors)
        self.rating_count = np.zeros(M)
        self.rating_sum = np.zeros(M)
        self.pending_ratings: list[tuple[int, int, int, int, int]] = []  # (time, seq, mentor, rating, learner)
        self.reviews: list[dict] = []
        sessions = self._sessions()
        bar = _bar(len(sessions), "simulating", self.progress)
        for n, (when, li) in enumerate(sessions, start=1):
            if n % 2000 == 0:
                bar.update(2000)
            self._apply_ratings(when)
            learner = self.learners[li]
            if learner.favourites and rng.random() < 0.3:
                self._rebook(when, learner)
            else:
                self._search_session(when, learner)
        bar.update(len(sessions) % 2000)
        bar.close()

    def _apply_ratings(self, until: int) -> None:
        heap = self.pending_ratings
        while heap and heap[0][0] <= until:
            _, _, m, rating, li = heapq.heappop(heap)
            self.rating_count[m] += 1
            self.rating_sum[m] += rating
            if rating >= 4:
                topic = self._last_topic.get((li, m))
                if topic is not None and (m, topic) not in self.learners[li].favourites:
                    self.learners[li].favourites.append((m, topic))

    def _bayes(self, idx: np.ndarray) -> np.ndarray:
        return (self.rating_sum[idx] + 4.0 * 5) / (self.rating_count[idx] + 5)

    def _search_session(self, when: int, learner: _Learner) -> None:
        rng, li = self.rng, learner.index
        topic = self._weighted(self.tastes[li])
        slug = self.topic_slugs[topic]
        r = rng.random()
        keywords = cat.TOPICS[topic][4]
        if r < 0.3:
            query, filters = "", {"topic": slug}
        else:
            query = self._pick(keywords) + self._pick(cat.QUERY_SUFFIXES)
            filters = {"topic": slug} if r < 0.55 else {}
        budget = None
        if rng.random() < 0.25:
            budget = learner.budget_usd
            local = budget / cat.USD_PER_UNIT[learner.currency]
            step = 500 if learner.currency == "INR" else 5
            filters["max_price_minor"] = int(max(step, round(local / step) * step) * 100)
            filters["currency"] = learner.currency
            budget = filters["max_price_minor"] / 100 * cat.USD_PER_UNIT[learner.currency]
        cands = self.topic_mentors[topic]
        cands = cands[self.mentor_joined[cands] <= when]
        if budget is not None:
            cands = cands[self.mentor_price_usd[cands] <= budget * 1.0001]
        found = len(cands)
        bayes = self._bayes(cands)
        order = np.lexsort((cands, -(bayes + 0.05 * np.log1p(self.rating_count[cands]))))[:PAGE_SIZE]
        cands, bayes = cands[order], bayes[order]
        self._event(when, "search", learner.user_id, query=query, filters=filters,
                    results=[self.mentors[m].user_id for m in cands.tolist()], result_count=found, page=1)
        if not found:
            return
        u = (2.0 * self.learner_mentor_match[li, cands]
             - self.price_sens[li] * self.mentor_price_log[cands]
             + 0.35 * self.exp_pref[li] * self.mentor_exp[cands]
             + 1.5 * self.rating_pref[li] * (bayes - 4.0)
             + 0.6 * (self.mentor_quality[cands] - 0.6)
             + 0.5 * rng.gumbel(size=len(cands)))
        positions = np.arange(len(cands))
        examined = rng.random(len(cands)) < 0.9 * 0.8 ** positions
        viewed = examined & (rng.random(len(cands)) < _sigmoid(1.5 * u - 3.5))
        viewed_positions = np.flatnonzero(viewed)[:4]
        t = when
        for pos in viewed_positions.tolist():
            t += int(rng.integers(10, 90))
            mid = self.mentors[int(cands[pos])].user_id
            self._event(t, "click", learner.user_id, mid, position=pos, source="search", query=query)
            t += int(rng.integers(1, 5))
            self._event(t, "profile_view", learner.user_id, mid, position=pos, source="search")
            t += int(rng.integers(20, 240))
        if not len(viewed_positions):
            return
        best = int(viewed_positions[np.argmax(u[viewed_positions])])
        p_book = _sigmoid(1.5 * u[best] - 1.5) * learner.propensity * 0.3
        if rng.random() < min(p_book, 0.95):
            self._book(t + int(rng.integers(30, 300)), learner, int(cands[best]), topic, "search")

    def _rebook(self, when: int, learner: _Learner) -> None:
        m, topic = learner.favourites[self.py.randrange(len(learner.favourites))]
        mentor = self.mentors[m]
        self._event(when, "profile_view", learner.user_id, mentor.user_id, source="history")
        if self.rng.random() < 0.6 * min(learner.propensity, 1.5):
            self._book(when + int(self.rng.integers(30, 300)), learner, m, topic, "history")

    def _book(self, when: int, learner: _Learner, m: int, topic: int, source: str,
              forced_status: str | None = None) -> _Booking | None:
        rng = self.rng
        if when >= self.now:
            return None
        mentor = self.mentors[m]
        lead = int(rng.uniform(0.5, 10) * DAY) if forced_status is None else DAY
        slots = mentor.free_slots(when + max(lead, 6 * HOUR), when + BOOKING_HORIZON_DAYS * DAY)
        if not slots:
            return None
        start = slots[0] if forced_status else slots[self.py.randrange(len(slots))]
        mentor.busy.add(start)
        booking = _Booking(len(self.bookings) + 1, learner.index, m, topic, when, start,
                           start + mentor.minutes * 60, mentor.price_minor, mentor.currency,
                           self._pick(cat.BOOKING_NOTES), source, updated=when)
        self.bookings.append(booking)
        self._event(when, "booking_request", learner.user_id, mentor.user_id, booking.id,
                    topic=self.topic_slugs[topic], starts_at=_dt(start).isoformat(), price_minor=mentor.price_minor,
                    currency=mentor.currency, source=source)
        self._last_topic[(learner.index, m)] = topic
        self._outcome(booking, learner, mentor, forced_status)
        return booking

    def _transition(self, booking: _Booking, when: int, status: str, by: str, reason: str | None = None) -> bool:
        """Move the booking to `status` at `when` if that is before now; False when it is not."""
        if when >= self.now:
            return False
        booking.status, booking.updated = status, when
        if reason is not None:
            booking.status_reason = reason
        self._event(when, "booking_outcome", self.learners[booking.learner].user_id,
                    self.mentors[booking.mentor].user_id, booking.id, status=status, by=by)
        return True

    def _outcome(self, b: _Booking, learner: _Learner, mentor: _Mentor, forced: str | None) -> None:
        rng = self.rng
        until_start = b.starts - b.requested
        delay = int(min(rng.exponential(8 * HOUR) + 600, max(until_start - HOUR, 600)))
        r = rng.random()
        if forced == "requested":
            return
        if forced is None and r < 0.03:
            self._transition(b, min(b.requested + 48 * HOUR, b.starts), "expired", "system")
            return
        if forced is None and r > mentor.accept_rate:
            self._transition(b, b.requested + delay, "rejected", "mentor", self._pick(cat.REJECT_REASONS))
            return
        accepted_at = b.requested + delay
        if forced == "accepted":
            accepted_at = min(accepted_at, self.now - HOUR)
        if not self._transition(b, accepted_at, "accepted", "mentor"):
            return
        b.accepted_at = accepted_at
        if forced:
            return
        if self._after_acceptance(b, accepted_at):
            self._ratings(b, learner, mentor)

    def _after_acceptance(self, b: _Booking, accepted_at: int) -> bool:
        """Cancelled (by either side, with a refund), a no-show, or completed; True when completed before now."""
        rng = self.rng
        r = rng.random()
        if r < 0.06:
            when = int(rng.uniform(accepted_at, b.starts))
            reason = self._pick(cat.LEARNER_CANCEL_REASONS)
            if self._transition(b, when, "cancelled_by_learner", "learner", reason):
                full = b.starts - when >= 24 * HOUR
                b.refund = (when, b.price_minor if full else b.price_minor // 2,
                            "Cancelled by learner" + ("" if full else " (less than 24 h notice)"))
            return False
        if r < 0.08:
            when = int(rng.uniform(accepted_at, b.starts))
            if self._transition(b, when, "cancelled_by_mentor", "mentor", self._pick(cat.MENTOR_CANCEL_REASONS)):
                b.refund = (when, b.price_minor, "Cancelled by mentor")
            return False
        if r < 0.11:
            self._transition(b, b.starts + 20 * 60, "no_show", "mentor", "Learner did not join")
            return False
        return self._transition(b, b.ends, "completed", "system")

    def _ratings(self, b: _Booking, learner: _Learner, mentor: _Mentor) -> None:
        """After a completed session: the learner's review of the mentor (often), the mentor's rating of the learner."""
        rng = self.rng
        demo = learner.index == 0
        if demo or rng.random() < 0.75:
            self._review(b, learner, mentor, demo)
        if rng.random() < 0.5:
            when = b.ends + int(rng.uniform(0.2, 24) * HOUR)
            if when < self.now:
                self.rows["learner_ratings"].append({
                    "id": len(self.rows["learner_ratings"]) + 1, "booking_id": b.id, "learner_id": learner.user_id,
                    "rating": int(self._pick((3, 4, 4, 5, 5, 5))), "created_at": _dt(when)})

    def _review(self, b: _Booking, learner: _Learner, mentor: _Mentor, demo: bool) -> None:
        """A rating from the mentor's hidden quality and the learner's taste for the topic, sometimes with text."""
        rng = self.rng
        match = self.tastes[learner.index, b.topic] / self.tastes[learner.index].max()
        latent = 0.8 + 3.4 * mentor.quality + 1.0 * match + rng.normal(0, 0.55)
        rating = int(np.clip(round(latent), 1, 5))
        when = b.ends + int(rng.uniform(0.2, 72) * HOUR)
        if when >= self.now:
            return
        text = ""
        if demo or rng.random() < 0.6:
            text = self._pick(cat.REVIEW_TEXTS[rating]).format(first=mentor.first, topic=self.topic_names[b.topic])
        reply_at = when + int(rng.uniform(2, 48) * HOUR)
        reply = self._pick(cat.MENTOR_REPLIES) if text and rng.random() < 0.2 and reply_at < self.now else None
        self.reviews.append({"booking_id": b.id, "learner_id": learner.user_id, "mentor_id": mentor.user_id,
                             "rating": rating, "text": text, "mentor_reply": reply,
                             "replied_at": _dt(reply_at) if reply else None, "hidden": False,
                             "reported_count": 0, "created_at": _dt(when),
                             "updated_at": _dt(reply_at if reply else when)})
        self._event(when, "rating", learner.user_id, mentor.user_id, b.id, rating=rating,
                    topic=self.topic_slugs[b.topic], has_text=bool(text))
        heapq.heappush(self.pending_ratings, (when, b.id, mentor.index, rating, learner.index))

    def _demo_guarantees(self) -> None:
        """The demo learner has an upcoming booking; the demo mentor has a request to answer."""
        demo_learner = self.learners[0]
        python = self.topic_slugs.index("python")
        upcoming = [b for b in self.bookings if b.learner == 0 and b.starts >= self.now
                    and b.status in ("requested", "accepted")]
        if not upcoming:
            self._book(self.now - 3 * HOUR, demo_learner, 0, python, "search", forced_status="accepted")
        requested = [b for b in self.bookings if b.mentor == 0 and b.status == "requested" and b.starts >= self.now]
        if not requested and len(self.learners) > 1:
            other = self.learners[1 + self.py.randrange(len(self.learners) - 1)]
            self._book(self.now - 2 * HOUR, other, 0, python, "search", forced_status="requested")

    # -- rows ----------------------------------------------------------------------------------

    def _booking_rows(self) -> None:
        fee_share = _platform_fee_percent() / 100.0
        for b in self.bookings:
            status = BookingStatus(b.status)
            self.rows["bookings"].append({
                "id": b.id, "learner_id": self.learners[b.learner].user_id, "mentor_id": self.mentors[b.mentor].user_id,
                "topic_id": b.topic + 1, "starts_at": _dt(b.starts), "ends_at": _dt(b.ends), "status": status,
                "note": b.note, "status_reason": b.status_reason, "price_minor": b.price_minor,
                "currency": b.currency,
                "video_link": f"https://meet.jit.si/mentorhub-demo-{b.id:06d}" if b.accepted_at else None,
                "respond_by": _dt(min(b.requested + 48 * HOUR, b.starts)),
                "created_at": _dt(b.requested), "updated_at": _dt(b.updated)})
            pending = status == BookingStatus.REQUESTED
            if b.accepted_at is None and not pending:
                continue
            # the learner's card is held when requesting, captured when the mentor accepts; refunds follow cancellations
            refunded = b.refund[1] if b.refund else 0
            pay_status = PaymentStatus.AUTHORIZED if pending else PaymentStatus.CAPTURED
            if b.refund:
                pay_status = PaymentStatus.REFUNDED if refunded == b.price_minor else PaymentStatus.PARTIALLY_REFUNDED
            captured = 0 if pending else b.price_minor
            payment_id = len(self.rows["payments"]) + 1
            self.rows["payments"].append({
                "id": payment_id, "booking_id": b.id, "gateway": "sandbox", "provider_ref": f"sbx_pay_{b.id:08d}",
                "status": pay_status, "amount_minor": b.price_minor, "captured_minor": captured,
                "platform_fee_minor": int(round((captured - refunded) * fee_share)), "currency": b.currency,
                "created_at": _dt(b.requested),
                "updated_at": _dt(b.refund[0] if b.refund else (b.accepted_at or b.requested))})
            self.rows["payment_checkouts"].append({
                "payment_id": payment_id, "order_ref": f"sbx_pi_demo_{b.id:08d}", "charge_ref": None,
                "provider_status": "authorized" if pending else "captured", "list_price_minor": b.price_minor,
                "list_currency": b.currency, "fee_basis_points": int(round(fee_share * 10_000)),
                "authorized_at": _dt(b.requested), "captured_at": None if pending else _dt(b.accepted_at),
                "settled_at": _dt(b.ends) if status == BookingStatus.COMPLETED else None,
                "created_at": _dt(b.requested), "updated_at": _dt(b.accepted_at or b.requested)})
            if b.refund:
                self.rows["refunds"].append({
                    "id": len(self.rows["refunds"]) + 1, "payment_id": payment_id, "amount_minor": refunded,
                    "currency": b.currency, "reason": b.refund[2], "idempotency_key": f"refund-booking-{b.id}",
                    "provider_ref": f"sbx_re_{b.id:08d}", "status": "succeeded", "created_at": _dt(b.refund[0])})
        self.reviews.sort(key=lambda r: r["booking_id"])
        for i, review in enumerate(self.reviews):
            review["id"] = i + 1
        self.rows["reviews"] = self.reviews
        self.rows["learner_ratings"].sort(key=lambda r: r["booking_id"])
        for i, rating in enumerate(self.rows["learner_ratings"]):
            rating["id"] = i + 1

    def _chat(self) -> None:
        rng = self.rng
        rooms = [("general", "General", None)] + [(topic_room_slug(s), n, i) for i, (s, n) in
                                                   enumerate(zip(self.topic_slugs, self.topic_names))]
        declared: dict[int, list[int]] = {}
        for row in self.rows["learner_topics"]:
            declared.setdefault(row["topic_id"] - 1, []).append(row["learner_id"])
        learner_joined = {l.user_id: l.joined for l in self.learners}
        mentor_joined = {m.user_id: m.joined for m in self.mentors if m.status == "approved"}
        messages = []
        for room_id, (slug, name, topic) in enumerate(rooms, start=1):
            self.rows["chat_rooms"].append({"id": room_id, "kind": "public", "slug": slug, "name": name,
                                            "topic_id": topic + 1 if topic is not None else None,
                                            "created_at": _dt(self.start - 500 * DAY)})
            if topic is None:
                people = [l.user_id for l in self.learners]
            else:
                people = list(declared.get(topic, [])) + [self.mentors[m].user_id for m in
                                                          self.topic_mentors[topic].tolist()]
            if not people:
                continue
            n = int(min(40, 2 + len(people) // 3 + rng.integers(0, 4)))
            times = np.sort(rng.uniform(self.start, self.now - 60, n)).astype(np.int64).tolist()
            for k, when in enumerate(times):
                sender = people[self.py.randrange(len(people))]
                joined = learner_joined.get(sender, mentor_joined.get(sender, self.start))
                if when < joined:
                    continue
                topic_name = name if topic is not None else self.topic_names[self._weighted(self.topic_pop)]
                if topic is None:
                    body = self._pick(cat.GENERAL_MESSAGES).format(topic=topic_name, city=self._pick(cat.CITIES))
                elif k == 0 or self.rng.random() < 0.35:
                    body = self._pick(cat.CHAT_OPENERS).format(topic=topic_name)
                else:
                    body = self._pick(cat.CHAT_ANSWERS)
                messages.append((when, room_id, sender, body))
        messages.sort(key=lambda m: (m[0], m[1]))
        for i, (when, room_id, sender, body) in enumerate(messages, start=1):
            self.rows["messages"].append({"id": i, "room_id": room_id, "sender_id": sender, "body": body,
                                          "created_at": _dt(when), "deleted_at": None, "reported_count": 0})
            self._event(when, "message_sent", sender, None, None, room_id=room_id, message_id=i)

    def _event_rows(self) -> None:
        types = {t.value: t for t in EventType}
        self.events.sort(key=lambda e: e[0])  # stable: ties keep the order they happened in
        self.rows["events"] = [
            {"id": i, "occurred_at": _dt(when), "event_type": types[kind], "user_id": user, "mentor_id": mentor,
             "booking_id": booking, "exposure_id": None, "model_version": None, "arm": None, "payload": payload}
            for i, (when, kind, user, mentor, booking, payload) in enumerate(self.events, start=1)
        ]

    def _finish_mentor_aggregates(self) -> None:
        counts: dict[int, list[int]] = {}
        for review in self.rows["reviews"]:
            agg = counts.setdefault(review["mentor_id"], [0, 0])
            agg[0] += 1
            agg[1] += review["rating"]
        for profile in self.rows["mentor_profiles"]:
            profile["rating_count"], profile["rating_sum"] = counts.get(profile["user_id"], (0, 0))
