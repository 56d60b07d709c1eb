"""Slot computation with fixed clocks and zones, including each DST edge in Berlin, New York and Sydney."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pytest

from api.bookings.slots import (
    BookingPolicy,
    Interval,
    SlotRefusal,
    check_offered,
    free_slots,
    local_to_utc,
    windows,
    zone,
)
from api.bookings.timefmt import format_time, format_when

UTC = timezone.utc


@dataclass
class Rule:
    weekday: int
    start_time: time
    end_time: time
    timezone: str


@dataclass
class Off:
    on_date: date
    start_time: time | None = None
    end_time: time | None = None


def rule(weekday: int, start: str, end: str, tz: str) -> Rule:
    return Rule(weekday, time.fromisoformat(start), time.fromisoformat(end), tz)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(slots) -> list[datetime]:
    return [s.start for s in slots]


def local_labels(slots, tz: str) -> list[str]:
    return [format_time(s.start, tz) for s in slots]


NO_NOTICE = BookingPolicy(session_minutes=60, min_notice_minutes=0, horizon_days=365)
SUNDAY = 6


def day_slots(rules, tz, day: date, policy=NO_NOTICE, exceptions=()):
    now = utc(2026, 1, 1)
    return free_slots(rules, list(exceptions), tz, policy, now,
                      start=datetime.combine(day, time(0), tzinfo=zone(tz)),
                      end=datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone(tz)))


# ------------------------------------------------------------ local times to UTC


def test_regular_local_times_convert_with_the_seasonal_offset():
    berlin = zone("Europe/Berlin")
    assert local_to_utc(date(2026, 1, 15), time(9), berlin) == utc(2026, 1, 15, 8)
    assert local_to_utc(date(2026, 7, 15), time(9), berlin) == utc(2026, 7, 15, 7)


def test_a_local_time_in_the_spring_gap_moves_to_the_end_of_the_gap():
    # Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist
    assert local_to_utc(date(2026, 3, 29), time(2, 30), zone("Europe/Berlin")) == utc(2026, 3, 29, 1)
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC)
    assert local_to_utc(date(2026, 3, 8), time(2, 15), zone("America/New_York")) == utc(2026, 3, 8, 7)


def test_an_ambiguous_autumn_time_is_its_first_occurrence():
    # Berlin, 25 October 2026: 02:30 happens twice; the first is CEST (00:30 UTC)
    assert local_to_utc(date(2026, 10, 25), time(2, 30), zone("Europe/Berlin")) == utc(2026, 10, 25, 0, 30)
    # New York, 1 November 2026: 01:30 happens twice; the first is EDT (05:30 UTC)
    assert local_to_utc(date(2026, 11, 1), time(1, 30), zone("America/New_York")) == utc(2026, 11, 1, 5, 30)


# ------------------------------------------------------------ weekly rules across DST


def test_berlin_weekly_hours_keep_local_time_across_spring_forward():
    rules = [rule(SUNDAY, "09:00", "12:00", "Europe/Berlin")]
    before = day_slots(rules, "Europe/Berlin", date(2026, 3, 22))
    after = day_slots(rules, "Europe/Berlin", date(2026, 3, 29))
    assert starts(before) == [utc(2026, 3, 22, 8), utc(2026, 3, 22, 9), utc(2026, 3, 22, 10)]
    assert starts(after) == [utc(2026, 3, 29, 7), utc(2026, 3, 29, 8), utc(2026, 3, 29, 9)]
    assert local_labels(before, "Europe/Berlin") == ["09:00 CET", "10:00 CET", "11:00 CET"]
    assert local_labels(after, "Europe/Berlin") == ["09:00 CEST", "10:00 CEST", "11:00 CEST"]


def test_berlin_night_window_over_the_spring_gap_is_two_real_hours():
    # 01:00-04:00 local on the night the clocks skip 02:00-03:00: 01:00 CET and 03:00 CEST only
    rules = [rule(SUNDAY, "01:00", "04:00", "Europe/Berlin")]
    slots = day_slots(rules, "Europe/Berlin", date(2026, 3, 29))
    assert starts(slots) == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)]
    assert local_labels(slots, "Europe/Berlin") == ["01:00 CET", "03:00 CEST"]
    assert all(s.end - s.start == timedelta(hours=1) for s in slots)


def test_berlin_night_window_over_the_autumn_repeat_is_four_real_hours():
    # 01:00-04:00 local on the night 02:00-03:00 happens twice: 02:00 is offered twice, told apart by its zone
    rules = [rule(SUNDAY, "01:00", "04:00", "Europe/Berlin")]
    slots = day_slots(rules, "Europe/Berlin", date(2026, 10, 25))
    assert starts(slots) == [utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2)]
    assert local_labels(slots, "Europe/Berlin") == ["01:00 CEST", "02:00 CEST", "02:00 CET", "03:00 CET"]


def test_new_york_spring_forward_and_fall_back():
    rules = [rule(SUNDAY, "01:00", "04:00", "America/New_York")]
    spring = day_slots(rules, "America/New_York", date(2026, 3, 8))
    assert starts(spring) == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 7)]
    assert local_labels(spring, "America/New_York") == ["01:00 EST", "03:00 EDT"]
    autumn = day_slots([rule(SUNDAY, "00:00", "03:00", "America/New_York")], "America/New_York", date(2026, 11, 1))
    assert starts(autumn) == [utc(2026, 11, 1, 4), utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]
    assert local_labels(autumn, "America/New_York") == ["00:00 EDT", "01:00 EDT", "01:00 EST", "02:00 EST"]


def test_new_york_weekday_hours_shift_in_utc_across_the_change():
    monday_rule = [rule(0, "09:00", "10:00", "America/New_York")]
    assert starts(day_slots(monday_rule, "America/New_York", date(2026, 3, 2))) == [utc(2026, 3, 2, 14)]
    assert starts(day_slots(monday_rule, "America/New_York", date(2026, 3, 9))) == [utc(2026, 3, 9, 13)]
    assert starts(day_slots(monday_rule, "America/New_York", date(2026, 11, 2))) == [utc(2026, 11, 2, 14)]


def test_sydney_southern_hemisphere_edges():
    # Sydney leaves DST on 5 April 2026 and enters it on 4 October 2026
    rules = [rule(SUNDAY, "09:00", "10:00", "Australia/Sydney")]
    assert starts(day_slots(rules, "Australia/Sydney", date(2026, 3, 29))) == [utc(2026, 3, 28, 22)]
    assert starts(day_slots(rules, "Australia/Sydney", date(2026, 4, 5))) == [utc(2026, 4, 4, 23)]
    assert starts(day_slots(rules, "Australia/Sydney", date(2026, 9, 27))) == [utc(2026, 9, 26, 23)]
    assert starts(day_slots(rules, "Australia/Sydney", date(2026, 10, 4))) == [utc(2026, 10, 3, 22)]
    gap = day_slots([rule(SUNDAY, "01:00", "04:00", "Australia/Sydney")], "Australia/Sydney", date(2026, 10, 4))
    assert local_labels(gap, "Australia/Sydney") == ["01:00 AEST", "03:00 AEDT"]


def test_learner_sees_mentor_hours_in_their_own_zone_through_both_changes():
    # a New York mentor's Monday 09:00 seen from Berlin: 15:00, then 14:00 while only the US has moved, then 15:00
    monday_rule = [rule(0, "09:00", "10:00", "America/New_York")]
    seen = [local_labels(day_slots(monday_rule, "America/New_York", d), "Europe/Berlin")
            for d in (date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 30))]
    assert seen == [["15:00 CET"], ["14:00 CET"], ["15:00 CEST"]]
    slot = day_slots(monday_rule, "America/New_York", date(2026, 3, 9))[0]
    assert format_when(slot.start, slot.end, "Asia/Kolkata") == "Mon 9 Mar 2026, 18:30–19:30 IST"


# ------------------------------------------------------------ exceptions, buffers, notice, horizon


WEEKDAYS_BERLIN = [rule(d, "09:00", "12:00", "Europe/Berlin") for d in range(5)]


def test_a_holiday_removes_the_day_and_replacement_hours_replace_it():
    holiday = [Off(date(2026, 3, 3))]
    assert day_slots(WEEKDAYS_BERLIN, "Europe/Berlin", date(2026, 3, 3), exceptions=holiday) == []
    special = [Off(date(2026, 3, 4), time(15), time(17))]
    slots = day_slots(WEEKDAYS_BERLIN, "Europe/Berlin", date(2026, 3, 4), exceptions=special)
    assert local_labels(slots, "Europe/Berlin") == ["15:00 CET", "16:00 CET"]
    # a Saturday exception opens a day that has no weekly hours
    saturday = day_slots(WEEKDAYS_BERLIN, "Europe/Berlin", date(2026, 3, 7), exceptions=[Off(date(2026, 3, 7), time(10), time(11))])
    assert local_labels(saturday, "Europe/Berlin") == ["10:00 CET"]


def test_back_to_back_is_allowed_without_buffer_and_a_buffer_keeps_distance():
    busy = [Interval(utc(2026, 3, 3, 9), utc(2026, 3, 3, 10))]  # 10:00-11:00 Berlin
    now = utc(2026, 3, 1)
    plain = free_slots(WEEKDAYS_BERLIN, [], "Europe/Berlin", NO_NOTICE, now, busy, utc(2026, 3, 3), utc(2026, 3, 4))
    assert local_labels(plain, "Europe/Berlin") == ["09:00 CET", "11:00 CET"]
    buffered = BookingPolicy(session_minutes=60, buffer_minutes=15, min_notice_minutes=0, horizon_days=365)
    assert free_slots(WEEKDAYS_BERLIN, [], "Europe/Berlin", buffered, now, busy, utc(2026, 3, 3), utc(2026, 3, 4)) == []


def test_step_shorter_than_the_session_offers_overlapping_starts():
    policy = BookingPolicy(session_minutes=60, slot_step_minutes=30, min_notice_minutes=0, horizon_days=365)
    slots = day_slots(WEEKDAYS_BERLIN, "Europe/Berlin", date(2026, 3, 2), policy)
    assert local_labels(slots, "Europe/Berlin") == ["09:00 CET", "09:30 CET", "10:00 CET", "10:30 CET", "11:00 CET"]


def test_minimum_notice_and_horizon_bound_the_offer():
    now = utc(2026, 3, 2, 8)  # Monday 09:00 in Berlin
    policy = BookingPolicy(session_minutes=60, min_notice_minutes=120, horizon_days=2)
    slots = free_slots(WEEKDAYS_BERLIN, [], "Europe/Berlin", policy, now)
    assert starts(slots)[0] == utc(2026, 3, 2, 10)  # 11:00 Berlin, two hours ahead
    assert max(starts(slots)) <= now + timedelta(days=2)
    assert starts(slots)[-1] == utc(2026, 3, 4, 8)  # Wednesday 09:00 Berlin is exactly 48 hours ahead


def test_windows_merge_when_rules_touch():
    rules = [rule(0, "09:00", "10:00", "Europe/Berlin"), rule(0, "10:00", "11:30", "Europe/Berlin")]
    spans = windows(rules, [], "Europe/Berlin", date(2026, 3, 2), date(2026, 3, 2))
    assert spans == [Interval(utc(2026, 3, 2, 8), utc(2026, 3, 2, 10, 30))]


# ------------------------------------------------------------ checking one requested start


@pytest.mark.parametrize("start, message", [
    (utc(2026, 3, 2, 7), "in the past"),
    (utc(2026, 3, 2, 9), "notice"),
    (utc(2026, 6, 1, 8), "days ahead"),
    (utc(2026, 3, 3, 13), "outside the mentor's availability"),
    (utc(2026, 3, 3, 8, 30), "outside the mentor's availability"),  # not on the hour grid
    (utc(2026, 3, 7, 9), "outside the mentor's availability"),  # Saturday
])
def test_check_offered_names_the_reason(start, message):
    policy = BookingPolicy(session_minutes=60, min_notice_minutes=240, horizon_days=30)
    with pytest.raises(SlotRefusal, match=message) as refusal:
        check_offered(start, WEEKDAYS_BERLIN, [], "Europe/Berlin", policy, utc(2026, 3, 2, 8))
    assert refusal.value.field == "starts_at"


def test_check_offered_accepts_an_offered_slot_given_in_any_offset():
    policy = BookingPolicy(session_minutes=60, min_notice_minutes=240, horizon_days=30)
    new_york = zone("America/New_York")
    start = datetime(2026, 3, 3, 3, 0, tzinfo=new_york)  # = 09:00 Berlin
    slot = check_offered(start, WEEKDAYS_BERLIN, [], "Europe/Berlin", policy, utc(2026, 3, 2, 8))
    assert slot == Interval(utc(2026, 3, 3, 8), utc(2026, 3, 3, 9))


def test_check_offered_across_the_spring_gap():
    policy = BookingPolicy(session_minutes=60, min_notice_minutes=0, horizon_days=365)
    rules = [rule(SUNDAY, "01:00", "04:00", "Europe/Berlin")]
    assert check_offered(utc(2026, 3, 29, 1), rules, [], "Europe/Berlin", policy, utc(2026, 3, 1)).start == utc(2026, 3, 29, 1)
    with pytest.raises(SlotRefusal):  # 02:00 local "CET" would be the non-existent hour
        check_offered(utc(2026, 3, 29, 0, 30), rules, [], "Europe/Berlin", policy, utc(2026, 3, 1))
